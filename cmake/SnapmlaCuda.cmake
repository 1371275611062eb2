# Decides whether the CUDA kernels are built, and how.
set(SNAPMLA_WITH_CUDA OFF)
if(NOT SNAPMLA_ENABLE_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(SNAPMLA_WITH_CUDA ON)
  elseif(SNAPMLA_ENABLE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "SNAPMLA_ENABLE_CUDA=ON but no CUDA compiler was found")
  endif()
endif()

if(SNAPMLA_WITH_CUDA)
  # Hopper only: wgmma and setmaxnreg need the sm_90a target (plain sm_90 turns them into traps).
  set(CMAKE_CUDA_ARCHITECTURES OFF)
  enable_language(CUDA)
  # CMake < 3.26 does not know that nvcc >= 12 accepts -std=c++20: tell it.
  if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
  endif()
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(CUDAToolkit REQUIRED)
  if(NOT EXISTS "${SNAPMLA_CUTLASS_DIR}/cute/tensor.hpp")
    message(FATAL_ERROR "CUTLASS headers not found in SNAPMLA_CUTLASS_DIR=${SNAPMLA_CUTLASS_DIR}; "
                        "run scripts/setup.sh (or pass -DSNAPMLA_ENABLE_CUDA=OFF)")
  endif()
  set(SNAPMLA_CUDA_FLAGS
      -gencode=arch=compute_90a,code=sm_90a
      --expt-relaxed-constexpr --expt-extended-lambda
      -Xptxas=-warn-spills -lineinfo  # source lines in sanitizer reports and profiles
      $<$<BOOL:${SNAPMLA_CUDA_VERBOSE}>:-Xptxas=-v>)
  message(STATUS "snapmla: CUDA kernels ON (sm_90a), CUTLASS at ${SNAPMLA_CUTLASS_DIR}")
else()
  message(STATUS "snapmla: CUDA kernels OFF (CPU reference and tools only)")
endif()
