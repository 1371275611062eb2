// The shared-memory layouts of the wgmma decode kernel (src/kernels/sm90/decode_wgmma/config.h),
// checked on the host: each is a permutation of its tile that keeps 16-byte chunks whole, and
// equals the hardware's swizzle of the row-major tile (SW128: address bits [4,7) ^= bits [7,10);
// SW64: bits [4,6) ^= bits [7,9)), which is what the wgmma descriptors tell the tensor cores.
// And the P8^T tile the 64-row kernel's PV reads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/sm90/decode_wgmma/config.h"
#include "kernels/sm90/decode_narrow/config.h"
#include "kernels/sm90/decode_wgmma/components/shared_storage.cuh"

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

TEST(WgmmaLayout, Sw64IsTheHardwareSwizzleOfItsTile) {
  std::vector<int> hits(kDimLatent * kTokensPerBlock, 0);
  for (int n = 0; n < kDimLatent; ++n)
    for (int k = 0; k < kTokensPerBlock; ++k) {
      const int off = sw64_offset(n, k);
      ASSERT_GE(off, 0);
      ASSERT_LT(off, kDimLatent * kTokensPerBlock);
      ++hits[off];
      const int linear = n * 64 + k;
      ASSERT_EQ(off, linear ^ (((linear >> 7) & 3) << 4)) << "n " << n << " k " << k;
      ASSERT_EQ(off % 16, k % 16);  // 16-byte chunks stay whole
    }
  for (int h : hits) ASSERT_EQ(h, 1);
}

// P8^T, the owner's softmax output and PV's B operand (shared_storage.cuh's p8_offset): the
// SW64 tile of 64 query rows x 64 tokens in the PV k order of the narrow kernel's fragments.
// Every (row, token) has its own byte, a token pair (2 c, 2 c + 1) stays adjacent (the
// softmax's 16-bit stores), and PV's k index of a token is the one its A fragments carry.
TEST(WgmmaLayout, P8TileIsSw64InThePvKOrder) {
  std::vector<int> hits(kRowsPerCta * kTokensPerBlock, 0);
  for (int row = 0; row < kRowsPerCta; ++row)
    for (int tok = 0; tok < kTokensPerBlock; ++tok) {
      const int off = p8_offset(row, tok);
      ASSERT_GE(off, 0);
      ASSERT_LT(off, kRowsPerCta * kTokensPerBlock);
      ++hits[off];
      ASSERT_EQ(off, sw64_offset(row, decode_narrow::p8_k_of_token(tok)));
      if (tok % 2 == 1) {
        ASSERT_EQ(off, p8_offset(row, tok - 1) + 1) << "row " << row << " tok " << tok;
      }
      // The softmax (softmax.cuh) stores the tokens 2 t, 2 t + 1 of n-tiles nt and nt + 1 (nt
      // even, 8 tokens an n-tile) as one 4-byte word: they must be its bytes 0-1 and 2-3.
      if (tok % 16 < 8 && tok % 2 == 0) {
        ASSERT_EQ(off % 4, 0) << "row " << row << " tok " << tok;
        ASSERT_EQ(p8_offset(row, tok + 8), off + 2) << "row " << row << " tok " << tok;
      }
    }
  for (int h : hits) ASSERT_EQ(h, 1);
  for (int t = 0; t < 4; ++t)
    for (int r = 0; r < 4; ++r)
      for (int b = 0; b < 4; ++b)
        ASSERT_EQ(decode_narrow::p8_k_of_token(decode_narrow::pv_a_token(t, r, b)), decode_narrow::pv_a_k(t, r, b));
}

}  // namespace
}  // namespace snapmla::kernels::decode_wgmma
