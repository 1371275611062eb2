// Every operation rejects bad arguments before touching data, with a message naming the
// argument and the rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "snapmla/error.h"
#include "snapmla/ops.h"
#include "synth/mla_data.h"

namespace snapmla {
namespace {

// Runs fn and expects an Error whose message contains every fragment.
void expect_error(const std::function<void()>& fn, std::initializer_list<const char*> fragments,
                  ErrorCode code = ErrorCode::kInvalidArgument) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const char* f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    return;
  }
  ADD_FAILURE() << "no error thrown; expected one mentioning " << *fragments.begin();
}

class DecodeValidation : public ::testing::Test {
 protected:
  void SetUp() override {
    synth::ProblemOptions o;
    o.batch = 2;
    o.s_q = 1;
    o.h_q = 4;
    o.lengths = {100, 30};
    pb = synth::make_problem(o);
    t = std::make_unique<synth::HostTensors>(pb);
    q = std::make_unique<synth::HostFp8Query>(pb.batch, pb.s_q, pb.h_q);
    cache = std::make_unique<synth::HostFp8Cache>(pb.num_pages);
    shape = {pb.batch, pb.s_q, pb.h_q, 4};
    ws_storage.assign(decode_workspace_bytes(shape, Device::cpu()) + 256, 0);
    auto* aligned = reinterpret_cast<void*>((reinterpret_cast<std::uintptr_t>(ws_storage.data()) + 255) & ~std::uintptr_t(255));
    out.assign(std::size_t(pb.batch) * pb.h_q * kDimLatent, 0);
    lse.assign(std::size_t(pb.batch) * pb.h_q, 0);
    args = {shape, t->block_table_view(), t->lengths_view(), Workspace{aligned, ws_storage.size() - 256, Device::cpu()},
            TensorView::contiguous(out.data(), DType::kBFloat16, {pb.batch, 1, pb.h_q, kDimLatent}),
            TensorView::contiguous(lse.data(), DType::kFloat32, {pb.batch, pb.h_q, 1})};
    quantize_query(t->q_view(), q->view());
    append_kv(t->new_kv_view(), t->slots_view(), cache->view());
    plan_decode(shape, t->lengths_view(), args.workspace);
  }
  void decode(const DecodeArgs& a, const DecodeOptions& opt = {}) { decode_fp8(q->view(), cache->view(), a, opt); }

  ref::HostProblem pb;
  std::unique_ptr<synth::HostTensors> t;
  std::unique_ptr<synth::HostFp8Query> q;
  std::unique_ptr<synth::HostFp8Cache> cache;
  DecodeShape shape;
  std::vector<std::uint8_t> ws_storage;
  std::vector<std::uint16_t> out;
  std::vector<float> lse;
  DecodeArgs args;
};

TEST_F(DecodeValidation, ValidCallSucceeds) { EXPECT_NO_THROW(decode(args)); }

TEST_F(DecodeValidation, ShapeAndDtypeErrorsNameTheArgument) {
  DecodeArgs a = args;
  a.shape.h_q = 0;
  expect_error([&] { decode(a); }, {"decode_fp8", "shape.h_q", "positive"});
  a = args;
  a.shape.batch = -1;
  expect_error([&] { decode(a); }, {"shape.batch"});
  a = args;
  a.out = TensorView::contiguous(out.data(), DType::kBFloat16, {pb.batch, 1, pb.h_q, 576});
  expect_error([&] { decode(a); }, {"out", "expected shape [2, 1, 4, 512], got [2, 1, 4, 576]"});
  a = args;
  a.lse.dtype = DType::kBFloat16;
  expect_error([&] { decode(a); }, {"lse", "dtype float32"});
  a = args;
  a.out.data = nullptr;
  expect_error([&] { decode(a); }, {"out", "null"});
  a = args;
  a.out.stride = {kDimLatent * 4 * 2, kDimLatent * 4, kDimLatent * 2, 2};
  expect_error([&] { decode(a); }, {"out", "innermost", "contiguous"});
  a = args;
  a.shape.h_q = 5000;
  expect_error([&] { decode(a); }, {"shape.h_q", "unsupported head count"}, ErrorCode::kUnsupported);
}

TEST_F(DecodeValidation, LengthsAndPagesAreChecked) {
  std::vector<std::int32_t> bad_len = {100, -3};
  DecodeArgs a = args;
  a.lengths = TensorView::contiguous(bad_len.data(), DType::kInt32, {2});
  expect_error([&] { decode(a); }, {"lengths", "lengths[1] = -3", "negative"});
  bad_len = {100, int(pb.max_pages) * 64 + 1};
  expect_error([&] { decode(a); }, {"lengths[1]", "pages of its block table row"});
  std::vector<std::int32_t> table = t->block_table;
  table[1] = pb.num_pages + 7;  // second page of request 0 (length 100 uses 2 pages)
  a = args;
  a.block_table = TensorView::contiguous(table.data(), DType::kInt32, {pb.batch, pb.max_pages});
  expect_error([&] { decode(a); }, {"block_table", "page index", "[0, 1]", "outside the cache"});
  table = t->block_table;
  table[pb.max_pages - 1] = -5;  // an unused column: allowed, never read
  if (pb.max_pages > 2) {
    EXPECT_NO_THROW(decode(a));
  }
}

// shape.max_pages promises the block table's width to the planner; a wider table breaks it.
TEST_F(DecodeValidation, BlockTableWiderThanShapeMaxPagesIsRejected) {
  DecodeArgs a = args;
  a.shape.max_pages = -1;
  expect_error([&] { decode(a); }, {"shape.max_pages", ">= 0"});
  a.shape.max_pages = int(pb.max_pages) - 1;
  expect_error([&] { decode(a); }, {"block_table", std::to_string(pb.max_pages).c_str(), "shape.max_pages"});
  a.shape.max_pages = int(pb.max_pages);
  EXPECT_NO_THROW(decode(a));
  a.shape.max_pages = int(pb.max_pages) + 100;
  EXPECT_NO_THROW(decode(a));
}

TEST_F(DecodeValidation, WorkspaceDevicesAndOptions) {
  DecodeArgs a = args;
  a.workspace.bytes = 100;
  expect_error([&] { decode(a); }, {"workspace", "decode_workspace_bytes"});
  a = args;
  a.out.device = Device::cuda(0);
  expect_error([&] { decode(a); }, {"out", "same device"});
  DecodeOptions opt;
  opt.softmax_scale = NAN;
  expect_error([&] { decode(args, opt); }, {"softmax_scale"});
  Fp8Query qq = q->view();
  qq.q_scale.dtype = DType::kInt32;
  expect_error([&] { decode_fp8(qq, cache->view(), args, {}); }, {"q.q_scale", "dtype"});
  Fp8Cache cc = cache->view();
  cc.kv_scale.shape[0] -= 1;
  expect_error([&] { decode_fp8(q->view(), cc, args, {}); }, {"cache.kv_scale", "expected shape"});
}

TEST_F(DecodeValidation, CudaViewsNeedACudaBuild) {
#if !SNAPMLA_WITH_CUDA
  Fp8Query qq = q->view();
  qq.q_nope.device = Device::cuda(0);
  expect_error([&] { decode_fp8(qq, cache->view(), args, {}); }, {"device", "no CUDA"}, ErrorCode::kUnsupported);
#else
  GTEST_SKIP() << "built with CUDA";
#endif
}

TEST_F(DecodeValidation, RejectedAppendWritesNothing) {
  const std::vector<std::uint8_t> before_fp8 = cache->kv_fp8;
  const std::vector<float> before_scale = cache->kv_scale;
  std::vector<std::int32_t> slots = t->slots;
  slots[slots.size() / 2] = pb.num_pages * 64;  // one bad slot in the middle
  expect_error([&] {
    append_kv(t->new_kv_view(), TensorView::contiguous(slots.data(), DType::kInt32, {std::int64_t(slots.size())}),
              cache->view());
  }, {"append_kv", "slots[", "outside the cache"});
  EXPECT_EQ(cache->kv_fp8, before_fp8);
  EXPECT_EQ(0, std::memcmp(cache->kv_scale.data(), before_scale.data(), before_scale.size() * 4));
}

TEST_F(DecodeValidation, OtherOperations) {
  TensorView qv = t->q_view();
  qv.shape[3] = 512;
  expect_error([&] { quantize_query(qv, q->view()); }, {"quantize_query", "q", "expected shape"});
  qv = t->q_view();
  qv.dtype = DType::kFloat32;
  expect_error([&] { quantize_query(qv, q->view()); }, {"q", "bfloat16"});
  std::vector<std::int32_t> slots = {0, 1};
  expect_error([&] {
    append_kv(t->new_kv_view(), TensorView::contiguous(slots.data(), DType::kInt32, {2}), cache->view());
  }, {"slots", "expected shape"});
  std::vector<std::uint16_t> back(2 * 100);
  expect_error([&] {
    fetch_dequant(cache->view(), TensorView::contiguous(slots.data(), DType::kInt32, {2}),
                  TensorView::contiguous(back.data(), DType::kBFloat16, {2, 100}));
  }, {"fetch_dequant", "out", "expected shape"});
  std::vector<std::int32_t> lens = {5, -1};
  expect_error([&] { plan_decode(shape, TensorView::contiguous(lens.data(), DType::kInt32, {2}), args.workspace); },
               {"plan_decode", "lengths[1] = -1"});
}

}  // namespace
}  // namespace snapmla
