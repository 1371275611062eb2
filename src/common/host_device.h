// Lets one function body serve the CPU reference and the CUDA kernels.
#pragma once

#if defined(__CUDACC__)
#define SNAPMLA_HD __host__ __device__ __forceinline__
#else
#define SNAPMLA_HD inline
#endif
