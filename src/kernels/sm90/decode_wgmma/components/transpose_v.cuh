// Step 2b: V^T for the PV wgmma. FP8 wgmma reads both operands K-major, so the B operand of PV
// (k = tokens) must hold each dim's 64 tokens contiguously, while the page holds each token's
// 512 dims contiguously. The producer warpgroup (producer.cuh) transposes the staged page into
// vt (SW64, config.h) as the 8 warps of transpose_map.h, each of its warps playing two of them:
// a unit is 4 tokens x 16 dims (four 16-byte loads from the SW128 page), its 4 x 4 byte blocks
// transposed with byte permutes and stored as 16 words of 4 tokens, one per dim; two units a
// virtual warp's thread. The work comes in kTransposePieces pieces of 4 words; each unit is
// loaded a piece before its first store (unit 1 after the last store of unit 0), so that no
// store waits on its load.
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
#include "kernels/sm90/decode_wgmma/transpose_map.h"

namespace snapmla::kernels::decode_wgmma {

inline constexpr int kTokenQuads = kTokensPerBlock / 4;          // 16
inline constexpr int kDimChunks = kDimLatent / kChunkBytes;      // 32
inline constexpr int kTransposeUnits = kTokenQuads * kDimChunks; // 512 (4 tokens x 16 dims)

// The e4m3 NaN codes among the four bytes of w zeroed, in the bytes whose bit 7 is set in
// `bytes` (default: all four).
__device__ __forceinline__ std::uint32_t zero_e4m3_nans(std::uint32_t w, std::uint32_t bytes = 0x80808080u) {
  const std::uint32_t nan_bits = ((w & 0x7f7f7f7fu) + 0x01010101u) & bytes;
  return w & ~((nan_bits >> 7) * 0xffu);
}

static_assert(kTransposeUnitsPerThread * kThreads == kTransposeUnits);
inline constexpr int kTransposePieces = 4 * kTransposeUnitsPerThread;       // 8

// Lanes: quad = lane / 2, h = lane % 2. A 16-byte load is served 8 lanes at a time; with h the
// low lane bit, those 8 lanes cover 2 chunks x 2 token parities, 4 distinct swizzled 16-byte
// positions: 2-way conflicts (lane / 16 for h gave 2 positions, 4-way: 1024 instead of 512
// wavefronts a page). A store instruction would cover 16 token quads x 2 dims 16 apart, two
// words in one bank (2-way); so the h = 1 lane of each pair stores word j ^ 1 where its h = 0
// neighbour stores word j: dims of both parities, no conflict (512 -> 256 store wavefronts).
// The address bases come from transpose_map.h (checked on the host), computed once a page, so
// that no address is recomputed per load or store.
struct VTransposer {
  const std::uint8_t* page;     // the stage's content (SW128)
  std::uint8_t* vt;             // sm.vt
  TransposeBases bases;
  std::uint32_t sel_even, sel_odd;  // the word swap of h (transpose_4x4_bytes)
  bool whole;                   // every row of the tile sees all 64 tokens: no token is masked
  int n_lo, n_hi;
  uint4 rows[4];                // the current unit: 4 tokens x 16 dims

  // whole: every row of the tile sees all 64 tokens of the page (n_lo == 64, CTA-uniform).
  // vwarp: the warp (0..7) of transpose_map.h whose units this warp transposes (the producer
  // warpgroup's 4 warps each take two).
  __device__ __forceinline__ VTransposer(const PageStage& st, SharedStorage& sm, bool whole_, int n_lo_, int n_hi_,
                                         int vwarp)
      : page(st.content),
        vt(sm.vt),
        bases(transpose_bases(vwarp, threadIdx.x % kWarpThreads)),
        sel_even(transpose_sel_even(threadIdx.x % 2)),
        sel_odd(transpose_sel_odd(threadIdx.x % 2)),
        whole(whole_),
        n_lo(n_lo_),
        n_hi(n_hi_) {}
  __device__ __forceinline__ int quad() const { return threadIdx.x % kWarpThreads / 2; }

  // Tokens at or past n_hi become zero, NaN codes of tokens in [n_lo, n_hi) become zero (see
  // above); only pages with an edge (whole == false, CTA-uniform) pay for it.
  __device__ __forceinline__ void mask_edge_tokens() {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int tok = 4 * quad() + i;
      uint4& r = rows[i];
      if (tok >= n_hi) {
        r = make_uint4(0, 0, 0, 0);
      } else if (tok >= n_lo) {
        r.x = zero_e4m3_nans(r.x);
        r.y = zero_e4m3_nans(r.y);
        r.z = zero_e4m3_nans(r.z);
        r.w = zero_e4m3_nans(r.w);
      }
    }
  }
  __device__ __forceinline__ void load(int u) {
#pragma unroll
    for (int i = 0; i < 4; ++i) rows[i] = *reinterpret_cast<const uint4*>(page + transpose_load_offset(bases, u, i));
    if (!whole) mask_edge_tokens();
  }
  // Words m (dims 4 m .. 4 m + 3 of the chunk) of the loaded unit u.
  __device__ __forceinline__ void store(int u, int m) {
    const auto word = [&](int i) {
      const uint4& r = rows[i];
      return m == 0 ? r.x : m == 1 ? r.y : m == 2 ? r.z : r.w;
    };
    std::uint32_t out[4];
    transpose_4x4_bytes(word(0), word(1), word(2), word(3), sel_even, sel_odd, out);
#pragma unroll
    for (int j = 0; j < 4; ++j) *reinterpret_cast<std::uint32_t*>(vt + transpose_store_offset(bases, u, m, j)) = out[j];
  }
  // Before the pieces: the loads of the first unit.
  __device__ __forceinline__ void start() { load(0); }
  // Piece k < kTransposePieces (constant after unrolling).
  __device__ __forceinline__ void piece(int k) {
    const int u = k / 4, m = k % 4;
    store(u, m);
    if (m == 3 && u + 1 < kTransposeUnitsPerThread) load(u + 1);
  }
};

}  // namespace snapmla::kernels::decode_wgmma
