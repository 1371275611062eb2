// Host-side predicates that decide which kernel serves a call (plain C++, no GPU): the TMA
// loader's limits on the cache (kernels/common/alignment.h) and the narrow kernel's row counts
// (kernels/sm90/decode_narrow/config.h). A cache outside them goes to the SIMT kernel.
#include <gtest/gtest.h>

#include <cstdint>

#include "kernels/common/alignment.h"
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
  EXPECT_EQ(decode_narrow::stages_for(3), 1);
  EXPECT_EQ(decode_narrow::stages_for(2), 2);
}

}  // namespace
}  // namespace snapmla::kernels
