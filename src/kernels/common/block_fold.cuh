// The fold of one block's PV product c into the output accumulator, as the CPU emulation does
// it (reference/emulation.h): O = fma(unmult, c, O * alpha), the product and the sum rounded
// once. Where alpha is 1 (no rescale, O * 1 = O exactly) it is the single fma.
#pragma once

namespace snapmla::kernels {

__device__ __forceinline__ float fold_block(float o, float alpha, float unmult, float c) {
  return __fmaf_rn(unmult, c, __fmul_rn(o, alpha));
}
__device__ __forceinline__ float fold_block_unscaled(float o, float unmult, float c) { return __fmaf_rn(unmult, c, o); }

}  // namespace snapmla::kernels
