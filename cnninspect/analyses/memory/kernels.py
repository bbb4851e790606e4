"""Meta runs choose kernels as the CPU would, where the choice changes what autograd saves.

On meta tensors ``scaled_dot_product_attention`` takes its math path (it saves the
attention weights), while the CPU runs its flash kernel (it saves the output and the
log-sum-exp). The CPU's own choice is asked of tiny CPU stand-ins with the same
dtypes, head sizes and flags, and the meta run follows it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from cnninspect.engine import compat

_FLASH = 1  # SDPBackend.FLASH_ATTENTION
_SDPA = F.scaled_dot_product_attention  # the builtin, kept before anything replaces it


def _stand_in(t: torch.Tensor | None) -> torch.Tensor | None:
    """A CPU tensor with ``t``'s dtype, rank and flags but sequence lengths of 1."""
    if t is None:
        return None
    shape = list(t.shape)
    if len(shape) >= 2:
        shape[-2] = 1
    if t.dtype == torch.bool and shape:
        shape[-1] = 1
    return torch.zeros(shape, dtype=t.dtype).requires_grad_(t.requires_grad)


def cpu_attention(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
    """``F.scaled_dot_product_attention`` through the kernel the CPU would pick."""
    if query.device.type == "meta" and not enable_gqa and query.dim() == 4:
        choice = compat.fused_sdp_choice(
            _stand_in(query), _stand_in(key), _stand_in(value), _stand_in(attn_mask),
            dropout_p, is_causal, scale=scale,
        )  # fmt: skip
        if choice == _FLASH:
            out = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
                query, key, value, dropout_p, is_causal, attn_mask=attn_mask, scale=scale
            )
            return out[0]
    return _SDPA(
        query, key, value, attn_mask, dropout_p, is_causal, scale=scale, enable_gqa=enable_gqa
    )


@contextlib.contextmanager
def cpu_kernels() -> Iterator[None]:
    """Within: ``F.scaled_dot_product_attention`` picks the CPU's kernel on meta tensors.

    Set on ``torch.nn.functional`` itself, because callers such as
    ``F.multi_head_attention_forward`` look it up there, and a function mode does not
    see calls made inside another overridable function.
    """
    F.scaled_dot_product_attention = cpu_attention
    try:
        yield
    finally:
        F.scaled_dot_product_attention = _SDPA
