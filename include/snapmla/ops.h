// snapmla/ops.h - the operations of one MLA decode step.
//
// Every operation validates all of its arguments on the host before it touches data, and throws
// snapmla::Error naming the argument and the rule it broke. Each runs where its tensors live:
// all CPU views -> the CPU reference implementation; all CUDA views -> the sm_90a kernels (when
// the library was built with CUDA). Mixing devices is an error. GPU calls are asynchronous on
// the given stream, never synchronise (unless `checked` asks for a device-side check), never
// allocate, and can be captured in a CUDA graph.
//
// A decode step, in order:
//   quantize_query  BF16 absorbed query  -> (q_nope e4m3, q_scale, q_rope aligned)
//   append_kv       BF16 new tokens      -> the three planes of the FP8 cache, at slot indices
//   plan_decode     device lengths       -> split-KV schedule inside the workspace (once a step;
//                                           every layer of the step reuses it)
//   decode_fp8      -> out [b, s_q, h_q, 512] bf16 and lse [b, h_q, s_q] f32 (natural log)
#pragma once

#include <cstddef>
#include <cstdint>

#include "snapmla/cache.h"
#include "snapmla/tensor.h"

namespace snapmla {

using Stream = void*;  // a cudaStream_t; nullptr is the default stream. Ignored on the CPU.

// ---- query quantization --------------------------------------------------------------------

// The FP8 query, one scale per (request, query token, head):
//   sq = max(amax|q_nope|, kAmaxFloor) / 448, q_nope_fp8 = e4m3(q_nope / sq), q_rope = bf16(q_rope / sq)
struct Fp8Query {
  TensorView q_nope;  // [b, s_q, h_q, 512] e4m3
  TensorView q_scale; // [b, s_q, h_q] f32
  TensorView q_rope;  // [b, s_q, h_q, 64] bf16 (divided by q_scale)
};

// q: [b, s_q, h_q, 576] bf16 (absorbed: q_nope | q_rope). A row holding NaN or Inf gets scale NaN
// and NaN values, so its attention output is NaN rather than a plausible number.
void quantize_query(const TensorView& q, const Fp8Query& out, Stream stream = nullptr);

// ---- cache writes and reads ----------------------------------------------------------------

// Quantizes new tokens and scatters them into the FP8 cache.
//   kv:    [n, 576] bf16, one row per new token (c_kv | k_rope)
//   slots: [n] int32, slot = page * 64 + offset; a negative slot skips that row (padding).
// CPU slots are range-checked before anything is written. CUDA slots live on the device: with
// checked = true (or SNAPMLA_CHECKED=1) they are checked on the device first and nothing is
// written if any is out of range; unchecked, an out-of-range slot is skipped, never written.
void append_kv(const TensorView& kv, const TensorView& slots, const Fp8Cache& cache,
               Stream stream = nullptr, bool checked = false);

// Gathers tokens back to BF16 [c_kv * s | k_rope * s] (undoing the alignment).
//   slots: [n] int32 (page * 64 + offset), out: [n, 576] bf16. Negative slots produce zeros.
void fetch_dequant(const Fp8Cache& cache, const TensorView& slots, const TensorView& out,
                   Stream stream = nullptr, bool checked = false);

// ---- split-KV schedule ---------------------------------------------------------------------

// What the schedule and the workspace are sized for. One shape serves every layer of a step.
struct DecodeShape {
  int batch = 0;
  int s_q = 1;              // query tokens per request (1..; > 1 for multi-token prediction)
  int h_q = 0;              // query heads (per KV head; MLA has one KV head)
  int num_sm_parts = 0;     // 0: pick from the device (see default_num_sm_parts)
  int max_pages = 0;        // the block table's width (pages a request at most) of the step's
                            // decode calls, when known: the default parts then fit the kernel
                            // that serves the call (small calls of long requests). 0: not known.
                            // A decode call whose block table is wider is an error.
};

// How many SM parts the split-KV schedule uses on this device for this shape. `batch` (0: not
// known, taken as large): at s_q * h_q <= 16, from 64 requests up three parts per SM instead of
// two, and below 8 requests one. `max_pages` (0: not known; see DecodeShape): above 16 rows, a
// few requests of long tables, and short-table calls whose default parts would run the narrow
// kernel's row groups in two waves, get the parts of one wave of those groups.
int default_num_sm_parts(Device device, int s_q, int h_q, int batch = 0, int max_pages = 0);

// Workspace = schedule + partial results of split requests (+ the counters with which the FP8
// kernel merges some of them itself). Its size depends only on the shape. Decode calls that
// share a workspace must run in order (one stream), as they share its partials and counters.
struct Workspace {
  void* data = nullptr;
  std::size_t bytes = 0;
  Device device{};
};
std::size_t decode_workspace_bytes(const DecodeShape& shape, Device device);

// Computes the schedule from the request lengths ([b] int32, on the workspace's device) and
// stores it in the workspace, with the merge counters zeroed (each decode call leaves them
// zero again). On CUDA this is one small kernel: no host synchronisation.
void plan_decode(const DecodeShape& shape, const TensorView& lengths, const Workspace& workspace,
                 Stream stream = nullptr);

// ---- decode --------------------------------------------------------------------------------

struct DecodeOptions {
  bool causal = false;         // s_q > 1: query i of a request sees tokens t <= len - s_q + i
  float softmax_scale = 0.0f;  // 0: 1 / sqrt(576)
  bool checked = false;        // also validate lengths and block table on the device (syncs);
                               // the environment variable SNAPMLA_CHECKED=1 turns it on too
  bool combine = true;         // false: leave split requests' partials in the workspace for a
                               // later combine_splits call
  Stream stream = nullptr;
};

// Shared arguments of both decode paths. Empty rows (length 0, or causal rows that see no
// token) produce out = 0 and lse = +inf.
struct DecodeArgs {
  DecodeShape shape;
  TensorView block_table;  // [b, max_pages] int32 physical page ids
  TensorView lengths;      // [b] int32 tokens per request (0 allowed)
  Workspace workspace;     // planned by plan_decode for these lengths
  TensorView out;          // [b, s_q, h_q, 512] bf16
  TensorView lse;          // [b, h_q, s_q] f32, natural log
};

// FP8 decode: FP8 content GEMM + BF16 RoPE GEMM into one FP32 accumulator, P' = p * s[t]
// quantized to e4m3 per (row, 64-token block) (docs/numerics.md).
void decode_fp8(const Fp8Query& q, const Fp8Cache& cache, const DecodeArgs& args,
                const DecodeOptions& options = {});

// BF16 decode (the FlashMLA arithmetic): q [b, s_q, h_q, 576] bf16, BF16 cache, BF16 P.
void decode_bf16(const TensorView& q, const Bf16Cache& cache, const DecodeArgs& args,
                 const DecodeOptions& options = {});

// Merges the partial results of split requests into out and lse. decode_* calls it unless
// options.combine is false (for callers that want to place the merge themselves).
void combine_splits(const DecodeArgs& args, Stream stream = nullptr);

// True when this build has CUDA kernels and a CUDA device of compute capability 9.0 is present.
bool cuda_available();

}  // namespace snapmla
