// The address map and byte transpose of the V^T transposer (components/transpose_v.cuh),
// host and device, so that tests/cpu/test_wgmma_layout.cpp can check them against the page and
// V^T layouts of config.h: every (token, dim) read once and written once to its place, the
// loads at most 2-way and the stores free of shared-memory bank conflicts.
//
// Thread (warp w of 8, lane: quad = lane / 2, h = lane % 2) transposes, for u = 0, 1, the
// unit of tokens 4 quad .. 4 quad + 3 and dims 16 chunk .. 16 chunk + 15, chunk = 4 w + 2 u + h
// (column block w / 2 of the page). It loads token 4 quad + i (i < 4) as 16 bytes, transposes
// the 4 x 4 byte blocks, and stores 16 words of 4 tokens, one per dim; word j (j < 4) of block
// m (m < 4) holds dim 16 chunk + 4 m + (j ^ h) (the h = 1 lane of each pair stores the
// neighbouring dim: no two lanes of a store instruction write the same bank).
#pragma once

#include <cstdint>

#include "common/host_device.h"
#include "kernels/sm90/decode_wgmma/config.h"

namespace snapmla::kernels::decode_wgmma {

inline constexpr int kTransposeUnitsPerThread = 2;  // 512 units of 4 tokens x 16 dims, 256 threads

// A thread's address bases, page and V^T byte offsets (the swizzle algebra: the page offset of
// (token, 16 chunk) is (w / 2) 8 KB + token 128 + 16 ((chunk % 8) ^ (token % 8)), and with
// chunk % 8 = 4 (w % 2) + 2 u + h, token % 8 = 4 (quad % 2) + i the swizzle term is
// 64 ((w ^ quad) % 2) + 16 (2 u ^ i) +- 16 h: two load bases; the V^T word of dim d, tokens
// 4 quad .. + 3 is at d 64 + 16 ((quad / 4) ^ ((d / 2) % 4)) + 4 (quad % 4), whose swizzle term
// takes one of four values for the constant c = (2 m + j / 2) % 4).
struct TransposeBases {
  std::uint32_t load[2];      // [parity of 2 u ^ i]
  std::uint32_t store[2][4];  // [j % 2][c]
};

SNAPMLA_HD constexpr TransposeBases transpose_bases(int warp, int lane) {
  const int quad = lane / 2, h = lane % 2;
  const std::uint32_t base =
      (warp / 2) * kTokensPerBlock * kSw128RowBytes + 4 * quad * kSw128RowBytes + 64 * ((warp ^ quad) % 2);
  TransposeBases b{};
  b.load[0] = base + 16 * h;
  b.load[1] = base - 16 * h;
  const std::uint32_t dims = (4 * warp + h) * kChunkBytes * kSw64RowBytes + 4 * (quad % 4);
  for (int c = 0; c < 4; ++c) {
    b.store[0][c] = dims + 16 * ((quad / 4) ^ c) + h * kSw64RowBytes;  // j even: dim j + h
    b.store[1][c] = dims + 16 * ((quad / 4) ^ c) - h * kSw64RowBytes;  // j odd: dim j - h
  }
  return b;
}

// Page offset of token 4 quad + i of unit u.
SNAPMLA_HD constexpr std::uint32_t transpose_load_offset(const TransposeBases& b, int u, int i) {
  const int c = (2 * u) ^ i;
  return b.load[c % 2] + i * kSw128RowBytes + 16 * c;
}

// V^T offset of word j of block m of unit u.
SNAPMLA_HD constexpr std::uint32_t transpose_store_offset(const TransposeBases& b, int u, int m, int j) {
  const int dim_in_unit = 2 * u * kChunkBytes + 4 * m + j;  // chunk(u) * 16 + 4 m + j - chunk(0) * 16
  return b.store[j % 2][(2 * m + j / 2) % 4] + dim_in_unit * kSw64RowBytes;
}

// PRMT: byte k of the result is byte (selector nibble k) of the 8 bytes {a, b} (no sign mode).
SNAPMLA_HD std::uint32_t byte_perm(std::uint32_t a, std::uint32_t b, std::uint32_t selector) {
#ifdef __CUDA_ARCH__
  return __byte_perm(a, b, selector);
#else
  const std::uint64_t bytes = (static_cast<std::uint64_t>(b) << 32) | a;
  std::uint32_t r = 0;
  for (int k = 0; k < 4; ++k) r |= static_cast<std::uint32_t>((bytes >> (8 * ((selector >> (4 * k)) & 7))) & 0xff) << (8 * k);
  return r;
#endif
}

// The word swap of lane parity h (below): sel_even / sel_odd.
SNAPMLA_HD constexpr std::uint32_t transpose_sel_even(int h) { return h ? 0x7632u : 0x5410u; }
SNAPMLA_HD constexpr std::uint32_t transpose_sel_odd(int h) { return h ? 0x5410u : 0x7632u; }

// out[j] = byte j ^ h of each of w0..w3 (w_i = 4 dims of token i -> 4 tokens of dim j ^ h),
// with sel_even / sel_odd of h: the last permutes take their selectors from registers, so the
// swap is free.
SNAPMLA_HD void transpose_4x4_bytes(std::uint32_t w0, std::uint32_t w1, std::uint32_t w2, std::uint32_t w3,
                                    std::uint32_t sel_even, std::uint32_t sel_odd, std::uint32_t (&out)[4]) {
  const std::uint32_t lo01 = byte_perm(w0, w1, 0x5140), hi01 = byte_perm(w0, w1, 0x7362);
  const std::uint32_t lo23 = byte_perm(w2, w3, 0x5140), hi23 = byte_perm(w2, w3, 0x7362);
  out[0] = byte_perm(lo01, lo23, sel_even);
  out[1] = byte_perm(lo01, lo23, sel_odd);
  out[2] = byte_perm(hi01, hi23, sel_even);
  out[3] = byte_perm(hi01, hi23, sel_odd);
}

}  // namespace snapmla::kernels::decode_wgmma
