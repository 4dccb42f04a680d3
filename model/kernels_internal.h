// Kernel tables shared by the dispatcher (kernels.cpp) and the per-ISA
// translation units. Not a public API.
#pragma once

#include <cstdint>

#include "model/activation_quant.h"
#include "model/cpu_features.h"
#include "model/kernels.h"
#include "model/quant_blocks.h"
#include "model/thread_pool.h"

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

// The offset between the unsigned levels the 32-value decoders produce
// (DecodeUnsigned in kernels_quant_blocks.inc) and the signed ones: 8 for
// Q4_0, 16 for Q5_0, 128 for Q8_0 and IQ4_NL, 0 for the other types.
int LevelOffset32(GgmlType type);

// Activation quantizers (model/activation_quant.h semantics, bit-identical
// at every level).
struct ActivationQuantizers {
  void (*block32)(const float* x, int64_t n, ActBlock32* out) = nullptr;
  void (*super_block)(const float* x, int64_t n, BlockQ8_K* out) = nullptr;
};
void FillAvx2ActivationQuantizers(ActivationQuantizers& q);

// The quantizers MatVec/MatMul use at `level` (the best one <= level).
const ActivationQuantizers& ActivationQuantizersFor(CpuLevel level);

// ---- Panel kernels: prefill-sized MatMul on AVX-512 VNNI ---------------------
// (kernels_panel_avx512.cpp; driven by kernels_panel.cpp.)

// Weight rows decoded together into one panel.
inline constexpr int kPanelRows = 16;

// 32 activation values quantized for the panel kernels (64 bytes).
struct alignas(64) PanelActChunk {
  int8_t qs[32];
  // -offset * (sum of the quantized values) per 16-value half (for types with
  // 16-value groups) or for all 32 in bias[0]; removes the weights' level
  // offset inside the integer dot.
  int32_t bias[2];
  float d;            // activation scale (per 32 values, or per super-block)
  float s;            // the Q8_1 sum term (types with a min)
  int32_t bsum_pair;  // the two 16-value sums as int16 (super-block types with mins)
  int32_t unused[3];
};
static_assert(sizeof(PanelActChunk) == 64);

struct PanelKernels {
  bool super_blocks;       // activations quantized as BlockQ8_K, else as ActBlock32
  int act_offset;          // the weights' level offset that bias[] removes (0: none)
  bool act_groups_of_16;   // bias per 16 values (else per 32 in bias[0])
  int64_t (*panel_bytes)(int64_t cols);
  // Decodes rows [r0, r0 + rows) of w (rows <= kPanelRows; missing rows are
  // zeros) into `panel`, which holds panel_bytes(w.cols) bytes, 64-aligned.
  void (*pack)(const WeightView& w, int64_t r0, int rows, uint8_t* panel);
  // y[a * y_stride + i] = dot(panel row i, activation row a) for a < n and
  // i < rows; activation row a is acts[a * cols / 32 ...].
  void (*multiply)(const uint8_t* panel, int64_t cols, const PanelActChunk* acts, int64_t n,
                   float* y, int64_t y_stride, int rows);
};

// The panel kernels for `type`, or nullptr when it has none. Call only on a
// CPU with AVX-512 VNNI.
const PanelKernels* Avx512PanelKernels(GgmlType type);

// Activation rows from which MatMul takes the panel path: below it, packing
// costs more than the row kernels lose.
inline constexpr int64_t kPanelMinActs = 16;

// y = x W^T (x is [n][w.cols], y is [n][w.rows]) through the panel kernels
// `k`, activations quantized by `quant`. w must have been checked.
void PanelMatMul(const PanelKernels& k, const ActivationQuantizers& quant, const WeightView& w,
                 const float* x, int64_t n, float* y, ThreadPool* pool);

}  // namespace tinyrag::kernels
