// The warpgroup MMAs of the narrow kernel, N = kCols query rows (CuTe's sm90 atoms):
//   qk_content  m64nNk32 e4m3 x e4m3 -> f32, A (page) and B (Q) from shared memory
//   qk_rope     m64nNk16 bf16 x bf16 -> f32, both K-major in shared memory
//   pv_step     m64nNk32 e4m3 x e4m3 -> f32, A (V^T) from registers, B (P8^T) from shared memory
// Each writes kCols / 2 accumulator registers a thread; accumulate = false starts from zero.
#pragma once

#include <cstdint>
#include <utility>

#include "kernels/sm90/decode_wgmma/components/wgmma_ops.cuh"

namespace snapmla::kernels::decode_narrow {

namespace gmma = cute::SM90::GMMA;
using decode_wgmma::advance_desc;
using decode_wgmma::fence_operands;
using decode_wgmma::scale_out;
using decode_wgmma::smem_u32;
using decode_wgmma::sw128_desc;
using decode_wgmma::sw64_desc;

template <int kCols>
struct Atoms;
template <>
struct Atoms<16> {
  using Content = gmma::MMA_64x16x32_F32E4M3E4M3_SS_TN<>;
  using Rope = gmma::MMA_64x16x16_F32BF16BF16_SS<gmma::Major::K, gmma::Major::K>;
  using Pv = gmma::MMA_64x16x32_F32E4M3E4M3_RS_TN<>;
};
template <>
struct Atoms<32> {
  using Content = gmma::MMA_64x32x32_F32E4M3E4M3_SS_TN<>;
  using Rope = gmma::MMA_64x32x16_F32BF16BF16_SS<gmma::Major::K, gmma::Major::K>;
  using Pv = gmma::MMA_64x32x32_F32E4M3E4M3_RS_TN<>;
};
// 64 columns: not a narrow kernel's width; bench/micro/qk_page.cu times whole-page QK with it.
template <>
struct Atoms<64> {
  using Content = gmma::MMA_64x64x32_F32E4M3E4M3_SS_TN<>;
  using Rope = gmma::MMA_64x64x16_F32BF16BF16_SS<gmma::Major::K, gmma::Major::K>;
  using Pv = gmma::MMA_64x64x32_F32E4M3E4M3_RS_TN<>;
};

template <class Atom, int N, std::size_t... I>
__device__ __forceinline__ void mma_ss(std::uint64_t a, std::uint64_t b, float (&d)[N], bool accumulate,
                                       std::index_sequence<I...>) {
  Atom::fma(a, b, d[I]..., scale_out(accumulate));
}
template <class Atom, int N, std::size_t... I>
__device__ __forceinline__ void mma_rs(const std::uint32_t (&a)[4], std::uint64_t b, float (&d)[N], bool accumulate,
                                       std::index_sequence<I...>) {
  Atom::fma(a[0], a[1], a[2], a[3], b, d[I]..., scale_out(accumulate));
}

template <int kCols>
__device__ __forceinline__ void qk_content(std::uint64_t a, std::uint64_t b, float (&d)[kCols / 2], bool accumulate) {
  mma_ss<typename Atoms<kCols>::Content>(a, b, d, accumulate, std::make_index_sequence<kCols / 2>{});
}
template <int kCols>
__device__ __forceinline__ void qk_rope(std::uint64_t a, std::uint64_t b, float (&d)[kCols / 2], bool accumulate) {
  mma_ss<typename Atoms<kCols>::Rope>(a, b, d, accumulate, std::make_index_sequence<kCols / 2>{});
}
template <int kCols>
__device__ __forceinline__ void pv_step(const std::uint32_t (&a)[4], std::uint64_t b, float (&d)[kCols / 2],
                                        bool accumulate) {
  mma_rs<typename Atoms<kCols>::Pv>(a, b, d, accumulate, std::make_index_sequence<kCols / 2>{});
}

}  // namespace snapmla::kernels::decode_narrow
