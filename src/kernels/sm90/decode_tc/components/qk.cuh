// Step 2: raw scores of the warp's 16 rows x its tokens of the page (32 FP8 wide, 16 BF16 wide, 8
// narrow),
//   acc[t] = q_nope8 . kv8[t] (mma.sync m16n8k32 e4m3) + q_rope . k_rope[t] (m16n8k16 bf16)
//   (BF16: q_nope . kv[t] with m16n8k16 bf16, same byte-level fragment geometry)
// into one fp32 accumulator (products of e4m3 / bf16 values are exact in fp32; only the
// summation order differs from the reference's 8-partial tree). The softmax step turns acc into
// x = (acc * row_factor) * s[t]. Columns of tokens a row does not see may hold anything (NaN
// poison of page tails): a column only ever depends on its own token, and softmax never reads
// a masked column into arithmetic.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_tc/components/shared_storage.cuh"
#include "kernels/sm90/decode_tc/components/warp_mma.cuh"

namespace snapmla::kernels::decode_tc {

template <class T>
using ScoreFragment = float[T::kQkNTiles][4];  // C fragments of the warp's n-tiles (8 tokens each)

// ldmatrix.x4 lane addresses (see warp_mma.cuh):
//   A (16 rows x 32 bytes):        lane -> row (lane & 7) + 8 * ((lane >> 3) & 1), byte 16 * (lane >> 4)
//   B (2 n-tiles x 32 bytes):      lane -> token (lane & 7) + 8 * (lane >> 4), byte 16 * ((lane >> 3) & 1)
//   B (1 n-tile x 2 k-steps):      lane -> token (lane & 7), byte 16 * (lane >> 3)
__device__ __forceinline__ int lane_a_row(int lane) { return (lane & 7) + 8 * ((lane >> 3) & 1); }
__device__ __forceinline__ int lane_a_byte(int lane) { return kLdsmRowBytes * (lane >> 4); }

// One operand kind (content e4m3 or RoPE bf16): acc += A (the tile's q rows) x B (the warp's
// tokens), kSteps k-steps of 32 bytes, rows of a_stride / b_stride bytes.
template <class T, bool kFp8, int kSteps, int kUnroll>
__device__ __forceinline__ void score_gemm(const std::uint8_t* a_rows, int a_stride, const std::uint8_t* b_rows,
                                           int b_stride, ScoreFragment<T>& acc) {
  const int lane = threadIdx.x % kWarpThreads;
  const auto mma = [](float(&c)[4], const std::uint32_t(&a)[4], std::uint32_t b0, std::uint32_t b1) {
    if constexpr (kFp8) mma_e4m3(c, a, b0, b1);
    else mma_bf16(c, a, b0, b1);
  };
  const std::uint32_t a_base = smem_addr(a_rows + lane_a_row(lane) * a_stride + lane_a_byte(lane));
  if constexpr (T::kQkNTiles % 2 == 0) {
    constexpr int kTilePair = 2 * kMmaN;  // tokens of the two n-tiles of one B load
    const std::uint32_t b_base =
        smem_addr(b_rows + ((lane & 7) + 8 * (lane >> 4)) * b_stride + kLdsmRowBytes * ((lane >> 3) & 1));
#pragma unroll kUnroll
    for (int ks = 0; ks < kSteps; ++ks) {
      std::uint32_t a[4];
      ldsm_x4(a_base + ks * kMmaKBytes, a);
#pragma unroll
      for (int np = 0; np < T::kQkNTiles / 2; ++np) {
        std::uint32_t b[4];
        ldsm_x4(b_base + np * kTilePair * b_stride + ks * kMmaKBytes, b);
        mma(acc[2 * np], a, b[0], b[1]);
        mma(acc[2 * np + 1], a, b[2], b[3]);
      }
    }
  } else {
    static_assert(T::kQkNTiles == 1 && kSteps % 2 == 0);
    const std::uint32_t b_base = smem_addr(b_rows + (lane & 7) * b_stride + kLdsmRowBytes * (lane >> 3));
#pragma unroll kUnroll
    for (int ks = 0; ks < kSteps; ks += 2) {
      std::uint32_t a0[4], a1[4], b[4];
      ldsm_x4(a_base + ks * kMmaKBytes, a0);
      ldsm_x4(a_base + (ks + 1) * kMmaKBytes, a1);
      ldsm_x4(b_base + ks * kMmaKBytes, b);
      mma(acc[0], a0, b[0], b[1]);
      mma(acc[0], a1, b[2], b[3]);
    }
  }
}

template <class T>
__device__ __forceinline__ void compute_scores(const SharedStorage<T>& sm, const Stage<T>& st, int row_group, int split,
                                               ScoreFragment<T>& acc) {
#pragma unroll
  for (int nt = 0; nt < T::kQkNTiles; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[nt][e] = 0.0f;
  const int row = row_group * kMmaM, token = split * T::kQkTokensPerWarp;
  // Content: 16 k-steps of 32 e4m3 values (FP8) or 32 k-steps of 16 bf16 values (BF16); RoPE: 4
  // k-steps of 16 bf16 values, same accumulators.
  score_gemm<T, T::Fmt::kFp8, T::Fmt::kContentKSteps, 4>(&sm.q_content[row][0], T::kQContentRowBytes,
                                                         &st.content[token][0], T::kQContentRowBytes, acc);
  score_gemm<T, false, kRopeKSteps, kRopeKSteps>(&sm.q_rope[row][0], kQRopeRowBytes, &st.rope[token][0],
                                                 kRopeRowBytes, acc);
}

}  // namespace snapmla::kernels::decode_tc
