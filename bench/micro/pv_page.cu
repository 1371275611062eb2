// Design microbenchmark for the 64-row kernel's PV step (docs/perf.md, "PV of one page, measured
// alone"): cycles of one block's PV for a warpgroup's 256 output dims (4 dim tiles of 64 x the
// tile's 64 query rows, 2 e4m3 k-steps of 32 tokens each), in the forms a 64-row kernel could
// use. Operands resident in shared memory (a page in the cache layout, P8^T in the exchange
// slot's SW64 layout, and for the smem-A forms a V^T copy in SW64); no TMA, QK or softmax. Each
// CTA (one an SM) runs `pages` blocks a warpgroup and times itself with clock64; O is summed into
// a sink so that nothing is optimised away. Built with -DSNAPMLA_BUILD_MICROBENCH=ON.
//   kernel  : the kernel's own accumulate_pv_block (decode_wgmma/components/pv.cuh)
//   the generic forms pv_form<N, depth, smem A, chain> (without the kernel's check of the rows'
//   alpha, a branch not taken here, where every alpha is 1):
//     N      wgmma N: 64 (a whole dim tile a group) or 32 (half the query rows a group)
//     depth  groups in flight (staging accumulators of N / 2 registers)
//     smemA  A = V^T from a shared-memory copy (SS) instead of ldmatrix.trans + permutes (RS)
//     chain  no staging and no fold: the block product added into O by the tensor cores (the
//            floor if the arithmetic allowed it; not the emulation's numerics)
//   "n64 d2 votes": the generic form with the kernel's test of the owner's rescale votes
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <vector>

#include "harness.h"
#include "kernels/sm90/decode_wgmma/components/pv.cuh"

using namespace snapmla::kernels::decode_wgmma;
namespace narrow = snapmla::kernels::decode_narrow;
using snapmla::kDimLatent;
namespace micro = snapmla::micro;

namespace {

using micro::check;

constexpr int kAlign = micro::kSmemAlign;
constexpr int kVtTileBytes = 64 * 64;  // V^T of one dim tile: 64 dims x 64 tokens, SW64

struct alignas(kAlign) Smem {
  PageStage stage[2];
  ExchangeSlot slot[2];
  alignas(16) RescaleVotes votes[2];
  alignas(kAlign) std::uint8_t vt[2][kPvChunks * kWarpgroups][kVtTileBytes];
};

namespace gmma = cute::SM90::GMMA;

// One e4m3 k-step of the group: C (R registers) (+)= A x B. A from registers (a) or from the
// shared V^T copy (desc_a); B = P8^T rows n0 .. n0 + N - 1.
template <int N>
__device__ __forceinline__ void mma_step(const std::uint32_t (&a)[4], std::uint64_t desc_a, bool smem_a,
                                         std::uint64_t desc_b, float* d, bool accumulate) {
  const auto so = accumulate ? gmma::ScaleOut::One : gmma::ScaleOut::Zero;
  if constexpr (N == 64) {
#define D32 d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15], \
            d[16], d[17], d[18], d[19], d[20], d[21], d[22], d[23], d[24], d[25], d[26], d[27], d[28], d[29], d[30], d[31]
    if (smem_a) gmma::MMA_64x64x32_F32E4M3E4M3_SS_TN<>::fma(desc_a, desc_b, D32, so);
    else gmma::MMA_64x64x32_F32E4M3E4M3_RS_TN<>::fma(a[0], a[1], a[2], a[3], desc_b, D32, so);
#undef D32
  } else {
#define D16 d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]
    if (smem_a) gmma::MMA_64x32x32_F32E4M3E4M3_SS_TN<>::fma(desc_a, desc_b, D16, so);
    else gmma::MMA_64x32x32_F32E4M3E4M3_RS_TN<>::fma(a[0], a[1], a[2], a[3], desc_b, D16, so);
#undef D16
  }
}

template <int N, int kDepth, bool kSmemA, bool kChain, bool kVotes = false>
__device__ __forceinline__ void pv_form(const Smem& sm, int pg, int wg, OutputAcc& o) {
  constexpr int H = 64 / N;            // groups a dim tile
  constexpr int G = kPvChunks * H;     // groups a block
  constexpr int R = N / 2;             // accumulator registers a group
  const ExchangeSlot& slot = sm.slot[pg];
  const int lane = threadIdx.x % kWarpThreads, warp = (threadIdx.x / kWarpThreads) % 4, t = lane % 4;
  const std::uint32_t page = smem_u32(sm.stage[pg].content) + lane * kSw128RowBytes;
  std::uint32_t swizzled[2];
#pragma unroll
  for (int v = 0; v < 2; ++v) swizzled[v] = ((4 * v + warp) ^ (lane % 8)) * kChunkBytes;
  const narrow::FragmentMasks masks{};

  std::uint32_t raw[kPvKSteps][4], a[kPvChunks][kPvKSteps][4];
  float part[kDepth][R];
  const std::uint32_t p8 = smem_u32(slot.p8);
  const std::uint32_t vt = smem_u32(sm.vt[pg][kPvChunks * wg]);
  const auto load_raw = [&](int i) {
    if constexpr (!kSmemA) {
      const std::uint32_t base = page + (2 * wg + i / 2) * (kTokensPerBlock * kSw128RowBytes) + swizzled[i % 2];
#pragma unroll
      for (int ks = 0; ks < kPvKSteps; ++ks) snapmla::kernels::decode_tc::ldsm_x4_trans(base + ks * 32 * kSw128RowBytes, raw[ks]);
    }
  };
  const auto make_a = [&](int i) {
    if constexpr (!kSmemA) {
#pragma unroll
      for (int ks = 0; ks < kPvKSteps; ++ks) narrow::v_fragments<false>(raw[ks], masks, ks, a[i][ks]);
    }
  };
  const auto acc_of = [&](int g) -> float* {
    if constexpr (kChain) return &o[g / H][R * (g % H)];
    else return part[g % kDepth];
  };
  const auto issue = [&](int g) {
    const int i = g / H, h = g % H;
    float* d = acc_of(g);
#pragma unroll
    for (int k = 0; k < R; ++k) cute::warpgroup_fence_operand(d[k]);
    cute::warpgroup_arrive();
#pragma unroll
    for (int ks = 0; ks < kPvKSteps; ++ks)
      mma_step<N>(a[i][ks], sw64_desc(vt + i * kVtTileBytes + ks * 32), kSmemA,
                  sw64_desc(p8 + h * N * kSw64RowBytes + ks * 32), d, kChain || ks > 0);
    cute::warpgroup_commit_batch();
  };
  const auto fold = [&](int g) {
    const int i = g / H, h = g % H;
    float* d = acc_of(g);
#pragma unroll
    for (int k = 0; k < R; ++k) cute::warpgroup_fence_operand(d[k]);
    if constexpr (!kChain) {
#pragma unroll
      for (int j = 0; j < R / 4; ++j) {
        const float2 unmult = *reinterpret_cast<const float2*>(&slot.unmult[8 * (j + (R / 4) * h) + 2 * t]);
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          const int k = 4 * j + q;
          o[i][R * h + k] = snapmla::kernels::fold_block_unscaled(o[i][R * h + k], q % 2 == 0 ? unmult.x : unmult.y, d[k]);
        }
      }
    }
  };
  // kVotes: the kernel's test of the owner's rescale votes (a branch not taken here).
  int4 votes{};
  if constexpr (kVotes) votes = *reinterpret_cast<const int4*>(sm.votes[pg]);
  load_raw(0);
  make_a(0);
  if (kPvChunks > 1) load_raw(1);
#pragma unroll
  for (int g = 0; g < G; ++g) {
    const int i = g / H, h = g % H;
    if (h == 0 && i > 0) {  // tile i's fragments, and the next tile's ldmatrix
      make_a(i);
      if (i + 1 < kPvChunks) load_raw(i + 1);
    }
    issue(g);
    if (kVotes && g == 0 && (votes.x | votes.y | votes.z | votes.w) != 0) {
#pragma unroll
      for (int ii = 0; ii < kPvChunks; ++ii)
#pragma unroll
        for (int k = 0; k < kPvChunkRegs; ++k) o[ii][k] = __fmul_rn(o[ii][k], slot.alpha[8 * (k / 4) + 2 * t + k % 2]);
    }
    if (g >= kDepth - 1) {
      cute::warpgroup_wait<kDepth - 1>();
      fold(g - (kDepth - 1));
    }
  }
  cute::warpgroup_wait<0>();
#pragma unroll
  for (int g = G - (kDepth - 1); g < G; ++g)
    if (g >= 0) fold(g);
}

// Form 0: the kernel's own PV; 1: pv_form; 2: pv_form with the kernel's test of the votes.
template <int kForm, int N, int kDepth, bool kSmemA, bool kChain>
__global__ void __launch_bounds__(kThreads, 1) pv_kernel(int pages, bool both, long long* cycles, float* sink) {
  extern __shared__ __align__(16) unsigned char raw[];
  auto& sm = micro::resident_operands<Smem>(raw);
  // alpha 1 and no warp's rescale vote (no rescale), unmult small.
  for (int i = threadIdx.x; i < 2 * kRowsPerCta; i += kThreads) {
    sm.slot[i / kRowsPerCta].alpha[i % kRowsPerCta] = 1.0f;
    sm.slot[i / kRowsPerCta].unmult[i % kRowsPerCta] = 1.0f / 4096;
    if (i % 16 == 0) sm.votes[i / kRowsPerCta][(i % kRowsPerCta) / 16] = 0;
  }
  fence_view_async_shared();
  __syncthreads();
  const int wg = warpgroup_index();
  const bool active = both || wg == 0;
  OutputAcc o;
#pragma unroll
  for (int i = 0; i < kPvChunks; ++i)
#pragma unroll
    for (int k = 0; k < kPvChunkRegs; ++k) o[i][k] = 0.0f;
  const long long t0 = clock64();
  if (active) {
    for (int p = 0; p < pages; ++p) {
      if constexpr (kForm == 0) {
        accumulate_pv_block<false>(sm.slot[p % 2], sm.votes[p % 2], sm.stage[p % 2], wg, kTokensPerBlock, kTokensPerBlock, o, [] {});
      } else {
        pv_form<N, kDepth, kSmemA, kChain, kForm == 2>(sm, p % 2, wg, o);
      }
    }
  }
  const long long t1 = clock64();
  float total = 0.0f;
#pragma unroll
  for (int i = 0; i < kPvChunks; ++i)
#pragma unroll
    for (int k = 0; k < kPvChunkRegs; ++k) total += o[i][k];
  if (threadIdx.x % kWarpgroupThreads == 0) cycles[blockIdx.x * kWarpgroups + wg] = active ? t1 - t0 : 0;
  sink[blockIdx.x * kThreads + threadIdx.x] = total;
}

template <int kForm, int N, int kDepth, bool kSmemA, bool kChain>
void run(const char* name, int pages, int blocks, bool both) {
  const auto t = micro::time_launch(name, pv_kernel<kForm, N, kDepth, kSmemA, kChain>, blocks, kThreads,
                                    int(sizeof(Smem)) + kAlign, kWarpgroups, pages, both);
  const double c0 = t.mean(0, pages), c1 = t.mean(1, pages);
  // Cycles a block a warpgroup (256 dims); a page (512 dims) takes that once with both
  // warpgroups busy, twice with one.
  std::printf("%-14s %-4s cycles a block: wg0 %6.0f wg1 %6.0f -> a page (512 dims) %6.0f\n", name,
              both ? "both" : "wg0", c0, c1, both ? (c0 > c1 ? c0 : c1) : 2 * c0);
}

template <int kForm, int N, int kDepth, bool kSmemA, bool kChain>
void run_both(const char* name, int pages, int blocks) {
  run<kForm, N, kDepth, kSmemA, kChain>(name, pages, blocks, true);
  run<kForm, N, kDepth, kSmemA, kChain>(name, pages, blocks, false);
}


// The rate of e4m3 wgmma m64nNk32 (SS) by N: each warpgroup chains kSteps k-steps into one
// accumulator (a GEMM main loop's form), both warpgroups at once. Peak: N / 2 cycles an
// instruction (64 x N x 32 MACs at 4,096 a cycle an SM).
template <class Op, int R, std::size_t... I>
__device__ __forceinline__ void ss_call(std::uint64_t a, std::uint64_t b, float (&d)[R], bool accumulate,
                                        std::index_sequence<I...>) {
  Op::fma(a, b, d[I]..., accumulate ? gmma::ScaleOut::One : gmma::ScaleOut::Zero);
}
template <int N>
__global__ void __launch_bounds__(kThreads, 1) rate_kernel(int iters, long long* cycles, float* sink) {
  using Op = std::conditional_t<N == 64, gmma::MMA_64x64x32_F32E4M3E4M3_SS_TN<>,
                                std::conditional_t<N == 128, gmma::MMA_64x128x32_F32E4M3E4M3_SS_TN<>,
                                                   gmma::MMA_64x256x32_F32E4M3E4M3_SS_TN<>>>;
  constexpr int R = N / 2;
  constexpr int kSteps = 16;
  extern __shared__ __align__(16) unsigned char raw[];
  auto& sm = micro::resident_operands<Smem>(raw);
  const int wg = warpgroup_index();
  // A: 64 rows of the warpgroup's page (SW128), B: N rows of page 1 - wg (SW128, 64 rows a
  // 128-byte column block: rows past 64 run into the next block, which is as good for timing).
  const std::uint64_t a = sw128_desc(smem_u32(sm.stage[wg].content));
  const std::uint64_t b = sw128_desc(smem_u32(sm.stage[1 - wg].content));
  float d[R];
#pragma unroll
  for (int k = 0; k < R; ++k) d[k] = 0.0f;
  const long long t0 = clock64();
  for (int it = 0; it < iters; ++it) {
#pragma unroll
    for (int k = 0; k < R; ++k) cute::warpgroup_fence_operand(d[k]);
    cute::warpgroup_arrive();
#pragma unroll
    for (int ks = 0; ks < kSteps; ++ks)
      ss_call<Op>(advance_desc(a, (ks % 4) * 32), advance_desc(b, (ks % 4) * 32), d, true,
                  std::make_index_sequence<R>{});
    cute::warpgroup_commit_batch();
    cute::warpgroup_wait<0>();
  }
#pragma unroll
  for (int k = 0; k < R; ++k) cute::warpgroup_fence_operand(d[k]);
  const long long t1 = clock64();
  float total = 0.0f;
#pragma unroll
  for (int k = 0; k < R; ++k) total += d[k];
  if (threadIdx.x % kWarpgroupThreads == 0) cycles[blockIdx.x * kWarpgroups + wg] = t1 - t0;
  sink[blockIdx.x * kThreads + threadIdx.x] = total;
  (void)kSteps;
}

template <int N>
void run_rate(int iters, int blocks) {
  const auto t = micro::time_launch("rate", rate_kernel<N>, blocks, kThreads, int(sizeof(Smem)) + kAlign, kWarpgroups,
                                    iters);
  const double c = (t.mean(0, iters * 16.0) + t.mean(1, iters * 16.0)) / 2;  // cycles a wgmma a warpgroup
  // Two warpgroups share the SM's tensor cores: an instruction costs the SM c / 2 cycles.
  std::printf("rate m64n%dk32 e4m3 SS, both warpgroups: %6.1f SM cycles an instruction (peak %d: %3.0f %%)\n", N,
              c / 2, N / 2, 100.0 * (N / 2) / (c / 2));
}

}  // namespace

int main() {
  const int sms = micro::sm_count();
  const int pages = 4096;
  run_both<0, 64, 2, false, false>("kernel", pages, sms);
  run_both<1, 64, 2, false, false>("n64 d2", pages, sms);
  run_both<2, 64, 2, false, false>("n64 d2 votes", pages, sms);
  run_both<1, 64, 3, false, false>("n64 d3", pages, sms);
  run_both<1, 32, 2, false, false>("n32 d2", pages, sms);
  run_both<1, 32, 3, false, false>("n32 d3", pages, sms);
  run_both<1, 32, 4, false, false>("n32 d4", pages, sms);
  run_both<1, 64, 2, true, false>("n64 d2 smemA", pages, sms);
  run_both<1, 32, 4, true, false>("n32 d4 smemA", pages, sms);
  run_both<1, 64, 8, false, true>("n64 chain", pages, sms);
  run_both<1, 64, 8, true, true>("n64 chain smA", pages, sms);
  run_rate<64>(2048, sms);
  run_rate<128>(2048, sms);
  run_rate<256>(2048, sms);
  return 0;
}
