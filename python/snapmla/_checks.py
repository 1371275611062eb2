"""Argument checks done in Python, before the C++ layer sees the call.

The C++ library validates shapes, dtypes and strides of its views too; what Python adds is what
only torch knows: the device of each tensor (a CPU tensor handed to a call on a CUDA device is
caught here, before any launch), that an argument is a tensor at all, and dtypes the C++ views
cannot represent. Every failure raises ValueError("<op>: <argument>: <rule>, got ...").
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

import torch


def fail(op: str, name: str, rule: str) -> None:
    raise ValueError(f"{op}: {name}: {rule}")


def _dtype_name(d: torch.dtype) -> str:
    return str(d).replace("torch.", "")


def _shape_str(shape: Sequence[Optional[int]]) -> str:
    return "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"


def tensor(op: str, name: str, t, dtypes: Iterable[torch.dtype], shape: Optional[Sequence[Optional[int]]] = None,
           device: Optional[torch.device] = None, device_of: str = "", contiguous: bool = False,
           inner_contiguous: bool = True) -> torch.Tensor:
    """Checks one tensor argument; `shape` entries of None match any extent."""
    if not isinstance(t, torch.Tensor):
        fail(op, name, f"expected a torch.Tensor, got {type(t).__name__}")
    dtypes = tuple(dtypes)
    if t.dtype not in dtypes:
        fail(op, name, "expected dtype " + " or ".join(_dtype_name(d) for d in dtypes) +
             f", got {_dtype_name(t.dtype)}")
    if shape is not None:
        ok = t.dim() == len(shape) and all(s is None or t.shape[i] == s for i, s in enumerate(shape))
        if not ok:
            fail(op, name, f"expected shape {_shape_str(shape)}, got {_shape_str(list(t.shape))}")
    if device is not None and t.device != device:
        fail(op, name, f"is on {t.device} but {device_of} is on {device} "
                       "(all tensors of one call must be on the same device)")
    if t.device.type not in ("cpu", "cuda"):
        fail(op, name, f"must be a CPU or CUDA tensor, got device {t.device}")
    if contiguous and not t.is_contiguous():
        fail(op, name, f"must be contiguous, got strides {tuple(t.stride())}")
    if inner_contiguous and t.dim() > 0 and t.shape[-1] > 1 and t.stride(-1) != 1:
        fail(op, name, f"the last dimension must be contiguous (stride 1), got strides {tuple(t.stride())}")
    return t


def same_device(op: str, ref_name: str, ref: torch.Tensor, **named) -> None:
    for name, t in named.items():
        if isinstance(t, torch.Tensor) and t.device != ref.device:
            fail(op, name, f"is on {t.device} but {ref_name} is on {ref.device} "
                           "(all tensors of one call must be on the same device)")


def positive_int(op: str, name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        fail(op, name, f"must be a positive int, got {v!r}")
    return v
