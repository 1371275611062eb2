// Host entries of the narrow FP8 decode kernel (kernel.cuh), one per query-row count it is built
// for. Plain C++. The wgmma kernel's launch (launch_decode_fp8_wgmma) routes s_q * h_q <= 32 rows
// and small calls of any row count here after its own checks; these do not check alignment again.
#pragma once

#include "kernels/params.h"

namespace snapmla::kernels {

// 16 and 32 query rows a CTA, ceil(s_q * h_q / rows) CTAs a part (config.h, row_groups); same
// outputs as launch_decode_fp8 (combine is separate).
// narrow16x3: three CTAs per SM, each with the split page ring, for grids of >= 3 CTAs per SM
// (config.h, narrow_ctas_per_sm).
void launch_decode_fp8_narrow16(const DecodeParams& params, StreamHandle stream);
void launch_decode_fp8_narrow16x3(const DecodeParams& params, StreamHandle stream);
void launch_decode_fp8_narrow32(const DecodeParams& params, StreamHandle stream);

}  // namespace snapmla::kernels
