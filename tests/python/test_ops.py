"""quantize_q, quantize_and_append_kv, fetch_dequant and the metadata calls, each against the
pure-torch rules of docs/numerics.md and against the C++ CPU reference (the same call on CPU
tensors). Quantization is bit-exact by contract, so these compare bits."""
import pytest

torch = pytest.importorskip("torch")
import _skip  # noqa: E402,F401  (skips the module when snapmla is not importable)
import snapmla  # noqa: E402
import mla_ref as ref  # noqa: E402


def _bits(t):
    return t.view(torch.uint8) if t.dtype == torch.float8_e4m3fn else t


def _assert_same_bits(a, b, what):
    a, b = a.cpu(), b.cpu()
    assert a.shape == b.shape, f"{what}: shape {tuple(a.shape)} != {tuple(b.shape)}"
    if a.dtype in (torch.float8_e4m3fn, torch.uint8):
        a8, b8 = a.view(torch.uint8), b.view(torch.uint8)
        nan_a = (a8 & 0x7F) == 0x7F
        nan_b = (b8 & 0x7F) == 0x7F
        assert torch.equal(nan_a, nan_b), f"{what}: NaN positions differ"
        diff = (a8 != b8) & ~nan_a
    else:
        nan_a, nan_b = torch.isnan(a.float()), torch.isnan(b.float())
        assert torch.equal(nan_a, nan_b), f"{what}: NaN positions differ"
        diff = (a.view(torch.int16 if a.element_size() == 2 else torch.int32)
                != b.view(torch.int16 if b.element_size() == 2 else torch.int32)) & ~nan_a
    assert not bool(diff.any()), f"{what}: {int(diff.sum())} of {diff.numel()} values differ"


def _query(b=2, s_q=2, h_q=16, seed=3):
    p = ref.make_problem(b, s_q, h_q, [64] * b, seed=seed)
    q = p.q.clone()
    q[0, 0, 1] = 0                       # an all-zero row: scale 1e-6 / 448, values stay 0
    q[1, -1, 2, 5] = float("nan")        # a NaN row: scale NaN, every value NaN
    q[1, 0, 3, 520] = float("inf")       # an Inf in the RoPE part: the same
    q[0, 1, 4, :512] *= 1e-3             # small magnitudes
    return q


def test_quantize_q_cpu_matches_torch_rules():
    q = _query()
    got = snapmla.quantize_q(q)
    want = ref.quantize_rows(q)
    for g, w, name in zip(got, want, ("q_nope", "q_scale", "q_rope")):
        _assert_same_bits(g, w, f"cpu {name}")
    assert got[0].dtype == torch.float8_e4m3fn and got[1].dtype == torch.float32 and got[2].dtype == torch.bfloat16
    assert bool(torch.isnan(got[1][1, -1, 2])) and bool(torch.isnan(got[1][1, 0, 3]))
    assert float(got[1][0, 0, 1]) == pytest.approx(1e-6 / 448, rel=1e-6)


def test_quantize_q_gpu_matches_torch_and_cpu(cuda):
    q = _query(b=3, s_q=2, h_q=128, seed=5)
    got = snapmla.quantize_q(q.to(cuda))
    cpu = snapmla.quantize_q(q)
    want = ref.quantize_rows(q)
    for g, c, w, name in zip(got, cpu, want, ("q_nope", "q_scale", "q_rope")):
        assert g.device == cuda
        _assert_same_bits(g, w, f"gpu vs torch {name}")
        _assert_same_bits(g, c, f"gpu vs cpu reference {name}")
    # [tokens, h, 576] form
    g3 = snapmla.quantize_q(q[:, 0].to(cuda))
    assert tuple(g3[0].shape) == (3, 128, 512) and tuple(g3[1].shape) == (3, 128)
    _assert_same_bits(g3[1], got[1][:, 0], "3-D form q_scale")


def _append_case(device, storage, seed=11):
    p = ref.make_problem(3, 1, 16, [100, 0, 700], seed=seed)
    kv = p.all_tokens.clone()
    kv[5, 20] = float("nan")  # one poisoned token
    slots = p.slots.clone()
    slots[7] = -1             # padding: skipped
    planes = snapmla.allocate_fp8_kv_cache(p.num_pages, device=device, fp8_storage_dtype=storage)
    snapmla.quantize_and_append_kv(kv.to(device), slots.to(device), *planes)
    return p, kv, slots, planes


@pytest.mark.parametrize("storage", [torch.float8_e4m3fn, torch.uint8])
def test_append_and_fetch_cpu_match_torch_rules(storage):
    p, kv, slots, (kv_fp8, kv_scale, kv_rope) = _append_case("cpu", storage)
    assert kv_fp8.dtype == storage
    c, s, r = ref.quantize_rows(kv)
    keep = slots >= 0
    sl = slots[keep].long()
    _assert_same_bits(kv_fp8.view(-1, 512)[sl].view(torch.float8_e4m3fn), c[keep], "kv_fp8")
    _assert_same_bits(kv_scale.view(-1)[sl], s[keep], "kv_scale")
    _assert_same_bits(kv_rope.view(-1, 64)[sl], r[keep], "kv_rope")
    # the skipped slot stays untouched (zero)
    skipped = int(p.slots[7])
    assert float(kv_scale.view(-1)[skipped]) == 0.0
    # fetch: [c * s | r * s] in bf16, negative slots give zeros
    fetch_slots = torch.cat([slots, torch.tensor([-1], dtype=torch.int32)])
    out = snapmla.fetch_dequant(kv_fp8, kv_scale, kv_rope, fetch_slots)
    assert out.shape == (len(fetch_slots), 576) and out.dtype == torch.bfloat16
    _assert_same_bits(out[:-1][keep], ref.fetch_ref(c[keep], s[keep], r[keep]), "fetch_dequant")
    assert (out[-1] == 0).all() and (out[7] == 0).all()


@pytest.mark.parametrize("storage", [torch.float8_e4m3fn, torch.uint8])
def test_append_and_fetch_gpu_match_cpu_reference(cuda, storage):
    _, _, slots, gpu = _append_case(cuda, storage)
    _, _, _, cpu = _append_case("cpu", storage)
    for g, c, name in zip(gpu, cpu, ("kv_fp8", "kv_scale", "kv_rope")):
        _assert_same_bits(g, c, f"gpu vs cpu {name}")
    got = snapmla.fetch_dequant(*gpu, slots.to(cuda).long())  # int64 slots are accepted
    want = snapmla.fetch_dequant(*cpu, slots)
    _assert_same_bits(got, want, "fetch_dequant gpu vs cpu")


def test_append_accepts_head_axis_views(cuda):
    # engines often keep the cache as [pages, 64, 1, D]: those views are written in place
    p = ref.make_problem(1, 1, 16, [70], seed=2)
    kv_fp8, kv_scale, kv_rope = snapmla.allocate_fp8_kv_cache(p.num_pages, device=cuda, fp8_storage_dtype=torch.uint8)
    snapmla.quantize_and_append_kv(p.all_tokens.to(cuda).unsqueeze(1), p.slots.to(cuda), kv_fp8.unsqueeze(2),
                                   kv_scale.unsqueeze(2), kv_rope.unsqueeze(2))
    c, s, r = ref.quantize_rows(p.all_tokens)
    _assert_same_bits(kv_scale.view(-1)[p.slots.long().to(cuda)], s, "kv_scale through a [pages, 64, 1] view")


@pytest.mark.parametrize("device_kind", ["cpu", "cuda"])
def test_metadata_old_style(request, device_kind):
    device = request.getfixturevalue("cuda") if device_kind == "cuda" else torch.device("cpu")
    lengths = torch.tensor([0, 5000, 64, 1, 20000, 300], dtype=torch.int32)
    ws, num_splits = snapmla.get_mla_metadata(lengths.to(device), 2 * 16, 1)
    assert ws.dtype == torch.uint8 and ws.dim() == 1 and ws.device == device
    assert ws.data_ptr() % 256 == 0
    assert num_splits.dtype == torch.int32 and tuple(num_splits.shape) == (7,)
    ns = num_splits.cpu()
    assert int(ns[0]) == 0
    per_request = ns[1:] - ns[:-1]
    assert bool((per_request >= 1).all()), f"every request has at least one split: {ns.tolist()}"
    assert int(per_request[4]) > 1, "the 20000-token request is split across SMs"
    # both styles and the workspace size helper agree
    assert ws.numel() == snapmla.decode_workspace_bytes(6, 2, 16, device)
    meta, none = snapmla.get_mla_metadata()
    assert isinstance(meta, snapmla.FlashMLASchedMeta) and none is None and not meta.have_initialized
    if device_kind == "cuda":
        _, cpu_splits = snapmla.get_mla_metadata(lengths, 2 * 16, 1)
        if snapmla.decode_workspace_bytes(6, 2, 16, "cpu") == ws.numel():  # same SM count (132) -> same plan
            assert torch.equal(ns, cpu_splits), f"gpu {ns.tolist()} vs cpu {cpu_splits.tolist()}"


def test_plan_decode_replans_in_place(cuda):
    lengths = torch.tensor([100, 9000, 0], dtype=torch.int32, device=cuda)
    ws, num_splits = snapmla.get_mla_metadata(lengths, 16, 1)
    before = num_splits.clone()
    lengths.copy_(torch.tensor([30000, 10, 10], dtype=torch.int32))
    snapmla.plan_decode(lengths, ws, 1, 16)
    after = num_splits.clone()
    assert not torch.equal(before, after)
    _, fresh = snapmla.get_mla_metadata(lengths, 16, 1)
    assert torch.equal(after, fresh)
