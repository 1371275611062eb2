// Host-side predicates that decide which kernel serves a call (plain C++, no GPU): the TMA
// loader's limits on the cache (kernels/common/alignment.h) and the narrow kernel's row counts
// (kernels/sm90/decode_narrow/config.h). A cache outside them goes to the SIMT kernel. And the
// per-tile visible range of the loaders (kernels/sm90/decode_fp8/config.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

#include "kernels/common/alignment.h"
#include "kernels/sm90/decode_fp8/config.h"
#include "kernels/sm90/decode_narrow/config.h"

namespace snapmla::kernels {
namespace {

TEST(KernelRouting, TmaReadsCachesWithPagesAndInt32TokenCoordinates) {
  DecodeParams p{};
  p.fp8_cache.num_pages = 0;
  EXPECT_FALSE(tma_reads_cache(p)) << "no page: no tensor map can be encoded";
  p.fp8_cache.num_pages = 1;
  EXPECT_TRUE(tma_reads_cache(p));
  p.fp8_cache.num_pages = (1 << 25) - 1;  // 2^31 - 64 tokens: the last page's coordinate fits
  EXPECT_TRUE(tma_reads_cache(p));
  p.fp8_cache.num_pages = 1 << 25;  // 2^31 tokens
  EXPECT_FALSE(tma_reads_cache(p));
  p.fp8_cache.num_pages = -1;
  EXPECT_FALSE(tma_reads_cache(p));
}

// The per-tile visible range the loaders of the tensor-core kernels take from the tile's first
// and last rows (decode::tile_visible) is the min / max over every row of the tile.
TEST(KernelRouting, TileVisibleIsTheRangeOverTheTilesRows) {
  for (const bool causal : {false, true})
    for (const int s_q : {1, 2, 3, 4, 7})
      for (const int h_q : {1, 3, 16, 20, 64, 128})
        for (const int length : {0, 1, 2, 5, 63, 64, 65, 1000})
          for (const int tile_rows : {16, 32, 64}) {
            const int rows = s_q * h_q;
            for (int row0 = 0; row0 < rows; row0 += tile_rows) {
              int lo = length, hi = 0;
              for (int row = row0; row < rows && row < row0 + tile_rows; ++row) {
                const int v = std::max(decode::visible_tokens(length, s_q, row / h_q, causal), 0);
                lo = std::min(lo, v);
                hi = std::max(hi, v);
              }
              const decode::TileVisible t = decode::tile_visible(length, s_q, h_q, causal, row0, tile_rows);
              ASSERT_EQ(t.min_visible, lo) << "s_q " << s_q << " h_q " << h_q << " length " << length << " row0 " << row0;
              ASSERT_EQ(t.max_visible, hi) << "s_q " << s_q << " h_q " << h_q << " length " << length << " row0 " << row0;
            }
          }
}

TEST(KernelRouting, NarrowKernelServesUpTo32Rows) {
  EXPECT_EQ(decode_narrow::cols_for_rows(1), 16);
  EXPECT_EQ(decode_narrow::cols_for_rows(16), 16);
  EXPECT_EQ(decode_narrow::cols_for_rows(17), 32);
  EXPECT_EQ(decode_narrow::cols_for_rows(32), 32);
  EXPECT_EQ(decode_narrow::cols_for_rows(33), 0);
  EXPECT_EQ(decode_narrow::cols_for_rows(64), 0);
}

TEST(KernelRouting, ThreeNarrowCtasPerSmOnlyFor16RowsAndEnoughParts) {
  // The planner: three parts per SM at <= 16 rows from kMinBatchForThreeCtas requests (or an
  // unknown batch), one below kMinBatchForTwoParts, two otherwise.
  EXPECT_EQ(decode_narrow::narrow_parts_per_sm(16, 0), 3);
  EXPECT_EQ(decode_narrow::narrow_parts_per_sm(16, decode_narrow::kMinBatchForThreeCtas), 3);
  EXPECT_EQ(decode_narrow::narrow_parts_per_sm(1, decode_narrow::kMinBatchForThreeCtas - 1), 2);
  EXPECT_EQ(decode_narrow::narrow_parts_per_sm(16, decode_narrow::kMinBatchForTwoParts), 2);
  EXPECT_EQ(decode_narrow::narrow_parts_per_sm(16, decode_narrow::kMinBatchForTwoParts - 1), 1);
  EXPECT_EQ(decode_narrow::narrow_parts_per_sm(16, 1), 1);
  EXPECT_EQ(decode_narrow::narrow_parts_per_sm(17, 0), 2);
  EXPECT_EQ(decode_narrow::narrow_parts_per_sm(32, 1), 2);
  EXPECT_EQ(decode_narrow::narrow_parts_per_sm(32, 128), 2);
  // The launch: the one-stage variant only where the schedule has three parts for every SM.
  EXPECT_EQ(decode_narrow::narrow_ctas_per_sm(16, 3 * 132, 132), 3);
  EXPECT_EQ(decode_narrow::narrow_ctas_per_sm(16, 3 * 132 - 1, 132), 2);
  EXPECT_EQ(decode_narrow::narrow_ctas_per_sm(32, 3 * 132, 132), 2);
  EXPECT_EQ(decode_narrow::narrow_ctas_per_sm(16, 8LL * 66, 132), 3);  // row groups count as CTAs
  EXPECT_EQ(decode_narrow::stages_for(3), 1);
  EXPECT_EQ(decode_narrow::stages_for(2), 2);
}

TEST(KernelRouting, SmallCallsOfMoreThan16RowsRunTheNarrowKernelInRowGroups) {
  EXPECT_EQ(decode_narrow::row_groups(128, 16), 8);
  EXPECT_EQ(decode_narrow::row_groups(17, 16), 2);
  EXPECT_EQ(decode_narrow::row_groups(16, 16), 1);
  EXPECT_EQ(decode_narrow::row_groups(256, 32), 8);
  const int sms = 132, bound = decode_narrow::kSmallCallUnitsPerSm * sms;
  const int parts = 66;  // the 64-row kernel's at 128 rows: row groups by the unit bounds only
  // (page, 16-row group) units = groups x batch x max_pages against kSmallCallUnitsPerSm a SM.
  EXPECT_TRUE(decode_narrow::small_call_in_row_groups(128, 1, 10, sms, parts));   // 1x1x128x640: 80 units
  EXPECT_TRUE(decode_narrow::small_call_in_row_groups(32, 8, 10, sms, parts));    // 8x1x32x640: 160
  EXPECT_TRUE(decode_narrow::small_call_in_row_groups(32, 1, 128, sms, parts));   // 1x1x32x8192: 256
  EXPECT_FALSE(decode_narrow::small_call_in_row_groups(128, 1, 64, sms, parts));  // 1x1x128x4096: 512
  EXPECT_FALSE(decode_narrow::small_call_in_row_groups(128, 1, 128, sms, parts)); // 1x1x128x8192: 1024
  EXPECT_TRUE(decode_narrow::small_call_in_row_groups(64, 1, bound / 4, sms, 2 * parts));  // 64 rows: 132 parts
  EXPECT_FALSE(decode_narrow::small_call_in_row_groups(64, 1, bound / 4 + 1, sms, 2 * parts));
  // Tables of at most kShortTablePages pages: up to kShortTableUnitsPerSm units a SM.
  const int short_bound = decode_narrow::kShortTableUnitsPerSm * sms, short_pages = decode_narrow::kShortTablePages;
  EXPECT_TRUE(decode_narrow::small_call_in_row_groups(128, 8, 10, sms, parts));   // 8x1x128x640: 640
  EXPECT_TRUE(decode_narrow::small_call_in_row_groups(128, 8, 16, sms, parts));   // 8x1x128x1024: 1024
  EXPECT_TRUE(decode_narrow::small_call_in_row_groups(128, short_bound / (8 * short_pages), short_pages, sms, parts));
  EXPECT_FALSE(decode_narrow::small_call_in_row_groups(128, short_bound / (8 * short_pages) + 1, short_pages, sms, parts));
  EXPECT_FALSE(decode_narrow::small_call_in_row_groups(128, 2, short_pages + 1, sms, parts));  // 528 units, long table
  EXPECT_FALSE(decode_narrow::small_call_in_row_groups(128, 32, 10, sms, parts)); // 32x1x128x640: 2560
  // 16 rows or fewer: the narrow kernel's single group anyway.
  EXPECT_FALSE(decode_narrow::small_call_in_row_groups(16, 1, 1, sms, parts));
  // Long tables: up to long_table_units_per_sm a SM, where the parts put the groups in one wave
  // of two CTAs a SM (row_group_parts), the planner's choice when it knows the table's width.
  EXPECT_EQ(decode_narrow::row_group_parts(128, sms), 33);
  EXPECT_EQ(decode_narrow::row_group_parts(64, sms), 66);
  EXPECT_EQ(decode_narrow::row_group_parts(32, sms), 132);
  EXPECT_EQ(decode_narrow::row_group_parts(4096, 4), 1);
  EXPECT_TRUE(decode_narrow::small_call_in_row_groups(128, 1, 128, sms, 33));    // 1x1x128x8192: 1,024 units
  EXPECT_FALSE(decode_narrow::small_call_in_row_groups(128, 1, 128, sms, 34));   // two waves
  EXPECT_FALSE(decode_narrow::small_call_in_row_groups(128, 1, 256, sms, 33));   // 2,048 units
  EXPECT_TRUE(decode_narrow::small_call_in_row_groups(64, 2, 128, sms, 66));     // 2x1x64x8192: 1,024
  EXPECT_FALSE(decode_narrow::small_call_in_row_groups(64, 4, 128, sms, 66));    // 4x1x64x8192: 2,048
  EXPECT_TRUE(decode_narrow::small_call_in_row_groups(32, 8, 128, sms, 132));    // 8x1x32x8192: 2,048
  EXPECT_FALSE(decode_narrow::small_call_in_row_groups(32, 16, 128, sms, 132));  // 4,096
  for (const int rows : {17, 32, 33, 64, 128})
    for (const int batch : {1, 2, 3, 8})
      for (const int max_pages : {33, 64, 100, 128, 256, 1024}) {
        // The planner sizes the parts for the groups exactly where the route then takes them.
        const bool planned = decode_narrow::long_table_row_groups(rows, batch, max_pages, sms);
        if (planned) {
          EXPECT_TRUE(decode_narrow::small_call_in_row_groups(rows, batch, max_pages, sms,
                                                             decode_narrow::row_group_parts(rows, sms)));
        }
        const long long units = 1LL * decode_narrow::row_groups(rows, 16) * batch * max_pages;
        EXPECT_EQ(planned, units <= 1LL * decode_narrow::long_table_units_per_sm(rows) * sms)
            << rows << " rows, " << batch << " x " << max_pages << " pages";
      }
  EXPECT_FALSE(decode_narrow::long_table_row_groups(128, 1, 32, sms));  // short table: its own bound
  EXPECT_FALSE(decode_narrow::long_table_row_groups(16, 1, 128, sms));
  EXPECT_FALSE(decode_narrow::long_table_row_groups(128, 0, 128, sms));
  // No overflow at the extremes of the block table.
  EXPECT_FALSE(decode_narrow::small_call_in_row_groups(1 << 20, 1 << 20, 1 << 30, sms, parts));
  EXPECT_FALSE(decode_narrow::small_call_in_row_groups(1 << 20, 1 << 20, 1 << 30, sms, 1));
  EXPECT_FALSE(decode_narrow::long_table_row_groups(1 << 20, 1 << 20, 1 << 30, sms));
}

}  // namespace
}  // namespace snapmla::kernels
