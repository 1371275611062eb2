// The split-KV planner: every block of every request is processed exactly once, splits are
// numbered consecutively per request, and their count stays within batch + parts; and the
// default part count of each shape.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "sched/schedule.h"
#include "snapmla/ops.h"

namespace snapmla::sched {
namespace {

void check_plan(const std::vector<std::int32_t>& lengths, int parts) {
  const int batch = static_cast<int>(lengths.size());
  std::vector<PartRange> ranges(parts);
  std::vector<std::int32_t> split_begin(batch + 1, -1);
  plan_schedule(lengths.data(), batch, parts, ranges.data(), split_begin.data());

  std::vector<std::vector<int>> seen(batch);
  std::vector<int> segments_of(batch, 0);
  std::vector<std::vector<int>> split_ids(batch);
  std::vector<std::vector<int>> requests_of_part(parts);
  for (int p = 0; p < parts; ++p) {
    const PartRange& r = ranges[p];
    for (int req = r.begin_req; req <= r.end_req && req < batch; ++req) {
      if (req == r.end_req && r.end_block == 0) break;
      const int b0 = req == r.begin_req ? r.begin_block : 0;
      const int b1 = req == r.end_req ? r.end_block : blocks_of(lengths[req]);
      ASSERT_LE(b0, b1);
      if (lengths[req] > 0) {
        ASSERT_LT(b0, b1) << "empty segment of a non-empty request";
      }
      seen[req].resize(blocks_of(lengths[req]), 0);
      for (int b = b0; b < b1; ++b) ++seen[req][b];
      ++segments_of[req];
      split_ids[req].push_back(r.first_split + (req - r.begin_req));
      requests_of_part[p].push_back(req);
    }
  }
  ASSERT_LE(split_begin[batch], batch + parts);
  for (int req = 0; req < batch; ++req) {
    ASSERT_GE(segments_of[req], 1) << "request " << req << " never scheduled";
    for (int c : seen[req]) ASSERT_EQ(c, 1) << "request " << req;
    ASSERT_EQ(int(seen[req].size()), blocks_of(lengths[req]));
    ASSERT_EQ(split_begin[req + 1] - split_begin[req], segments_of[req]);
    for (int k = 0; k < segments_of[req]; ++k) ASSERT_EQ(split_ids[req][k], split_begin[req] + k);
  }
  // The in-kernel merge (kernels/common/merge_splits.cuh) keeps two pending merges a part: only a
  // part's first and last segments may belong to requests of several splits.
  for (int p = 0; p < parts; ++p) {
    const std::vector<int>& reqs = requests_of_part[p];
    for (std::size_t k = 1; k + 1 < reqs.size(); ++k)
      ASSERT_EQ(split_begin[reqs[k] + 1] - split_begin[reqs[k]], 1) << "part " << p << " segment " << k;
  }
}

TEST(Schedule, CoversEveryBlockExactlyOnce) {
  std::mt19937 rng(3);
  for (int parts : {1, 2, 7, 66, 132, 1000}) {
    for (int batch : {1, 3, 64, 257}) {
      std::vector<std::int32_t> lengths(batch);
      for (auto& l : lengths) l = (rng() % 4 == 0) ? 0 : int(rng() % 20000);
      check_plan(lengths, parts);
    }
  }
}

TEST(Schedule, EdgeCases) {
  check_plan({0}, 1);
  check_plan({0, 0, 0}, 132);
  check_plan({1}, 132);
  check_plan({64, 65, 63}, 5);
  check_plan({131072}, 132);
  check_plan({131072, 0, 1, 100000}, 66);
}

// plan_decode leaves the in-kernel merge's arrival counters at zero, whatever the workspace held
// (an engine's allocator hands out used memory).
TEST(PlanDecode, ZeroesTheMergeCounters) {
  const Device cpu = Device::cpu();
  const DecodeShape shape{3, 1, 128, 8};
  const std::size_t bytes = decode_workspace_bytes(shape, cpu);
  std::vector<std::uint8_t> storage(bytes + 256, 0xff);
  std::uint8_t* ws = storage.data() + (256 - reinterpret_cast<std::uintptr_t>(storage.data()) % 256) % 256;
  std::vector<std::int32_t> lengths = {100, 0, 5000};
  plan_decode(shape, TensorView::contiguous(lengths.data(), DType::kInt32, {3}), Workspace{ws, bytes, cpu});
  const WorkspaceLayout w = workspace_layout(3, 1, 128, 8);
  ASSERT_EQ(w.split_done_count(), 3 * 2);
  for (int k = 0; k < w.split_done_count(); ++k) {
    std::int32_t v = -1;
    std::memcpy(&v, ws + w.split_done_offset + sizeof(std::int32_t) * k, sizeof v);
    EXPECT_EQ(v, 0) << "counter " << k;
  }
}

TEST(Schedule, LongRequestIsSplitAcrossParts) {
  std::vector<std::int32_t> lengths = {65536};
  std::vector<PartRange> ranges(64);
  std::vector<std::int32_t> split_begin(2);
  plan_schedule(lengths.data(), 1, 64, ranges.data(), split_begin.data());
  EXPECT_GT(split_begin[1], 32);  // the work is spread, not left to one part
}

// Pieces of one block only for requests of up to kOneBlockPiecesUpTo blocks: a lone request of
// 8K tokens on 132 parts is cut into 64 pieces of 2 blocks, not 128 of one; 640 tokens into 10
// pieces of one block.
TEST(Schedule, LongRequestsAreNotCutIntoSingleBlocks) {
  const auto pieces_of = [](std::int32_t length, int parts) {
    std::vector<PartRange> ranges(parts);
    std::vector<std::int32_t> split_begin(2);
    plan_schedule(&length, 1, parts, ranges.data(), split_begin.data());
    return split_begin[1];
  };
  EXPECT_EQ(pieces_of(640, 132), 10);
  EXPECT_EQ(pieces_of(64 * kOneBlockPiecesUpTo, 132), kOneBlockPiecesUpTo);
  EXPECT_EQ(pieces_of(64 * kOneBlockPiecesUpTo + 1, 132), (kOneBlockPiecesUpTo + 2) / 2);
  EXPECT_EQ(pieces_of(8192, 132), 128 / kLongRequestMinPiece);
  EXPECT_EQ(pieces_of(8192, 264), 128 / kLongRequestMinPiece);
  EXPECT_EQ(pieces_of(8192, 32), 26);  // ceil(130 / 32) = 5 blocks a piece, as before
  check_plan({8192}, 132);
  check_plan({8192, 100}, 264);
}

TEST(Schedule, WorkspaceLayoutIsAlignedAndOrdered) {
  const WorkspaceLayout w = workspace_layout(128, 2, 128, 132);
  EXPECT_EQ(w.partial_o_offset % 256, 0u);
  EXPECT_EQ(w.partial_lse_offset % 256, 0u);
  EXPECT_GE(w.total_bytes, w.partial_o_offset + sizeof(float) * (128 + 132) * 256 * 512);
  // One arrival counter per request and 64-row tile (256 rows: 4 tiles), apart from the rest.
  EXPECT_EQ(w.split_done_offset % 256, 0u);
  EXPECT_EQ(w.split_done_count(), 128 * 4);
  EXPECT_GE(w.split_done_offset, w.check_offset + 4 * sizeof(std::int32_t));
  EXPECT_GE(w.partial_lse_offset, w.split_done_offset + sizeof(std::int32_t) * 128 * 4);
  EXPECT_EQ(workspace_layout(3, 1, 16, 8).split_done_count(), 3);
  EXPECT_EQ(workspace_layout(3, 1, 65, 8).split_done_count(), 6);
}

// The default part count (the CPU plans like a 132-SM card): one part per SM and 64-row tile
// above 32 rows; two per SM up to 32 rows; three at <= 16 rows from 64 requests (or an unknown
// batch), where the narrow kernel runs three one-stage CTAs per SM, and one at <= 16 rows below
// 8 requests.
TEST(DefaultParts, ThreePartsPerSmOnlyForSixteenRowsAndLargeBatches) {
  const Device cpu = Device::cpu();
  const int sms = default_num_sm_parts(cpu, 1, 64, 128);
  EXPECT_GT(sms, 0);
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 128, 128), sms / 2);
  EXPECT_EQ(default_num_sm_parts(cpu, 2, 16, 128), 2 * sms);  // 32 rows
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 16, 63), 2 * sms);
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 16, 64), 3 * sms);
  EXPECT_EQ(default_num_sm_parts(cpu, 4, 4, 128), 3 * sms);   // 16 rows
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 16), 3 * sms);       // batch not given
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 16, 8), 2 * sms);
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 16, 7), sms);
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 16, 1), sms);
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 32, 1), 2 * sms);    // 32 rows
}

// With the block table's width known (DecodeShape::max_pages), a few requests of long tables
// above 16 rows get the parts of the narrow kernel's row groups: two CTAs a SM in one wave.
TEST(DefaultParts, FewLongRequestsGetRowGroupParts) {
  const Device cpu = Device::cpu();
  const int sms = default_num_sm_parts(cpu, 1, 64, 128);
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 128, 1, 128), 2 * sms / 8);  // 1x1x128x8192: 1,024 units
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 64, 2, 128), 2 * sms / 4);   // 2x1x64x8192
  EXPECT_EQ(default_num_sm_parts(cpu, 2, 16, 1, 1024), sms);          // 1x2x16x65536: 32 rows, 2,048 units
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 128, 1, 0), sms / 2);        // width not known
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 128, 1, 256), sms / 2);      // 1x1x128x16384: 2,048 units
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 128, 8, 32), sms / 2);       // short table: the parts stay
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 16, 1, 128), sms);           // 16 rows: no groups
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 128, 0, 128), sms / 2);      // batch not known
}

// Short tables run in row groups whatever the parts; the planner takes the one-wave parts only
// where its default would give the groups more busy CTAs than three a SM (two waves).
TEST(DefaultParts, ShortTablesGetRowGroupPartsOnlyWhereTheDefaultTakesTwoWaves) {
  const Device cpu = Device::cpu();
  const int sms = default_num_sm_parts(cpu, 1, 64, 128);
  // 16x1x128x640: 66 parts give 64 busy parts of 8 groups = 512 CTAs > 3 x 132.
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 128, 16, 10), 2 * sms / 8);
  // 8x1x128x640 (40 busy parts, 320 CTAs), 8x1x128x1024, 8x1x64x640: one wave already.
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 128, 8, 10), sms / 2);
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 128, 8, 16), sms / 2);
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 64, 8, 10), sms);
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 128, 16, 0), sms / 2);  // width not known
  // Beyond kShortTableUnitsPerSm a SM (32x1x128x640: 2,560 units) the 64-row kernel's parts.
  EXPECT_EQ(default_num_sm_parts(cpu, 1, 128, 32, 10), sms / 2);
}

}  // namespace
}  // namespace snapmla::sched
