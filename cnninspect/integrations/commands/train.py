"""``cnninspect train``: train a fixture (or any classifier spec) on MNIST and print the epoch lines."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cnninspect.errors import CnnInspectError, OptionError

if TYPE_CHECKING:
    from cnninspect.chapter.train.metrics import EpochMetrics

HELP = "train a model on MNIST (CPU, GPU or torchrun DDP) and print per-epoch loss, accuracy and throughput"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", nargs="?", default="simple-cnn", metavar="MODEL",
        help="fixture name (simple-cnn) or package.module:attr of a 1x28x28 classifier (default: simple-cnn)",
    )  # fmt: skip
    parser.add_argument("--kwargs", metavar="JSON", help="keyword arguments for a class or factory, as JSON")
    parser.add_argument("--epochs", type=int, default=3, help="epochs to train (default: 3)")
    parser.add_argument(
        "--data-dir", default=None,
        help="folder holding MNIST/raw (default: $CNNINSPECT_DATA, else ../shared/data beside a source checkout)",
    )  # fmt: skip
    parser.add_argument("--download", action="store_true", help="download MNIST into --data-dir if it is missing")
    parser.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast for the forward pass")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model first")
    parser.add_argument(
        "--channels-last", action=argparse.BooleanOptionalAction, default=False,
        help="NHWC memory format, faster convs on tensor-core GPUs; not for models that flatten "
        "with .view such as simple-cnn (default: off)",
    )  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=64, help="training batch size per process (default: 64)")
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)")
    parser.add_argument("--optimizer", default="adam", choices=("adam", "adamw", "sgd"), help="default: adam")
    parser.add_argument("--seed", type=int, default=0, help="seed for init, shuffling and dropout (default: 0)")
    parser.add_argument("--workers", type=int, default=None, help="data loader workers (default: 0 for in-memory MNIST)")
    parser.add_argument(
        "--threads", type=_threads, default="auto",
        help="CPU threads for torch: a count, or auto: the cores other processes leave free, at least 1 "
        "(default: auto; on a busy 2-core machine torch's own choice trains 5-10x slower, "
        "benchmarks/train_threads.py)",
    )  # fmt: skip
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training and test images")
    parser.add_argument("--test-limit", type=int, default=None, help="use only the first N test images (default: --limit)")
    parser.add_argument(
        "--checkpoint-dir", "--run-dir", dest="checkpoint_dir", default=None, metavar="DIR",
        help="run folder: last.pt and metrics.jsonl after every epoch, curves.png and filters.png at the end "
        "(default: runs/MODEL-DATE-TIME)",
    )  # fmt: skip
    parser.add_argument("--no-save", action="store_true", help="write no run folder (metrics only with --metrics)")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint-dir/last.pt")
    parser.add_argument("--metrics", default=None, help="append per-epoch JSON lines here (default: CHECKPOINT_DIR/metrics.jsonl)")
    parser.add_argument("--save", default=None, metavar="FILE", help="save the trained weights (state_dict) here")
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="per-epoch progress bar (default: only when stderr is a terminal)",
    )  # fmt: skip
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def run(args: argparse.Namespace) -> int:
    """Train; under torchrun only rank 0 reports a user error, so it is printed once, not per rank.

    The other ranks wait a moment before failing: torchrun stops every process as soon as
    one exits non-zero, and an instant exit here could stop rank 0 before it prints.
    """
    try:
        return _train(args)
    except CnnInspectError:
        if _is_main():
            raise
        time.sleep(_QUIET_RANK_GRACE_S)  # rank 0 prints the same error and ends the run first
        return 2


_QUIET_RANK_GRACE_S = 20.0


def _check_args(args: argparse.Namespace) -> None:
    for name in ("epochs", "batch_size", "limit", "test_limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise OptionError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.resume and args.checkpoint_dir is None:
        raise OptionError("--resume needs --checkpoint-dir DIR: the run folder to continue")
    if args.resume and args.no_save:
        raise OptionError("--resume and --no-save contradict each other; drop one")


def _train(args: argparse.Namespace) -> int:
    from cnninspect.chapter.data import cli_data_dir, mnist
    from cnninspect.chapter.train.loop import fit, metrics_file_for, seed_everything
    from cnninspect.chapter.train.runs import default_run_dir, first_conv
    from cnninspect.integrations.spec import load_model, parse_kwargs

    _check_args(args)
    test_limit = args.test_limit if args.test_limit is not None else args.limit
    data_dir = cli_data_dir(args.data_dir)
    train_data = mnist(data_dir, train=True, download=args.download, limit=args.limit, words="cli")
    test_data = mnist(data_dir, train=False, download=False, limit=test_limit, words="cli")
    seed_everything(args.seed)  # the model's initial weights follow --seed
    model = load_model(args.model, parse_kwargs(args.kwargs)).model
    run_dir = None if args.no_save else (args.checkpoint_dir or default_run_dir(args.model))
    metrics = args.metrics or metrics_file_for(run_dir)
    conv = first_conv(model)
    before = conv.weight.detach().clone() if conv is not None else None
    history = fit(
        model, train_data, test_data,
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, optimizer=args.optimizer,
        device=args.device, amp=args.amp, compile=args.compile, channels_last=args.channels_last,
        seed=args.seed, workers=args.workers, threads=args.threads,
        checkpoint_dir=run_dir, resume=args.resume, metrics_path=metrics,
        progress=args.progress, log=_main_print,
    )  # fmt: skip
    if history and _is_main():
        _report(args, model, history, run_dir, metrics, before)
    return 0


def _report(args: argparse.Namespace, model: object, history: list[EpochMetrics], run_dir: str | Path | None,
            metrics: str | Path | None, before: object) -> None:  # fmt: skip
    from cnninspect.chapter.train.runs import write_plots

    last = history[-1]
    total = sum(h.train_images for h in history)
    seconds = sum(h.seconds for h in history)
    acc = f"{last.test_acc:.2f}%" if last.test_acc is not None else "n/a"
    print(f"Final test accuracy: {acc} | {total / seconds if seconds else 0:,.0f} img/s over {len(history)} epochs")
    if args.save:
        _save_weights(model, args.save)
        print(f"saved weights to {args.save}")
    if run_dir is not None:
        write_plots(run_dir, history, before, model)
        print(f"run folder: {run_dir} (last.pt, metrics.jsonl, curves.png, filters.png)")
    elif metrics:
        print(f"metrics appended to {metrics}")


def _threads(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'auto', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _is_main() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


def _main_print(text: str) -> None:
    print(text, flush=True)


def _save_weights(model: object, path: str) -> None:
    import torch

    from cnninspect.files import atomic_write

    atomic_write(path, lambda fh: torch.save(model.state_dict(), fh))  # type: ignore[attr-defined]
