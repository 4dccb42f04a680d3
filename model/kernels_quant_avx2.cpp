// Quantized row kernels for AVX2 + FMA + F16C (maddubs-based integer dots).
#include <immintrin.h>

#include <cstdint>

#include "model/activation_quant.h"
#include "model/kernels_internal.h"
#include "model/quant_blocks.h"
#include "model/tensor_type.h"

namespace tinyrag::kernels {
namespace {
#include "model/kernels_quant_simd.inc"
}  // namespace

void FillAvx2QuantKernels(KernelTable& table) { FillQuantKernels(table); }

}  // namespace tinyrag::kernels
