// Design microbenchmark for the 64-row kernel (docs/perf.md, "QK of one page, measured alone"):
// cycles of one page's QK (64 query rows x 576 dims, e4m3 content with an fp32 promotion every
// k-step + the bf16 RoPE chain) in the shapes a redesigned 64-row kernel could use. Operands in
// shared memory only: no TMA, no V^T transposer, no softmax. Each CTA (one per SM) scores
// `pages` pages from two resident page buffers and times itself with clock64; the scores are
// summed into a sink so that nothing is optimised away (a partly unused accumulator also makes
// ptxas serialise the wgmmas, C7511). Built with -DSNAPMLA_BUILD_MICROBENCH=ON; prints a table.
//   cur     : both warpgroups, m64n32 each on half the page's tokens (v39's kernel)
//   full1   : warpgroup 0 alone, m64n64 on all 64 tokens, 2 staging accumulators
//   full1s1 : the same, 1 staging accumulator
//   full2   : both warpgroups, m64n64 each on its own page (a seesaw's QK overlap, worst case)
//   full2s1 : the same, 1 staging accumulator
//   full2s3 : the same, 3 staging accumulators (more registers than the kernel has beside O)
//   halfN   : both warpgroups, each scores its own page in two halves of 32 tokens one after the
//             other (m64n32, Q read twice), N staging accumulators of 16 registers
//   full2pK : full2 with an fp32 promotion every K e4m3 k-steps instead of every one (not the
//             kernel's arithmetic: what a looser promotion rule would give)
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "harness.h"
#include "kernels/sm90/decode_narrow/components/mma.cuh"
#include "kernels/sm90/decode_wgmma/components/wgmma_ops.cuh"

using namespace snapmla::kernels::decode_wgmma;
namespace narrow = snapmla::kernels::decode_narrow;
using snapmla::kDimLatent;
using snapmla::kDimRope;
namespace micro = snapmla::micro;

namespace {

using micro::check;

constexpr int kAlign = micro::kSmemAlign;

struct alignas(kAlign) Smem {  // the query tile and two pages, in the kernel's SW128 layouts
  alignas(kAlign) std::uint8_t q[kRowsPerCta * kDimLatent];
  alignas(kAlign) std::uint8_t qr[kRowsPerCta * 2 * kDimRope];
  alignas(kAlign) std::uint8_t k[2][kTokensPerBlock * kDimLatent];
  alignas(kAlign) std::uint8_t kr[2][kTokensPerBlock * 2 * kDimRope];
};

// One page's scores: tokens token0 .. token0 + N - 1 of page buffer `pg`, an fp32 promotion every
// kKPerGroup e4m3 k-steps (the kernel: 1).
template <int N, int kStaging, int kKPerGroup = 1>
__device__ __forceinline__ void page_qk(const Smem& sm, int pg, int token0, float (&s)[N / 2]) {
  constexpr int R = N / 2;
  float part[kStaging][R];
#pragma unroll
  for (int i = 0; i < R; ++i) {
    s[i] = 0.0f;
#pragma unroll
    for (int b = 0; b < kStaging; ++b) part[b][i] = 0.0f;
  }
  const std::uint64_t a_c = sw128_desc(smem_u32(sm.q));
  const std::uint64_t b_c = sw128_desc(smem_u32(sm.k[pg]) + token0 * kSw128RowBytes);
  const std::uint64_t a_r = sw128_desc(smem_u32(sm.qr));
  const std::uint64_t b_r = sw128_desc(smem_u32(sm.kr[pg]) + token0 * kSw128RowBytes);
  const auto issue = [&](int grp, float(&st)[R]) {
    if (grp < kContentKSteps / kKPerGroup) {  // kKPerGroup e4m3 k-steps a group, then a promotion
#pragma unroll
      for (int kk = 0; kk < kKPerGroup; ++kk) {
        const int k = (grp * kKPerGroup + kk) * kContentKStepBytes;
        narrow::qk_content<N>(advance_desc(a_c, sw128_offset(kRowsPerCta, 0, k)),
                              advance_desc(b_c, sw128_offset(kTokensPerBlock, 0, k)), st, kk > 0);
      }
    } else {  // the bf16 RoPE chain
#pragma unroll
      for (int ks = 0; ks < kRopeKSteps; ++ks)
        narrow::qk_rope<N>(advance_desc(a_r, ks * kRopeKStepBytes), advance_desc(b_r, ks * kRopeKStepBytes), st,
                           ks > 0);
    }
  };
  staged_groups<kContentKSteps / kKPerGroup + 1, kStaging>(s, part, issue, [](int) {}, [&](float(&st)[R]) { add_promoted(s, st); });
}

// Form (N, kStaging, kBothWarpgroups): m64nN scores a warpgroup, kStaging staging accumulators,
// both warpgroups busy or warpgroup 0 alone. N = 32: the two warpgroups split one page's tokens
// (v39's 64-row kernel); N = 64: each scores whole pages (the seesaw's form, v40), warpgroup 1
// the other page buffer.
template <int N, int kStaging, bool kBothWarpgroups, bool kHalves = false, int kKPerGroup = 1>
__global__ void __launch_bounds__(kThreads, 1) qk_kernel(int pages, long long* cycles, float* sink) {
  extern __shared__ __align__(16) unsigned char raw[];
  auto& sm = micro::resident_operands<Smem>(raw);
  const int wg = warpgroup_index();
  const bool active = kBothWarpgroups || wg == 0;
  float total = 0.0f;
  const long long t0 = clock64();
  if (active) {
    for (int p = 0; p < pages; ++p) {
      float s[N / 2];
      if constexpr (kHalves) {  // the whole page in two m64n32 passes
        float s_hi[N / 2];
        page_qk<N, kStaging>(sm, (p + wg) % 2, 0, s);
        page_qk<N, kStaging>(sm, (p + wg) % 2, N, s_hi);
#pragma unroll
        for (int i = 0; i < N / 2; ++i) total += s_hi[i];
      } else if constexpr (N == 32) {
        page_qk<N, kStaging>(sm, p % 2, wg * N, s);
      } else {
        page_qk<N, kStaging, kKPerGroup>(sm, (p + wg) % 2, 0, s);
      }
#pragma unroll
      for (int i = 0; i < N / 2; ++i) total += s[i];  // every score used, or ptxas serialises the wgmmas (C7511)
    }
  }
  const long long t1 = clock64();
  if (threadIdx.x % kWarpgroupThreads == 0) cycles[blockIdx.x * kWarpgroups + wg] = active ? t1 - t0 : 0;
  sink[blockIdx.x * kThreads + threadIdx.x] = total;
}

template <int N, int kStaging, bool kBothWarpgroups, bool kHalves = false, int kKPerGroup = 1>
void run(const char* name, int pages, int blocks) {
  const auto t = micro::time_launch(name, qk_kernel<N, kStaging, kBothWarpgroups, kHalves, kKPerGroup>, blocks, kThreads,
                                    int(sizeof(Smem)) + kAlign, kWarpgroups, pages);
  const double c0 = t.mean(0, pages), c1 = t.mean(1, pages);
  // Pages scored a CTA an iteration: one (the warpgroups share it, or warpgroup 0 alone), or two
  // (both warpgroups on whole pages).
  const int pages_per_iteration = (N == 64 || kHalves) && kBothWarpgroups ? 2 : 1;
  const double per_page = (c0 > c1 ? c0 : c1) / pages_per_iteration;
  std::printf("%-8s cycles/iteration wg0 %7.0f wg1 %7.0f -> cycles per scored page %7.0f  (%.3f ms, %.0f ns/page/SM)\n",
              name, c0, c1, per_page, t.ms, t.ms * 1e6 / (double(pages) * pages_per_iteration));
}

}  // namespace

int main() {
  const int sms = micro::sm_count();
  const int pages = 2048;
  run<32, 2, true>("cur", pages, sms);
  run<64, 2, false>("full1", pages, sms);
  run<64, 1, false>("full1s1", pages, sms);
  run<64, 2, true>("full2", pages, sms);
  run<64, 1, true>("full2s1", pages, sms);
  run<64, 3, true>("full2s3", pages, sms);
  run<32, 2, true, true>("half2", pages, sms);
  run<32, 3, true, true>("half3", pages, sms);
  run<32, 4, true, true>("half4", pages, sms);
  run<64, 2, true, false, 2>("full2p2", pages, sms);
  run<64, 2, true, false, 4>("full2p4", pages, sms);
  run<64, 2, true, false, 16>("full2p16", pages, sms);
  return 0;
}
