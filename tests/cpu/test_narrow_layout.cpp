// The fragment order of the narrow decode kernel (src/kernels/sm90/decode_narrow/config.h),
// checked on the host: ldmatrix.x4.trans (PTX ISA semantics, emulated below) of the 32 token rows
// of a k-step plus the two byte permutes of pv.cuh must give, in each byte of PV's A fragment,
// the (dim, token) that config.h names, and P8's k order must put every token where that
// fragment multiplies it.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <set>

#include "kernels/sm90/decode_narrow/config.h"

namespace snapmla::kernels::decode_narrow {
namespace {

// V of one k-step: 32 tokens x 16 dims (one 16-byte chunk of each token row), distinct bytes.
std::uint8_t v_byte(int token, int dim) { return static_cast<std::uint8_t>(16 * token + dim); }

// ldmatrix .m8n8.x4.trans .b16: matrix i is token rows 8 i .. 8 i + 7 (16 bytes = 8 b16
// elements each); lane (g, t) receives, in register i, element g of rows 2 t and 2 t + 1.
std::array<std::uint32_t, 4> ldmatrix_x4_trans(int g, int t) {
  std::array<std::uint32_t, 4> r{};
  for (int i = 0; i < 4; ++i) {
    const int row0 = 8 * i + 2 * t, row1 = row0 + 1;
    r[i] = std::uint32_t(v_byte(row0, 2 * g)) | std::uint32_t(v_byte(row0, 2 * g + 1)) << 8 |
           std::uint32_t(v_byte(row1, 2 * g)) << 16 | std::uint32_t(v_byte(row1, 2 * g + 1)) << 24;
  }
  return r;
}

// __byte_perm(x, y, s): byte n of the result is byte (s >> 4 n) & 7 of y:x.
std::uint32_t byte_perm(std::uint32_t x, std::uint32_t y, std::uint32_t s) {
  const std::uint64_t xy = (std::uint64_t(y) << 32) | x;
  std::uint32_t r = 0;
  for (int n = 0; n < 4; ++n) r |= std::uint32_t((xy >> (8 * ((s >> (4 * n)) & 7))) & 0xff) << (8 * n);
  return r;
}

TEST(NarrowLayout, LdmatrixTransAndPermutesGiveTheNamedFragments) {
  for (int g = 0; g < 8; ++g)
    for (int t = 0; t < 4; ++t) {
      const auto r = ldmatrix_x4_trans(g, t);
      for (int reg = 0; reg < 4; ++reg) {
        const int h = reg / 2;  // as pv.cuh: registers 2 h, 2 h + 1 from r[2 h], r[2 h + 1]
        const std::uint32_t frag = byte_perm(r[2 * h], r[2 * h + 1], reg % 2 == 0 ? 0x6420 : 0x7531);
        for (int b = 0; b < 4; ++b)
          ASSERT_EQ((frag >> (8 * b)) & 0xff, v_byte(pv_a_token(t, reg, b), pv_a_dim(g, reg)))
              << "g " << g << " t " << t << " reg " << reg << " byte " << b;
      }
    }
}

TEST(NarrowLayout, FragmentsCoverTheKStepOnceAndP8FollowsThem) {
  std::set<std::pair<int, int>> seen;  // (dim, token) over the warp's 16 dims x 32 tokens
  std::set<int> ks;
  for (int g = 0; g < 8; ++g)
    for (int t = 0; t < 4; ++t)
      for (int reg = 0; reg < 4; ++reg)
        for (int b = 0; b < 4; ++b) {
          const int tok = pv_a_token(t, reg, b), k = pv_a_k(t, reg, b);
          ASSERT_GE(tok, 0);
          ASSERT_LT(tok, 32);
          EXPECT_TRUE(seen.insert({pv_a_dim(g, reg), tok}).second);
          // The wgmma A layout: M row g (even registers) or g + 8, k = 16 (reg / 2) + 4 t + b.
          EXPECT_EQ(p8_k_of_token(tok), k) << "token " << tok;
          if (g == 0 && reg % 2 == 0) ks.insert(k);
        }
  EXPECT_EQ(seen.size(), 16u * 32u);
  EXPECT_EQ(ks.size(), 32u);
  std::set<int> p8;  // P8's order is a permutation of each 64-token row
  for (int tok = 0; tok < kTokensPerBlock; ++tok) p8.insert(p8_k_of_token(tok));
  EXPECT_EQ(p8.size(), std::size_t(kTokensPerBlock));
  EXPECT_EQ(*p8.rbegin(), kTokensPerBlock - 1);
}

TEST(NarrowLayout, OutputDimsCoverTheLatentOnce) {
  std::set<int> dims;
  for (int m = 0; m < kDimTiles; ++m)
    for (int w = 0; w < kWarps; ++w)
      for (int g = 0; g < 8; ++g)
        for (int i = 0; i < 2; ++i) dims.insert(pv_out_dim(m, w, g, i));
  EXPECT_EQ(dims.size(), std::size_t(kDimLatent));
  EXPECT_EQ(*dims.rbegin(), kDimLatent - 1);
}

}  // namespace
}  // namespace snapmla::kernels::decode_narrow
