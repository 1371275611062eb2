// Step 2b: V^T for the PV wgmma. FP8 wgmma reads both operands K-major, so the B operand of PV
// (k = tokens) must hold each dim's 64 tokens contiguously, while the page holds each token's
// 512 dims contiguously. All 256 threads transpose the staged page into vt (SW64, config.h):
// a thread takes 4 tokens x 16 dims (four 16-byte loads from the SW128 page), transposes the
// 4 x 4 byte blocks with byte permutes, and stores 16 words of 4 tokens, one per dim; two such
// units a thread. The work comes in kTransposePieces pieces (a unit's loads with its first
// piece, then 4 words per piece) that the QK step runs between its tensor-core groups.
//
// Tokens at or past n_hi (the most any row of the tile sees in this page) are written as zero:
// P8 is zero there too, and the NaN poison of page tails must not reach the product (0 x NaN).
// Tokens in [n_lo, n_hi) are seen by some rows only (causal s_q > 1): their e4m3 NaN codes are
// written as zero, so a NaN token cannot reach, through 0 x NaN, a row that does not see it.
// A row that sees it still comes out NaN: the token's content is also its key, so its score,
// p and the row's sum l are NaN (the reference's semantics).
//
// e4m3 has no infinities; NaN is S.1111.111. Per byte of a word: (b & 0x7f) + 1 carries into
// bit 7 exactly for NaN, and never into the next byte.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_wgmma/components/shared_storage.cuh"

namespace snapmla::kernels::decode_wgmma {

inline constexpr int kTokenQuads = kTokensPerBlock / 4;          // 16
inline constexpr int kDimChunks = kDimLatent / kChunkBytes;      // 32
inline constexpr int kTransposeUnits = kTokenQuads * kDimChunks; // 512 (4 tokens x 16 dims)
static_assert(kTransposeUnits % kThreads == 0);

// The e4m3 NaN codes among the four bytes of w zeroed, in the bytes whose bit 7 is set in
// `bytes` (default: all four).
__device__ __forceinline__ std::uint32_t zero_e4m3_nans(std::uint32_t w, std::uint32_t bytes = 0x80808080u) {
  const std::uint32_t nan_bits = ((w & 0x7f7f7f7fu) + 0x01010101u) & bytes;
  return w & ~((nan_bits >> 7) * 0xffu);
}

// out[j] = byte j of each of w0..w3 (w_i = 4 dims of token i -> 4 tokens of dim j).
__device__ __forceinline__ void transpose_4x4_bytes(std::uint32_t w0, std::uint32_t w1, std::uint32_t w2,
                                                    std::uint32_t w3, std::uint32_t (&out)[4]) {
  const std::uint32_t lo01 = __byte_perm(w0, w1, 0x5140), hi01 = __byte_perm(w0, w1, 0x7362);
  const std::uint32_t lo23 = __byte_perm(w2, w3, 0x5140), hi23 = __byte_perm(w2, w3, 0x7362);
  out[0] = __byte_perm(lo01, lo23, 0x5410);
  out[1] = __byte_perm(lo01, lo23, 0x7632);
  out[2] = __byte_perm(hi01, hi23, 0x5410);
  out[3] = __byte_perm(hi01, hi23, 0x7632);
}

inline constexpr int kTransposeUnitsPerThread = kTransposeUnits / kThreads;  // 2
inline constexpr int kTransposePieces = 4 * kTransposeUnitsPerThread;       // 8

// Lanes of a store instruction cover 16 token quads x 2 dims 16 apart: at most 2-way conflicts.
struct VTransposer {
  const PageStage& st;
  SharedStorage& sm;
  int n_lo, n_hi;
  uint4 rows[4];  // the current unit: 4 tokens x 16 dims

  __device__ __forceinline__ int quad() const { return threadIdx.x % kWarpThreads % kTokenQuads; }
  __device__ __forceinline__ int chunk(int u) const {  // dims 16 chunk .. 16 chunk + 15
    const int lane = threadIdx.x % kWarpThreads, warp = threadIdx.x / kWarpThreads;
    return 4 * warp + 2 * u + lane / kTokenQuads;
  }
  __device__ __forceinline__ void load(int u) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int tok = 4 * quad() + i;
      rows[i] = tok < n_hi ? *reinterpret_cast<const uint4*>(&st.content[sw128_offset(kTokensPerBlock, tok, chunk(u) * kChunkBytes)])
                           : make_uint4(0, 0, 0, 0);
      if (tok >= n_lo) {
        rows[i].x = zero_e4m3_nans(rows[i].x);
        rows[i].y = zero_e4m3_nans(rows[i].y);
        rows[i].z = zero_e4m3_nans(rows[i].z);
        rows[i].w = zero_e4m3_nans(rows[i].w);
      }
    }
  }
  // Words m (dims 4 m .. 4 m + 3 of the chunk) of the loaded unit u.
  __device__ __forceinline__ void store(int u, int m) {
    const auto word = [&](int i) {
      const uint4& r = rows[i];
      return m == 0 ? r.x : m == 1 ? r.y : m == 2 ? r.z : r.w;
    };
    std::uint32_t out[4];
    transpose_4x4_bytes(word(0), word(1), word(2), word(3), out);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int dim = chunk(u) * kChunkBytes + 4 * m + j;
      *reinterpret_cast<std::uint32_t*>(&sm.vt[sw64_offset(dim, 4 * quad())]) = out[j];
    }
  }
  // Piece k < kTransposePieces (constant after unrolling).
  __device__ __forceinline__ void piece(int k) {
    if (k % 4 == 0) load(k / 4);
    store(k / 4, k % 4);
  }
};

}  // namespace snapmla::kernels::decode_wgmma
