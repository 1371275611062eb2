// snapmla demo (the default command): one decode step through the public API, FP8 and BF16,
// against the float64 truth, and what the FP8 cache saves. On a Hopper GPU the step runs on the
// GPU and is timed; elsewhere the CPU implementation runs a small case.
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "commands.h"
#include "gpu_util.h"
#include "reference/reference.h"
#include "report.h"
#include "snapmla/ops.h"
#include "synth/mla_data.h"

namespace snapmla::tool {
namespace {

struct DemoResult {
  ref::HostResult fp8, bf16;
  double fp8_us = 0, bf16_us = 0;  // per decode call (GPU: median of reps; CPU: one call)
};

DemoResult run_cpu(synth::HostTensors& ht, const ref::HostProblem& p) {
  DemoResult r;
  synth::HostFp8Query fq(p.batch, p.s_q, p.h_q);
  quantize_query(ht.q_view(), fq.view());
  synth::HostFp8Cache fc(p.num_pages);
  append_kv(ht.new_kv_view(), ht.slots_view(), fc.view());

  const DecodeShape shape{p.batch, p.s_q, p.h_q, 0, p.max_pages};
  // The workspace must be 256-byte aligned: over-allocate and align.
  const std::size_t ws_bytes = decode_workspace_bytes(shape, Device::cpu());
  std::vector<std::byte> ws(ws_bytes + 256);
  void* ws_ptr = ws.data();
  std::size_t space = ws.size();
  std::align(256, ws_bytes, ws_ptr, space);
  const Workspace workspace{ws_ptr, ws_bytes, Device::cpu()};
  plan_decode(shape, ht.lengths_view(), workspace);

  const std::size_t rows = std::size_t(p.batch) * p.s_q * p.h_q;
  std::vector<std::uint16_t> out8(rows * kDimLatent), out16(rows * kDimLatent);
  std::vector<float> lse8(rows), lse16(rows);
  DecodeArgs args{shape, ht.block_table_view(), ht.lengths_view(), workspace, {}, {}};
  DecodeOptions opts;
  opts.causal = p.causal;
  opts.softmax_scale = p.softmax_scale;

  using clock = std::chrono::steady_clock;
  args.out = TensorView::contiguous(out8.data(), DType::kBFloat16, {p.batch, p.s_q, p.h_q, kDimLatent});
  args.lse = TensorView::contiguous(lse8.data(), DType::kFloat32, {p.batch, p.h_q, p.s_q});
  auto t0 = clock::now();
  decode_fp8(fq.view(), fc.view(), args, opts);
  r.fp8_us = std::chrono::duration<double, std::micro>(clock::now() - t0).count();

  args.out = TensorView::contiguous(out16.data(), DType::kBFloat16, {p.batch, p.s_q, p.h_q, kDimLatent});
  args.lse = TensorView::contiguous(lse16.data(), DType::kFloat32, {p.batch, p.h_q, p.s_q});
  t0 = clock::now();
  decode_bf16(ht.q_view(), Bf16Cache{ht.bf16_cache_view()}, args, opts);
  r.bf16_us = std::chrono::duration<double, std::micro>(clock::now() - t0).count();

  r.fp8 = synth::to_host_result(out8, lse8);
  r.bf16 = synth::to_host_result(out16, lse16);
  return r;
}

#if SNAPMLA_WITH_CUDA
DemoResult run_gpu(synth::HostTensors& ht, const ref::HostProblem& p, int reps) {
  DemoResult r;
  const Device dev = Device::cuda(0);
  cuda_host::Stream stream_handle;
  cudaStream_t stream = stream_handle.get();
  const std::int64_t b = p.batch, sq = p.s_q, hq = p.h_q, pages = p.num_pages;
  const std::int64_t n_new = static_cast<std::int64_t>(ht.slots.size());

  DeviceBytes q = DeviceBytes::from_host(ht.q);
  DeviceBytes kv16 = DeviceBytes::from_host(ht.kv_bf16);
  DeviceBytes new_kv = DeviceBytes::from_host(ht.new_kv);
  DeviceBytes slots = DeviceBytes::from_host(ht.slots);
  DeviceBytes bt = DeviceBytes::from_host(ht.block_table);
  DeviceBytes lens = DeviceBytes::from_host(ht.lengths);
  DeviceBytes kv8(std::size_t(pages) * kPageSize * kDimLatent);
  DeviceBytes kscale(std::size_t(pages) * kPageSize * sizeof(float));
  DeviceBytes krope(std::size_t(pages) * kPageSize * kDimRope * 2);
  SNAPMLA_CUDA_CHECK(cudaMemset(kv8.get(), 0, kv8.bytes()));
  SNAPMLA_CUDA_CHECK(cudaMemset(kscale.get(), 0, kscale.bytes()));
  SNAPMLA_CUDA_CHECK(cudaMemset(krope.get(), 0, krope.bytes()));
  const std::size_t rows = std::size_t(b * sq * hq);
  DeviceBytes qn(rows * kDimLatent), qs(rows * sizeof(float)), qr(rows * kDimRope * 2);
  DeviceBytes out8(rows * kDimLatent * 2), out16(rows * kDimLatent * 2);
  DeviceBytes lse8(rows * sizeof(float)), lse16(rows * sizeof(float));
  const DecodeShape shape{p.batch, p.s_q, p.h_q, 0, p.max_pages};
  DeviceBytes ws(decode_workspace_bytes(shape, dev));
  const Workspace workspace{ws.get(), ws.bytes(), dev};

  auto view = [&](const DeviceBytes& buf, DType t, std::initializer_list<std::int64_t> shp) {
    return TensorView::contiguous(buf.get(), t, shp, dev);
  };
  const TensorView q_view = view(q, DType::kBFloat16, {b, sq, hq, kDimQK});
  const Fp8Query fq{view(qn, DType::kFloat8E4M3, {b, sq, hq, kDimLatent}),
                    view(qs, DType::kFloat32, {b, sq, hq}),
                    view(qr, DType::kBFloat16, {b, sq, hq, kDimRope})};
  const Fp8Cache fc{view(kv8, DType::kFloat8E4M3, {pages, kPageSize, kDimLatent}),
                    view(kscale, DType::kFloat32, {pages, kPageSize}),
                    view(krope, DType::kBFloat16, {pages, kPageSize, kDimRope})};
  const Bf16Cache bc{view(kv16, DType::kBFloat16, {pages, kPageSize, kDimQK})};
  const TensorView lengths = view(lens, DType::kInt32, {b});
  const TensorView block_table = view(bt, DType::kInt32, {b, p.max_pages});

  quantize_query(q_view, fq, stream);
  if (n_new > 0)
    append_kv(view(new_kv, DType::kBFloat16, {n_new, kDimQK}), view(slots, DType::kInt32, {n_new}),
              fc, stream);
  plan_decode(shape, lengths, workspace, stream);

  DecodeArgs a8{shape, block_table, lengths, workspace,
                view(out8, DType::kBFloat16, {b, sq, hq, kDimLatent}), view(lse8, DType::kFloat32, {b, hq, sq})};
  DecodeArgs a16 = a8;
  a16.out = view(out16, DType::kBFloat16, {b, sq, hq, kDimLatent});
  a16.lse = view(lse16, DType::kFloat32, {b, hq, sq});
  DecodeOptions opts;
  opts.causal = p.causal;
  opts.softmax_scale = p.softmax_scale;
  opts.stream = stream;

  auto time_us = [&](auto&& call) {
    for (int i = 0; i < 3; ++i) call();
    Event start, stop;
    std::vector<double> us;
    for (int i = 0; i < reps; ++i) {
      SNAPMLA_CUDA_CHECK(cudaEventRecord(start.get(), stream));
      call();
      SNAPMLA_CUDA_CHECK(cudaEventRecord(stop.get(), stream));
      SNAPMLA_CUDA_CHECK(cudaEventSynchronize(stop.get()));
      float ms = 0;
      SNAPMLA_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
      us.push_back(ms * 1000.0);
    }
    return median(us);
  };
  decode_fp8(fq, fc, a8, opts);
  decode_bf16(q_view, bc, a16, opts);
  SNAPMLA_CUDA_CHECK(cudaStreamSynchronize(stream));
  SNAPMLA_CUDA_CHECK(cudaGetLastError());
  r.fp8 = synth::to_host_result(out8.to_host<std::uint16_t>(), lse8.to_host<float>());
  r.bf16 = synth::to_host_result(out16.to_host<std::uint16_t>(), lse16.to_host<float>());
  r.fp8_us = time_us([&] { decode_fp8(fq, fc, a8, opts); });
  r.bf16_us = time_us([&] { decode_bf16(q_view, bc, a16, opts); });
  SNAPMLA_CUDA_CHECK(cudaStreamSynchronize(stream));
  return r;
}
#endif

}  // namespace

int run_demo(const DemoOptions& o) {
  const bool have_gpu = cuda_available();
  const bool gpu = have_gpu && !o.force_cpu;
  synth::ProblemOptions po;
  po.seed = o.seed;
  po.threads = o.threads;
  if (gpu) {
    po.batch = 32;
    po.h_q = 16;
    po.length = 8192;
  } else {
    po.batch = 4;
    po.h_q = 16;
    po.lengths = {4096, 2048, 1000, 1};
  }
  po.s_q = 1;
  std::string where;
  if (gpu) {
#if SNAPMLA_WITH_CUDA
    where = "GPU " + device_name(0);
#endif
    std::printf("snapmla demo: running one decode step on the %s\n", where.c_str());
  } else if (have_gpu) {
    std::printf("snapmla demo: --cpu: running the CPU reference on a small case\n");
  } else {
    std::printf("snapmla demo: no GPU found: running the CPU reference on a small case\n");
  }

  const ref::HostProblem p = synth::make_problem(po);
  std::int64_t tokens = 0;
  for (int len : p.lengths) tokens += len;
  std::vector<int> lens(p.lengths.begin(), p.lengths.end());
  std::printf("problem: b=%d s_q=%d h_q=%d, lengths [%s] (%lld tokens, %d pages in a permuted "
              "block table), realistic synthetic MLA data, seed %llu\n",
              p.batch, p.s_q, p.h_q, join_ints(lens, ", ").c_str(), static_cast<long long>(tokens),
              p.num_pages, static_cast<unsigned long long>(o.seed));
  std::printf("public API on %s views: quantize_query -> append_kv -> plan_decode -> "
              "decode_fp8 | decode_bf16\n\n",
              gpu ? "CUDA" : "CPU");

  synth::HostTensors ht(p);
  const ref::HostResult truth = ref::attention_truth(p, o.threads);
  DemoResult r;
  if (gpu) {
#if SNAPMLA_WITH_CUDA
    r = run_gpu(ht, p, o.reps);
#endif
  } else {
    r = run_cpu(ht, p);
  }
  const ref::ErrorMetrics m8 = ref::compare(r.fp8, truth);
  const ref::ErrorMetrics m16 = ref::compare(r.bf16, truth);

  std::printf("accuracy against the float64 truth (outputs rounded to bf16 by both paths):\n");
  Table t(metrics_headers(), {true, true});
  t.add_row(metrics_row("fp8", "SnapMLA FP8 cache + FP8 P (decode_fp8)", m8));
  t.add_row(metrics_row("bf16", "BF16 cache + BF16 P (decode_bf16)", m16));
  std::printf("%s\n", t.render("  ").c_str());

  const double b8 = double(kBytesPerTokenFp8) * tokens, b16 = double(kBytesPerTokenBf16) * tokens;
  std::printf("KV cache: FP8 %d bytes/token vs BF16 %d bytes/token -> %.2f MB vs %.2f MB for these "
              "%lld tokens: %.2f MB saved (%.1f%%), %.2fx smaller\n",
              kBytesPerTokenFp8, kBytesPerTokenBf16, b8 / 1e6, b16 / 1e6,
              static_cast<long long>(tokens), (b16 - b8) / 1e6, 100.0 * (b16 - b8) / b16,
              double(kBytesPerTokenBf16) / kBytesPerTokenFp8);
  if (gpu) {
    std::printf("decode time (eager calls, CUDA events, median of %d): fp8 %.1f us, bf16 %.1f us, "
                "bf16/fp8 = %.2fx\n",
                o.reps, r.fp8_us, r.bf16_us, r.fp8_us > 0 ? r.bf16_us / r.fp8_us : 0.0);
  } else {
    std::printf("decode time (CPU reference, one call, not representative of the GPU): fp8 %.1f ms, "
                "bf16 %.1f ms\n",
                r.fp8_us / 1000.0, r.bf16_us / 1000.0);
  }
  const bool ok = m8.non_finite == 0 && m16.non_finite == 0;
  if (!ok) std::printf("WARNING: non-finite outputs\n");
  return ok ? 0 : 1;
}

}  // namespace snapmla::tool
