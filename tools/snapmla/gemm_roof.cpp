#include "gemm_roof.h"

#if SNAPMLA_WITH_CUDA
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>
#endif

namespace snapmla::tool {

#if SNAPMLA_WITH_CUDA
namespace {

// The cuBLASLt entry points the roof needs, resolved with dlsym.
struct CublasLt {
  void* lib = nullptr;
#define SNAPMLA_LT_FN(name) decltype(&::name) name = nullptr;
  SNAPMLA_LT_FN(cublasLtCreate)
  SNAPMLA_LT_FN(cublasLtDestroy)
  SNAPMLA_LT_FN(cublasLtMatmulDescCreate)
  SNAPMLA_LT_FN(cublasLtMatmulDescDestroy)
  SNAPMLA_LT_FN(cublasLtMatmulDescSetAttribute)
  SNAPMLA_LT_FN(cublasLtMatrixLayoutCreate)
  SNAPMLA_LT_FN(cublasLtMatrixLayoutDestroy)
  SNAPMLA_LT_FN(cublasLtMatmulPreferenceCreate)
  SNAPMLA_LT_FN(cublasLtMatmulPreferenceDestroy)
  SNAPMLA_LT_FN(cublasLtMatmulPreferenceSetAttribute)
  SNAPMLA_LT_FN(cublasLtMatmulAlgoGetHeuristic)
  SNAPMLA_LT_FN(cublasLtMatmul)
#undef SNAPMLA_LT_FN

  bool open() {
    for (const char* name : {"libcublasLt.so.13", "libcublasLt.so"})
      if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
    if (lib == nullptr) return false;
    bool ok = true;
#define SNAPMLA_LT_SYM(name) ok = ok && (name = reinterpret_cast<decltype(name)>(dlsym(lib, #name))) != nullptr;
    SNAPMLA_LT_SYM(cublasLtCreate)
    SNAPMLA_LT_SYM(cublasLtDestroy)
    SNAPMLA_LT_SYM(cublasLtMatmulDescCreate)
    SNAPMLA_LT_SYM(cublasLtMatmulDescDestroy)
    SNAPMLA_LT_SYM(cublasLtMatmulDescSetAttribute)
    SNAPMLA_LT_SYM(cublasLtMatrixLayoutCreate)
    SNAPMLA_LT_SYM(cublasLtMatrixLayoutDestroy)
    SNAPMLA_LT_SYM(cublasLtMatmulPreferenceCreate)
    SNAPMLA_LT_SYM(cublasLtMatmulPreferenceDestroy)
    SNAPMLA_LT_SYM(cublasLtMatmulPreferenceSetAttribute)
    SNAPMLA_LT_SYM(cublasLtMatmulAlgoGetHeuristic)
    SNAPMLA_LT_SYM(cublasLtMatmul)
#undef SNAPMLA_LT_SYM
    return ok;
  }
};

constexpr int kDim = 8192;
constexpr int kWarmup = 2, kTimed = 10;
constexpr std::size_t kWorkspaceBytes = std::size_t(64) << 20;

// Random operand bytes (never zeros: they run faster than real data). Values are small and
// finite in both bf16 and e4m3.
void fill_random(void* device, std::size_t bytes, bool fp8) {
  std::vector<std::uint8_t> host(bytes);
  std::mt19937 rng(7);
  for (std::size_t i = 0; i < bytes; ++i) {
    const std::uint8_t r = static_cast<std::uint8_t>(rng());
    // e4m3: magnitude codes 0x20..0x3f (0.25 .. 1.9); bf16: low byte random, high byte of a
    // value in [2^-2, 2) with a random sign.
    host[i] = fp8 ? static_cast<std::uint8_t>((r & 0x80) | 0x20 | (r & 0x1f))
                  : (i % 2 ? static_cast<std::uint8_t>((r & 0x80) | 0x3e | (r & 1)) : r);
  }
  cudaMemcpy(device, host.data(), bytes, cudaMemcpyHostToDevice);
}

// TFLOP/s of one M = N = K = kDim product with operands of `type` (A transposed: the FP8
// layout cuBLASLt requires), bf16 output, fp32 accumulation. 0 on any failure.
double time_gemm(CublasLt& lt, cublasLtHandle_t handle, cudaDataType_t type, void* a, void* b, void* d,
                 void* workspace, cudaStream_t stream) {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, ld = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  double tflops = 0;
  const cublasOperation_t op_t = CUBLAS_OP_T, op_n = CUBLAS_OP_N;
  std::size_t ws_bytes = kWorkspaceBytes;
  cublasLtMatmulHeuristicResult_t heuristic{};
  int found = 0;
  const float alpha = 1.0f, beta = 0.0f;
  bool ok = lt.cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS &&
            lt.cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_t, sizeof op_t) == CUBLAS_STATUS_SUCCESS &&
            lt.cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_n, sizeof op_n) == CUBLAS_STATUS_SUCCESS &&
            lt.cublasLtMatrixLayoutCreate(&la, type, kDim, kDim, kDim) == CUBLAS_STATUS_SUCCESS &&
            lt.cublasLtMatrixLayoutCreate(&lb, type, kDim, kDim, kDim) == CUBLAS_STATUS_SUCCESS &&
            lt.cublasLtMatrixLayoutCreate(&ld, CUDA_R_16BF, kDim, kDim, kDim) == CUBLAS_STATUS_SUCCESS &&
            lt.cublasLtMatmulPreferenceCreate(&pref) == CUBLAS_STATUS_SUCCESS &&
            lt.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes,
                                                    sizeof ws_bytes) == CUBLAS_STATUS_SUCCESS &&
            lt.cublasLtMatmulAlgoGetHeuristic(handle, desc, la, lb, ld, ld, pref, 1, &heuristic, &found) ==
                CUBLAS_STATUS_SUCCESS &&
            found > 0;
  if (ok) {
    std::vector<double> us;
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    for (int i = 0; ok && i < kWarmup + kTimed; ++i) {
      cudaEventRecord(e0, stream);
      ok = lt.cublasLtMatmul(handle, desc, &alpha, a, la, b, lb, &beta, d, ld, d, ld, &heuristic.algo, workspace,
                             ws_bytes, stream) == CUBLAS_STATUS_SUCCESS;
      cudaEventRecord(e1, stream);
      cudaEventSynchronize(e1);
      float ms = 0;
      cudaEventElapsedTime(&ms, e0, e1);
      if (i >= kWarmup) us.push_back(ms * 1e3);
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    if (ok && !us.empty()) {
      std::sort(us.begin(), us.end());
      tflops = 2.0 * kDim * double(kDim) * kDim / us[us.size() / 2] / 1e6;
    }
  }
  if (pref) lt.cublasLtMatmulPreferenceDestroy(pref);
  if (ld) lt.cublasLtMatrixLayoutDestroy(ld);
  if (lb) lt.cublasLtMatrixLayoutDestroy(lb);
  if (la) lt.cublasLtMatrixLayoutDestroy(la);
  if (desc) lt.cublasLtMatmulDescDestroy(desc);
  cudaGetLastError();  // a failed product must not poison the decode timings that follow
  return tflops;
}

}  // namespace

GemmRoofs measure_gemm_roofs(void* stream_ptr) {
  GemmRoofs roofs;
  CublasLt lt;
  if (!lt.open()) {
    roofs.note = "GEMM roofs not measured: libcublasLt not found";
    return roofs;
  }
  auto stream = static_cast<cudaStream_t>(stream_ptr);
  const std::size_t elems = std::size_t(kDim) * kDim;
  void *a = nullptr, *b = nullptr, *d = nullptr, *ws = nullptr;
  cublasLtHandle_t handle = nullptr;
  if (cudaMalloc(&a, elems * 2) == cudaSuccess && cudaMalloc(&b, elems * 2) == cudaSuccess &&
      cudaMalloc(&d, elems * 2) == cudaSuccess && cudaMalloc(&ws, kWorkspaceBytes) == cudaSuccess &&
      lt.cublasLtCreate(&handle) == CUBLAS_STATUS_SUCCESS) {
    fill_random(a, elems * 2, false);
    fill_random(b, elems * 2, false);
    roofs.bf16_tflops = time_gemm(lt, handle, CUDA_R_16BF, a, b, d, ws, stream);
    fill_random(a, elems, true);
    fill_random(b, elems, true);
    roofs.fp8_tflops = time_gemm(lt, handle, CUDA_R_8F_E4M3, a, b, d, ws, stream);
    roofs.note = "GEMM roofs: cuBLASLt 8192^3, bf16 and e4m3 operands, fp32 accumulation, bf16 output";
  } else {
    roofs.note = "GEMM roofs not measured: allocation or cublasLtCreate failed";
  }
  if (handle) lt.cublasLtDestroy(handle);
  for (void* p : {a, b, d, ws})
    if (p) cudaFree(p);
  cudaGetLastError();
  return roofs;
}
#else
GemmRoofs measure_gemm_roofs(void*) { return {0, 0, "GEMM roofs not measured: no CUDA build"}; }
#endif

}  // namespace snapmla::tool
