// Float64 attention on the unquantized problem: the truth every scheme is measured against.
#include <cmath>
#include <limits>
#include <vector>

#include "reference/parallel.h"
#include "reference/reference.h"

namespace snapmla::ref {

HostResult attention_truth(const HostProblem& pb, int threads) {
  const int rows = pb.s_q * pb.h_q;
  HostResult result;
  result.out.assign(std::size_t(pb.batch) * rows * kDimLatent, 0.0);
  result.lse.assign(std::size_t(pb.batch) * rows, std::numeric_limits<double>::infinity());

  parallel_for(std::int64_t(pb.batch) * rows, threads, [&](std::int64_t item) {
    const int b = static_cast<int>(item / rows), row = static_cast<int>(item % rows);
    const int i = row / pb.h_q, h = row % pb.h_q;
    const int visible = visible_tokens(pb.lengths[b], pb.s_q, i, pb.causal);
    if (visible == 0) return;
    const float* q = &pb.q[(std::size_t(b) * rows + row) * kDimQK];
    std::vector<double> score(visible);
    double m = -std::numeric_limits<double>::infinity();
    for (int t = 0; t < visible; ++t) {
      const int page = pb.block_table[std::size_t(b) * pb.max_pages + t / kPageSize];
      const float* k = &pb.cache[(std::size_t(page) * kPageSize + t % kPageSize) * kDimQK];
      double acc = 0.0;
      for (int d = 0; d < kDimQK; ++d) acc += double(q[d]) * double(k[d]);
      score[t] = acc * pb.softmax_scale;
      m = std::fmax(m, score[t]);
    }
    double sum = 0.0;
    double* out = &result.out[(std::size_t(b) * rows + row) * kDimLatent];
    for (int t = 0; t < visible; ++t) {
      const double p = std::exp(score[t] - m);
      sum += p;
      const int page = pb.block_table[std::size_t(b) * pb.max_pages + t / kPageSize];
      const float* v = &pb.cache[(std::size_t(page) * kPageSize + t % kPageSize) * kDimQK];
      for (int d = 0; d < kDimLatent; ++d) out[d] += p * double(v[d]);
    }
    for (int d = 0; d < kDimLatent; ++d) out[d] /= sum;
    // lse is stored [b, h_q, s_q], like the kernels' output
    result.lse[(std::size_t(b) * pb.h_q + h) * pb.s_q + i] = m + std::log(sum);
  });
  return result;
}

}  // namespace snapmla::ref
