// quantize_query, append_kv and fetch_dequant on the GPU against the CPU implementations of the
// same public API: bit for bit, special rows included (zeros, NaN, +-Inf in content and rope,
// values past the e4m3 range, subnormals). Checked mode: a bad slot is reported and nothing
// is written.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/codecs.h"
#include "common/gpu_util.h"
#include "snapmla/error.h"
#include "snapmla/ops.h"
#include "synth/mla_data.h"

namespace snapmla {
namespace {

using testing::cuda_view;
using testing::DeviceBuffer;

template <typename T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <typename T>
std::size_t first_difference(const std::vector<T>& a, const std::vector<T>& b) {
  for (std::size_t k = 0; k < a.size(); ++k)
    if (std::memcmp(&a[k], &b[k], sizeof(T)) != 0) return k;
  return a.size();
}

// Overwrites some 576-value rows of `rows` (bf16) with the special cases of the format.
void inject_special_rows(std::vector<std::uint16_t>& rows) {
  const std::size_t n = rows.size() / kDimQK;
  auto row = [&](std::size_t r) { return &rows[(r % n) * kDimQK]; };
  const float inf = std::numeric_limits<float>::infinity();
  std::fill(row(0), row(0) + kDimQK, std::uint16_t(0));                 // all zero
  row(1)[7] = bf16_from_float(std::nanf(""));                           // NaN content
  row(2)[kDimLatent + 3] = bf16_from_float(inf);                        // Inf rope
  row(3)[100] = bf16_from_float(-inf);                                  // -Inf content
  for (int d = 0; d < kDimQK; ++d) row(4)[d] = bf16_from_float(1e-40f * (d + 1));  // subnormal
  for (int d = 0; d < kDimQK; ++d) row(5)[d] = bf16_from_float((d % 2 ? -3e38f : 2e37f));  // huge
  row(6)[kDimLatent + 5] = bf16_from_float(std::nanf(""));              // NaN rope
  for (int d = 0; d < kDimLatent; ++d) row(7)[d] = bf16_from_float(d == 9 ? 1000.0f : 1e-3f);  // one outlier
}

ref::HostProblem small_problem() {
  synth::ProblemOptions o;
  o.batch = 5;
  o.s_q = 2;
  o.h_q = 63;
  o.lengths = {0, 1, 65, 130, 700};
  o.seed = 17;
  o.poison_unused = true;
  return synth::make_problem(o);
}

TEST(QuantizeGpu, QueryMatchesCpuBitForBit) {
  const ref::HostProblem p = small_problem();
  synth::HostTensors t(p);
  inject_special_rows(t.q);
  synth::HostFp8Query cpu(p.batch, p.s_q, p.h_q);
  quantize_query(t.q_view(), cpu.view());

  DeviceBuffer<std::uint16_t> q(t.q);
  DeviceBuffer<std::uint8_t> nope(cpu.q_nope.size());
  DeviceBuffer<float> scale(cpu.q_scale.size());
  DeviceBuffer<std::uint16_t> rope(cpu.q_rope.size());
  nope.poison_nan();
  scale.poison_nan();
  rope.poison_nan();
  const Fp8Query gq{cuda_view(nope, DType::kFloat8E4M3, {p.batch, p.s_q, p.h_q, kDimLatent}),
                    cuda_view(scale, DType::kFloat32, {p.batch, p.s_q, p.h_q}),
                    cuda_view(rope, DType::kBFloat16, {p.batch, p.s_q, p.h_q, kDimRope})};
  quantize_query(cuda_view(q, DType::kBFloat16, {p.batch, p.s_q, p.h_q, kDimQK}), gq);
  const auto g_nope = nope.download();
  const auto g_scale = scale.download();
  const auto g_rope = rope.download();
  EXPECT_TRUE(bitwise_equal(g_nope, cpu.q_nope)) << "q_nope differs at " << first_difference(g_nope, cpu.q_nope);
  EXPECT_TRUE(bitwise_equal(g_scale, cpu.q_scale)) << "q_scale differs at " << first_difference(g_scale, cpu.q_scale);
  EXPECT_TRUE(bitwise_equal(g_rope, cpu.q_rope)) << "q_rope differs at " << first_difference(g_rope, cpu.q_rope);
  // The special rows did what docs/numerics.md says.
  EXPECT_EQ(g_scale[0], 1e-6f / 448.0f);
  EXPECT_TRUE(std::isnan(g_scale[1]) && std::isnan(g_scale[2]) && std::isnan(g_scale[3]) && std::isnan(g_scale[6]));
}

struct AppendFixture {
  ref::HostProblem p = small_problem();
  synth::HostTensors t{p};
  std::vector<std::int32_t> slots;

  AppendFixture() {
    inject_special_rows(t.new_kv);
    slots = t.slots;
    for (std::size_t k = 0; k < slots.size(); k += 11) slots[k] = -1;  // padding rows
  }
};

TEST(QuantizeGpu, AppendAndFetchMatchCpuBitForBit) {
  AppendFixture f;
  const int pages = f.p.num_pages;
  synth::HostFp8Cache cpu(pages);
  std::fill(cpu.kv_fp8.begin(), cpu.kv_fp8.end(), testing::kNanE4m3);
  std::fill(cpu.kv_scale.begin(), cpu.kv_scale.end(), std::numeric_limits<float>::quiet_NaN());
  std::fill(cpu.kv_rope.begin(), cpu.kv_rope.end(), testing::kNanBf16);
  const std::int64_t n = std::int64_t(f.slots.size());
  append_kv(f.t.new_kv_view(), TensorView::contiguous(f.slots.data(), DType::kInt32, {n}), cpu.view());

  DeviceBuffer<std::uint16_t> kv(f.t.new_kv);
  DeviceBuffer<std::int32_t> slots(f.slots);
  DeviceBuffer<std::uint8_t> c8(cpu.kv_fp8.size());
  DeviceBuffer<float> cs(cpu.kv_scale.size());
  DeviceBuffer<std::uint16_t> cr(cpu.kv_rope.size());
  c8.poison_nan();
  cs.poison_nan();
  cr.poison_nan();
  const Fp8Cache gc{cuda_view(c8, DType::kFloat8E4M3, {pages, kPageSize, kDimLatent}),
                    cuda_view(cs, DType::kFloat32, {pages, kPageSize}),
                    cuda_view(cr, DType::kBFloat16, {pages, kPageSize, kDimRope})};
  append_kv(cuda_view(kv, DType::kBFloat16, {n, kDimQK}), cuda_view(slots, DType::kInt32, {n}), gc);
  const auto g8 = c8.download();
  const auto gs = cs.download();
  const auto gr = cr.download();
  EXPECT_TRUE(bitwise_equal(g8, cpu.kv_fp8)) << "kv_fp8 differs at " << first_difference(g8, cpu.kv_fp8);
  EXPECT_TRUE(bitwise_equal(gs, cpu.kv_scale)) << "kv_scale differs at " << first_difference(gs, cpu.kv_scale);
  EXPECT_TRUE(bitwise_equal(gr, cpu.kv_rope)) << "kv_rope differs at " << first_difference(gr, cpu.kv_rope);

  // fetch_dequant of every slot (and padding / negative slots -> zeros).
  std::vector<std::int32_t> fetch_slots = f.t.slots;
  fetch_slots.push_back(-5);
  const std::int64_t m = std::int64_t(fetch_slots.size());
  std::vector<std::uint16_t> cpu_out(std::size_t(m) * kDimQK, testing::kNanBf16);
  fetch_dequant(cpu.view(), TensorView::contiguous(fetch_slots.data(), DType::kInt32, {m}),
                TensorView::contiguous(cpu_out.data(), DType::kBFloat16, {m, kDimQK}));
  DeviceBuffer<std::int32_t> gslots(fetch_slots);
  DeviceBuffer<std::uint16_t> gout(cpu_out.size());
  gout.poison_nan();
  fetch_dequant(gc, cuda_view(gslots, DType::kInt32, {m}), cuda_view(gout, DType::kBFloat16, {m, kDimQK}));
  const auto go = gout.download();
  EXPECT_TRUE(bitwise_equal(go, cpu_out)) << "fetch_dequant differs at " << first_difference(go, cpu_out);
}

TEST(QuantizeGpu, UncheckedOutOfRangeSlotIsSkipped) {
  AppendFixture f;
  const int pages = f.p.num_pages;
  const std::int64_t n = std::int64_t(f.slots.size());
  DeviceBuffer<std::uint16_t> kv(f.t.new_kv);
  std::vector<std::int32_t> bad = f.slots;
  bad[2] = pages * kPageSize;        // one past the end
  bad[3] = pages * kPageSize + 999;  // far past
  DeviceBuffer<std::int32_t> good_slots(f.slots), bad_slots(bad);
  auto run = [&](const DeviceBuffer<std::int32_t>& slots, DeviceBuffer<std::uint8_t>& c8, DeviceBuffer<float>& cs,
                 DeviceBuffer<std::uint16_t>& cr) {
    c8.poison_nan();
    cs.poison_nan();
    cr.poison_nan();
    append_kv(cuda_view(kv, DType::kBFloat16, {n, kDimQK}), cuda_view(slots, DType::kInt32, {n}),
              {cuda_view(c8, DType::kFloat8E4M3, {pages, kPageSize, kDimLatent}),
               cuda_view(cs, DType::kFloat32, {pages, kPageSize}),
               cuda_view(cr, DType::kBFloat16, {pages, kPageSize, kDimRope})});
  };
  const std::size_t tokens = std::size_t(pages) * kPageSize;
  DeviceBuffer<std::uint8_t> a8(tokens * kDimLatent), b8(tokens * kDimLatent);
  DeviceBuffer<float> as(tokens), bs(tokens);
  DeviceBuffer<std::uint16_t> ar(tokens * kDimRope), br(tokens * kDimRope);
  run(good_slots, a8, as, ar);
  run(bad_slots, b8, bs, br);
  // Same cache except the two rows whose slot was bad, which were not written anywhere.
  auto expect8 = a8.download();
  auto expects = as.download();
  auto expectr = ar.download();
  for (int k : {2, 3}) {
    const std::size_t slot = std::size_t(f.slots[k]);
    if (f.slots[k] < 0) continue;
    std::fill_n(&expect8[slot * kDimLatent], kDimLatent, testing::kNanE4m3);
    expects[slot] = testing::nan_of<float>();
    std::fill_n(&expectr[slot * kDimRope], kDimRope, testing::kNanBf16);
  }
  EXPECT_TRUE(bitwise_equal(b8.download(), expect8));
  EXPECT_TRUE(bitwise_equal(bs.download(), expects));
  EXPECT_TRUE(bitwise_equal(br.download(), expectr));
}

TEST(QuantizeGpu, CheckedAppendWithBadSlotThrowsAndWritesNothing) {
  AppendFixture f;
  const int pages = f.p.num_pages;
  const std::int64_t n = std::int64_t(f.slots.size());
  std::vector<std::int32_t> bad = f.slots;
  bad[n / 2] = pages * kPageSize + 7;
  DeviceBuffer<std::uint16_t> kv(f.t.new_kv);
  DeviceBuffer<std::int32_t> slots(bad);
  const std::size_t tokens = std::size_t(pages) * kPageSize;
  DeviceBuffer<std::uint8_t> c8(tokens * kDimLatent);
  DeviceBuffer<float> cs(tokens);
  DeviceBuffer<std::uint16_t> cr(tokens * kDimRope);
  c8.poison_nan();
  cs.poison_nan();
  cr.poison_nan();
  try {
    append_kv(cuda_view(kv, DType::kBFloat16, {n, kDimQK}), cuda_view(slots, DType::kInt32, {n}),
              {cuda_view(c8, DType::kFloat8E4M3, {pages, kPageSize, kDimLatent}),
               cuda_view(cs, DType::kFloat32, {pages, kPageSize}),
               cuda_view(cr, DType::kBFloat16, {pages, kPageSize, kDimRope})},
              nullptr, /*checked=*/true);
    ADD_FAILURE() << "checked append_kv accepted slot " << bad[n / 2];
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDeviceCheckFailed);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("slots[" + std::to_string(n / 2) + "]"), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::to_string(bad[n / 2])), std::string::npos) << msg;
    std::printf("checked append reports: %s\n", msg.c_str());
  }
  testing::sync();
  for (auto v : c8.download()) ASSERT_EQ(v, testing::kNanE4m3) << "checked append wrote the cache";
  for (auto v : cs.download()) ASSERT_TRUE(std::isnan(v)) << "checked append wrote the cache";
  for (auto v : cr.download()) ASSERT_EQ(v, testing::kNanBf16) << "checked append wrote the cache";
}

}  // namespace
}  // namespace snapmla
