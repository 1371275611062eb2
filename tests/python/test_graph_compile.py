"""CUDA graphs, torch.compile and the custom-op contract (torch.library.opcheck)."""
import pytest

torch = pytest.importorskip("torch")
import _skip  # noqa: E402,F401
import snapmla  # noqa: E402
import mla_ref as ref  # noqa: E402


class Step:
    """One FP8 decode step of an engine: quantize q, append the new token of every request,
    re-plan the schedule for the new lengths, decode. All inputs live in static buffers."""

    def __init__(self, device, b=4, h_q=16, prefill=(900, 0, 64, 2100), seed=31):
        self.b, self.h_q = b, h_q
        lengths = [L + 2 for L in prefill]  # room for two decode steps
        self.p = ref.make_problem(b, 1, h_q, lengths, seed=seed, extra_pages=4)
        self.planes = snapmla.allocate_fp8_kv_cache(self.p.num_pages, device=device)
        # prefill: every token but the last two of each request
        first = []
        at = 0
        for L in lengths:
            first.extend(range(at, at + L - 2))
            at += L
        first = torch.tensor(first, dtype=torch.long)
        snapmla.quantize_and_append_kv(self.p.all_tokens[first].to(device), self.p.slots[first].to(device),
                                       *self.planes)
        self.prefill = torch.tensor(prefill, dtype=torch.int32)
        self.block_table = self.p.block_table.to(device)
        self.q = torch.empty(b, 1, h_q, 576, dtype=torch.bfloat16, device=device)
        self.new_kv = torch.empty(b, 576, dtype=torch.bfloat16, device=device)
        self.slots = torch.empty(b, dtype=torch.int32, device=device)
        self.seqlens = torch.empty(b, dtype=torch.int32, device=device)
        self.meta, _ = snapmla.get_mla_metadata(self.prefill.to(device) + 1, h_q, 1)

    def inputs(self, step):
        """Host values of the step-th decode step (0 or 1)."""
        gen = torch.Generator().manual_seed(100 + step)
        q = (torch.randn(self.b, 1, self.h_q, 576, generator=gen) * 0.5).to(torch.bfloat16)
        q[..., 512:] *= 0.03
        ends = torch.cumsum(torch.tensor([len(t) for t in self.p.kv_tokens]), 0)
        idx = ends - 2 + step  # the token each request appends now
        return q, self.p.all_tokens[idx], self.p.slots[idx], self.prefill + 1 + step

    def load(self, step):
        q, kv, slots, lens = self.inputs(step)
        self.q.copy_(q)
        self.new_kv.copy_(kv)
        self.slots.copy_(slots)
        self.seqlens.copy_(lens)

    def run(self):
        q_nope, q_scale, q_rope = snapmla.quantize_q(self.q)
        snapmla.quantize_and_append_kv(self.new_kv, self.slots, *self.planes)
        snapmla.plan_decode(self.seqlens, self.meta, 1, self.h_q)
        kv_fp8, kv_scale, kv_rope = self.planes
        return snapmla.flash_mla_fp8_with_kvcache(q_nope, q_rope, kv_fp8, kv_rope, q_scale, kv_scale, self.block_table,
                                                  self.seqlens, 512, self.meta, None)


def test_cuda_graph_decode_step_matches_eager(cuda):
    eager, graphed = Step(cuda), Step(cuda)
    eager_out = []
    for step in range(2):
        eager.load(step)
        eager_out.append(tuple(t.clone() for t in eager.run()))

    graphed.load(0)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        graphed.run()  # warm-up (appending the same token twice is idempotent)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out, static_lse = graphed.run()
    for step in range(2):
        graphed.load(step)
        graph.replay()
        torch.cuda.synchronize()
        assert torch.equal(static_out, eager_out[step][0]), f"step {step}: out differs from eager"
        assert torch.equal(static_lse, eager_out[step][1]), f"step {step}: lse differs from eager"
    for g, e, name in zip(graphed.planes, eager.planes, ("kv_fp8", "kv_scale", "kv_rope")):
        assert torch.equal(g.view(torch.uint8) if g.dtype == torch.float8_e4m3fn else g,
                           e.view(torch.uint8) if e.dtype == torch.float8_e4m3fn else e), f"{name} differs"
    # the graph computed attention, not zeros
    assert float(static_out.float().abs().amax()) > 0


def test_cuda_graph_flash_mla_bf16(cuda):
    p = ref.make_problem(3, 2, 32, [500, 0, 1300], seed=41)
    cache = ref.bf16_paged_cache(p).to(cuda)
    q, bt, lens = p.q.to(cuda), p.block_table.to(cuda), p.lengths.to(cuda)
    meta, _ = snapmla.get_mla_metadata()
    want = snapmla.flash_mla_with_kvcache(q, cache, bt, lens, 512, meta, None, causal=True)  # fills meta
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out, lse = snapmla.flash_mla_with_kvcache(q, cache, bt, lens, 512, meta, None, causal=True)
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(out, want[0]) and torch.equal(lse, want[1])


def test_torch_compile_raw_ops(cuda):
    p = ref.make_problem(2, 1, 16, [300, 1000], seed=51)
    kv_fp8, kv_scale, kv_rope = snapmla.allocate_fp8_kv_cache(p.num_pages, device=cuda)
    tokens, slots = p.all_tokens.to(cuda), p.slots.to(cuda)
    q, bt, lens = p.q.to(cuda), p.block_table.to(cuda), p.lengths.to(cuda)
    ws, _ = snapmla.get_mla_metadata(lens, 16, 1)
    ops = torch.ops.snapmla

    def step(q, tokens, slots, kv_fp8, kv_scale, kv_rope):
        ops.append_kv(tokens, slots, kv_fp8, kv_scale, kv_rope)
        q_nope, q_scale, q_rope = ops.quantize_query(q)
        out, lse = ops.decode_fp8(q_nope, q_scale, q_rope, kv_fp8, kv_scale, kv_rope, bt, lens, ws, 0,
                                  576 ** -0.5, False)
        return out * 2, lse

    want = step(q, tokens, slots, kv_fp8, kv_scale, kv_rope)
    fresh = snapmla.allocate_fp8_kv_cache(p.num_pages, device=cuda)
    compiled = torch.compile(step, fullgraph=True)
    got = compiled(q, tokens, slots, *fresh)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert torch.equal(fresh[1], kv_scale), "the compiled append wrote the cache in place"


def test_torch_compile_python_api(cuda):
    p = ref.make_problem(2, 2, 16, [300, 1000], seed=52)
    cache = ref.bf16_paged_cache(p).to(cuda)
    q, bt, lens = p.q.to(cuda), p.block_table.to(cuda), p.lengths.to(cuda)
    tile, num_splits = snapmla.get_mla_metadata(lens, 2 * 16, 1)

    def attn(q):
        return snapmla.flash_mla_with_kvcache(q, cache, bt, lens, 512, tile, num_splits, causal=True)

    want = attn(q)
    got = torch.compile(attn, backend="aot_eager")(q)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_opcheck(cuda):
    # FP8 planes as uint8 storage views (torch.equal and friends do not take float8 everywhere)
    p = ref.make_problem(2, 2, 16, [100, 700], seed=61)
    planes = snapmla.allocate_fp8_kv_cache(p.num_pages, device=cuda, fp8_storage_dtype=torch.uint8)
    tokens, slots = p.all_tokens.to(cuda), p.slots.to(cuda)
    q, bt, lens = p.q.to(cuda), p.block_table.to(cuda), p.lengths.to(cuda)
    ops = torch.ops.snapmla
    torch.library.opcheck(ops.append_kv, (tokens, slots, *planes))
    torch.library.opcheck(ops.quantize_query, (q,), test_utils=("test_schema", "test_faketensor"))
    torch.library.opcheck(ops.fetch_dequant, (*planes, slots))
    ws, _ = snapmla.get_mla_metadata(lens, 32, 1)
    torch.library.opcheck(ops.plan_decode, (lens, ws, 2, 16, 0))
    q_nope, q_scale, q_rope = ops.quantize_query(q)
    q_nope = q_nope.view(torch.uint8)
    # decode writes split partials into the workspace as scratch (not declared: see torch_ops.cpp),
    # so the schema mutation test is left out for the decode ops
    utils = ("test_faketensor", "test_aot_dispatch_dynamic")
    torch.library.opcheck(ops.decode_fp8, (q_nope, q_scale, q_rope, *planes, bt, lens, ws, 0, 576 ** -0.5, True),
                          test_utils=utils)
    cache = ref.bf16_paged_cache(p).to(cuda).squeeze(2).contiguous()
    torch.library.opcheck(ops.decode_bf16, (q, cache, bt, lens, ws, 0, 576 ** -0.5, True), test_utils=utils)
