// Kernel tables shared by the dispatcher (kernels.cpp) and the per-ISA
// translation units. Not a public API.
#pragma once

#include <cstdint>

#include "model/activation_quant.h"
#include "model/cpu_features.h"
#include "model/quant_blocks.h"

namespace tinyrag::kernels {

// Activation rows a row kernel handles at once (weights decoded once for all).
inline constexpr int kMaxActs = 4;

// out[a] = dot(weight row `w`, activation row acts[a]) for a < na, 1 <= na <=
// kMaxActs; the row has `cols` values. acts[a] points to `cols` floats (f32
// kernels) or to the row's quantized blocks (q8 kernels: ActBlock32 for the
// 32-wide formats, BlockQ8_K for the k-quants and IQ4_XS).
using RowDotFn = void (*)(const void* w, const void* const* acts, int na, int64_t cols,
                          float* out);

struct TypeKernels {
  RowDotFn f32 = nullptr;
  RowDotFn q8 = nullptr;
};

// Indexed by the GgmlType value.
inline constexpr int kNumTypeIds = 40;
using KernelTable = TypeKernels[kNumTypeIds];

// Each fills the entries its level implements and leaves the others alone.
void FillScalarKernels(KernelTable& table);
void FillAvx2QuantKernels(KernelTable& table);
void FillAvx2FloatKernels(KernelTable& table);
void FillAvx512QuantKernels(KernelTable& table);
void FillAvx512FloatKernels(KernelTable& table);

// Activation quantizers (model/activation_quant.h semantics, bit-identical
// at every level).
struct ActivationQuantizers {
  void (*block32)(const float* x, int64_t n, ActBlock32* out) = nullptr;
  void (*super_block)(const float* x, int64_t n, BlockQ8_K* out) = nullptr;
};
void FillAvx2ActivationQuantizers(ActivationQuantizers& q);

// The quantizers MatVec/MatMul use at `level` (the best one <= level).
const ActivationQuantizers& ActivationQuantizersFor(CpuLevel level);

}  // namespace tinyrag::kernels
