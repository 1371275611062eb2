// Shared printing helpers of the snapmla tool: aligned text tables, number formatting, JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reference/reference.h"

namespace snapmla::tool {

// A plain text table: a header row, a rule, then rows. Columns are right-aligned unless
// marked left (text columns).
class Table {
 public:
  explicit Table(std::vector<std::string> headers, std::vector<bool> left = {});
  void add_row(std::vector<std::string> cells);
  std::string render(const std::string& indent = "") const;
  std::size_t size() const { return rows_.size(); }

 private:
  std::vector<std::string> headers_;
  std::vector<bool> left_;
  std::vector<std::vector<std::string>> rows_;
};

std::string sci(double v, int digits = 3);    // 1.234e-03; "nan", "inf" as such
std::string fixed(double v, int decimals);    // 12.34
std::string join_ints(const std::vector<int>& v, const char* sep = ",");

// {"rel_l2": .., "rmse": .., "cos_diff": .., "lse_max_abs": .., "non_finite": ..}; non-finite
// values become null (JSON has no NaN).
nlohmann::json metrics_json(const ref::ErrorMetrics& m);
nlohmann::json number_or_null(double v);

// One line of the accuracy table: name, description, the four metrics (+ non-finite count).
std::vector<std::string> metrics_row(const std::string& name, const std::string& description,
                                     const ref::ErrorMetrics& m);
std::vector<std::string> metrics_headers();

}  // namespace snapmla::tool
