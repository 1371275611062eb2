// Which decode kernel variant serves a call.
//
// Default: the SIMT kernels, which pass memcheck, racecheck and synccheck. The tensor-core
// kernels (src/kernels/sm90/decode_tc, 3.5-7x faster) are opt-in with SNAPMLA_DECODE_KERNEL=tc:
// they match the emulation in every test, but compute-sanitizer racecheck reports intermittent
// WAR hazards between their PV ldmatrix reads and cp.async page loads that are not understood
// yet (docs/perf.md, issue 4). With tc, a shape the tensor-core kernel does not serve still
// falls back to SIMT.
#pragma once

#include <cstdlib>
#include <cstring>

namespace snapmla::kernels {

inline bool tensor_core_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("SNAPMLA_DECODE_KERNEL");
    return v != nullptr && std::strcmp(v, "tc") == 0;
  }();
  return enabled;
}

}  // namespace snapmla::kernels
