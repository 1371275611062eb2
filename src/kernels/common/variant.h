// Which decode kernel variant serves a call: the tensor-core kernel where it supports the
// shape, the SIMT kernel elsewhere, or the SIMT kernel always when SNAPMLA_DECODE_KERNEL=simt
// (for comparisons and for ruling a kernel out when a result looks wrong).
#pragma once

#include <cstdlib>
#include <cstring>

namespace snapmla::kernels {

inline bool simt_forced() {
  static const bool forced = [] {
    const char* v = std::getenv("SNAPMLA_DECODE_KERNEL");
    return v != nullptr && std::strcmp(v, "simt") == 0;
  }();
  return forced;
}

}  // namespace snapmla::kernels
