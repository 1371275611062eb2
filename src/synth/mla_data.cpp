// Seeded synthetic MLA decode problems (see mla_data.h for the model of the data).
#include "synth/mla_data.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>

#include "common/codecs.h"
#include "snapmla/error.h"

namespace snapmla::synth {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kPairs = kDimRope / 2;     // 32 RoPE channel pairs
constexpr int kOutlierChannels = 6;

[[noreturn]] void fail(const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, "make_problem: " + what);
}

std::uint64_t mix64(std::uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Portable samplers on top of mt19937_64 (std:: distributions differ between libraries).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  double uniform() { return double(engine_() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  std::uint64_t below(std::uint64_t n) { return engine_() % n; }  // fine for small n
  double normal() {  // Marsaglia's polar method
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u, v, w;
    point_in_unit_disc(u, v, w);
    const double f = std::sqrt(-2.0 * std::log(w) / w);
    spare_ = v * f;
    has_spare_ = true;
    return u * f;
  }
  double student_t3() {  // Student-t, 3 degrees of freedom (Bailey's polar method)
    double u, v, w;
    point_in_unit_disc(u, v, w);
    return u * std::sqrt(3.0 * (std::pow(w, -2.0 / 3.0) - 1.0) / w);
  }
  double lognormal(double sigma) { return std::exp(sigma * normal()); }
  std::mt19937_64& engine() { return engine_; }

 private:
  // A uniform point (u, v) of the open unit disc without its centre, w = u^2 + v^2: the
  // rejection step both polar methods share.
  void point_in_unit_disc(double& u, double& v, double& w) {
    do {
      u = 2.0 * uniform() - 1.0;
      v = 2.0 * uniform() - 1.0;
      w = u * u + v * v;
    } while (w >= 1.0 || w == 0.0);
  }

  std::mt19937_64 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

float bf16r(double x) { return round_to_bf16(static_cast<float>(x)); }
float clip(double x, double c) { return static_cast<float>(std::clamp(x, -c, c)); }

// The "layer": structure shared by every token and query of the problem.
struct Layer {
  std::array<float, kDimLatent> chan_scale{};  // per-channel std of c_kv (outliers included)
  std::array<float, kPairs> pair_scale{};      // per-pair magnitude of k_rope
  std::array<float, kPairs> pair_phase{};      // per-pair mean direction (angle)
  std::array<double, kPairs> pair_theta{};     // RoPE frequency per pair
  std::array<float, kDimLatent> sink_dir{};    // unit vector u shared by sinks and queries
};

Layer make_layer(Rng& rng) {
  Layer L;
  for (int d = 0; d < kDimLatent; ++d) L.chan_scale[d] = static_cast<float>(0.6 * rng.lognormal(0.25));
  for (int k = 0; k < kOutlierChannels; ++k) {
    const int d = static_cast<int>(rng.below(kDimLatent));
    L.chan_scale[d] *= static_cast<float>(rng.uniform(3.0, 5.0));
  }
  // Pair magnitudes grow geometrically from 0.3 (pair 0, high frequency) to 60 (pair 31, low
  // frequency); Student-t tails on top reach the +-1000 clip now and then.
  for (int j = 0; j < kPairs; ++j) {
    L.pair_scale[j] = static_cast<float>(0.3 * std::pow(200.0, double(j) / (kPairs - 1)) *
                                         rng.lognormal(0.2));
    L.pair_phase[j] = static_cast<float>(rng.uniform(0.0, 2.0 * kPi));
    L.pair_theta[j] = std::pow(10000.0, -double(j) / kPairs);
  }
  double norm = 0.0;
  for (int d = 0; d < kDimLatent; ++d) {
    L.sink_dir[d] = static_cast<float>(rng.normal());
    norm += double(L.sink_dir[d]) * L.sink_dir[d];
  }
  norm = std::sqrt(norm);
  for (int d = 0; d < kDimLatent; ++d) L.sink_dir[d] = static_cast<float>(L.sink_dir[d] / norm);
  return L;
}

// One token row (576 floats) of the realistic distribution.
void realistic_token(Rng& rng, const Layer& L, int position, double sink_norm, float* row) {
  const double mag = rng.lognormal(0.45);
  for (int d = 0; d < kDimLatent; ++d) {
    double v = mag * L.chan_scale[d] * rng.normal();
    if (sink_norm > 0) v = sink_norm * L.sink_dir[d] + 0.3 * L.chan_scale[d] * rng.normal();
    row[d] = bf16r(clip(v, kContentClip));
  }
  const double rope_mag = rng.lognormal(0.3);
  for (int j = 0; j < kPairs; ++j) {
    const double s = L.pair_scale[j] * rope_mag;
    const double x = s * (std::cos(L.pair_phase[j]) + 0.7 * rng.student_t3());
    const double y = s * (std::sin(L.pair_phase[j]) + 0.7 * rng.student_t3());
    const double a = position * L.pair_theta[j];
    const double c = std::cos(a), sn = std::sin(a);
    // Interleaved pairs (2j, 2j+1), as DeepSeek's rotary embedding lays them out.
    row[kDimLatent + 2 * j] = bf16r(clip(x * c - y * sn, kRopeClip));
    row[kDimLatent + 2 * j + 1] = bf16r(clip(x * sn + y * c, kRopeClip));
  }
}

void simple_token(Rng& rng, Distribution dist, float* row) {
  for (int d = 0; d < kDimQK; ++d)
    row[d] = bf16r(dist == Distribution::kGaussian ? rng.normal() : rng.uniform(-1.0, 1.0));
}

template <typename F>
void parallel_for(std::int64_t n, int threads, F&& f) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<std::int64_t>(threads, std::max<std::int64_t>(n, 1)));
  if (threads <= 1) {
    for (std::int64_t i = 0; i < n; ++i) f(i);
    return;
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (std::int64_t i = t; i < n; i += threads) f(i);
    });
  for (auto& th : pool) th.join();
}

}  // namespace

const char* to_string(Distribution dist) {
  switch (dist) {
    case Distribution::kRealistic: return "realistic";
    case Distribution::kGaussian: return "gaussian";
    case Distribution::kUniform: return "uniform";
  }
  return "?";
}

Distribution parse_distribution(const std::string& name) {
  if (name == "realistic") return Distribution::kRealistic;
  if (name == "gaussian") return Distribution::kGaussian;
  if (name == "uniform") return Distribution::kUniform;
  throw Error(ErrorCode::kInvalidArgument,
              "distribution must be realistic, gaussian or uniform (got '" + name + "')");
}

ref::HostProblem make_problem(const ProblemOptions& o) {
  if (o.batch <= 0) fail("batch must be positive (got " + std::to_string(o.batch) + ")");
  if (o.s_q <= 0) fail("s_q must be positive (got " + std::to_string(o.s_q) + ")");
  if (o.h_q <= 0) fail("h_q must be positive (got " + std::to_string(o.h_q) + ")");
  std::vector<int> lengths = o.lengths;
  if (lengths.empty()) {
    if (o.length < 0) fail("length must be >= 0 (got " + std::to_string(o.length) + ")");
    lengths.assign(o.batch, o.length);
  } else if (static_cast<int>(lengths.size()) != o.batch) {
    fail("lengths holds " + std::to_string(lengths.size()) + " values for batch " +
         std::to_string(o.batch));
  }
  for (int len : lengths)
    if (len < 0) fail("lengths must be >= 0 (got " + std::to_string(len) + ")");
  if (!(o.softmax_scale >= 0.0f) || !std::isfinite(o.softmax_scale))
    fail("softmax_scale must be finite and >= 0");

  Rng rng(mix64(o.seed ^ 0x5eed5eedull));
  ref::HostProblem p;
  p.batch = o.batch;
  p.s_q = o.s_q;
  p.h_q = o.h_q;
  p.causal = o.causal;
  p.softmax_scale = o.softmax_scale > 0.0f ? o.softmax_scale : 1.0f / std::sqrt(float(kDimQK));
  p.lengths.assign(lengths.begin(), lengths.end());

  // ---- page layout: a random permutation of all pages, extra ones left unused ----
  std::int64_t used = 0;
  int max_blocks = 1;
  for (int len : lengths) {
    const int nb = (len + kPageSize - 1) / kPageSize;
    used += nb;
    max_blocks = std::max(max_blocks, nb);
  }
  const std::int64_t extra = o.extra_pages >= 0 ? o.extra_pages : std::max<std::int64_t>(2, used / 8);
  const std::int64_t total_pages = used + extra;
  if (total_pages > (std::int64_t(1) << 31) / kPageSize) fail("too many pages");
  p.num_pages = static_cast<int>(total_pages);
  p.max_pages = max_blocks;
  std::vector<std::int32_t> perm(total_pages);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng.engine());
  const std::int32_t filler = extra > 0 ? perm[used] : 0;
  p.block_table.assign(std::size_t(o.batch) * max_blocks, filler);
  // owner[page] = (request, block) or -1 for unused pages
  std::vector<std::int64_t> owner(total_pages, -1);
  {
    std::int64_t next = 0;
    for (int r = 0; r < o.batch; ++r) {
      const int nb = (lengths[r] + kPageSize - 1) / kPageSize;
      for (int blk = 0; blk < nb; ++blk) {
        const std::int32_t page = perm[next++];
        p.block_table[std::size_t(r) * max_blocks + blk] = page;
        owner[page] = (std::int64_t(r) << 32) | blk;
      }
    }
  }

  // ---- structure shared by the whole problem ----
  const Layer layer = make_layer(rng);
  const bool realistic = o.dist == Distribution::kRealistic;
  // Sinks: token 0 of every request plus one per 2048 tokens (at most 8) at random positions.
  std::vector<std::vector<std::pair<int, double>>> sinks(o.batch);
  for (int r = 0; r < o.batch; ++r) {
    if (!realistic || lengths[r] == 0) continue;
    sinks[r].push_back({0, 40.0});
    const int n_extra = std::min(8, lengths[r] / 2048);
    for (int k = 0; k < n_extra; ++k)
      sinks[r].push_back({static_cast<int>(rng.below(lengths[r])), 40.0 * rng.uniform(0.6, 1.0)});
    std::sort(sinks[r].begin(), sinks[r].end());
  }

  // ---- the cache, one independent stream per (request, block) ----
  const float unused_value = o.poison_unused ? std::nanf("") : 0.0f;
  p.cache.assign(std::size_t(total_pages) * kPageSize * kDimQK, 0.0f);
  parallel_for(total_pages, o.threads, [&](std::int64_t page) {
    float* base = p.cache.data() + std::size_t(page) * kPageSize * kDimQK;
    if (owner[page] < 0) {
      if (o.poison_unused) std::fill(base, base + kPageSize * kDimQK, unused_value);
      return;
    }
    const int r = static_cast<int>(owner[page] >> 32);
    const int blk = static_cast<int>(owner[page] & 0xffffffff);
    Rng prng(mix64(mix64(o.seed) ^ mix64((std::uint64_t(r) << 32) | std::uint64_t(blk))));
    for (int off = 0; off < kPageSize; ++off) {
      const int t = blk * kPageSize + off;
      float* row = base + std::size_t(off) * kDimQK;
      if (t >= lengths[r]) {
        std::fill(row, row + kDimQK, unused_value);
        continue;
      }
      if (!realistic) {
        simple_token(prng, o.dist, row);
        continue;
      }
      double sink_norm = 0.0;
      for (const auto& [pos, norm] : sinks[r])
        if (pos == t) sink_norm = norm;
      realistic_token(prng, layer, t, sink_norm, row);
    }
  });

  // ---- queries ----
  const std::size_t rows = std::size_t(o.batch) * o.s_q * o.h_q;
  p.q.assign(rows * kDimQK, 0.0f);
  if (!realistic) {
    for (std::size_t i = 0; i < rows; ++i) simple_token(rng, o.dist, p.q.data() + i * kDimQK);
    return p;
  }
  // Energy of the content and RoPE parts over (a sample of) the used non-sink tokens, so the
  // RoPE part of a score gets about the same spread as the content part.
  double e_content = 0.0, e_rope = 0.0;
  std::int64_t counted = 0;
  for (int r = 0; r < o.batch && counted < 4096; ++r) {
    for (int t = 1; t < lengths[r] && counted < 4096; t += 7) {
      const std::int32_t page = p.block_table[std::size_t(r) * max_blocks + t / kPageSize];
      const float* row = p.cache.data() + (std::size_t(page) * kPageSize + t % kPageSize) * kDimQK;
      for (int d = 0; d < kDimLatent; ++d) e_content += double(row[d]) * row[d];
      for (int d = kDimLatent; d < kDimQK; ++d) e_rope += double(row[d]) * row[d];
      ++counted;
    }
  }
  const double rope_ratio = (counted > 0 && e_rope > 0) ? std::sqrt(e_content / e_rope) : 0.1;
  // Per head: content std, RoPE std, and the weight of the sink direction. The sink component
  // is sized so that a sink of norm 40 scores about 12 / softmax_scale * (0.5..1.2).
  const double softmax_scale = p.softmax_scale;
  std::vector<double> head_q(o.h_q), head_r(o.h_q), head_sink(o.h_q);
  for (int h = 0; h < o.h_q; ++h) {
    head_q[h] = 1.5 * rng.lognormal(0.2);
    head_r[h] = head_q[h] * rope_ratio * rng.lognormal(0.3);
    head_sink[h] = 12.0 / (40.0 * softmax_scale) * rng.uniform(0.5, 1.2);
  }
  for (std::size_t i = 0; i < rows; ++i) {
    const int h = static_cast<int>(i % o.h_q);
    float* row = p.q.data() + i * kDimQK;
    for (int d = 0; d < kDimLatent; ++d)
      row[d] = bf16r(head_q[h] * rng.normal() + head_sink[h] * layer.sink_dir[d]);
    for (int d = kDimLatent; d < kDimQK; ++d) row[d] = bf16r(head_r[h] * rng.normal());
  }
  return p;
}

// ---- helpers -----------------------------------------------------------------------------------

std::vector<std::uint16_t> to_bf16(const std::vector<float>& values) {
  std::vector<std::uint16_t> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = bf16_from_float(values[i]);
  return out;
}

HostTensors::HostTensors(const ref::HostProblem& p)
    : batch(p.batch), s_q(p.s_q), h_q(p.h_q), num_pages(p.num_pages), max_pages(p.max_pages),
      q(to_bf16(p.q)), kv_bf16(to_bf16(p.cache)), block_table(p.block_table), lengths(p.lengths) {
  for (int r = 0; r < batch; ++r) {
    for (int t = 0; t < lengths[r]; ++t) {
      const std::int32_t page = block_table[std::size_t(r) * max_pages + t / kPageSize];
      const std::int32_t slot = page * kPageSize + t % kPageSize;
      slots.push_back(slot);
      const auto* row = kv_bf16.data() + std::size_t(slot) * kDimQK;
      new_kv.insert(new_kv.end(), row, row + kDimQK);
    }
  }
}

TensorView HostTensors::q_view() {
  return TensorView::contiguous(q.data(), DType::kBFloat16, {batch, s_q, h_q, kDimQK});
}
TensorView HostTensors::bf16_cache_view() {
  return TensorView::contiguous(kv_bf16.data(), DType::kBFloat16, {num_pages, kPageSize, kDimQK});
}
TensorView HostTensors::block_table_view() {
  return TensorView::contiguous(block_table.data(), DType::kInt32, {batch, max_pages});
}
TensorView HostTensors::lengths_view() {
  return TensorView::contiguous(lengths.data(), DType::kInt32, {batch});
}
TensorView HostTensors::new_kv_view() {
  return TensorView::contiguous(new_kv.data(), DType::kBFloat16,
                                {static_cast<std::int64_t>(slots.size()), kDimQK});
}
TensorView HostTensors::slots_view() {
  return TensorView::contiguous(slots.data(), DType::kInt32,
                                {static_cast<std::int64_t>(slots.size())});
}

HostFp8Cache::HostFp8Cache(int num_pages)
    : kv_fp8(std::size_t(num_pages) * kPageSize * kDimLatent, 0),
      kv_scale(std::size_t(num_pages) * kPageSize, 0.0f),
      kv_rope(std::size_t(num_pages) * kPageSize * kDimRope, 0) {}

Fp8Cache HostFp8Cache::view() {
  const std::int64_t pages = static_cast<std::int64_t>(kv_scale.size() / kPageSize);
  return {TensorView::contiguous(kv_fp8.data(), DType::kFloat8E4M3, {pages, kPageSize, kDimLatent}),
          TensorView::contiguous(kv_scale.data(), DType::kFloat32, {pages, kPageSize}),
          TensorView::contiguous(kv_rope.data(), DType::kBFloat16, {pages, kPageSize, kDimRope})};
}

HostFp8Query::HostFp8Query(int b, int sq, int hq)
    : q_nope(std::size_t(b) * sq * hq * kDimLatent), q_scale(std::size_t(b) * sq * hq),
      q_rope(std::size_t(b) * sq * hq * kDimRope), batch(b), s_q(sq), h_q(hq) {}

Fp8Query HostFp8Query::view() {
  return {TensorView::contiguous(q_nope.data(), DType::kFloat8E4M3, {batch, s_q, h_q, kDimLatent}),
          TensorView::contiguous(q_scale.data(), DType::kFloat32, {batch, s_q, h_q}),
          TensorView::contiguous(q_rope.data(), DType::kBFloat16, {batch, s_q, h_q, kDimRope})};
}

ref::HostResult to_host_result(const std::vector<std::uint16_t>& out_bf16,
                               const std::vector<float>& lse) {
  ref::HostResult r;
  r.out.resize(out_bf16.size());
  for (std::size_t i = 0; i < out_bf16.size(); ++i) r.out[i] = bf16_to_float(out_bf16[i]);
  r.lse.assign(lse.begin(), lse.end());
  return r;
}

}  // namespace snapmla::synth
