"""Loads the compiled operators (snapmla/_C.so) and registers their fake implementations.

The operators live in the ``torch.ops.snapmla`` namespace:

    quantize_query(q) -> (q_nope, q_scale, q_rope)
    append_kv(kv, slots, kv_fp8!, kv_scale!, kv_rope!, checked=False) -> ()
    fetch_dequant(kv_fp8, kv_scale, kv_rope, slots, checked=False) -> out
    plan_decode(cache_seqlens, workspace!, s_q, h_q, num_sm_parts) -> ()
    decode_fp8(q_nope, q_scale, q_rope, kv_fp8, kv_scale, kv_rope, block_table, cache_seqlens,
               workspace, num_sm_parts, softmax_scale, causal, checked=False) -> (out, lse)
    decode_bf16(q, k_cache, block_table, cache_seqlens, workspace, num_sm_parts, softmax_scale,
                causal, checked=False) -> (out, lse)
    workspace_layout(batch, s_q, h_q, num_sm_parts, device, max_pages=0)
        -> [num_sm_parts, bytes, split_begin_offset]
    cuda_available() -> bool

The fake implementations give torch.compile the output shapes without running anything.
"""
from __future__ import annotations

import glob
import os

import torch

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load() -> None:
    candidates = sorted(glob.glob(os.path.join(_HERE, "_C*.so")))
    if not candidates:
        raise ImportError(
            "snapmla: the compiled extension (snapmla/_C.so) is missing; install the package with "
            "`pip install --no-build-isolation .` from the repository root")
    torch.ops.load_library(candidates[0])


_load()
ops = torch.ops.snapmla

_D_LATENT = 512
_D_ROPE = 64
_D_QK = 576


@torch.library.register_fake("snapmla::quantize_query")
def _quantize_query_fake(q):
    b, s_q, h_q = q.shape[0], q.shape[1], q.shape[2]
    return (q.new_empty((b, s_q, h_q, _D_LATENT), dtype=torch.float8_e4m3fn),
            q.new_empty((b, s_q, h_q), dtype=torch.float32),
            q.new_empty((b, s_q, h_q, _D_ROPE), dtype=torch.bfloat16))


@torch.library.register_fake("snapmla::append_kv")
def _append_kv_fake(kv, slots, kv_fp8, kv_scale, kv_rope, checked=False):
    return None


@torch.library.register_fake("snapmla::fetch_dequant")
def _fetch_dequant_fake(kv_fp8, kv_scale, kv_rope, slots, checked=False):
    return slots.new_empty((slots.shape[0], _D_QK), dtype=torch.bfloat16)


@torch.library.register_fake("snapmla::plan_decode")
def _plan_decode_fake(cache_seqlens, workspace, s_q, h_q, num_sm_parts):
    return None


def _decode_outputs(q_like):
    b, s_q, h_q = q_like.shape[0], q_like.shape[1], q_like.shape[2]
    return (q_like.new_empty((b, s_q, h_q, _D_LATENT), dtype=torch.bfloat16),
            q_like.new_empty((b, h_q, s_q), dtype=torch.float32))


@torch.library.register_fake("snapmla::decode_fp8")
def _decode_fp8_fake(q_nope, q_scale, q_rope, kv_fp8, kv_scale, kv_rope, block_table, cache_seqlens,
                     workspace, num_sm_parts, softmax_scale, causal, checked=False):
    return _decode_outputs(q_nope)


@torch.library.register_fake("snapmla::decode_bf16")
def _decode_bf16_fake(q, k_cache, block_table, cache_seqlens, workspace, num_sm_parts, softmax_scale,
                      causal, checked=False):
    return _decode_outputs(q)
