// Host entries of the narrow FP8 decode kernel (kernel.cuh), one per query-row count it is built
// for. Plain C++. The wgmma kernel's launch (launch_decode_fp8_wgmma) routes s_q * h_q <= 32 here
// after its own checks; these do not check alignment again.
#pragma once

#include "kernels/params.h"

namespace snapmla::kernels {

// Whether the narrow kernel can read the cache: by TMA, so at least one page and token
// coordinates within int32 (the routing sends other caches to the 64-row kernel).
inline bool decode_fp8_narrow_reads(const DecodeParams& p) {
  return p.fp8_cache.num_pages > 0 && static_cast<long long>(p.fp8_cache.num_pages) * 64 <= 0x7fffffffLL;
}

// s_q * h_q <= 16 and <= 32 query rows; same outputs as launch_decode_fp8 (combine is separate).
void launch_decode_fp8_narrow16(const DecodeParams& params, StreamHandle stream);
void launch_decode_fp8_narrow32(const DecodeParams& params, StreamHandle stream);

}  // namespace snapmla::kernels
