// The split-KV schedule and the workspace layout, shared by the CPU planner, the metadata
// kernel, the decode kernels and the combine step.
//
// Work is counted in 64-token blocks plus a fixed overhead per request segment (loading Q,
// writing O). The total is cut into num_parts nearly equal payloads; part p walks the requests
// in order from (begin_req, begin_block) to (end_req, end_block). A request cut by a part
// boundary gets several splits; each split writes a partial O (normalised, fp32) and a partial
// LSE (log2) that combine merges. A request with one split writes out and lse directly.
// Splits are numbered in request order, so request r owns splits
// [split_begin[r], split_begin[r + 1]) and there are at most batch + num_parts of them.
// The 64-row wgmma kernel merges the splits of requests of a few splits itself
// (kernels/common/merge_splits.cuh): the CTA that finishes a request's last split merges them,
// counted by one arrival counter per (request, tile of kMergeTileRows query rows) that the
// planner zeroes and the merging CTA resets.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/host_device.h"
#include "snapmla/cache.h"

namespace snapmla::sched {

// A segment costs its blocks + this (loading Q, writing a partial O, its share of combine). It
// is charged for every segment, the middle pieces of a split request included: otherwise a
// lone long request is cut into pieces of a whole payload each and leaves most SMs idle. 2
// blocks: the wgmma kernel's segment set-up and epilogue cost about one page's work, and each
// extra split adds a 2 KB row per query row to combine.
inline constexpr int kFixedOverheadBlocks = 2;

// A request longer than kOneBlockPiecesUpTo blocks is cut into pieces of at least
// kLongRequestMinPiece blocks. In pieces of one block a lone 8K-token request gets 128 splits,
// and combining them (16 splits in flight a lane) costs more than the page a piece saves:
// 1x1x16x8192 under graphs took 24.8 us in 128 one-block pieces, 21.4 us in 64 two-block
// pieces. Short requests keep one-block pieces (1x1x16x640: 10 pieces are 1.7 us faster than
// 5). docs/perf.md, v32.
inline constexpr int kOneBlockPiecesUpTo = 64;
inline constexpr int kLongRequestMinPiece = 2;

// The query rows of one arrival counter: the 64-row wgmma kernel's row tile.
inline constexpr int kMergeTileRows = 64;
SNAPMLA_HD constexpr int merge_tiles_of(int rows) { return (rows + kMergeTileRows - 1) / kMergeTileRows; }
// One CTA reads all the partials of a request it merges, so only requests of up to this many
// splits are merged in-kernel; the combine kernel, spread over the whole GPU, takes the others
// (at 8 splits, 8x1x128x8192 took 87 us instead of 68 us: docs/perf.md, v30).
inline constexpr int kMaxInKernelMergeSplits = 4;

struct PartRange {
  std::int32_t begin_req, begin_block;  // first block of the first segment
  std::int32_t end_req, end_block;      // one past the last block (end_block of end_req);
                                        // end_block == 0 means the part ends before end_req
  std::int32_t first_split;             // split index of the part's first segment
  std::int32_t pad[3];
};
static_assert(sizeof(PartRange) == 32);

// Where each piece lives in the workspace. All offsets are in bytes, 256-byte aligned.
struct WorkspaceLayout {
  int batch, num_parts, rows;  // rows = s_q * h_q
  std::size_t parts_offset;        // PartRange[num_parts]
  std::size_t split_begin_offset;  // int32[batch + 1]
  std::size_t check_offset;        // int32[4]: checked-mode report
  std::size_t split_done_offset;   // int32[batch * merge_tiles()]: arrival counters, zero between calls
  std::size_t partial_lse_offset;  // float[max_splits * rows], log2 domain
  std::size_t partial_o_offset;    // float[max_splits * rows * 512]
  std::size_t total_bytes;

  int max_splits() const { return batch + num_parts; }
  int merge_tiles() const { return merge_tiles_of(rows); }
  int split_done_count() const { return batch * merge_tiles(); }
};

inline std::size_t align256(std::size_t n) { return (n + 255) & ~std::size_t(255); }

inline WorkspaceLayout workspace_layout(int batch, int s_q, int h_q, int num_parts) {
  WorkspaceLayout w{};
  w.batch = batch;
  w.num_parts = num_parts;
  w.rows = s_q * h_q;
  const std::size_t splits = std::size_t(batch) + num_parts;
  std::size_t at = 0;
  w.parts_offset = at;        at = align256(at + sizeof(PartRange) * num_parts);
  w.split_begin_offset = at;  at = align256(at + sizeof(std::int32_t) * (batch + 1));
  w.check_offset = at;        at = align256(at + sizeof(std::int32_t) * 4);
  w.split_done_offset = at;   at = align256(at + sizeof(std::int32_t) * w.split_done_count());
  w.partial_lse_offset = at;  at = align256(at + sizeof(float) * splits * w.rows);
  w.partial_o_offset = at;    at = align256(at + sizeof(float) * splits * w.rows * kDimLatent);
  w.total_bytes = at;
  return w;
}

SNAPMLA_HD int blocks_of(int length) { return (length + kPageSize - 1) / kPageSize; }

// The segments of a part, in order: fn(request, block_begin, block_end, split). The one walk
// the decode kernels and the CPU reference share.
template <class Fn>
SNAPMLA_HD void for_each_segment(const PartRange& part, int batch, const std::int32_t* lengths, Fn&& fn) {
  for (int r = part.begin_req; r <= part.end_req && r < batch; ++r) {
    if (r == part.end_req && part.end_block == 0) break;  // the part ends before r
    const int begin = r == part.begin_req ? part.begin_block : 0;
    const int end = r == part.end_req ? part.end_block : blocks_of(lengths[r]);
    fn(r, begin, end, part.first_split + (r - part.begin_req));
  }
}

// The planner itself: one thread walks the requests (b is at most a few thousand, so this is a
// few microseconds on the GPU and keeps host and device bit-identical). `lengths` are assumed
// validated (>= 0). Writes parts[num_parts] and split_begin[batch + 1].
SNAPMLA_HD void plan_schedule(const std::int32_t* lengths, int batch, int num_parts,
                              PartRange* parts, std::int32_t* split_begin) {
  long long total = 0;
  int longest = 0;
  for (int r = 0; r < batch; ++r) {
    const int nb = blocks_of(lengths[r]);
    total += nb + kFixedOverheadBlocks;
    if (nb > longest) longest = nb;
  }
  // Each part consumes at least payload - overhead units (it can only waste what is too little
  // to start a segment), so payload = ceil(total / parts) + overhead covers the requests' own
  // overheads; the segments cut at part boundaries add theirs, and the last part takes
  // whatever remains regardless. A piece takes payload - overhead blocks, so the floor on
  // that keeps a long request's pieces at kLongRequestMinPiece blocks or more.
  long long piece = (total + num_parts - 1) / num_parts;
  if (longest > kOneBlockPiecesUpTo && piece < kLongRequestMinPiece) piece = kLongRequestMinPiece;
  const long long payload = piece + kFixedOverheadBlocks;
  int req = 0, block = 0, split = 0;
  for (int p = 0; p < num_parts; ++p) {
    PartRange range{};
    range.begin_req = req;
    range.begin_block = block;
    range.first_split = split;
    long long budget = (p == num_parts - 1) ? (1ll << 62) : payload;
    while (req < batch) {
      const int nb = blocks_of(lengths[req]);
      const long long cost = (nb - block) + kFixedOverheadBlocks;
      if (budget >= cost) {  // finish this request
        budget -= cost;
        if (block == 0) split_begin[req] = split;
        ++split;
        ++req;
        block = 0;
        continue;
      }
      const long long take = budget - kFixedOverheadBlocks;
      if (take > 0) {  // a first or middle piece of a request that continues in the next part
        if (block == 0) split_begin[req] = split;
        ++split;
        block += static_cast<int>(take);
      }
      break;
    }
    range.end_req = req;
    range.end_block = block;
    parts[p] = range;
  }
  split_begin[batch] = split;
}

}  // namespace snapmla::sched
