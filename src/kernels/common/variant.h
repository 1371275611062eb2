// Which decode kernel family serves a call: SNAPMLA_DECODE_KERNEL = simt | tc | wgmma.
//
//   wgmma  the default. FP8: the warpgroup-MMA kernel (src/kernels/sm90/decode_wgmma); BF16:
//          the mma.sync tensor-core kernel (the fastest BF16 kernel we have; its racecheck runs
//          have been clean, the hazards below were reported for the FP8 instantiation).
//   simt   the SIMT kernels (FP8 and BF16): the first, simplest kernels; memcheck, racecheck
//          and synccheck clean.
//   tc     the mma.sync tensor-core kernels (src/kernels/sm90/decode_tc, FP8 and BF16). They
//          match the emulation in every test, but compute-sanitizer racecheck reports WAR
//          hazards between their PV ldmatrix reads and cp.async page loads that are not
//          understood yet (docs/perf.md), so they are opt-in.
// Unset (or anything else): kDefaultDecodeKernel. A shape the chosen kernel does not serve falls
// back to SIMT.
#pragma once

#include <cstdlib>
#include <cstring>

namespace snapmla::kernels {

enum class DecodeKernel { kSimt, kTensorCore, kWgmma };

inline constexpr DecodeKernel kDefaultDecodeKernel = DecodeKernel::kWgmma;

inline DecodeKernel decode_kernel_choice() {
  static const DecodeKernel choice = [] {
    const char* v = std::getenv("SNAPMLA_DECODE_KERNEL");
    if (v == nullptr) return kDefaultDecodeKernel;
    if (std::strcmp(v, "tc") == 0) return DecodeKernel::kTensorCore;
    if (std::strcmp(v, "wgmma") == 0) return DecodeKernel::kWgmma;
    if (std::strcmp(v, "simt") == 0) return DecodeKernel::kSimt;
    return kDefaultDecodeKernel;
  }();
  return choice;
}

}  // namespace snapmla::kernels
