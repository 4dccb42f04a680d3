// Matrix-vector and matrix-matrix products of a weight matrix stored in any
// supported GGML type with f32 activations, with runtime CPU dispatch.
//
// Contract shared by every function here:
//  - W has `rows` rows of `cols` values; row r starts at data + r * row_stride
//    and holds RowBytes(type, cols) bytes (row_stride >= that). The kernels
//    only read W and never keep pointers past the call.
//  - Activations x are f32, row-major [n][cols]; results y are f32, row-major
//    [n][rows]: y[i][r] = dot(W row r, x row i).
//  - Work is split over `pool` (nullptr runs on the calling thread). Calls are
//    thread-safe as long as outputs do not overlap; each calling thread keeps
//    its own scratch buffer for quantized activations (grown, never shrunk).
//
// Numerics: the scalar path is the reference the SIMD paths are tested
// against. In q8 mode the activations are quantized to 8 bits once per call
// (model/activation_quant.h), as GGML's CPU backend does, and integer dot
// products are exact; k-quant/IQ4_XS results are bit-identical across paths,
// the 32-wide formats and the f32 mode differ only by float summation order.
// On AVX-512 VNNI a q8 MatMul of 16 rows or more takes the panel path, which
// is bit-identical to the scalar path for every quantized type (so for the
// 32-wide formats a row's result can differ in its last bits between a call
// with fewer rows and one with more).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "absl/status/status.h"
#include "model/cpu_features.h"
#include "model/tensor_type.h"
#include "model/thread_pool.h"

namespace tinyrag {

// How activations enter the dot products.
enum class ActivationMode {
  kAuto,  // kQ8 for quantized weights, kF32 for F32/F16/BF16 weights
  kF32,   // exact f32 activations (weights decoded to f32 on the fly)
  kQ8,    // activations quantized to 8 bits; ignored (kF32) for float weights
};

// How a row's blocks are laid out.
enum class WeightLayout {
  kGgml,   // as in GGUF files
  kQuads,  // rewritten for the AVX-512 decode kernels (model/quad_layout.h)
};

// A read-only view of a weight matrix (see the contract above). Does not own
// `data`.
struct WeightView {
  GgmlType type = GgmlType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;
  int64_t row_stride = 0;  // bytes between row starts
  WeightLayout layout = WeightLayout::kGgml;
};

struct KernelOptions {
  ActivationMode activations = ActivationMode::kAuto;
  // Caps the instruction set (e.g. tests comparing paths). Never raises it
  // above ActiveCpuLevel(); nullopt means ActiveCpuLevel().
  std::optional<CpuLevel> max_level;
};

// A view over densely packed rows (row_stride = RowBytes(type, cols)).
WeightView DenseWeights(GgmlType type, int64_t rows, int64_t cols, const void* data);

// OK when the kernels handle w: a supported type, rows >= 0, cols > 0 and a
// multiple of the block size, data non-null (unless rows == 0) and row_stride
// >= RowBytes(type, cols); in the quad layout also a type that has one and
// cols a multiple of 128. InvalidArgument naming the problem otherwise.
absl::Status CheckWeights(const WeightView& w);

// True when rewriting w into the quad layout makes its decode-sized products
// faster on this CPU: a Q4_0/Q5_0/Q8_0 matrix in the GGML layout whose cols
// are a multiple of 128, where the CPU has the AVX-512 VNNI kernels for it.
// Every function here accepts either layout with the same results; the quad
// layout only changes speed (a prefill-sized product converts its rows back
// panel by panel, at a small cost against its arithmetic).
bool PrefersQuadLayout(const WeightView& w);

// Copies w's rows into `dst` (w.rows * RowBytes(w.type, w.cols) bytes, not
// overlapping w) in the quad layout and returns the dense view of them.
// Requires CheckWeights(w) OK, w in the GGML layout, HasQuadLayout(w.type)
// and cols a multiple of 128.
WeightView CopyToQuadLayout(const WeightView& w, uint8_t* dst);

// Row r of w as f32 values (cols of them), in either layout.
void DequantizeWeightRow(const WeightView& w, int64_t r, float* out);

// y[r] = dot(W row r, x) for r < rows: x has cols values, y has rows values.
// Errors: those of CheckWeights, or InvalidArgument for null x/y.
absl::Status MatVec(const WeightView& w, const float* x, float* y, ThreadPool* pool,
                    const KernelOptions& options = {});

// Y = X W^T: x is [n][cols], y is [n][rows]. Each weight block is decoded once
// per group of up to 4 activation rows and reused from cache for many groups;
// on the panel path (see above) once per call.
// n == 0 does nothing. Errors: as MatVec, or InvalidArgument for n < 0.
absl::Status MatMul(const WeightView& w, const float* x, int64_t n, float* y, ThreadPool* pool,
                    const KernelOptions& options = {});

// Y_i = X W_i^T for weight matrices that share the input x (a layer's Q, K
// and V projections; its gate and up projections), each y_i [n][ws[i].rows].
// Results equal separate MatMul calls bit for bit. For decode-sized n (up to
// 8 rows) the activations are quantized once per activation format and all
// the matrices' rows are handed out in one ParallelFor, which saves a
// quantization and a wait for the slowest thread per matrix; larger n runs
// MatMul for each. All ws must have the same cols; at most
// kMaxSharedWeights of them. Errors: as MatMul, or InvalidArgument for
// mismatched sizes or columns.
inline constexpr size_t kMaxSharedWeights = 8;
absl::Status MatMulShared(std::span<const WeightView> ws, const float* x, int64_t n, std::span<float* const> ys,
                          ThreadPool* pool, const KernelOptions& options = {});

// The activation mode MatVec/MatMul use for `type` when asked for `requested`.
ActivationMode ResolveActivationMode(GgmlType type, ActivationMode requested);

// The instruction set MatVec/MatMul use for `type` and `mode` under `options`
// (lower than the cap when a type has no kernel at that level).
CpuLevel KernelLevel(GgmlType type, ActivationMode mode, const KernelOptions& options = {});

}  // namespace tinyrag
