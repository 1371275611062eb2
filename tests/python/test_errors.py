"""Bad calls raise ValueError (or NotImplementedError for FlashMLA modes snapmla lacks) whose
message names the call, the argument and the rule. Python catches devices and dtypes before
the C++ layer; the C++ layer's messages come through unchanged."""
import re

import pytest

torch = pytest.importorskip("torch")
import _skip  # noqa: E402,F401
import snapmla  # noqa: E402
import mla_ref as ref  # noqa: E402


def raises(exc, pattern):
    return pytest.raises(exc, match=re.escape(pattern) if not pattern.startswith("re:") else pattern[3:])


@pytest.fixture
def small():
    p = ref.make_problem(2, 1, 16, [100, 300], seed=71)
    return p, ref.bf16_paged_cache(p)


# ---- without a GPU (Python checks and the C++ CPU layer) ------------------------------------

def test_quantize_q_dtype_and_shape():
    q = torch.zeros(2, 1, 16, 576)
    with raises(ValueError, "quantize_q: q: expected dtype bfloat16, got float32"):
        snapmla.quantize_q(q)
    with raises(ValueError, "quantize_q: q: expected shape [b, s_q, h_q, 576] or [tokens, h_q, 576], got [2, 1, 16, 512]"):
        snapmla.quantize_q(torch.zeros(2, 1, 16, 512, dtype=torch.bfloat16))
    with raises(ValueError, "quantize_q: q: expected a torch.Tensor, got list"):
        snapmla.quantize_q([1.0])


def test_flash_mla_argument_rules(small):
    p, cache = small
    meta, _ = snapmla.get_mla_metadata()
    call = dict(q=p.q, k_cache=cache, block_table=p.block_table, cache_seqlens=p.lengths, head_dim_v=512,
                tile_scheduler_metadata=meta)
    with raises(ValueError, "flash_mla_with_kvcache: cache_seqlens: expected dtype int32, got int64"):
        snapmla.flash_mla_with_kvcache(**{**call, "cache_seqlens": p.lengths.long()})
    with raises(ValueError, "flash_mla_with_kvcache: block_table: expected shape [2, *], got [3, "):
        snapmla.flash_mla_with_kvcache(**{**call, "block_table": torch.zeros(3, 8, dtype=torch.int32)})
    with raises(ValueError, "flash_mla_with_kvcache: head_dim_v: must be 512, got 576"):
        snapmla.flash_mla_with_kvcache(**{**call, "head_dim_v": 576})
    with raises(ValueError, "flash_mla_with_kvcache: k_cache: num_heads_k = 3 must divide num_heads_q = 16"):
        snapmla.flash_mla_with_kvcache(**{**call, "k_cache": cache.expand(-1, -1, 3, -1)})
    with raises(ValueError, "flash_mla_with_kvcache: k_cache: expected shape [*, 64, *, 576], got [5, 32, 1, 576]"):
        snapmla.flash_mla_with_kvcache(**{**call, "k_cache": torch.zeros(5, 32, 1, 576, dtype=torch.bfloat16)})
    with raises(ValueError, "flash_mla_with_kvcache: q: the last dimension must be contiguous (stride 1)"):
        snapmla.flash_mla_with_kvcache(**{**call, "q": p.q.transpose(-1, -2).contiguous().transpose(-1, -2)})
    with raises(ValueError, "flash_mla_with_kvcache: softmax_scale: must be finite and > 0, got -1.0"):
        snapmla.flash_mla_with_kvcache(**call, softmax_scale=-1.0)
    with raises(NotImplementedError, "flash_mla_with_kvcache: is_fp8_kvcache"):
        snapmla.flash_mla_with_kvcache(**call, is_fp8_kvcache=True)
    with raises(NotImplementedError, "flash_mla_with_kvcache: indices: sparse attention is not supported"):
        snapmla.flash_mla_with_kvcache(**call, indices=torch.zeros(2, 1, 8, dtype=torch.int32))


def test_metadata_reuse_with_another_shape(small):
    p, cache = small
    meta, _ = snapmla.get_mla_metadata()
    snapmla.flash_mla_with_kvcache(p.q, cache, p.block_table, p.lengths, 512, meta)
    with raises(ValueError, "flash_mla_with_kvcache: tile_scheduler_metadata: was planned for causal = False, "
                            "this call has True"):
        snapmla.flash_mla_with_kvcache(p.q, cache, p.block_table, p.lengths, 512, meta, causal=True)
    with raises(ValueError, "flash_mla_with_kvcache: num_splits: must be None"):
        snapmla.flash_mla_with_kvcache(p.q, cache, p.block_table, p.lengths, 512, meta, p.lengths)


def test_cpp_messages_come_through(small):
    p, cache = small
    ws, _ = snapmla.get_mla_metadata(p.lengths, 16, 1)
    ops = torch.ops.snapmla
    kv = cache.squeeze(2).contiguous()
    # the C++ validation names the op, the argument and the rule
    with raises(ValueError, "decode_bf16: block_table: expected dtype int32, got float32"):
        ops.decode_bf16(p.q, kv, p.block_table.float(), p.lengths, ws, 0, 576 ** -0.5, False)
    with raises(ValueError, "decode_bf16: cache.kv: must be contiguous"):
        strided = torch.zeros(p.num_pages, 64, 2, 576, dtype=torch.bfloat16)[:, :, 0]
        ops.decode_bf16(p.q, strided, p.block_table, p.lengths, ws, 0, 0.04, False)
    bad_table = p.block_table.clone()
    bad_table[1, 0] = 10_000
    with raises(ValueError, "decode_bf16: block_table: page index 10000 at [1, 0] is outside the cache"):
        ops.decode_bf16(p.q, kv, bad_table, p.lengths, ws, 0, 0.04, False)
    with raises(ValueError, "decode_bf16: workspace: holds 256 bytes, this shape needs"):
        ops.decode_bf16(p.q, kv, p.block_table, p.lengths, ws[:256], 0, 0.04, False)
    with raises(ValueError, "append_kv: slots: slots[0] = 99999 is outside the cache"):
        planes = snapmla.allocate_fp8_kv_cache(p.num_pages)
        snapmla.quantize_and_append_kv(p.all_tokens[:1], torch.tensor([99999], dtype=torch.int32), *planes)


def test_fp8_plane_rules():
    planes = snapmla.allocate_fp8_kv_cache(4)
    kv = torch.zeros(3, 576, dtype=torch.bfloat16)
    slots = torch.zeros(3, dtype=torch.int32)
    with raises(ValueError, "quantize_and_append_kv: slots: expected shape [3], got [2]"):
        snapmla.quantize_and_append_kv(kv, slots[:2], *planes)
    with raises(ValueError, "quantize_and_append_kv: kv_fp8: expected dtype float8_e4m3fn or uint8, got float32"):
        snapmla.quantize_and_append_kv(kv, slots, planes[0].float(), *planes[1:])
    big = torch.zeros(4, 64, 2, 512, dtype=torch.uint8)
    with raises(ValueError, "quantize_and_append_kv: kv_fp8: must be contiguous (one packed plane)"):
        snapmla.quantize_and_append_kv(kv, slots, big[:, :, 0], *planes[1:])
    with raises(ValueError, "quantize_and_append_kv: kv_scale: has 5 pages, kv_fp8 has 4"):
        snapmla.quantize_and_append_kv(kv, slots, planes[0], torch.zeros(5, 64), planes[2])


# ---- with a GPU: devices ---------------------------------------------------------------------

def test_device_mismatch_is_caught_before_launch(cuda, small):
    p, cache = small
    meta, _ = snapmla.get_mla_metadata()
    q = p.q.to(cuda)
    with raises(ValueError, f"flash_mla_with_kvcache: block_table: is on cpu but q is on {cuda}"):
        snapmla.flash_mla_with_kvcache(q, cache.to(cuda), p.block_table, p.lengths.to(cuda), 512, meta)
    with raises(ValueError, f"flash_mla_with_kvcache: k_cache: is on cpu but q is on {cuda}"):
        snapmla.flash_mla_with_kvcache(q, cache, p.block_table.to(cuda), p.lengths.to(cuda), 512, meta)
    planes = snapmla.allocate_fp8_kv_cache(p.num_pages, device=cuda)
    with raises(ValueError, f"quantize_and_append_kv: slots: is on cpu but kv is on {cuda}"):
        snapmla.quantize_and_append_kv(p.all_tokens.to(cuda), p.slots, *planes)
    with raises(ValueError, f"quantize_and_append_kv: kv_scale: is on cpu but kv is on {cuda}"):
        snapmla.quantize_and_append_kv(p.all_tokens.to(cuda), p.slots.to(cuda), planes[0], planes[1].cpu(), planes[2])
    # metadata planned on the CPU handed to a GPU decode
    cpu_ws, _ = snapmla.get_mla_metadata(p.lengths, 16, 1)
    with raises(ValueError, f"flash_mla_with_kvcache: tile_scheduler_metadata: is on cpu but cache_seqlens is on {cuda}"):
        snapmla.flash_mla_with_kvcache(q, cache.to(cuda), p.block_table.to(cuda), p.lengths.to(cuda), 512, cpu_ws)
    # the raw op: C++ checks the devices too
    with raises(ValueError, "re:decode_bf16: .*is on"):
        torch.ops.snapmla.decode_bf16(q, cache.squeeze(2).contiguous(), p.block_table, p.lengths.to(cuda),
                                      cpu_ws, 0, 0.04, False)


def test_checked_mode_on_device(cuda, small):
    p, _ = small
    planes = snapmla.allocate_fp8_kv_cache(p.num_pages, device=cuda)
    slots = torch.tensor([5, 99999], dtype=torch.int32, device=cuda)
    with raises(ValueError, "append_kv: slots: slots[1] = 99999 is outside the cache"):
        snapmla.quantize_and_append_kv(p.all_tokens[:2].to(cuda), slots, *planes, checked=True)
    assert float(planes[1].abs().sum()) == 0.0, "nothing is written when a slot is out of range"
