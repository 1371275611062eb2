// The GEMM roofs of `snapmla bench`: a large BF16 and a large FP8 (e4m3) matrix product through
// cuBLASLt, timed in the same run as the decode kernels. cuBLASLt is opened at run time
// (dlopen), so the tool neither links it nor fails to start where it is missing: the roofs are
// then reported as not measured.
#pragma once

#include <string>

namespace snapmla::tool {

struct GemmRoofs {
  double bf16_tflops = 0;  // 0: not measured (see note)
  double fp8_tflops = 0;
  std::string note;        // what was measured, or why not
};

// Times M = N = K = 8192 products (median of 10 after 2 warm-ups) on the current device.
GemmRoofs measure_gemm_roofs(void* stream);

}  // namespace snapmla::tool
