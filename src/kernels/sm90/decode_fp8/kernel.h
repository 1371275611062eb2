// Host entry of the split-KV decode kernel template (kernel.cuh); instantiated once per cache
// format in instantiations/ (decode_fp8.cu) and ../decode_bf16/instantiations/decode_bf16.cu.
#pragma once

#include "kernels/launch.h"

namespace snapmla::kernels::decode {

template <class Format>
void launch_decode(const DecodeParams& params, StreamHandle stream, const char* name);

}  // namespace snapmla::kernels::decode
