// Warp-level tensor-core primitives: ldmatrix (plain and transposed), mma.sync m16n8k32 e4m3 and
// m16n8k16 bf16 with fp32 accumulators, the e4m3x2 and bf16x2 conversions, and named barriers.
//
// Fragment layouts (lane = 4 * g + t, g = groupID, t = thread in group), for both MMA kinds in
// bytes (a k-step is 32 bytes: 32 e4m3 or 16 bf16 values):
//   A 16 x 32 B: a0 = row g, bytes 4t..4t+3; a1 = row g + 8; a2 = row g, bytes 16 + 4t..; a3 = row g + 8
//   B 32 B x 8:  b0 = column g, bytes 4t..4t+3; b1 = column g, bytes 16 + 4t..
//   C 16 x 8:    c0, c1 = row g, columns 2t, 2t + 1; c2, c3 = row g + 8
// which is what ldmatrix.x4 of the right 8 x 16-byte matrices delivers.
#pragma once

#include <cstdint>

namespace snapmla::kernels::decode_tc {

__device__ __forceinline__ std::uint32_t smem_addr(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void ldsm_x4(std::uint32_t addr, std::uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

__device__ __forceinline__ void ldsm_x4_trans(std::uint32_t addr, std::uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// c += a * b, e4m3 x e4m3 -> f32.
__device__ __forceinline__ void mma_e4m3(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                         std::uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// c += a * b, bf16 x bf16 -> f32.
__device__ __forceinline__ void mma_bf16(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                         std::uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats -> two e4m3 codes, lo in the low byte (cvt.rn.satfinite: e4m3_from_float).
__device__ __forceinline__ std::uint16_t e4m3x2_from_float(float lo, float hi) {
  std::uint16_t r;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(r) : "f"(hi), "f"(lo));
  return r;
}

// Two floats -> two bf16 codes, lo in the low half (cvt.rn.bf16x2.f32: bf16_from_float).
__device__ __forceinline__ std::uint32_t bf16x2_from_float(float lo, float hi) {
  std::uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

// Barrier of the threads of one row group.
__device__ __forceinline__ void group_barrier(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

}  // namespace snapmla::kernels::decode_tc
