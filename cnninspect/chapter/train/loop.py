"""The training loop: the chapter's Adam + cross-entropy loop, made fast, resumable and portable.

Why it is shaped like this:

* Every epoch draws its randomness (shuffle order and dropout masks) from a
  seed derived from ``(seed, epoch, rank)`` inside ``torch.random.fork_rng``.
  An epoch therefore does the same thing whether the run started at epoch 0 or
  resumed from a checkpoint, which is what makes "2 epochs == 1 + resume + 1"
  hold bit for bit on CPU, and the caller's global RNG is left untouched.
* Shuffling always goes through a ``DistributedSampler`` (one replica when not
  distributed), so one process and N processes share one code path.
* Loss and accuracy are accumulated on the device and read once per epoch: no
  per-batch ``.item()`` sync on a GPU.
* Datasets with ``__getitems__`` (see :mod:`cnninspect.chapter.data`) are read a batch
  at a time without workers or collation; other datasets get loader workers.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnninspect.chapter.train import distributed
from cnninspect.chapter.train.checkpoint import (
    CheckpointError,
    checkpoint_path,
    load_checkpoint,
    restore_model,
    restore_optimizer,
    save_checkpoint,
)
from cnninspect.chapter.train.metrics import EpochMetrics, append_jsonl
from cnninspect.errors import ModelError, OptionError

OPTIMIZERS = ("adam", "adamw", "sgd")


def pick_device(device: Any = "auto") -> Any:
    """``"auto"`` means cuda, then mps, then cpu; anything else is passed to ``torch.device``."""
    import torch

    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise OptionError(f"device {device!r} is not a torch device; use auto, cpu, cuda, cuda:1 or mps") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise OptionError(f"device {device!r} asked for, but this torch sees no CUDA GPU; use --device cpu or auto")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise OptionError(f"device {device!r} asked for, but MPS is not available here; use --device cpu or auto")
    return dev


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _busy_elsewhere() -> float:
    """How many cores other processes keep busy: the larger of the 1-minute load and the tasks
    running right now (``/proc/loadavg``, less this one), so a load that just started counts too."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            running = int(fh.read().split()[3].split("/")[0]) - _running_here()
    except (OSError, ValueError, IndexError):
        running = 0
    return max(load - 1.0, float(running))


def _running_here() -> int:
    """This process's own running threads (at least the caller): torch's worker threads keep
    spinning for a moment after any tensor work, and they are no one else's load."""
    count = 0
    for stat in Path("/proc/self/task").glob("*/stat"):
        try:
            count += stat.read_text(encoding="ascii").rsplit(")", 1)[1].split()[0] == "R"
        except (OSError, IndexError):
            continue
    return max(1, count)


def auto_threads(world_size: int = 1) -> int:
    """CPU threads for one training process: its share of the cores, less those others keep busy.

    ``benchmarks/train_threads.py`` measured why: on a busy 2-core machine torch's default
    (one thread per core) spends its time spin-waiting for cores it does not get, and one
    thread trains several times faster; on a quiet machine every core helps.
    """
    world_size = max(1, world_size)
    free = (_cores() - round(_busy_elsewhere())) // world_size
    return max(1, min(_cores() // world_size, free))


def seed_everything(seed: int) -> None:
    """Seed torch and Python's RNG, e.g. before building a model so its init is reproducible."""
    import random

    import torch

    random.seed(seed)
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """A distinct, reproducible seed per (run seed, epoch, rank)."""
    return (seed * 1_000_003 + epoch * 10_007 + rank * 101 + 17) % (2**63 - 1)


def _build_optimizer(name: str, params: Any, lr: float) -> Any:
    import torch

    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def _check_options(epochs: int, lr: float, batch_size: int, optimizer: str, eval_batch_size: int) -> None:
    if not isinstance(epochs, int) or epochs < 1:
        raise OptionError(f"epochs must be a whole number >= 1, got {epochs!r}")
    if not lr > 0:
        raise OptionError(f"lr must be > 0, got {lr!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise OptionError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    if not isinstance(eval_batch_size, int) or eval_batch_size < 1:
        raise OptionError(f"eval_batch_size must be a whole number >= 1, got {eval_batch_size!r}")
    if optimizer not in OPTIMIZERS:
        raise OptionError(f"optimizer {optimizer!r} is unknown; use one of {', '.join(OPTIMIZERS)}")


def _loader(dataset: Any, batch_size: int, sampler: Any, workers: int | None, device: Any) -> Any:
    from torch.utils.data import DataLoader

    from cnninspect.chapter.data import batch_passthrough

    batched = callable(getattr(dataset, "__getitems__", None))
    if workers is None:
        # in-memory tensors need no workers; decoded-per-item data gets one per spare core
        workers = 0 if batched else min(4, max(0, (os.cpu_count() or 1) - 1))
    kwargs: dict[str, Any] = {}
    if workers > 0:
        kwargs["persistent_workers"] = True
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        collate_fn=batch_passthrough if batched else None,
        **kwargs,
    )


def _preflight(model: Any, dataset: Any, device: Any, memory_format: Any) -> None:
    """One two-sample forward before training, so a model/data mismatch is one clear error."""
    import torch

    x = torch.stack([torch.as_tensor(dataset[i][0]) for i in range(min(2, len(dataset)))])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x.to(device, memory_format=memory_format))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = (
            "; it flattens with .view, so train it without channels_last"
            if memory_format is torch.channels_last and "view" in first
            else "; train a model built for these inputs"
        )
        raise ModelError(
            f"the model cannot take this data's batches of shape {tuple(x.shape)} "
            f"({type(exc).__name__}: {first[:200]}){hint}"
        ) from exc
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelError(f"a classifier must return (batch, classes) logits; this model returned {shape}")


# long: 20 documented keyword options take 37 lines; the body (42) reads as the run's outline
def fit(
    model: Any,
    train_data: Any,
    test_data: Any | None = None,
    *,
    epochs: int = 3,
    lr: float = 1e-3,
    batch_size: int = 64,
    optimizer: str = "adam",
    device: Any = "auto",
    amp: bool = False,
    compile: bool = False,
    channels_last: bool = False,
    seed: int = 0,
    workers: int | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    metrics_path: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = print,
    eval_batch_size: int = 1000,
    threads: int | str | None = "auto",
) -> list[EpochMetrics]:
    """Train a classifier with cross-entropy and return one :class:`EpochMetrics` per epoch.

    ``device="auto"`` picks cuda, then mps, then cpu. ``amp=True`` runs the forward
    under bf16 autocast (no loss scaling needed for bf16). ``channels_last=True``
    stores activations NHWC (faster convs on tensor-core GPUs) but is opt-in: models
    that flatten with ``.view`` (the chapter's SimpleCNN) cannot take it. ``threads``
    sets torch's CPU threads for the run and restores them afterwards; ``"auto"``
    (the default) takes the cores other processes leave free, see :func:`auto_threads`;
    ``None`` leaves torch's setting alone. With ``checkpoint_dir`` a checkpoint is written
    atomically after every epoch, and ``resume=True`` continues from it (the
    optimizer, its learning rate and the epoch come from the checkpoint). Run under
    ``torchrun`` and it trains with DistributedDataParallel; only rank 0 logs and
    writes. ``log=None`` silences the epoch lines.
    """
    import torch

    _check_options(epochs, lr, batch_size, optimizer, eval_batch_size)
    _check_inputs(model, train_data, resume, checkpoint_dir)
    dev = pick_device(device)
    ctx = distributed.setup(dev.type)
    threads_before = torch.get_num_threads()
    try:
        if ctx.enabled and dev.type == "cuda":
            dev = torch.device("cuda", ctx.local_rank)
        _tune_torch(threads, dev, ctx)
        run = _Run.on(dev, ctx, epochs, channels_last, amp, progress, log)
        opt = _place(model, train_data, run, optimizer, lr)

        config = {"seed": seed, "batch_size": batch_size, "optimizer": optimizer, "lr": lr}
        history: list[EpochMetrics] = []
        start_epoch = 0
        ckpt_file = checkpoint_path(checkpoint_dir) if checkpoint_dir is not None else None
        if resume and ckpt_file is not None:
            start_epoch, history = _resume(ckpt_file, model, opt, config, run)

        net = distributed.wrap(model, ctx, dev)
        if compile:
            net = torch.compile(net)

        train_sampler, train_loader, test_loader = _loaders(
            run, train_data, test_data, seed, batch_size, eval_batch_size, workers
        )
        for epoch in range(start_epoch, epochs):
            train_sampler.set_epoch(epoch)
            with torch.random.fork_rng(devices=run.fork_devices):
                torch.manual_seed(epoch_seed(seed, epoch, ctx.rank))
                sums, seconds = _train_epoch(run, net, opt, train_loader, epoch)
            record = _epoch_record(run, model, opt, test_loader, epoch, sums, seconds)
            history.append(record)
            if ctx.is_main:
                _publish(run, record, metrics_path, ckpt_file, model, opt, history, config)
            distributed.barrier(ctx)
        return history
    finally:
        torch.set_num_threads(threads_before)
        distributed.teardown(ctx)


@dataclass
class _Run:
    """What every epoch of one run shares: where it runs, with which numbers, who speaks."""

    dev: Any
    ctx: Any
    epochs: int
    memory_format: Any
    use_amp: bool
    amp_device: str
    acc_dtype: Any  # loss sums: float64 where the device has it
    non_blocking: bool
    show: bool  # progress bars
    fork_devices: list[int]
    say: Callable[[str], None] | None  # rank 0's log, or None

    @classmethod
    def on(
        cls, dev: Any, ctx: Any, epochs: int, channels_last: bool, amp: bool,
        progress: bool | None, log: Callable[[str], None] | None,
    ) -> _Run:  # fmt: skip
        import torch

        return cls(
            dev=dev,
            ctx=ctx,
            epochs=epochs,
            memory_format=torch.channels_last if channels_last else torch.contiguous_format,
            use_amp=bool(amp),
            amp_device=dev.type if dev.type in ("cuda", "cpu", "mps") else "cpu",
            acc_dtype=torch.float32 if dev.type == "mps" else torch.float64,
            non_blocking=dev.type == "cuda",
            show=progress if progress is not None else (ctx.is_main and sys.stderr.isatty()),
            fork_devices=(
                [dev.index if dev.index is not None else torch.cuda.current_device()]
                if dev.type == "cuda" else []
            ),  # fmt: skip
            say=log if (log is not None and ctx.is_main) else None,
        )


def _check_inputs(model: Any, train_data: Any, resume: bool, checkpoint_dir: object) -> None:
    import torch

    if resume and checkpoint_dir is None:
        raise OptionError("resume=True needs checkpoint_dir (--checkpoint-dir) to know what to resume")
    if len(train_data) == 0:
        raise OptionError("the training set is empty")
    if not isinstance(model, torch.nn.Module):
        raise ModelError(f"fit() trains an nn.Module, got {type(model).__name__}")


def _tune_torch(threads: int | str | None, dev: Any, ctx: Any) -> None:
    """torch's CPU threads for this run (``fit`` restores them after), and cuDNN's autotuner."""
    import torch

    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick the fastest kernels

    if threads == "auto":
        if dev.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
            torch.set_num_threads(auto_threads(ctx.world_size))
    elif threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    elif ctx.enabled and dev.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        # N processes on one small machine: share the cores instead of oversubscribing them
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // ctx.world_size))


def _place(model: Any, train_data: Any, run: _Run, optimizer: str, lr: float) -> Any:
    """The model on the run's device and memory format, checked on two samples; its optimizer."""
    import torch

    model.to(run.dev)
    if run.memory_format is torch.channels_last:
        model.to(memory_format=torch.channels_last)
    _preflight(model, train_data, run.dev, run.memory_format)
    return _build_optimizer(optimizer, model.parameters(), lr)


def _loaders(
    run: _Run, train_data: Any, test_data: Any | None, seed: int, batch_size: int,
    eval_batch_size: int, workers: int | None,
) -> tuple[Any, Any, Any | None]:  # fmt: skip
    """The shuffling sampler (``fit`` sets its epoch), the training loader, and this rank's
    share of the test set (None without one)."""
    from torch.utils.data.distributed import DistributedSampler

    ctx = run.ctx
    train_sampler: DistributedSampler[Any] = DistributedSampler(
        train_data, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed,
        drop_last=ctx.enabled,  # every rank gets the same number of distinct samples
    )  # fmt: skip
    train_loader = _loader(train_data, batch_size, train_sampler, workers, run.dev)
    test_loader = None
    if test_data is not None and len(test_data) > 0:
        shard = list(range(ctx.rank, len(test_data), ctx.world_size))
        test_loader = _loader(test_data, eval_batch_size, shard, workers, run.dev)
    return train_sampler, train_loader, test_loader


def _resume(
    ckpt_file: Path, model: Any, opt: Any, config: dict[str, Any], run: _Run
) -> tuple[int, list[EpochMetrics]]:
    """Model and optimizer from the checkpoint; the epoch it ended and the history so far."""
    state = load_checkpoint(ckpt_file, map_location=run.dev)
    saved = state.get("config", {})
    for key in ("seed", "batch_size", "optimizer"):
        if key in saved and saved[key] != config[key]:
            raise CheckpointError(
                f"checkpoint {ckpt_file} was trained with {key}={saved[key]!r}, not {config[key]!r}; "
                f"resume with the same {key} (it fixes the data order) or start a new --checkpoint-dir"
            )
    restore_model(model, state["model"], ckpt_file)
    restore_optimizer(opt, state["optimizer"], ckpt_file)
    start_epoch = int(state["epoch"])
    history = [EpochMetrics.from_dict(h) for h in state.get("history", [])]
    if run.say:
        run.say(f"resumed from {ckpt_file} after epoch {start_epoch}")
    return start_epoch, history


def _train_epoch(run: _Run, net: Any, opt: Any, loader: Any, epoch: int) -> tuple[tuple[Any, Any, int], float]:
    """One pass over this rank's shard: (loss sum, correct, seen) on the device, and seconds."""
    import torch
    import torch.nn.functional as F

    dev = run.dev
    net.train()
    loss_sum = torch.zeros((), dtype=run.acc_dtype, device=dev)
    correct = torch.zeros((), dtype=torch.int64, device=dev)
    seen = 0
    bar = _progress(len(loader), f"epoch {epoch + 1}/{run.epochs}", run.show)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    t0 = time.perf_counter()
    for step, (x, y) in enumerate(loader):
        x = x.to(dev, non_blocking=run.non_blocking, memory_format=run.memory_format)
        y = y.to(dev, non_blocking=run.non_blocking)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(run.amp_device, dtype=torch.bfloat16, enabled=run.use_amp):
            out = net(x)
            loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        n = y.shape[0]
        seen += n
        loss_sum += loss.detach().to(run.acc_dtype) * n
        correct += (out.detach().argmax(1) == y).sum()
        if bar is not None:
            bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}")
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - t0
    if bar is not None:
        bar.close()
    return (loss_sum, correct, seen), seconds


def _epoch_record(
    run: _Run, model: Any, opt: Any, test_loader: Any, epoch: int,
    sums: tuple[Any, Any, int], seconds: float,
) -> EpochMetrics:  # fmt: skip
    """The epoch's metrics over all ranks, with the test set's when there is one."""
    loss_sum, correct, seen = sums
    total_loss, total_correct, total_seen = distributed.all_sum(
        [float(loss_sum), float(correct), float(seen)], run.ctx, run.dev
    )
    test_loss = test_acc = None
    if test_loader is not None:
        test_loss, test_acc = _evaluate(
            model, test_loader, run.dev, run.memory_format, run.use_amp, run.amp_device, run.acc_dtype, run.ctx
        )
    return EpochMetrics(
        epoch=epoch + 1,
        train_loss=total_loss / total_seen,
        train_acc=100.0 * total_correct / total_seen,
        test_loss=test_loss,
        test_acc=test_acc,
        images_per_s=total_seen / seconds if seconds > 0 else float("inf"),
        seconds=seconds,
        train_images=int(total_seen),
        lr=float(opt.param_groups[0]["lr"]),
    )


def _publish(
    run: _Run, record: EpochMetrics, metrics_path: str | os.PathLike[str] | None, ckpt_file: Path | None,
    model: Any, opt: Any, history: list[EpochMetrics], config: dict[str, Any],
) -> None:  # fmt: skip
    """Rank 0's part of an epoch's end: the log line, the metrics line, the checkpoint."""
    import torch

    if run.say:
        run.say(record.line(run.epochs))
    if metrics_path is not None:
        append_jsonl(metrics_path, {**record.to_dict(), "world_size": run.ctx.world_size, "device": str(run.dev)})
    if ckpt_file is not None:
        seed = config["seed"]
        save_checkpoint(
            ckpt_file,
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "epoch": record.epoch,
                "history": [h.to_dict() for h in history],
                "config": config,
                "rng": {"seed": seed, "scheme": "per-epoch fork_rng(epoch_seed(seed, epoch, rank))",
                        "torch_cpu": torch.get_rng_state()},
                "model_class": type(model).__qualname__,
            },
        )  # fmt: skip


def _evaluate(model: Any, loader: Any, dev: Any, memory_format: Any, use_amp: bool, amp_device: str, acc_dtype: Any, ctx: Any) -> tuple[float, float]:
    """Mean cross-entropy per sample and accuracy (%) over the whole test set, all ranks together."""
    import torch
    import torch.nn.functional as F

    model.eval()
    loss_sum = torch.zeros((), dtype=acc_dtype, device=dev)
    correct = torch.zeros((), dtype=torch.int64, device=dev)
    seen = 0
    with torch.inference_mode():
        for x, y in loader:
            x = x.to(dev, non_blocking=dev.type == "cuda", memory_format=memory_format)
            y = y.to(dev, non_blocking=dev.type == "cuda")
            with torch.autocast(amp_device, dtype=torch.bfloat16, enabled=use_amp):
                out = model(x)
            loss_sum += F.cross_entropy(out.float(), y, reduction="sum").to(acc_dtype)
            correct += (out.argmax(1) == y).sum()
            seen += y.shape[0]
    total_loss, total_correct, total_seen = distributed.all_sum([float(loss_sum), float(correct), float(seen)], ctx, dev)
    return total_loss / max(total_seen, 1), 100.0 * total_correct / max(total_seen, 1)


def _progress(total: int, desc: str, show: bool) -> Any:
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, file=sys.stderr)


def metrics_file_for(checkpoint_dir: str | os.PathLike[str] | None) -> Path | None:
    """The metrics file a run with this checkpoint folder writes by default."""
    return Path(checkpoint_dir) / "metrics.jsonl" if checkpoint_dir is not None else None
