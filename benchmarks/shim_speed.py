"""``cnninspect.torchinfo_summary`` beside ``torchinfo.summary``: the same call, side by side.

The harness of ``summary_speed.py``: runs alternate (ours, theirs, ours, ...), each on a
freshly built model (the first summary of a model: fx traces it), and a speed-up is the
median of the ratios of adjacent pairs, since this machine's CPU speed drifts within a
minute and a pair sees the same speed. Both are called exactly as a torchinfo user
would: ``summary(model, (1, 3, 224, 224), verbose=0)``.

    python benchmarks/shim_speed.py               # 5 pairs per model
    python benchmarks/shim_speed.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from summary_speed import MODELS_224, paired, timed  # noqa: E402 -- the shared harness

TARGET = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()

    import torchinfo
    import torchvision

    from cnninspect import torchinfo_summary

    shape = (1, 3, 224, 224)
    rows = []
    print(f"{'first summary of a fresh model':34s} {'shim':>9}  {'torchinfo':>9}  {'speed-up':>8}")
    for name in MODELS_224:
        build = getattr(torchvision.models, name)
        torchinfo_summary(build().eval(), shape, verbose=0)  # warm both (imports, caches)
        torchinfo.summary(build().eval(), shape, verbose=0)
        ours, theirs = [], []
        for _ in range(args.repeats):
            fresh = build().eval()
            ours.append(timed(lambda fresh=fresh: torchinfo_summary(fresh, shape, verbose=0)))
            fresh = build().eval()
            theirs.append(timed(lambda fresh=fresh: torchinfo.summary(fresh, shape, verbose=0)))
        mine, other, ratio = paired(ours, theirs)
        ok = "ok" if ratio >= TARGET else f"BELOW {TARGET:.0f}x"
        print(f"{name:34s} {mine:8.3f}s  {other:8.3f}s  {ratio:7.1f}x  {ok}", flush=True)
        rows.append({"model": name, "shim_s": mine, "torchinfo_s": other, "speedup": ratio})
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
