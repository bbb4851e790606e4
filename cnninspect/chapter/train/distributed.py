"""Several processes, one model: PyTorch's DistributedDataParallel, set up from torchrun's env.

``torchrun --nproc_per_node N -m cnninspect.chapter.train ...`` sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address; :func:`setup` reads
them, picks nccl for CUDA and gloo otherwise, and gives each process its GPU.
Without those variables everything here is a no-op and training is a single
process, so the same code runs on a laptop and on a node.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass
class DistContext:
    """Where this process stands: rank 0 of 1 when not distributed."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialized_here: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main process prints, writes metrics and saves checkpoints."""
        return self.rank == 0


def env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def setup(device_type: str) -> DistContext:
    """Join the process group torchrun prepared (or the one already initialised)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    if env_world_size() <= 1 or not dist.is_available():
        return DistContext()
    backend = "nccl" if device_type == "cuda" else "gloo"
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        import torch

        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend)
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, initialized_here=True)


def teardown(ctx: DistContext) -> None:
    if ctx.initialized_here:
        import torch.distributed as dist

        dist.destroy_process_group()


def all_sum(values: list[float], ctx: DistContext, device: Any) -> list[float]:
    """Sum a few numbers over all ranks (identity when not distributed)."""
    if not ctx.enabled:
        return values
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        import torch.distributed as dist

        dist.barrier()


def wrap(model: Any, ctx: DistContext, device: Any) -> Any:
    """DDP around the model when distributed; the model itself otherwise."""
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        return DistributedDataParallel(model, device_ids=[device.index])
    return DistributedDataParallel(model)
