"""Pure-torch references and MLA-like test data for the snapmla Python tests.

Data (seeded, CPU, then moved): content c_kv with a log-normal per-token magnitude spread,
per-channel scales and a few outlier channels (within +-16); k_rope with Student-t (nu = 3)
tails and channel magnitudes growing geometrically, clipped at +-1000; a few "sink" tokens per
request (token 0 and random others) whose c_kv points along a direction the queries share, so
they take a large share of the attention. Everything is rounded to bf16 as a model would.

References: the quantization rules of docs/numerics.md in torch (float32 IEEE division,
saturating round-to-nearest-even e4m3, bf16 RNE, non-finite rows -> NaN), and float64 attention
on (de)quantized values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional

import torch

D_LATENT, D_ROPE, D_QK, PAGE = 512, 64, 576, 64
E4M3_MAX = 448.0
AMAX_FLOOR = 1e-6


# ---- data --------------------------------------------------------------------------------------

def _student_t(shape, gen, nu=3):
    z = torch.randn(shape, generator=gen, dtype=torch.float64)
    chi2 = sum(torch.randn(shape, generator=gen, dtype=torch.float64) ** 2 for _ in range(nu))
    return z / torch.sqrt(chi2 / nu)


@dataclass
class Problem:
    q: torch.Tensor             # [b, s_q, h_q, 576] bf16
    kv_tokens: List[torch.Tensor]  # per request: [len, 576] bf16 (the request's tokens in order)
    block_table: torch.Tensor   # [b, max_pages] int32
    lengths: torch.Tensor       # [b] int32
    num_pages: int
    slots: torch.Tensor         # [sum len] int32: where each token lives (page * 64 + offset)
    all_tokens: torch.Tensor    # [sum len, 576] bf16, same order as slots


def make_rows(n: int, gen: torch.Generator, sink_dir: torch.Tensor, chan: torch.Tensor,
              rope_scale: torch.Tensor, sink_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """[n, 576] bf16 cache rows."""
    mag = torch.exp(0.7 * torch.randn((n, 1), generator=gen, dtype=torch.float64))
    c = torch.randn((n, D_LATENT), generator=gen, dtype=torch.float64) * mag * chan
    if sink_mask is not None and bool(sink_mask.any()):
        k = int(sink_mask.sum())
        c[sink_mask] = 12.0 * sink_dir + 0.3 * torch.randn((k, D_LATENT), generator=gen, dtype=torch.float64)
    c = c.clamp(-16.0, 16.0)
    r = (_student_t((n, D_ROPE), gen) * rope_scale).clamp(-1000.0, 1000.0)
    return torch.cat([c, r], dim=1).to(torch.bfloat16)


def make_problem(batch: int, s_q: int, h_q: int, lengths: List[int], seed: int = 0, extra_pages: int = 3) -> Problem:
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(D_LATENT, generator=gen, dtype=torch.float64)
    u = u / u.norm()
    chan = torch.exp(0.3 * torch.randn(D_LATENT, generator=gen, dtype=torch.float64))
    outliers = torch.randperm(D_LATENT, generator=gen)[:6]
    chan[outliers] *= 5.0
    rope_scale = torch.logspace(0, math.log10(300.0), D_ROPE, dtype=torch.float64)

    pages_per = [(L + PAGE - 1) // PAGE for L in lengths]
    used = sum(pages_per)
    num_pages = max(1, used + extra_pages)
    perm = torch.randperm(num_pages, generator=gen)
    max_pages = max(1, max(pages_per) if pages_per else 1)
    block_table = torch.randint(0, num_pages, (batch, max_pages), generator=gen, dtype=torch.int32)  # junk tails
    kv_tokens, slots, at = [], [], 0
    for b_i, L in enumerate(lengths):
        pages = perm[at:at + pages_per[b_i]]
        at += pages_per[b_i]
        block_table[b_i, :len(pages)] = pages.to(torch.int32)
        sink = torch.zeros(L, dtype=torch.bool)
        if L > 0:
            sink[0] = True
            sink[torch.randint(0, L, (max(1, L // 300),), generator=gen)] = True
        kv_tokens.append(make_rows(L, gen, u, chan, rope_scale, sink))
        t = torch.arange(L)
        slots.append((pages[t // PAGE].long() * PAGE + t % PAGE).to(torch.int32) if L > 0
                     else torch.zeros(0, dtype=torch.int32))
    q_nope = 0.5 * torch.randn((batch, s_q, h_q, D_LATENT), generator=gen, dtype=torch.float64) + 10.0 * u
    q_rope = 0.015 * torch.randn((batch, s_q, h_q, D_ROPE), generator=gen, dtype=torch.float64)
    q = torch.cat([q_nope, q_rope], dim=-1).to(torch.bfloat16)
    return Problem(q=q, kv_tokens=kv_tokens, block_table=block_table,
                   lengths=torch.tensor(lengths, dtype=torch.int32), num_pages=num_pages,
                   slots=torch.cat(slots) if slots else torch.zeros(0, dtype=torch.int32),
                   all_tokens=torch.cat(kv_tokens) if kv_tokens else torch.zeros(0, D_QK, dtype=torch.bfloat16))


def garbage_rows(n: int, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (100.0 * torch.randn((n, D_QK), generator=gen)).to(torch.bfloat16)


def bf16_paged_cache(p: Problem, h_kv: int = 1, seed: int = 7) -> torch.Tensor:
    """[pages, 64, h_kv, 576] bf16; unused slots hold large finite garbage. For h_kv > 1 every KV
    head gets its own tokens (head i: the problem's tokens scaled and permuted per channel)."""
    cache = garbage_rows(p.num_pages * PAGE * h_kv, seed).view(p.num_pages, PAGE, h_kv, D_QK).clone()
    flat = cache.view(p.num_pages * PAGE, h_kv, D_QK)
    for i in range(h_kv):
        tok = p.all_tokens if i == 0 else kv_head_variant(p.all_tokens, i)
        flat[p.slots.long(), i] = tok
    return cache


def kv_head_variant(tokens: torch.Tensor, i: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(100 + i)
    perm = torch.randperm(D_LATENT, generator=gen)
    out = tokens.clone()
    out[:, :D_LATENT] = tokens[:, perm]
    return out


# ---- quantization rules (docs/numerics.md) -----------------------------------------------------

def quantize_rows(x: torch.Tensor):
    """x [..., 576] -> (content e4m3 [..., 512], scale f32 [...], rope bf16 [..., 64])."""
    x = x.float()
    amax = x[..., :D_LATENT].abs().amax(dim=-1)
    s = torch.clamp(amax, min=AMAX_FLOOR) / E4M3_MAX
    bad = ~torch.isfinite(x).all(dim=-1)
    s = torch.where(bad, torch.full_like(s, float("nan")), s)
    c = (x[..., :D_LATENT] / s[..., None]).clamp(-E4M3_MAX, E4M3_MAX).to(torch.float8_e4m3fn)
    r = (x[..., D_LATENT:] / s[..., None]).to(torch.bfloat16)
    return c, s, r


def dequant_rows(c: torch.Tensor, s: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """float64 [..., 576] = [c * s | r * s]."""
    if c.dtype == torch.uint8:
        c = c.view(torch.float8_e4m3fn)
    s = s.double()[..., None]
    return torch.cat([c.double() * s, r.double() * s], dim=-1)


def fetch_ref(c: torch.Tensor, s: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """fetch_dequant's result: bf16([c * s | r * s]) with the products in float32."""
    if c.dtype == torch.uint8:
        c = c.view(torch.float8_e4m3fn)
    s = s.float()[..., None]
    return torch.cat([c.float() * s, r.float() * s], dim=-1).to(torch.bfloat16)


# ---- attention ---------------------------------------------------------------------------------

def attention(q: torch.Tensor, k_pages: torch.Tensor, block_table: torch.Tensor, lengths: torch.Tensor,
              causal: bool, scale: float):
    """float64 MLA attention. q [b, s_q, h, 576], k_pages [pages, 64, 576] (any float dtype).
    Returns out [b, s_q, h, 512] and lse [b, h, s_q]; rows that see nothing: out 0, lse +inf."""
    q = q.double().cpu()
    k_pages = k_pages.double().cpu()
    block_table = block_table.cpu()
    b, s_q, h, _ = q.shape
    out = torch.zeros((b, s_q, h, D_LATENT), dtype=torch.float64)
    lse = torch.full((b, h, s_q), float("inf"), dtype=torch.float64)
    for i in range(b):
        L = int(lengths[i])
        if L == 0:
            continue
        n_pages = (L + PAGE - 1) // PAGE
        k = k_pages[block_table[i, :n_pages].long()].reshape(-1, D_QK)[:L]
        scores = torch.einsum("shd,td->hst", q[i], k) * scale
        t = torch.arange(L)
        if causal:
            limit = L - s_q + torch.arange(s_q)                       # query j sees t <= limit[j]
            mask = t[None, :] > limit[:, None]                        # [s_q, L]
            scores = scores.masked_fill(mask[None], float("-inf"))
        row_lse = torch.logsumexp(scores, dim=-1)                     # [h, s_q]
        seen = torch.isfinite(row_lse)
        p = torch.where(seen[..., None], torch.exp(scores - row_lse[..., None]), torch.zeros_like(scores))
        out[i] = torch.einsum("hst,td->shd", p, k[:, :D_LATENT])
        lse[i] = torch.where(seen, row_lse, torch.full_like(row_lse, float("inf")))
    return out, lse


def compare(out, lse, out_ref, lse_ref, out_tol: float, lse_tol: float, what: str = "") -> dict:
    """Asserts inf positions of lse match, |lse - ref| <= lse_tol on finite rows and the relative L2
    error of out <= out_tol. Returns the measured errors."""
    out = out.double().cpu()
    lse = lse.double().cpu()
    out_ref = out_ref.double().cpu()
    lse_ref = lse_ref.double().cpu()
    assert out.shape == out_ref.shape, f"{what}: out shape {tuple(out.shape)} != {tuple(out_ref.shape)}"
    assert lse.shape == lse_ref.shape, f"{what}: lse shape {tuple(lse.shape)} != {tuple(lse_ref.shape)}"
    assert torch.isfinite(out).all(), f"{what}: out has non-finite values"
    inf_ref = torch.isinf(lse_ref)
    assert torch.equal(torch.isinf(lse) & (lse > 0), inf_ref), f"{what}: +inf lse rows differ"
    assert torch.isfinite(lse[~inf_ref]).all(), f"{what}: lse has NaN"
    # empty rows: out exactly 0
    empty = inf_ref.permute(0, 2, 1)  # [b, s_q, h]
    assert (out[empty] == 0).all(), f"{what}: rows that see no token must be 0"
    lse_err = float((lse - lse_ref)[~inf_ref].abs().max()) if (~inf_ref).any() else 0.0
    denom = float(out_ref.norm())
    rel = float((out - out_ref).norm()) / denom if denom > 0 else float((out - out_ref).norm())
    print(f"[compare] {what}: out rel L2 {rel:.2e} (tol {out_tol:.0e}), lse max abs {lse_err:.2e} (tol {lse_tol:.0e})")
    assert rel <= out_tol, f"{what}: out relative L2 error {rel:.3e} > {out_tol:.1e}"
    assert lse_err <= lse_tol, f"{what}: lse max abs error {lse_err:.3e} > {lse_tol:.1e}"
    return {"out_rel_l2": rel, "lse_max_abs": lse_err}
