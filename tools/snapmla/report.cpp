// Shared printing helpers of the snapmla tool.
#include "report.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace snapmla::tool {

Table::Table(std::vector<std::string> headers, std::vector<bool> left)
    : headers_(std::move(headers)), left_(std::move(left)) {
  left_.resize(headers_.size(), false);
}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::render(const std::string& indent) const {
  std::vector<std::size_t> width(headers_.size());
  for (std::size_t c = 0; c < headers_.size(); ++c) {
    width[c] = headers_[c].size();
    for (const auto& row : rows_) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = indent;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      if (c) s += "  ";
      const std::string pad(width[c] - cells[c].size(), ' ');
      s += left_[c] ? cells[c] + pad : pad + cells[c];
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::string out = line(headers_);
  std::size_t total = 0;
  for (std::size_t c = 0; c < width.size(); ++c) total += width[c] + (c ? 2 : 0);
  out += indent + std::string(total, '-') + "\n";
  for (const auto& row : rows_) out += line(row);
  return out;
}

std::string sci(double v, int digits) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.{}e}", v, digits);
}

std::string fixed(double v, int decimals) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.{}f}", v, decimals);
}

std::string join_ints(const std::vector<int>& v, const char* sep) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + std::to_string(v[i]);
  return s;
}

nlohmann::json number_or_null(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

nlohmann::json metrics_json(const ref::ErrorMetrics& m) {
  return {{"rel_l2", number_or_null(m.rel_l2)},
          {"rmse", number_or_null(m.rmse)},
          {"cos_diff", number_or_null(m.cos_diff)},
          {"lse_max_abs", number_or_null(m.lse_max_abs)},
          {"non_finite", m.non_finite}};
}

std::vector<std::string> metrics_headers() {
  return {"scheme", "description", "rel L2", "RMSE", "cos diff", "max|LSE err|"};
}

std::vector<std::string> metrics_row(const std::string& name, const std::string& description,
                                     const ref::ErrorMetrics& m) {
  std::string lse = sci(m.lse_max_abs);
  if (m.non_finite) lse += fmt::format(" ({} non-finite)", m.non_finite);
  return {name, description, sci(m.rel_l2), sci(m.rmse), sci(m.cos_diff), lse};
}

}  // namespace snapmla::tool
