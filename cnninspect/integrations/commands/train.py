"""``cnninspect train``: train a fixture (or any classifier spec) on MNIST and print the epoch lines."""

from __future__ import annotations

import argparse

from cnninspect.errors import OptionError

HELP = "train a model on MNIST (CPU, GPU or torchrun DDP) and print per-epoch loss, accuracy and throughput"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", nargs="?", default="simple-cnn", metavar="MODEL",
        help="fixture name (simple-cnn) or package.module:attr of a 1x28x28 classifier (default: simple-cnn)",
    )  # fmt: skip
    parser.add_argument("--kwargs", metavar="JSON", help="keyword arguments for a class or factory, as JSON")
    parser.add_argument("--epochs", type=int, default=3, help="epochs to train (default: 3)")
    parser.add_argument("--data-dir", default=None, help="folder holding MNIST/raw (default: $CNNINSPECT_DATA)")
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
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training and test images")
    parser.add_argument("--test-limit", type=int, default=None, help="use only the first N test images (default: --limit)")
    parser.add_argument("--checkpoint-dir", default=None, help="write last.pt and metrics.jsonl here after every epoch")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint-dir/last.pt")
    parser.add_argument("--metrics", default=None, help="append per-epoch JSON lines here (default: CHECKPOINT_DIR/metrics.jsonl)")
    parser.add_argument("--save", default=None, metavar="FILE", help="save the trained weights (state_dict) here")
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="per-epoch progress bar (default: only when stderr is a terminal)",
    )  # fmt: skip
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def run(args: argparse.Namespace) -> int:
    from cnninspect.chapter.data import mnist
    from cnninspect.chapter.train.loop import fit, metrics_file_for, seed_everything
    from cnninspect.integrations.spec import load_model, parse_kwargs

    for name in ("epochs", "batch_size", "limit", "test_limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise OptionError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    test_limit = args.test_limit if args.test_limit is not None else args.limit
    train_data = mnist(args.data_dir, train=True, download=args.download, limit=args.limit)
    test_data = mnist(args.data_dir, train=False, download=False, limit=test_limit)
    seed_everything(args.seed)  # the model's initial weights follow --seed
    model = load_model(args.model, parse_kwargs(args.kwargs)).model
    metrics = args.metrics or metrics_file_for(args.checkpoint_dir)
    history = fit(
        model, train_data, test_data,
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, optimizer=args.optimizer,
        device=args.device, amp=args.amp, compile=args.compile, channels_last=args.channels_last,
        seed=args.seed, workers=args.workers, threads=args.threads,
        checkpoint_dir=args.checkpoint_dir, resume=args.resume, metrics_path=metrics,
        progress=args.progress, log=_main_print,
    )  # fmt: skip
    if history and _is_main():
        last = history[-1]
        total = sum(h.train_images for h in history)
        seconds = sum(h.seconds for h in history)
        acc = f"{last.test_acc:.2f}%" if last.test_acc is not None else "n/a"
        print(f"Final test accuracy: {acc} | {total / seconds if seconds else 0:,.0f} img/s over {len(history)} epochs")
        if args.save:
            _save_weights(model, args.save)
            print(f"saved weights to {args.save}")
        if metrics:
            print(f"metrics appended to {metrics}")
    return 0


def _is_main() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


def _main_print(text: str) -> None:
    print(text, flush=True)


def _save_weights(model: object, path: str) -> None:
    import os
    import tempfile
    from pathlib import Path

    import torch

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(model.state_dict(), fh)  # type: ignore[attr-defined]
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
