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

// As RowDotFn for rows [r0, r1) of w in one call: y[a * y_stride + r] =
// dot(row r, acts[a]). Saves a call and its setup per row where rows are short.
using RowsDotFn = void (*)(const WeightView& w, int64_t r0, int64_t r1, const void* const* acts, int na,
                           float* y, int64_t y_stride);

struct TypeKernels {
  RowDotFn f32 = nullptr;
  RowDotFn q8 = nullptr;
  RowsDotFn q8_rows = nullptr;  // optional; computes what q8 does, row by row
  // The q8 kernel reads ActQuad32 rows instead of ActBlock32 ones.
  bool q8_quads = false;
  // q8 kernels for rows in the quad layout (model/quad_layout.h); they read
  // ActQuad32 rows. Null where a level has none.
  RowDotFn quad_layout = nullptr;
  RowsDotFn quad_layout_rows = nullptr;
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
// Replaces the 32-value types' q8 kernels with the quad kernels (call after
// FillAvx512QuantKernels, on a CPU with AVX-512 VNNI).
void FillAvx512QuadKernels(KernelTable& table);

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

// Four consecutive 32-value activation blocks, interleaved for the quad row
// kernels (kernels_quad_avx512.cpp): in each 32-byte vector, int32 lanes 2j
// and 2j+1 belong to block j, as in the kernels' decoded weights.
struct alignas(64) ActQuad32 {
  int8_t qs[4][32];  // qs[k]: values 8k..8k+7 of block 0, then of blocks 1, 2, 3
  int32_t bias[8];   // lanes 2j, 2j+1: -(offset / 2) * (block j's sum)
  float d[8];        // lanes 2j, 2j+1: block j's scale
  float s[4];        // block j's Q8_1 sum term (weight types with a min)
};
static_assert(sizeof(ActQuad32) == 256);

// Rearranges `nb` quantized blocks into (nb + 3) / 4 quads at `out`; blocks
// past nb are zeros. `offset` is the weights' level offset (LevelOffset32).
void InterleaveQuads(const ActBlock32* blocks, int64_t nb, int offset, ActQuad32* out);

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
  // Decodes rows [r0, r0 + rows) of w, in either layout (rows <= kPanelRows;
  // missing rows are zeros) into `panel`, which holds panel_bytes(w.cols) bytes, 64-aligned.
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
