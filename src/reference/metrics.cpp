// Error metrics of a result against the float64 truth.
#include <algorithm>
#include <cmath>
#include <limits>

#include "reference/reference.h"

namespace snapmla::ref {

ErrorMetrics compare(const HostResult& result, const HostResult& truth) {
  ErrorMetrics m;
  double diff2 = 0, ref2 = 0, res2 = 0, dot = 0;
  for (std::size_t k = 0; k < truth.out.size(); ++k) {
    const double x = result.out[k], y = truth.out[k];
    if (!std::isfinite(x)) ++m.non_finite;
    diff2 += (x - y) * (x - y);
    ref2 += y * y;
    res2 += x * x;
    dot += x * y;
  }
  const double n = std::max<double>(1.0, double(truth.out.size()));
  m.rel_l2 = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
  m.rmse = std::sqrt(diff2 / n);
  m.cos_diff = (ref2 > 0 && res2 > 0) ? 1.0 - dot / std::sqrt(ref2 * res2) : (diff2 > 0 ? 1.0 : 0.0);
  for (std::size_t k = 0; k < truth.lse.size(); ++k) {
    const double x = result.lse[k], y = truth.lse[k];
    if (std::isinf(y) && y > 0) {  // empty row: must be +inf as well
      if (!(std::isinf(x) && x > 0)) m.lse_max_abs = std::numeric_limits<double>::infinity();
      continue;
    }
    if (!std::isfinite(x)) ++m.non_finite;
    const double e = std::fabs(x - y);
    m.lse_max_abs = std::isnan(e) ? e : std::max(m.lse_max_abs, e);
  }
  return m;
}

}  // namespace snapmla::ref
