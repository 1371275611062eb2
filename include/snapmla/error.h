// snapmla/error.h - the one exception type the library throws.
//
// Host-side checks throw snapmla::Error before any kernel runs. The message names the argument
// and the rule it broke, e.g. "decode: block_table: page index 912 at [3, 7] is outside the
// cache (pages = 900)". The library never calls exit() and never synchronises on its own.
#pragma once

#include <stdexcept>
#include <string>

namespace snapmla {

enum class ErrorCode {
  kInvalidArgument,  // shape, dtype, stride, pointer, value range
  kUnsupported,      // a valid request this build or device cannot serve (e.g. CUDA tensors, no CUDA)
  kCudaError,        // a CUDA runtime call or kernel launch failed
  kDeviceCheckFailed // checked mode found a bad length or page index on the device
};

const char* to_string(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace snapmla
