// e4m3 NaN codes in the V fragments of PV (decode_narrow/components/pv.cuh, whose fragment
// code the 64-row kernel's pv.cuh uses). Tokens in [n_lo, n_hi) of a page are seen by some
// rows only (causal s_q > 1): their e4m3 NaN codes are zeroed, so that a NaN token cannot
// reach, through 0 x NaN, a row that does not see it. A row that sees it still comes out NaN:
// the token's content is also its key, so its score, p and the row's sum l are NaN (the
// reference's semantics).
//
// e4m3 has no infinities; NaN is S.1111.111. Per byte of a word: (b & 0x7f) + 1 carries into
// bit 7 exactly for NaN, and never into the next byte.
#pragma once

#include <cstdint>

namespace snapmla::kernels::decode_wgmma {

// The e4m3 NaN codes among the four bytes of w zeroed, in the bytes whose bit 7 is set in
// `bytes` (default: all four).
__device__ __forceinline__ std::uint32_t zero_e4m3_nans(std::uint32_t w, std::uint32_t bytes = 0x80808080u) {
  const std::uint32_t nan_bits = ((w & 0x7f7f7f7fu) + 0x01010101u) & bytes;
  return w & ~((nan_bits >> 7) * 0xffu);
}

}  // namespace snapmla::kernels::decode_wgmma
