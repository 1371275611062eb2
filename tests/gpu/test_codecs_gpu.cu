// The integer codecs of src/common/codecs.h against the hardware conversions the kernels rely
// on: every one of the 2^32 float32 bit patterns (NaN, Inf, subnormals, ties, saturation all
// included) through cvt.rn.satfinite.e4m3x2.f32 and cvt.rn.bf16.f32, every e4m3 code through
// cvt.rn.f16x2.e4m3x2 (the decode kernel's dequantization), and every bf16 code back to float.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>

#include "common/codecs.h"
#include "common/gpu_util.h"
#include "kernels/sm90/decode_fp8/components/convert.cuh"

namespace snapmla {
namespace {

using testing::DeviceBuffer;

constexpr int kMaxRecorded = 8;

struct Mismatches {
  unsigned long long count;
  std::uint32_t input[kMaxRecorded];
  std::uint32_t hw[kMaxRecorded];
  std::uint32_t sw[kMaxRecorded];
};

__device__ void record(Mismatches* m, std::uint32_t input, std::uint32_t hw, std::uint32_t sw) {
  const unsigned long long k = atomicAdd(&m->count, 1ull);
  if (k < kMaxRecorded) { m->input[k] = input; m->hw[k] = hw; m->sw[k] = sw; }
}

__device__ std::uint8_t hw_e4m3(float x) {
  std::uint16_t pair;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(pair) : "f"(0.0f), "f"(x));  // x -> low byte
  return static_cast<std::uint8_t>(pair & 0xff);
}

__device__ std::uint16_t hw_bf16(float x) {
  std::uint16_t h;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(x));
  return h;
}

// Sweeps [begin, begin + count) of the float32 bit patterns.
__global__ void sweep_float_kernel(std::uint64_t begin, std::uint64_t count, Mismatches* e4m3, Mismatches* bf16) {
  for (std::uint64_t k = blockIdx.x * std::uint64_t(blockDim.x) + threadIdx.x; k < count;
       k += std::uint64_t(gridDim.x) * blockDim.x) {
    const std::uint32_t u = static_cast<std::uint32_t>(begin + k);
    const float x = __uint_as_float(u);
    const std::uint8_t h8 = hw_e4m3(x), s8 = e4m3_from_float(x);
    if (h8 != s8) record(e4m3, u, h8, s8);  // NaN included: 0x7f whatever its sign
    const std::uint16_t h16 = hw_bf16(x), s16 = bf16_from_float(x);
    if (h16 != s16) record(bf16, u, h16, s16);
  }
}

// Every pair of e4m3 codes through the decode kernel's conversion, and every bf16 code.
__global__ void decode_codes_kernel(Mismatches* e4m3, Mismatches* bf16) {
  const std::uint32_t pair = blockIdx.x * blockDim.x + threadIdx.x;  // 65536 pairs
  if (pair >= 65536u) return;
  const float2 f = kernels::decode::e4m3x2_to_float2(static_cast<std::uint16_t>(pair));
  const float expect_lo = e4m3_to_float(static_cast<std::uint8_t>(pair & 0xff));
  const float expect_hi = e4m3_to_float(static_cast<std::uint8_t>(pair >> 8));
  const auto same = [](float a, float b) { return (a != a && b != b) || __float_as_uint(a) == __float_as_uint(b); };
  if (!same(f.x, expect_lo) || !same(f.y, expect_hi))
    record(e4m3, pair, __float_as_uint(f.x), __float_as_uint(expect_lo));
  float b[2];
  kernels::decode::bf16x2_to_float(pair | (pair << 16), b);
  if (!same(b[0], bf16_to_float(static_cast<std::uint16_t>(pair))))
    record(bf16, pair, __float_as_uint(b[0]), __float_as_uint(bf16_to_float(static_cast<std::uint16_t>(pair))));
}

void expect_none(const Mismatches& m, const char* what) {
  EXPECT_EQ(m.count, 0ull) << what << " mismatches";
  for (unsigned long long k = 0; k < m.count && k < kMaxRecorded; ++k)
    ADD_FAILURE() << what << ": input 0x" << std::hex << m.input[k] << " hardware 0x" << m.hw[k] << " codecs 0x"
                  << m.sw[k];
}

TEST(CodecsGpu, AllFloat32PatternsMatchHardwareConversions) {
  DeviceBuffer<Mismatches> e4m3(1), bf16(1);
  e4m3.fill(Mismatches{});
  bf16.fill(Mismatches{});
  sweep_float_kernel<<<4096, 256>>>(0, std::uint64_t(1) << 32, e4m3.get(), bf16.get());
  SNAPMLA_CUDA_CHECK(cudaGetLastError());
  testing::sync();
  const Mismatches m8 = e4m3.download()[0];
  expect_none(m8, "float -> e4m3 (cvt.rn.satfinite.e4m3x2.f32)");
  expect_none(bf16.download()[0], "float -> bf16 (cvt.rn.bf16.f32)");
  std::printf("codecs: all 4294967296 float32 patterns checked against the hardware conversions\n");
}

TEST(CodecsGpu, AllCodesDecodeLikeTheCodecs) {
  DeviceBuffer<Mismatches> e4m3(1), bf16(1);
  e4m3.fill(Mismatches{});
  bf16.fill(Mismatches{});
  decode_codes_kernel<<<256, 256>>>(e4m3.get(), bf16.get());
  SNAPMLA_CUDA_CHECK(cudaGetLastError());
  testing::sync();
  expect_none(e4m3.download()[0], "e4m3x2 -> float (cvt.rn.f16x2.e4m3x2)");
  expect_none(bf16.download()[0], "bf16 -> float");
}

}  // namespace
}  // namespace snapmla
