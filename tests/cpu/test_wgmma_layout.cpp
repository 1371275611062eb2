// The shared-memory layouts of the wgmma decode kernel (src/kernels/sm90/decode_wgmma/config.h),
// checked on the host: each is a permutation of its tile that keeps 16-byte chunks whole, and
// equals the hardware's swizzle of the row-major tile (SW128: address bits [4,7) ^= bits [7,10);
// SW64: bits [4,6) ^= bits [7,9)), which is what the wgmma descriptors tell the tensor cores.
// And the V^T transposer's address map and byte permutes (transpose_map.h), which the kernel
// uses as they are here: from the page to V^T, and the shared-memory banks they touch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/sm90/decode_wgmma/config.h"
#include "kernels/sm90/decode_wgmma/transpose_map.h"

namespace snapmla::kernels::decode_wgmma {
namespace {

TEST(WgmmaLayout, Sw128IsTheHardwareSwizzleOfItsColumnBlocks) {
  for (int rows : {16, 32, 64}) {  // the narrow kernel's Q tiles and the 64-row tiles
    std::vector<int> hits(rows * kDimLatent, 0);
    for (int r = 0; r < rows; ++r)
      for (int k = 0; k < kDimLatent; ++k) {
        const int off = sw128_offset(rows, r, k);
        ASSERT_GE(off, 0);
        ASSERT_LT(off, rows * kDimLatent);
        ++hits[off];
        // Row-major inside each 128-byte column block, then the XOR of the 128B swizzle.
        const int linear = (k / 128) * rows * 128 + r * 128 + k % 128;
        ASSERT_EQ(off, linear ^ (((linear >> 7) & 7) << 4)) << "r " << r << " k " << k;
        ASSERT_EQ(off % 16, k % 16);  // 16-byte chunks stay whole (cp.async, ldmatrix)
      }
    for (int h : hits) ASSERT_EQ(h, 1);
  }
}

TEST(WgmmaLayout, Sw64IsTheHardwareSwizzleOfTheTransposedTile) {
  std::vector<int> hits(kDimLatent * kTokensPerBlock, 0);
  for (int n = 0; n < kDimLatent; ++n)
    for (int k = 0; k < kTokensPerBlock; ++k) {
      const int off = sw64_offset(n, k);
      ASSERT_GE(off, 0);
      ASSERT_LT(off, kDimLatent * kTokensPerBlock);
      ++hits[off];
      const int linear = n * 64 + k;
      ASSERT_EQ(off, linear ^ (((linear >> 7) & 3) << 4)) << "n " << n << " k " << k;
      ASSERT_EQ(off % 4, k % 4);  // a 4-token word of one dim stays whole (the transpose's stores)
    }
  for (int h : hits) ASSERT_EQ(h, 1);
}

constexpr int kWarps = 8, kLanes = 32;  // the 64-row kernel's 256 threads

TEST(WgmmaLayout, TransposerLoadsEveryTokenChunkOnceFromItsPlace) {
  std::vector<int> hits(kTokensPerBlock * kDimLatent / kChunkBytes, 0);
  for (int w = 0; w < kWarps; ++w)
    for (int lane = 0; lane < kLanes; ++lane) {
      const TransposeBases b = transpose_bases(w, lane);
      const int quad = lane / 2, h = lane % 2;
      for (int u = 0; u < kTransposeUnitsPerThread; ++u)
        for (int i = 0; i < 4; ++i) {
          const int token = 4 * quad + i, chunk = 4 * w + 2 * u + h;
          ASSERT_EQ(transpose_load_offset(b, u, i), std::uint32_t(sw128_offset(kTokensPerBlock, token, 16 * chunk)))
              << "warp " << w << " lane " << lane << " u " << u << " i " << i;
          ++hits[token * (kDimLatent / kChunkBytes) + chunk];
        }
    }
  for (int n : hits) ASSERT_EQ(n, 1);
}

TEST(WgmmaLayout, TransposerStoresEveryDimWordOnceToItsPlace) {
  std::vector<int> hits(kDimLatent * (kTokensPerBlock / 4), 0);
  for (int w = 0; w < kWarps; ++w)
    for (int lane = 0; lane < kLanes; ++lane) {
      const TransposeBases b = transpose_bases(w, lane);
      const int quad = lane / 2, h = lane % 2;
      for (int u = 0; u < kTransposeUnitsPerThread; ++u)
        for (int m = 0; m < 4; ++m)
          for (int j = 0; j < 4; ++j) {
            const int dim = 16 * (4 * w + 2 * u + h) + 4 * m + (j ^ h);  // word j holds dim 4 m + (j ^ h)
            ASSERT_EQ(transpose_store_offset(b, u, m, j), std::uint32_t(sw64_offset(dim, 4 * quad)))
                << "warp " << w << " lane " << lane << " u " << u << " m " << m << " j " << j;
            ++hits[dim * (kTokensPerBlock / 4) + quad];
          }
    }
  for (int n : hits) ASSERT_EQ(n, 1);
}

TEST(WgmmaLayout, TransposerPermutesGiveFourTokensOfOneDim) {
  // PRMT as the hardware defines it: byte k of the result is byte (nibble k) of {b, a}.
  EXPECT_EQ(byte_perm(0x33221100u, 0x77665544u, 0x5140u), 0x55114400u);
  EXPECT_EQ(byte_perm(0x33221100u, 0x77665544u, 0x7632u), 0x77663322u);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 1000; ++trial) {
    std::uint32_t w[4];  // w[t]: 4 dims of token t
    for (auto& x : w) x = rng();
    for (int h = 0; h < 2; ++h) {
      std::uint32_t out[4];
      transpose_4x4_bytes(w[0], w[1], w[2], w[3], transpose_sel_even(h), transpose_sel_odd(h), out);
      for (int j = 0; j < 4; ++j)
        for (int t = 0; t < 4; ++t)
          ASSERT_EQ((out[j] >> (8 * t)) & 0xff, (w[t] >> (8 * (j ^ h))) & 0xff) << "h " << h << " j " << j << " t " << t;
    }
  }
}

// Shared-memory wavefronts of the transposer's instructions: a 16-byte load is served 8 lanes
// at a time, as many wavefronts as the most lanes of a group that hit one 16-byte bank group
// (4 banks) at different addresses; a 4-byte store, as many as the most lanes on one bank.
TEST(WgmmaLayout, TransposerLoadsAreAtMostTwoWayAndStoresConflictFree) {
  int load_wavefronts = 0, store_wavefronts = 0;
  for (int w = 0; w < kWarps; ++w) {
    std::vector<TransposeBases> b;
    for (int lane = 0; lane < kLanes; ++lane) b.push_back(transpose_bases(w, lane));
    for (int u = 0; u < kTransposeUnitsPerThread; ++u) {
      for (int i = 0; i < 4; ++i)
        for (int group = 0; group < 4; ++group) {
          std::vector<std::vector<std::uint32_t>> by_bank(8);
          for (int lane = 8 * group; lane < 8 * group + 8; ++lane) {
            const std::uint32_t a = transpose_load_offset(b[lane], u, i);
            auto& v = by_bank[(a / 16) % 8];
            if (std::find(v.begin(), v.end(), a) == v.end()) v.push_back(a);
          }
          std::size_t most = 0;
          for (const auto& v : by_bank) most = std::max(most, v.size());
          EXPECT_LE(most, 2u) << "warp " << w << " u " << u << " i " << i << " lanes " << 8 * group << "..";
          load_wavefronts += int(most);
        }
      for (int m = 0; m < 4; ++m)
        for (int j = 0; j < 4; ++j) {
          std::vector<int> per_bank(32, 0);
          for (int lane = 0; lane < kLanes; ++lane) ++per_bank[(transpose_store_offset(b[lane], u, m, j) / 4) % 32];
          const int most = *std::max_element(per_bank.begin(), per_bank.end());
          EXPECT_EQ(most, 1) << "warp " << w << " u " << u << " m " << m << " j " << j;
          store_wavefronts += most;
        }
    }
  }
  EXPECT_EQ(load_wavefronts, 512);   // a page: 64 load instructions x 4 lane groups x 2
  EXPECT_EQ(store_wavefronts, 256);  // 256 store instructions, one wavefront each
}

}  // namespace
}  // namespace snapmla::kernels::decode_wgmma
