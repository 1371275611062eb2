"""snapmla's Python calls: FlashMLA-compatible BF16 decode and the SnapMLA FP8 decode step.

FlashMLA-compatible (same arguments, shapes, defaults and return values as FlashMLA's dense
BF16 decode; an engine switches by changing its import):

    get_mla_metadata(cache_seqlens, num_q_tokens_per_head_k, num_heads_k)  # older style
        -> (tile_scheduler_metadata, num_splits)
    get_mla_metadata()                                                     # current style
        -> (FlashMLASchedMeta, None), filled by the first flash_mla_with_kvcache call
    flash_mla_with_kvcache(q, k_cache, block_table, cache_seqlens, head_dim_v,
                           tile_scheduler_metadata, num_splits, softmax_scale=None, causal=False)
        -> (out [b, s_q, h_q, 512] bf16, lse [b, h_q, s_q] f32)

SnapMLA FP8 decode step (the paper's serving dataflow):

    quantize_q(q) -> (q_nope_fp8, q_scale, q_rope_aligned)
    quantize_and_append_kv(kv, slots, kv_fp8, kv_scale, kv_rope)     # in place
    fetch_dequant(kv_fp8, kv_scale, kv_rope, slots) -> kv [n, 576] bf16
    flash_mla_fp8_with_kvcache(q_nope, q_rope, kv_fp8, kv_rope, q_scale, kv_scale, block_table,
                               cache_seqlens, head_dim_v, tile_scheduler_metadata, num_splits,
                               softmax_scale=None, causal=False) -> (out, lse)

What the metadata is here: tile_scheduler_metadata is snapmla's decode workspace, a uint8 tensor
of decode_workspace_bytes() on the decode's device that holds the split-KV schedule (written by
the plan kernel from the device-side cache_seqlens: no host synchronisation) and the partial
results of split requests. num_splits is an int32 [b + 1] view into the same workspace: the
cumulative split counts (FlashMLA's meaning). The decode reads the schedule from the workspace;
a num_splits argument is accepted for compatibility and not read. One metadata serves every
layer of a decode step, as in FlashMLA. plan_decode() re-plans an existing workspace in place
(for a CUDA graph that covers the whole step).

Every call also accepts CPU tensors: the C++ library then runs its CPU reference (float
emulation of the kernels' exact arithmetic), which the tests use as a second reference.
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Dict, Optional, Tuple

import torch

from . import _checks as chk
from ._ops import ops

D_LATENT = 512
D_ROPE = 64
D_QK = 576
PAGE_SIZE = 64
_MAX_HEADS = 1024
_MAX_QUERY_TOKENS = 16
_WS_ALIGN = 256
_FP8_PLANE_DTYPES = (torch.float8_e4m3fn, torch.uint8)


# ---- workspace (= tile scheduler metadata) -----------------------------------------------------

_layout_cache: Dict[Tuple[int, int, int, str, int], Tuple[int, int, int]] = {}


def _layout(batch: int, s_q: int, h_q: int, device: torch.device, max_pages: int = 0) -> Tuple[int, int, int]:
    """(num_sm_parts, workspace bytes, split_begin offset) for one KV head's decode shape.
    max_pages: the block table's width where known (a few long requests then get the parts of the
    narrow kernel's row groups), else 0."""
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    key = (batch, s_q, h_q, str(device), max_pages)
    hit = _layout_cache.get(key)
    if hit is None:
        parts, nbytes, split_off = ops.workspace_layout(batch, s_q, h_q, 0, device, max_pages)
        hit = _layout_cache[key] = (int(parts), int(nbytes), int(split_off))
    return hit


def _factor_rows(op: str, rows: int) -> Tuple[int, int]:
    """Splits s_q * h_q (all FlashMLA's older metadata call knows) into a valid (s_q, h_q).

    The schedule and the workspace size depend only on the product, so any factorisation plans
    the same workspace as the decode's own (s_q, h_q)."""
    for s_q in range(1, _MAX_QUERY_TOKENS + 1):
        if rows % s_q == 0 and rows // s_q <= _MAX_HEADS:
            return s_q, rows // s_q
    chk.fail(op, "num_q_tokens_per_head_k", f"{rows} query rows per KV head are more than snapmla serves "
             f"({_MAX_QUERY_TOKENS} tokens x {_MAX_HEADS} heads)")
    raise AssertionError  # unreachable


def decode_workspace_bytes(batch: int, s_q: int, h_q: int, device=None) -> int:
    """Bytes of the decode workspace for `batch` requests of s_q query tokens and h_q heads per
    KV head on `device` (default: the current CUDA device)."""
    device = torch.device(device) if device is not None else torch.device("cuda")
    return _layout(batch, s_q, h_q, device)[1]


def _new_workspace(batch: int, s_q: int, h_q: int, device: torch.device,
                   max_pages: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    _, nbytes, split_off = _layout(batch, s_q, h_q, device, max_pages)
    raw = torch.empty(nbytes + _WS_ALIGN, dtype=torch.uint8, device=device)
    off = (-raw.data_ptr()) % _WS_ALIGN  # the library wants 256-byte alignment (CPU tensors are 64)
    ws = raw[off:off + nbytes]
    num_splits = ws[split_off:split_off + 4 * (batch + 1)].view(torch.int32)
    return ws, num_splits


def _check_seqlens(op: str, cache_seqlens, device: Optional[torch.device] = None, device_of: str = "",
                   batch: Optional[int] = None) -> torch.Tensor:
    return chk.tensor(op, "cache_seqlens", cache_seqlens, (torch.int32,), (batch,), device=device,
                      device_of=device_of, contiguous=True)


def plan_decode(cache_seqlens: torch.Tensor, tile_scheduler_metadata, s_q: int, h_q: int) -> None:
    """Re-plans an existing workspace for new lengths, in place and without host synchronisation
    (capturable in a CUDA graph). h_q counts query heads per KV head."""
    op = "plan_decode"
    ws = tile_scheduler_metadata.tile_scheduler_metadata if isinstance(
        tile_scheduler_metadata, FlashMLASchedMeta) else tile_scheduler_metadata
    chk.tensor(op, "tile_scheduler_metadata", ws, (torch.uint8,), (None,), contiguous=True)
    _check_seqlens(op, cache_seqlens, ws.device, "tile_scheduler_metadata")
    parts = tile_scheduler_metadata.num_sm_parts if isinstance(tile_scheduler_metadata, FlashMLASchedMeta) else 0
    ops.plan_decode(cache_seqlens, ws, s_q, h_q, parts)


@dataclasses.dataclass
class FlashMLASchedMeta:
    """Scheduler metadata in FlashMLA's current call style: empty from get_mla_metadata(), filled
    (workspace planned from cache_seqlens) by the first decode call that uses it. Reuse it for
    every layer of one decode step: shapes and lengths must stay the same, as in FlashMLA."""

    @dataclasses.dataclass
    class Config:
        b: int
        s_q: int
        h_q: int
        page_block_size: int
        h_k: int
        causal: bool
        is_fp8_kvcache: bool
        topk: Optional[int]
        extra_page_block_size: Optional[int]
        extra_topk: Optional[int]

    have_initialized: bool = False
    config: Optional[Config] = None
    tile_scheduler_metadata: Optional[torch.Tensor] = None  # the workspace, uint8
    num_splits: Optional[torch.Tensor] = None               # int32 [b + 1], a view into it
    # snapmla's own: the schedule's parts, planned with the first call's block table width
    num_sm_parts: int = 0
    max_pages: int = 0


def get_mla_metadata(*args, **kwargs):
    """FlashMLA's get_mla_metadata, both call styles.

    get_mla_metadata() -> (FlashMLASchedMeta(), None): filled on first use.
    get_mla_metadata(cache_seqlens, num_q_tokens_per_head_k, num_heads_k, num_heads_q=None,
                     is_fp8_kvcache=False, topk=None) -> (tile_scheduler_metadata, num_splits):
        plans now from cache_seqlens [b] int32. num_q_tokens_per_head_k = s_q * h_q // h_kv.
    """
    op = "get_mla_metadata"
    names = ("cache_seqlens", "num_q_tokens_per_head_k", "num_heads_k", "num_heads_q", "is_fp8_kvcache", "topk")
    if len(args) > len(names):
        raise TypeError(f"{op}() takes at most {len(names)} positional arguments ({len(args)} given)")
    bound = dict(zip(names, args))
    if "num_heads_per_head_k" in kwargs:  # the name in FlashMLA's first release
        kwargs = dict(kwargs)
        kwargs["num_q_tokens_per_head_k"] = kwargs.pop("num_heads_per_head_k")
    for k, v in kwargs.items():
        if k not in names:
            raise TypeError(f"{op}() got an unexpected keyword argument '{k}'")
        if k in bound:
            raise TypeError(f"{op}() got multiple values for argument '{k}'")
        bound[k] = v
    if bound.get("cache_seqlens") is None:
        return FlashMLASchedMeta(), None
    if bound.get("topk") is not None:
        raise NotImplementedError(f"{op}: topk: sparse attention is not supported by snapmla")
    for k in ("num_q_tokens_per_head_k", "num_heads_k"):
        if k not in bound:
            raise TypeError(f"{op}() missing required argument '{k}'")
    cache_seqlens = _check_seqlens(op, bound["cache_seqlens"])
    chk.positive_int(op, "cache_seqlens.shape[0] (batch)", int(cache_seqlens.shape[0]))
    rows = chk.positive_int(op, "num_q_tokens_per_head_k", bound["num_q_tokens_per_head_k"])
    chk.positive_int(op, "num_heads_k", bound["num_heads_k"])
    s_q, h_q = _factor_rows(op, rows)
    ws, num_splits = _new_workspace(int(cache_seqlens.shape[0]), s_q, h_q, cache_seqlens.device)
    ops.plan_decode(cache_seqlens, ws, s_q, h_q, 0)
    return ws, num_splits


def _resolve_metadata(op: str, meta, num_splits, cache_seqlens: torch.Tensor, config: "FlashMLASchedMeta.Config",
                      block_table: torch.Tensor) -> Tuple[torch.Tensor, int]:
    """(workspace, num_sm_parts) for this call; fills a fresh FlashMLASchedMeta on first use,
    planned with the block table's width (the older metadata tensor was planned without it)."""
    g = config.h_q // config.h_k
    if isinstance(meta, FlashMLASchedMeta):
        if num_splits is not None:
            chk.fail(op, "num_splits", "must be None when tile_scheduler_metadata is a FlashMLASchedMeta")
        width = int(block_table.shape[1])
        if not meta.have_initialized:
            parts = _layout(config.b, config.s_q, g, cache_seqlens.device, width)[0]
            ws, splits = _new_workspace(config.b, config.s_q, g, cache_seqlens.device, width)
            ops.plan_decode(cache_seqlens, ws, config.s_q, g, parts)
            meta.config = config
            meta.tile_scheduler_metadata = ws
            meta.num_splits = splits
            meta.num_sm_parts = parts
            meta.max_pages = width
            meta.have_initialized = True
        else:
            have = meta.config
            for field in ("b", "s_q", "h_q", "page_block_size", "h_k", "causal", "is_fp8_kvcache"):
                if getattr(have, field) != getattr(config, field):
                    chk.fail(op, "tile_scheduler_metadata",
                             f"was planned for {field} = {getattr(have, field)!r}, this call has "
                             f"{getattr(config, field)!r} (use one metadata per decode step and shape)")
            if width > meta.max_pages:
                chk.fail(op, "block_table", f"has {width} pages a request, more than the {meta.max_pages} of the "
                         "call that planned tile_scheduler_metadata (use one metadata per decode step)")
        ws, parts = meta.tile_scheduler_metadata, meta.num_sm_parts
    else:
        ws, parts = meta, 0
    chk.tensor(op, "tile_scheduler_metadata", ws, (torch.uint8,), (None,), device=cache_seqlens.device,
               device_of="cache_seqlens", contiguous=True)
    return ws, parts


def _softmax_scale(op: str, softmax_scale) -> float:
    if softmax_scale is None:
        return D_QK ** -0.5
    s = float(softmax_scale)
    if not (s > 0.0) or math.isinf(s):
        chk.fail(op, "softmax_scale", f"must be finite and > 0, got {softmax_scale!r}")
    return s


_warned_copy = False


def _warn_copy(what: str) -> None:
    global _warned_copy
    if not _warned_copy:
        _warned_copy = True
        warnings.warn(f"snapmla: {what}: the cache is copied into a contiguous plane on every call "
                      "(slow path); keep the cache contiguous with num_heads_k = 1 for full speed",
                      RuntimeWarning, stacklevel=3)


# ---- FlashMLA-compatible BF16 decode ----------------------------------------------------------

def flash_mla_with_kvcache(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    block_table: Optional[torch.Tensor],
    cache_seqlens: Optional[torch.Tensor],
    head_dim_v: int,
    tile_scheduler_metadata,
    num_splits: Optional[torch.Tensor] = None,
    softmax_scale: Optional[float] = None,
    causal: bool = False,
    is_fp8_kvcache: bool = False,
    indices: Optional[torch.Tensor] = None,
    attn_sink: Optional[torch.Tensor] = None,
    extra_k_cache: Optional[torch.Tensor] = None,
    extra_indices_in_kvcache: Optional[torch.Tensor] = None,
    topk_length: Optional[torch.Tensor] = None,
    extra_topk_length: Optional[torch.Tensor] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """FlashMLA's dense decode on a BF16 paged cache.

    q [b, s_q, h_q, 576] bf16; k_cache [pages, 64, h_kv, 576] bf16 (h_q divisible by h_kv);
    block_table [b, max_pages] int32; cache_seqlens [b] int32 (0 allowed); head_dim_v = 512.
    Returns out [b, s_q, h_q, 512] bf16 and lse [b, h_q, s_q] f32 (natural log; +inf and out = 0
    for rows that see no token). softmax_scale defaults to 1/sqrt(576). With causal and s_q > 1,
    query i of a request sees tokens t <= len - s_q + i.

    h_kv > 1 (or a cache that is not one contiguous plane) takes a slower path: each KV head's
    plane is copied contiguous and decoded separately with its h_q / h_kv query heads.
    FlashMLA's FP8 and sparse modes (is_fp8_kvcache, indices, attn_sink, extra_*, topk_length)
    are not supported: snapmla's FP8 cache is a different format (flash_mla_fp8_with_kvcache).
    """
    op = "flash_mla_with_kvcache"
    if is_fp8_kvcache:
        raise NotImplementedError(f"{op}: is_fp8_kvcache: FlashMLA's FP8 cache layout is not supported; use "
                                  "snapmla.flash_mla_fp8_with_kvcache with snapmla's FP8 cache planes")
    for name, v in (("indices", indices), ("attn_sink", attn_sink), ("extra_k_cache", extra_k_cache),
                    ("extra_indices_in_kvcache", extra_indices_in_kvcache), ("topk_length", topk_length),
                    ("extra_topk_length", extra_topk_length)):
        if v is not None:
            raise NotImplementedError(f"{op}: {name}: sparse attention is not supported by snapmla")
    if block_table is None or cache_seqlens is None:
        chk.fail(op, "block_table" if block_table is None else "cache_seqlens", "is required for dense decode")
    chk.tensor(op, "q", q, (torch.bfloat16,), (None, None, None, D_QK))
    dev = q.device
    chk.tensor(op, "k_cache", k_cache, (torch.bfloat16,), (None, PAGE_SIZE, None, D_QK), device=dev, device_of="q")
    b, s_q, h_q = (int(x) for x in q.shape[:3])
    h_kv = int(k_cache.shape[2])
    chk.tensor(op, "block_table", block_table, (torch.int32,), (b, None), device=dev, device_of="q")
    _check_seqlens(op, cache_seqlens, dev, "q", b)
    if head_dim_v != D_LATENT:
        chk.fail(op, "head_dim_v", f"must be {D_LATENT}, got {head_dim_v!r}")
    if h_kv < 1 or h_q % h_kv != 0:
        chk.fail(op, "k_cache", f"num_heads_k = {h_kv} must divide num_heads_q = {h_q}")
    g = h_q // h_kv
    scale = _softmax_scale(op, softmax_scale)
    config = FlashMLASchedMeta.Config(b, s_q, h_q, int(k_cache.shape[1]), h_kv, bool(causal), False, None, None, None)
    ws, parts = _resolve_metadata(op, tile_scheduler_metadata, num_splits, cache_seqlens, config, block_table)
    causal = bool(causal)

    if h_kv == 1:
        kv = k_cache.squeeze(2)
        if not kv.is_contiguous():
            _warn_copy(f"{op}: k_cache")
            kv = kv.contiguous()
        return ops.decode_bf16(q, kv, block_table, cache_seqlens, ws, parts, scale, causal)
    _warn_copy(f"{op}: k_cache with num_heads_k = {h_kv}")
    outs, lses = [], []
    for i in range(h_kv):
        out_i, lse_i = ops.decode_bf16(q[:, :, i * g:(i + 1) * g], k_cache[:, :, i].contiguous(), block_table,
                                       cache_seqlens, ws, parts, scale, causal)
        outs.append(out_i)
        lses.append(lse_i)
    return torch.cat(outs, dim=2), torch.cat(lses, dim=1)


# ---- SnapMLA FP8 calls ------------------------------------------------------------------------

def allocate_fp8_kv_cache(num_pages: int, device=None, fp8_storage_dtype: torch.dtype = torch.float8_e4m3fn):
    """Zeroed FP8 cache planes for one layer: kv_fp8 [pages, 64, 512] (e4m3, or its uint8 storage),
    kv_scale [pages, 64] f32, kv_rope [pages, 64, 64] bf16 (644 bytes a token)."""
    if fp8_storage_dtype not in _FP8_PLANE_DTYPES:
        chk.fail("allocate_fp8_kv_cache", "fp8_storage_dtype", "must be torch.float8_e4m3fn or torch.uint8")
    chk.positive_int("allocate_fp8_kv_cache", "num_pages", num_pages)
    kv_fp8 = torch.zeros((num_pages, PAGE_SIZE, D_LATENT), dtype=fp8_storage_dtype, device=device)
    kv_scale = torch.zeros((num_pages, PAGE_SIZE), dtype=torch.float32, device=device)
    kv_rope = torch.zeros((num_pages, PAGE_SIZE, D_ROPE), dtype=torch.bfloat16, device=device)
    return kv_fp8, kv_scale, kv_rope


def _plane(op: str, name: str, t, dtypes, inner: Tuple[int, ...], dev: Optional[torch.device],
           device_of: str) -> torch.Tensor:
    """A cache plane [pages, 64, *inner], or with a num_heads_k = 1 axis [pages, 64, 1, *inner]."""
    chk.tensor(op, name, t, dtypes, device=dev, device_of=device_of, inner_contiguous=False)
    shape = tuple(t.shape)
    want = (None, PAGE_SIZE) + inner
    if len(shape) == len(want) + 1 and shape[2] == 1:
        t = t.squeeze(2)
        shape = tuple(t.shape)
    if len(shape) != len(want) or any(w is not None and s != w for s, w in zip(shape, want)):
        chk.fail(op, name, "expected shape " + chk._shape_str(list(want)) + " (or with a num_heads_k = 1 axis "
                 "after the page offset), got " + chk._shape_str(list(t.shape)))
    if not t.is_contiguous():
        chk.fail(op, name, f"must be contiguous (one packed plane), got strides {tuple(t.stride())}")
    return t


def _fp8_cache(op: str, kv_fp8, kv_scale, kv_rope, dev: Optional[torch.device], device_of: str):
    kv_fp8 = _plane(op, "kv_fp8", kv_fp8, _FP8_PLANE_DTYPES, (D_LATENT,), dev, device_of)
    dev = dev if dev is not None else kv_fp8.device
    device_of = device_of or "kv_fp8"
    kv_scale = _plane(op, "kv_scale", kv_scale, (torch.float32,), (), dev, device_of)
    kv_rope = _plane(op, "kv_rope", kv_rope, (torch.bfloat16,), (D_ROPE,), dev, device_of)
    if kv_scale.shape[0] != kv_fp8.shape[0] or kv_rope.shape[0] != kv_fp8.shape[0]:
        chk.fail(op, "kv_scale" if kv_scale.shape[0] != kv_fp8.shape[0] else "kv_rope",
                 f"has {kv_scale.shape[0] if kv_scale.shape[0] != kv_fp8.shape[0] else kv_rope.shape[0]} pages, "
                 f"kv_fp8 has {kv_fp8.shape[0]}")
    return kv_fp8, kv_scale, kv_rope


def quantize_q(q: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-(token, head) FP8 query quantization (docs/numerics.md):
    sq = max(amax|q_nope|, 1e-6) / 448, q_nope_fp8 = e4m3(q_nope / sq), q_rope_aligned = bf16(q_rope / sq).

    q: [b, s_q, h_q, 576] bf16 (absorbed q_nope | q_rope), or [tokens, h_q, 576].
    Returns q_nope_fp8 [..., 512] float8_e4m3fn, q_scale [...] f32, q_rope_aligned [..., 64] bf16."""
    op = "quantize_q"
    chk.tensor(op, "q", q, (torch.bfloat16,))
    if q.dim() not in (3, 4) or q.shape[-1] != D_QK:
        chk.fail(op, "q", f"expected shape [b, s_q, h_q, {D_QK}] or [tokens, h_q, {D_QK}], got "
                 + chk._shape_str(list(q.shape)))
    if q.dim() == 3:
        q_nope, q_scale, q_rope = ops.quantize_query(q.unsqueeze(1))
        return q_nope.squeeze(1), q_scale.squeeze(1), q_rope.squeeze(1)
    return ops.quantize_query(q)


def _slots(op: str, slots, n: int, dev: torch.device, device_of: str) -> torch.Tensor:
    chk.tensor(op, "slots", slots, (torch.int32, torch.int64), (n,), device=dev, device_of=device_of)
    if slots.dtype != torch.int32:  # engines often keep slot mappings in int64
        slots = slots.to(torch.int32)
    return slots.contiguous()


def quantize_and_append_kv(kv: torch.Tensor, slots: torch.Tensor, kv_fp8: torch.Tensor, kv_scale: torch.Tensor,
                           kv_rope: torch.Tensor, checked: bool = False) -> None:
    """Quantizes new tokens and writes them into the three cache planes, in place.

    kv: [n, 576] bf16 (c_kv | k_rope), or [n, 1, 576]; slots: [n] int32 (int64 is converted),
    slot = page * 64 + offset, negative = skip. Planes as allocate_fp8_kv_cache returns them
    (kv_fp8 may be uint8 storage). checked=True (or SNAPMLA_CHECKED=1) checks CUDA slots on the
    device first (synchronises) and writes nothing if one is out of range; unchecked, an
    out-of-range CUDA slot is skipped. CPU slots are always checked."""
    op = "quantize_and_append_kv"
    chk.tensor(op, "kv", kv, (torch.bfloat16,))
    if kv.dim() == 3 and kv.shape[1] == 1:
        kv = kv.squeeze(1)
    if kv.dim() != 2 or kv.shape[1] != D_QK:
        chk.fail(op, "kv", f"expected shape [n, {D_QK}] (or [n, 1, {D_QK}]), got " + chk._shape_str(list(kv.shape)))
    dev = kv.device
    slots = _slots(op, slots, int(kv.shape[0]), dev, "kv")
    kv_fp8, kv_scale, kv_rope = _fp8_cache(op, kv_fp8, kv_scale, kv_rope, dev, "kv")
    ops.append_kv(kv, slots, kv_fp8, kv_scale, kv_rope, bool(checked))


append_kv = quantize_and_append_kv


def fetch_dequant(kv_fp8: torch.Tensor, kv_scale: torch.Tensor, kv_rope: torch.Tensor, slots: torch.Tensor,
                  checked: bool = False) -> torch.Tensor:
    """Gathers cached tokens by slot back to BF16 [n, 576] = [c_kv * s | k_rope * s] (prefix reuse,
    prefill). Negative slots give zero rows."""
    op = "fetch_dequant"
    kv_fp8, kv_scale, kv_rope = _fp8_cache(op, kv_fp8, kv_scale, kv_rope, None, "")
    chk.tensor(op, "slots", slots, (torch.int32, torch.int64), (None,), device=kv_fp8.device, device_of="kv_fp8")
    slots = _slots(op, slots, int(slots.shape[0]), kv_fp8.device, "kv_fp8")
    return ops.fetch_dequant(kv_fp8, kv_scale, kv_rope, slots, bool(checked))


def flash_mla_fp8_with_kvcache(
    q_nope: torch.Tensor,
    q_rope: torch.Tensor,
    kv_fp8: torch.Tensor,
    kv_rope: torch.Tensor,
    q_scale: torch.Tensor,
    kv_scale: torch.Tensor,
    block_table: torch.Tensor,
    cache_seqlens: torch.Tensor,
    head_dim_v: int,
    tile_scheduler_metadata,
    num_splits: Optional[torch.Tensor] = None,
    softmax_scale: Optional[float] = None,
    causal: bool = False,
    checked: bool = False,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """SnapMLA's FP8 decode: FP8 content GEMM + BF16 (scale-aligned) RoPE GEMM in one FP32
    accumulator, P' = p * s[t] quantized to e4m3 per (row, 64-token block).

    q_nope [b, s_q, h_q, 512] e4m3 (or uint8), q_rope [b, s_q, h_q, 64] bf16, q_scale [b, s_q, h_q]
    f32 (quantize_q's outputs); kv_fp8 [pages, 64, 512] e4m3 (or uint8), kv_rope [pages, 64, 64]
    bf16, kv_scale [pages, 64] f32 (a num_heads_k = 1 axis after the page offset is accepted);
    block_table [b, max_pages] int32; cache_seqlens [b] int32; head_dim_v = 512; metadata from
    get_mla_metadata (either style; older style with num_q_tokens_per_head_k = s_q * h_q,
    num_heads_k = 1). Returns out [b, s_q, h_q, 512] bf16 and lse [b, h_q, s_q] f32."""
    op = "flash_mla_fp8_with_kvcache"
    chk.tensor(op, "q_nope", q_nope, _FP8_PLANE_DTYPES, (None, None, None, D_LATENT))
    dev = q_nope.device
    b, s_q, h_q = (int(x) for x in q_nope.shape[:3])
    chk.tensor(op, "q_rope", q_rope, (torch.bfloat16,), (b, s_q, h_q, D_ROPE), device=dev, device_of="q_nope")
    chk.tensor(op, "q_scale", q_scale, (torch.float32,), (b, s_q, h_q), device=dev, device_of="q_nope")
    kv_fp8, kv_scale, kv_rope = _fp8_cache(op, kv_fp8, kv_scale, kv_rope, dev, "q_nope")
    chk.tensor(op, "block_table", block_table, (torch.int32,), (b, None), device=dev, device_of="q_nope")
    _check_seqlens(op, cache_seqlens, dev, "q_nope", b)
    if head_dim_v != D_LATENT:
        chk.fail(op, "head_dim_v", f"must be {D_LATENT}, got {head_dim_v!r}")
    scale = _softmax_scale(op, softmax_scale)
    config = FlashMLASchedMeta.Config(b, s_q, h_q, PAGE_SIZE, 1, bool(causal), True, None, None, None)
    ws, parts = _resolve_metadata(op, tile_scheduler_metadata, num_splits, cache_seqlens, config, block_table)
    return ops.decode_fp8(q_nope, q_scale, q_rope, kv_fp8, kv_scale, kv_rope, block_table, cache_seqlens, ws,
                          parts, scale, bool(causal), bool(checked))


mla_decode_fp8 = flash_mla_fp8_with_kvcache


def cuda_available() -> bool:
    """True when the extension was built with CUDA kernels and a Hopper GPU is present."""
    return bool(ops.cuda_available())
