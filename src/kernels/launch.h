// Host launchers of the CUDA kernels. Plain C++: src/api includes this without CUDA headers.
// Each launcher checks its launch (cudaGetLastError) and throws snapmla::Error(kCudaError).
// None synchronises, except the check_* functions of checked mode, which must read a result.
#pragma once

#include <cstdint>

#include "kernels/params.h"

namespace snapmla::kernels {

void launch_quantize_query(const QuantizeQueryParams& params, StreamHandle stream);
void launch_append_kv(const AppendParams& params, StreamHandle stream);
void launch_fetch_dequant(const FetchParams& params, StreamHandle stream);

// The metadata kernel: schedule from device lengths (src/sched/schedule.h), and the fused
// merge's split_done_count arrival counters zeroed.
void launch_plan(const std::int32_t* lengths, int batch, int num_parts, void* parts,
                 std::int32_t* split_begin, std::int32_t* split_done, int split_done_count, StreamHandle stream);

// Split kernels: write single-split requests to out/lse, the others to the partial buffers.
// launch_decode_fp8 returns the largest split count of the requests its kernel has merged into
// out/lse itself (kernels/common/merge_splits.cuh: the 64-row wgmma kernel, when
// params.split_done is set), or 1 (single-split requests only); launch_combine merges the rest.
// launch_decode_fp8 / launch_decode_bf16 run the kernel family kernels/common/variant.h picks
// (default: wgmma for FP8, the mma.sync tensor-core kernel for BF16), falling back to the SIMT
// kernels for what the chosen one does not serve. The SIMT kernels are also callable on their
// own, for tests that compare variants.
int launch_decode_fp8(const DecodeParams& params, StreamHandle stream);
void launch_decode_fp8_simt(const DecodeParams& params, StreamHandle stream);
void launch_decode_bf16(const DecodeParams& params, StreamHandle stream);
void launch_decode_bf16_simt(const DecodeParams& params, StreamHandle stream);
// Merges the partials of the requests with more than `merged_up_to` splits into out/lse (those
// with at most that many are final already).
void launch_combine(const DecodeParams& params, StreamHandle stream, int merged_up_to = 1);

// Checked mode: validate device-resident indices, synchronise, report the first failure.
struct CheckReport {
  int failed = 0;   // 0: all good
  int request = -1; // request (or row of slots) of the first failure
  int index = -1;   // block-table column (or -1)
  int value = 0;    // the offending value
  int kind = 0;     // 1: length < 0, 2: length > max_pages * 64, 3: page out of range, 4: slot out of range
};
CheckReport check_slots(const std::int32_t* slots, int n, int num_pages, StreamHandle stream);
CheckReport check_decode_inputs(const std::int32_t* lengths, const std::int32_t* block_table,
                                std::int64_t block_table_stride, int batch, int max_pages,
                                int num_pages, StreamHandle stream);

// Device facts the API needs (cached per device).
int device_sm_count(int device);
bool device_is_hopper(int device);
int device_count();  // 0 when no driver or no device

// Which device a pointer lives on; -1 for host memory. Used to reject mismatched views.
int pointer_device(const void* ptr);

}  // namespace snapmla::kernels
