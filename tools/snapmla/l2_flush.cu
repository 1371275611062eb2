// The bench's L2 flush (bench/common/l2_flush.cuh) behind a plain C++ call for bench.cpp.
#include "gpu_util.h"
#include "../../bench/common/l2_flush.cuh"

namespace snapmla::tool {

void flush_l2(bool by_reads, void* buffer, std::size_t bytes, int pass, cudaStream_t stream) {
  SNAPMLA_CUDA_CHECK(bench::flush_l2(by_reads ? bench::L2Flush::kRead : bench::L2Flush::kMemset, buffer, bytes,
                                     pass, stream));
}

}  // namespace snapmla::tool
