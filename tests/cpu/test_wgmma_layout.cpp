// The shared-memory layouts of the wgmma decode kernel (src/kernels/sm90/decode_wgmma/config.h),
// checked on the host: each is a permutation of its tile that keeps 16-byte chunks whole, and
// equals the hardware's swizzle of the row-major tile (SW128: address bits [4,7) ^= bits [7,10);
// SW64: bits [4,6) ^= bits [7,9)), which is what the wgmma descriptors tell the tensor cores.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/sm90/decode_wgmma/config.h"

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

}  // namespace
}  // namespace snapmla::kernels::decode_wgmma
