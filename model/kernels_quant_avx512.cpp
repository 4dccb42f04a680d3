// Quantized row kernels for AVX-512 VL + VNNI: the AVX2 kernels' structure
// with VPDPBUSD integer dots on 256-bit vectors. (On the Zen 4 class CPUs we
// target, 512-bit integer ops run as two 256-bit halves: wider registers pay
// only where they halve the instruction count without shuffles, as in the
// four-row k-quant path, which takes two chunks per vector.)
// GCC 12 reports the deliberately undefined upper half inside
// _mm512_castsi256_si512 and friends as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "model/activation_quant.h"
#include "model/kernels_internal.h"
#include "model/quant_blocks.h"
#include "model/tensor_type.h"

#define TINYRAG_VNNI 1
#define TINYRAG_AVX512 1

namespace tinyrag::kernels {
namespace {
#include "model/kernels_quant_simd.inc"
}  // namespace

void FillAvx512QuantKernels(KernelTable& table) { FillQuantKernels(table); }

}  // namespace tinyrag::kernels
