"""``cnninspect.torchinfo_summary`` beside ``torchinfo.summary``: the same call, side by side.

The harness of ``summary_speed.py``: runs alternate (ours, theirs, ours, ...), each on a
freshly built model (the first summary of a model: fx traces it), and a speed-up is the
median of the ratios of adjacent pairs, since this machine's CPU speed drifts within a
minute and a pair sees the same speed. Both are called exactly as a torchinfo user
would: ``summary(model, (1, 3, 224, 224), verbose=0)``. The shim computes its memory sizes
(a replay of the training forward on meta tensors) only when they are read or the table
printed, so a second column times ``str()`` of each result as well: the table a user sees.
``memory_speed.py --rev REV`` times the printed table beside another revision's too.

    python benchmarks/shim_speed.py               # 5 pairs per model
    python benchmarks/shim_speed.py --repeats 3
    python benchmarks/shim_speed.py --threads 1   # on a busy machine: torchinfo's forward
                                                  # with default threads slows far more
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from summary_speed import MODELS_224, conditions, paired, timed  # noqa: E402 -- the shared harness

TARGET = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads for the whole run")
    args = parser.parse_args()

    import torch
    import torchinfo
    import torchvision

    if args.threads:
        torch.set_num_threads(args.threads)
    print(conditions())

    from cnninspect import torchinfo_summary
    from cnninspect.analyses.memory.cache import forget

    shape = (1, 3, 224, 224)
    rows = []
    print(
        f"{'first summary of a fresh model':24s} {'shim':>8} {'torchinfo':>9} {'speed-up':>8}   "
        f"{'printed: shim':>13} {'torchinfo':>9} {'speed-up':>8}   {'unseen: shim':>12} {'speed-up':>8}"
    )
    for name in MODELS_224:
        build = getattr(torchvision.models, name)
        str(torchinfo_summary(build().eval(), shape, verbose=0))  # warm both (imports, caches)
        str(torchinfo.summary(build().eval(), shape, verbose=0))
        runs: dict[str, list[float]] = {
            "ours": [],
            "theirs": [],
            "ours_printed": [],
            "theirs_printed": [],
            "ours_unseen": [],
        }
        for _ in range(args.repeats):
            for key, call in (("ours", torchinfo_summary), ("theirs", torchinfo.summary)):
                fresh = build().eval()
                runs[key].append(
                    timed(lambda fresh=fresh, call=call: call(fresh, shape, verbose=0))
                )
                fresh = build().eval()
                runs[key + "_printed"].append(
                    timed(lambda fresh=fresh, call=call: str(call(fresh, shape, verbose=0)))
                )
            fresh = build().eval()
            forget()  # not timed: the memory caches, as if no report had seen this architecture
            runs["ours_unseen"].append(
                timed(lambda fresh=fresh: str(torchinfo_summary(fresh, shape, verbose=0)))
            )
        mine, other, ratio = paired(runs["ours"], runs["theirs"])
        mine_p, other_p, ratio_p = paired(runs["ours_printed"], runs["theirs_printed"])
        mine_u, _, ratio_u = paired(runs["ours_unseen"], runs["theirs_printed"])
        ok = ", ".join(
            f"{what} {'ok' if r >= TARGET else f'BELOW {TARGET:.0f}x'}"
            for what, r in (("summary", ratio), ("printed", ratio_p), ("unseen", ratio_u))
        )
        print(
            f"{name:24s} {mine:7.3f}s {other:8.3f}s {ratio:7.1f}x   {mine_p:12.3f}s {other_p:8.3f}s {ratio_p:7.1f}x"
            f"   {mine_u:11.3f}s {ratio_u:7.1f}x  {ok}",
            flush=True,
        )
        rows.append(
            {
                "model": name,
                "shim_s": mine,
                "torchinfo_s": other,
                "speedup": ratio,
                "printed_shim_s": mine_p,
                "printed_torchinfo_s": other_p,
                "printed_speedup": ratio_p,
                "unseen_shim_s": mine_u,
                "unseen_speedup": ratio_u,
            }
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
