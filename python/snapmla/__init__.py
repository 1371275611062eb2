"""snapmla: FP8 MLA decoding for Hopper GPUs, as PyTorch operators.

FlashMLA-compatible (change `from flash_mla import ...` to `from snapmla import ...`):
    get_mla_metadata, flash_mla_with_kvcache, FlashMLASchedMeta
SnapMLA FP8 decode step:
    quantize_q, quantize_and_append_kv (alias append_kv), fetch_dequant,
    flash_mla_fp8_with_kvcache (alias mla_decode_fp8), allocate_fp8_kv_cache, plan_decode
Raw operators (torch.compile / CUDA-graph friendly): torch.ops.snapmla.*
"""
from ._ops import ops
from .interface import (
    D_LATENT,
    D_QK,
    D_ROPE,
    PAGE_SIZE,
    FlashMLASchedMeta,
    allocate_fp8_kv_cache,
    append_kv,
    cuda_available,
    decode_workspace_bytes,
    fetch_dequant,
    flash_mla_fp8_with_kvcache,
    flash_mla_with_kvcache,
    get_mla_metadata,
    mla_decode_fp8,
    plan_decode,
    quantize_and_append_kv,
    quantize_q,
)

__version__ = "0.1.0"

__all__ = [
    "D_LATENT", "D_QK", "D_ROPE", "PAGE_SIZE", "FlashMLASchedMeta", "allocate_fp8_kv_cache", "append_kv",
    "cuda_available", "decode_workspace_bytes", "fetch_dequant", "flash_mla_fp8_with_kvcache",
    "flash_mla_with_kvcache", "get_mla_metadata", "mla_decode_fp8", "ops", "plan_decode",
    "quantize_and_append_kv", "quantize_q",
]
