// Tiling of the narrow FP8 decode kernel (kernel.cuh): the query rows sit in the wgmma N
// dimension ("heads in N", HOPPER.md "Small head counts"), for s_q * h_q <= 32 rows.
//
// One CTA = one warpgroup (128 threads) = one schedule part x all kCols query rows (16 or 32;
// rows past s_q * h_q are padding), two or three CTAs per SM (below). Per page, warp w, lane (g, t):
//   QK  S^T[64 tokens, kCols rows] = K (A: the page, SW128) x Q^T (B: SW128, kCols rows)
//       wgmma m64nNk32 e4m3 (16 content k-steps) + m64nNk16 bf16 (4 RoPE k-steps); the thread
//       holds tokens 16 w + g + 8 i and rows 8 j + 2 t + e (the accumulator layout).
//   PV  O^T[512 dims, kCols rows] += V^T (A: registers) x P8^T (B: SW64, kCols rows x 64 tokens)
//       8 dim tiles of 64, each 2 k-steps of wgmma m64nNk32 e4m3.
// Compared with 64-row tiles this does no work for padding rows, keeps the softmax inside one
// warpgroup and needs no shared-memory V^T: ldmatrix.trans reads the A fragments of V^T straight
// from the page (pv.cuh). The price is an order: within each warp's 16 dims and each 32-token
// k-step the fragments permute the M (dims) and K (tokens) indices, see below; P8's token order
// and the epilogue's dims follow.
#pragma once

#include "common/host_device.h"
#include "kernels/sm90/decode_wgmma/config.h"

namespace snapmla::kernels::decode_narrow {

using decode_wgmma::kChunkBytes;
using decode_wgmma::kTokensPerBlock;

inline constexpr int kThreads = 128;  // one warpgroup
inline constexpr int kWarps = kThreads / 32;
// CTAs per SM and page stages per CTA. Each CTA is one dependent chain (QK -> softmax -> PV) a
// page. Two CTAs of two stages (~109 KB at 32 rows) keep a page in flight while one is used.
// At 16 rows (<= 168 registers a thread) three CTAs fit, each with one stage and a spare 16 KB
// slot (~71 KB): the split page ring of components/load.cuh, about 1.5 pages. A third chain
// keeps the SM busier; it pays off when every part streams many pages (large batches), so the
// planner asks for it (narrow_parts_per_sm) and the launch picks it when the schedule has that
// many parts, or row groups (narrow_ctas_per_sm).
SNAPMLA_HD constexpr int stages_for(int ctas_per_sm) { return ctas_per_sm >= 3 ? 1 : 2; }
// The split ring's lo part: content column blocks 0 and 1 (dims 0..255) of a page.
inline constexpr int kLoBlocks = 2;
inline constexpr int kLoBytes = kLoBlocks * kTokensPerBlock * 128;  // 16 KB
inline constexpr int kMinBatchForThreeCtas = 64;
// Below this many requests, one part per SM at <= 16 rows: each of a few requests is then cut
// into half as many splits, and the combine of hundreds of splits a request is what such calls
// wait for (H200, under graphs: 1x1x16x32768 39.0 -> 30.2 us, 2x1x16x8192 27.2 -> 21.8,
// 1x1x16x131072 56.3 -> 53.0; at 8 requests two parts a SM stay faster, 28.4 against 32.9 us,
// and at 32 rows too, 67.3 against 74.8 us at 1x1x32x131072; docs/perf.md, v31).
inline constexpr int kMinBatchForTwoParts = 8;
inline constexpr int kDimTiles = kDimLatent / 64;  // PV M tiles
inline constexpr int kPvKSteps = kTokensPerBlock / 32;

// The query-row counts the kernel is built for, and the one serving `rows` (0: none).
inline constexpr int kMaxCols = 32;
SNAPMLA_HD constexpr int cols_for_rows(int rows) { return rows <= 16 ? 16 : rows <= kMaxCols ? 32 : 0; }

// Row groups. A 16-row CTA serves kGroupCols query rows of its part: CTA x is part x / groups,
// rows 16 * (x % groups) on (groups fastest, so that the busy low parts start first). So that
// kernel serves any row count (the 32-row one serves up to 32 rows, in one group). Large calls
// keep one CTA for all rows (16, 32) or take the 64-row kernel (more rows): every group re-reads
// the page. Small calls are latency-bound instead, and there the one-warpgroup CTA's shorter
// chain wins. Small is counted in (page, 16-row group) units, with the block table's width (no
// request has more than max_pages pages):
//   - at most kSmallCallUnitsPerSm a SM, whatever the parts: 1x1x128x640 17.3 -> 14.1 us
//     (FlashMLA BF16 15.9), 1x1x32x640 19.7 -> 13.8 (14.6);
//   - at most kShortTableUnitsPerSm a SM where the table is at most kShortTablePages wide:
//     8x1x128x640 21.3 -> 20.0 (20.0), 8x1x128x1024 24.1 -> 23.1, 16x1x32x1024 24.7 -> 20.3;
//   - with longer tables, at most long_table_units_per_sm(rows) a SM, and only where the plan's
//     parts were sized for the groups (row_group_parts: one wave of the two-CTA variant). With
//     the parts sized for the 64-row kernel the groups' CTAs run in two waves and lose
//     (1x1x128x8192 25.5 -> 34.5 us); sized for them: 1x1x128x8192 27.5 -> 23.8 (FlashMLA
//     29.6), 1x1x128x4096 24.0 -> 19.2, 1x1x64x16384 33.0 -> 26.7, 1x1x32x32768 44.2 -> 32.2,
//     8x1x32x8192 35.2 -> 33.0. Past the bound they lose (1x1x128x16384 31.7 -> 33.1,
//     4x1x64x8192 30.4 -> 32.1).
//     The planner sizes the parts so only when it knows the table's width (DecodeShape::max_pages).
// H200, under graphs; docs/perf.md, sessions 23 and 24.
inline constexpr int kGroupCols = 16;
inline constexpr int kSmallCallUnitsPerSm = 3;
inline constexpr int kShortTablePages = 32;
inline constexpr int kShortTableUnitsPerSm = 10;
SNAPMLA_HD constexpr int row_groups(int rows, int cols) { return (rows + cols - 1) / cols; }
// Above 32 rows the groups compete with the 64-row kernel, up to 32 with the 32-row one, which
// costs more a (page, row) at these sizes.
SNAPMLA_HD constexpr int long_table_units_per_sm(int rows) { return rows <= kMaxCols ? 16 : 8; }
// CTAs a schedule part: the 16-row kernel takes every row in groups, the 32-row one serves up
// to 32 rows in one (no route needs more, and the group arithmetic took it from 253 to 255
// registers and 128x1x32x8192 ~0.6 % slower).
SNAPMLA_HD constexpr int groups_a_part(int cols, int rows) { return cols == kGroupCols ? row_groups(rows, cols) : 1; }
// The parts that put a call's row groups in one wave of two CTAs a SM.
SNAPMLA_HD constexpr int row_group_parts(int rows, int sms) {
  const int parts = 2 * sms / row_groups(rows, kGroupCols);
  return parts > 0 ? parts : 1;
}
// groups * batch * max_pages <= units_per_sm * sms, without the product (it can pass 2^63).
SNAPMLA_HD constexpr bool units_at_most(int rows, int batch, int max_pages, int units_per_sm, int sms) {
  const long long groups_x_batch = static_cast<long long>(row_groups(rows, kGroupCols)) * batch;
  return groups_x_batch <= static_cast<long long>(units_per_sm) * sms / max_pages;
}
// Whether the planner sizes the parts for row groups (row_group_parts): a table wider than
// kShortTablePages and at most long_table_units_per_sm units a SM.
SNAPMLA_HD constexpr bool long_table_row_groups(int rows, int batch, int max_pages, int sms) {
  return rows > kGroupCols && batch > 0 && max_pages > kShortTablePages &&
         units_at_most(rows, batch, max_pages, long_table_units_per_sm(rows), sms);
}
// Short tables run in row groups whatever the parts (kShortTableUnitsPerSm). The planner takes
// row_group_parts for them only where its default parts would leave more busy CTAs than three a
// SM, i.e. two waves (api/ops.cpp counts them with the planner's own walk): 16x1x128x640 35.9
// -> 27.2 us; where the default is one wave it is as good or better (8x1x128x1024 23.3 against
// 24.2; docs/perf.md, session 24).
SNAPMLA_HD constexpr bool short_table_row_groups(int rows, int batch, int max_pages, int sms) {
  return rows > kGroupCols && batch > 0 && max_pages > 0 && max_pages <= kShortTablePages &&
         units_at_most(rows, batch, max_pages, kShortTableUnitsPerSm, sms);
}
// Whether a call of `num_parts` parts runs in row groups.
SNAPMLA_HD constexpr bool small_call_in_row_groups(int rows, int batch, int max_pages, int sms, int num_parts) {
  if (rows <= kGroupCols || max_pages <= 0) return false;
  if (units_at_most(rows, batch, max_pages, kSmallCallUnitsPerSm, sms)) return true;
  if (max_pages <= kShortTablePages) return short_table_row_groups(rows, batch, max_pages, sms);
  return long_table_row_groups(rows, batch, max_pages, sms) &&
         static_cast<long long>(num_parts) * row_groups(rows, kGroupCols) <= 2LL * sms;
}
// The planner's parts per SM for `rows` <= kMaxCols query rows and `batch` requests (0: not
// known, taken as large).
SNAPMLA_HD constexpr int narrow_parts_per_sm(int rows, int batch) {
  if (rows > 16) return 2;
  if (batch == 0 || batch >= kMinBatchForThreeCtas) return 3;
  return batch >= kMinBatchForTwoParts ? 2 : 1;
}
// The CTAs per SM the launch runs for `cols` (16 or 32) rows a CTA and `ctas` CTAs (schedule
// parts x row groups) on `sms` SMs.
SNAPMLA_HD constexpr int narrow_ctas_per_sm(int cols, long long ctas, int sms) {
  return cols <= 16 && ctas >= 3LL * sms ? 3 : 2;
}

// PV's A fragment (m64 x k32 e4m3, registers): lane (g, t) of warp w holds registers r = 0..3,
// r even for M row g and odd for M row g + 8, bytes k = 16 (r / 2) + 4 t + 0..3. ldmatrix.trans
// of the page's token rows 0..31 of the k-step (16 dims = one 16-byte chunk per row) plus two
// byte permutes fill them with:
//   M row g     <- dim 2 g of the warp's 16,   M row g + 8 <- dim 2 g + 1
//   byte b of register r <- token 16 (r / 2) + 8 (b / 2) + 2 t + b % 2 of the k-step
SNAPMLA_HD constexpr int pv_a_dim(int g, int r) { return 2 * g + r % 2; }
SNAPMLA_HD constexpr int pv_a_token(int t, int r, int b) { return 16 * (r / 2) + 8 * (b / 2) + 2 * t + b % 2; }
SNAPMLA_HD constexpr int pv_a_k(int t, int r, int b) { return 16 * (r / 2) + 4 * t + b; }
// So P8 holds token `tok` (0..63) of a row at PV k index (byte) p8_k_of_token(tok): within each
// 16 tokens, token 8 a + 2 c + e sits at byte 4 c + 2 a + e.
SNAPMLA_HD constexpr int p8_k_of_token(int tok) {
  const int in = tok % 16;
  return 16 * (tok / 16) + 4 * ((in % 8) / 2) + 2 * (in / 8) + in % 2;
}
static_assert(p8_k_of_token(pv_a_token(3, 3, 2)) == pv_a_k(3, 3, 2));
// And O^T's M row 16 w + g + 8 i of dim tile m is dim 64 m + 16 w + 2 g + i.
SNAPMLA_HD constexpr int pv_out_dim(int tile, int warp, int g, int i) { return 64 * tile + 16 * warp + 2 * g + i; }

}  // namespace snapmla::kernels::decode_narrow
