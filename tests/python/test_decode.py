"""Decode calls against a float64 torch reference and against the C++ CPU reference.

flash_mla_with_kvcache (FlashMLA-compatible BF16 cache, both metadata styles, h_kv >= 1, s_q > 1
with causal, zero-length requests) and flash_mla_fp8_with_kvcache (the SnapMLA FP8 cache).
Tolerances follow tests/common/tolerances.h: kernel vs CPU emulation 5e-4 (out, relative L2) and
1e-4 (lse); BF16 vs float64 1e-2 / 1e-3; FP8 vs float64 attention on the dequantized query and
cache 5e-2 / 5e-3 (only the e4m3 rounding of P' remains), and vs the unquantized truth 1.5e-1.
"""
import pytest

torch = pytest.importorskip("torch")
import _skip  # noqa: E402,F401
import snapmla  # noqa: E402
import mla_ref as ref  # noqa: E402

GPU_VS_CPU = (5e-4, 1e-4)
# The default FP8 kernels (wgmma) sum the e4m3 k-steps of QK in the tensor core's own precision:
# out within 2e-2 (relative L2) and lse within 5e-3 of the emulation (tests/common/tolerances.h
# says why).
FP8_GPU_VS_CPU = (2e-2, 5e-3)
BF16_VS_TRUTH = (1e-2, 1e-3)
FP8_VS_DEQUANT = (5e-2, 5e-3)
FP8_VS_TRUTH_OUT = 1.5e-1


def _metadata(style, lengths, rows_per_kv_head, h_kv):
    if style == "old":
        return snapmla.get_mla_metadata(lengths, rows_per_kv_head, h_kv)
    return snapmla.get_mla_metadata()


BF16_CASES = [
    # b, s_q, h_q, h_kv, causal, lengths, softmax_scale
    (4, 1, 16, 1, False, [0, 1, 300, 1100], None),
    (2, 2, 32, 1, True, [1, 700], None),
    (3, 1, 128, 1, False, [2000, 64, 0], 0.05),
    (1, 4, 16, 1, True, [3000], None),
    (2, 2, 16, 2, True, [130, 500], None),
    (2, 1, 64, 4, False, [77, 1500], None),
    (1, 1, 128, 1, False, [4100], None),  # "new": the row-group parts (a few long requests)
]


def _bf16_reference(p, cache, h_kv, causal, scale):
    g = p.q.shape[2] // h_kv
    outs, lses = [], []
    for i in range(h_kv):
        o, l = ref.attention(p.q[:, :, i * g:(i + 1) * g], cache[:, :, i], p.block_table, p.lengths, causal, scale)
        outs.append(o)
        lses.append(l)
    return torch.cat(outs, dim=2), torch.cat(lses, dim=1)


@pytest.mark.parametrize("style", ["old", "new"])
@pytest.mark.parametrize("b,s_q,h_q,h_kv,causal,lengths,scale", BF16_CASES)
def test_flash_mla_with_kvcache(cuda, style, b, s_q, h_q, h_kv, causal, lengths, scale):
    p = ref.make_problem(b, s_q, h_q, lengths, seed=len(lengths) * 10 + h_q + s_q)
    cache = ref.bf16_paged_cache(p, h_kv)
    rows = s_q * h_q // h_kv
    lens_gpu = p.lengths.to(cuda)
    meta, num_splits = _metadata(style, lens_gpu, rows, h_kv)
    args = (p.q.to(cuda), cache.to(cuda), p.block_table.to(cuda), lens_gpu, 512)
    out, lse = snapmla.flash_mla_with_kvcache(*args, meta, num_splits, softmax_scale=scale, causal=causal)
    assert out.shape == (b, s_q, h_q, 512) and out.dtype == torch.bfloat16 and out.device == cuda
    assert lse.shape == (b, h_q, s_q) and lse.dtype == torch.float32
    if style == "new":
        assert meta.have_initialized and meta.num_splits.shape == (b + 1,)
    # a second layer reuses the metadata
    out2, lse2 = snapmla.flash_mla_with_kvcache(*args, meta, num_splits, softmax_scale=scale, causal=causal)
    assert torch.equal(out, out2) and torch.equal(lse, lse2)

    sm_scale = scale if scale is not None else 576 ** -0.5
    want_out, want_lse = _bf16_reference(p, cache, h_kv, causal, sm_scale)
    ref.compare(out, lse, want_out, want_lse, *BF16_VS_TRUTH, what="gpu vs float64")

    cpu_meta, cpu_splits = _metadata(style, p.lengths, rows, h_kv)
    cpu_out, cpu_lse = snapmla.flash_mla_with_kvcache(p.q, cache, p.block_table, p.lengths, 512, cpu_meta, cpu_splits,
                                                      softmax_scale=scale, causal=causal)
    ref.compare(cpu_out, cpu_lse, want_out, want_lse, *BF16_VS_TRUTH, what="cpu reference vs float64")
    ref.compare(out, lse, cpu_out.float(), cpu_lse, *GPU_VS_CPU, what="gpu vs cpu reference")


FP8_CASES = [
    # b, s_q, h_q, causal, lengths, checked
    (4, 1, 16, False, [0, 1, 300, 1100], False),
    (2, 2, 32, True, [1, 700], True),
    (3, 1, 128, False, [2000, 64, 0], False),
    (1, 4, 64, True, [3000], False),
    (8, 1, 16, False, [4100, 17, 0, 2500, 999, 64, 65, 5000], False),
    (1, 1, 128, False, [4100], False),  # "new": the row-group parts (a few long requests)
    (2, 1, 32, False, [5000, 9000], False),
]


def _fp8_cache_with_stale_data(p, device, storage=torch.float8_e4m3fn):
    planes = snapmla.allocate_fp8_kv_cache(p.num_pages, device=device, fp8_storage_dtype=storage)
    used = torch.zeros(p.num_pages * 64, dtype=torch.bool)
    used[p.slots.long()] = True
    stale = torch.nonzero(~used).flatten().to(torch.int32)
    if len(stale):
        snapmla.quantize_and_append_kv(ref.garbage_rows(len(stale)).to(device), stale.to(device), *planes)
    snapmla.quantize_and_append_kv(p.all_tokens.to(device), p.slots.to(device), *planes)
    return planes


@pytest.mark.parametrize("style", ["old", "new"])
@pytest.mark.parametrize("b,s_q,h_q,causal,lengths,checked", FP8_CASES)
def test_flash_mla_fp8_with_kvcache(cuda, style, b, s_q, h_q, causal, lengths, checked):
    p = ref.make_problem(b, s_q, h_q, lengths, seed=len(lengths) * 7 + h_q + s_q)
    storage = torch.uint8 if style == "old" else torch.float8_e4m3fn  # both plane dtypes
    kv_fp8, kv_scale, kv_rope = _fp8_cache_with_stale_data(p, cuda, storage)
    q_nope, q_scale, q_rope = snapmla.quantize_q(p.q.to(cuda))
    lens_gpu = p.lengths.to(cuda)
    bt_gpu = p.block_table.to(cuda)
    meta, num_splits = _metadata(style, lens_gpu, s_q * h_q, 1)
    out, lse = snapmla.flash_mla_fp8_with_kvcache(q_nope, q_rope, kv_fp8, kv_rope, q_scale, kv_scale, bt_gpu, lens_gpu,
                                                  512, meta, num_splits, causal=causal, checked=checked)
    assert out.shape == (b, s_q, h_q, 512) and lse.shape == (b, h_q, s_q)

    scale = 576 ** -0.5
    q_deq = ref.dequant_rows(q_nope.cpu(), q_scale.cpu(), q_rope.cpu())
    k_deq = ref.dequant_rows(kv_fp8.cpu(), kv_scale.cpu(), kv_rope.cpu())
    want_out, want_lse = ref.attention(q_deq, k_deq, p.block_table, p.lengths, causal, scale)
    ref.compare(out, lse, want_out, want_lse, *FP8_VS_DEQUANT, what="gpu vs float64 on dequantized values")

    # the scheme's own error against the unquantized truth (loose)
    k_true = torch.zeros(p.num_pages * 64, 576, dtype=torch.float64)
    k_true[p.slots.long()] = p.all_tokens.double()
    true_out, true_lse = ref.attention(p.q, k_true.view(-1, 64, 576), p.block_table, p.lengths, causal, scale)
    ref.compare(out, lse, true_out, true_lse, FP8_VS_TRUTH_OUT, 5.0, what="gpu vs unquantized truth")

    # the C++ CPU reference: the same calls on CPU tensors
    cpu_planes = (kv_fp8.cpu(), kv_scale.cpu(), kv_rope.cpu())
    cq = snapmla.quantize_q(p.q)
    cpu_meta, cpu_splits = _metadata(style, p.lengths, s_q * h_q, 1)
    cpu_out, cpu_lse = snapmla.flash_mla_fp8_with_kvcache(cq[0], cq[2], cpu_planes[0], cpu_planes[2], cq[1],
                                                          cpu_planes[1], p.block_table, p.lengths, 512, cpu_meta,
                                                          cpu_splits, causal=causal)
    ref.compare(cpu_out, cpu_lse, want_out, want_lse, *FP8_VS_DEQUANT, what="cpu reference vs float64")
    ref.compare(out, lse, cpu_out.float(), cpu_lse, *FP8_GPU_VS_CPU, what="gpu vs cpu reference")


def test_fp8_nan_token_poisons_only_rows_that_see_it(cuda):
    p = ref.make_problem(2, 1, 16, [200, 200], seed=21)
    tokens = p.all_tokens.clone()
    tokens[150, 3] = float("nan")  # request 0, token 150
    kv_fp8, kv_scale, kv_rope = snapmla.allocate_fp8_kv_cache(p.num_pages, device=cuda)
    snapmla.quantize_and_append_kv(tokens.to(cuda), p.slots.to(cuda), kv_fp8, kv_scale, kv_rope)
    q_nope, q_scale, q_rope = snapmla.quantize_q(p.q.to(cuda))
    meta, _ = snapmla.get_mla_metadata()
    out, lse = snapmla.flash_mla_fp8_with_kvcache(q_nope, q_rope, kv_fp8, kv_rope, q_scale, kv_scale,
                                                  p.block_table.to(cuda), p.lengths.to(cuda), 512, meta, None)
    assert bool(torch.isnan(out[0].float()).all()), "request 0 sees the NaN token"
    assert bool(torch.isfinite(out[1].float()).all()), "request 1 does not"


def test_new_metadata_is_planned_with_the_block_table_width(cuda):
    """The first call fills FlashMLASchedMeta with its block table's width: a few long requests get
    the parts of the narrow kernel's row groups. A later call with a wider table is refused."""
    p = ref.make_problem(1, 1, 128, [4100], seed=5)
    kv_fp8, kv_scale, kv_rope = _fp8_cache_with_stale_data(p, cuda)
    q_nope, q_scale, q_rope = snapmla.quantize_q(p.q.to(cuda))
    bt_gpu, lens_gpu = p.block_table.to(cuda), p.lengths.to(cuda)
    args = (q_nope, q_rope, kv_fp8, kv_rope, q_scale, kv_scale)
    meta, _ = snapmla.get_mla_metadata()
    snapmla.flash_mla_fp8_with_kvcache(*args, bt_gpu, lens_gpu, 512, meta, None)
    old_ws, _ = snapmla.get_mla_metadata(lens_gpu, 128, 1)
    assert meta.max_pages == bt_gpu.shape[1] == 65
    assert meta.tile_scheduler_metadata.numel() < old_ws.numel(), "fewer parts than without the width"
    wider = torch.cat([bt_gpu, bt_gpu[:, :1]], dim=1)
    with pytest.raises(ValueError, match="block_table: has 66 pages a request"):
        snapmla.flash_mla_fp8_with_kvcache(*args, wider, lens_gpu, 512, meta, None)
