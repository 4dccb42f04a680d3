// The encoder's matrix products, Y = X W^T + b with X [n][cols] and n in the
// thousands (a batch of texts), done as a register-blocked GEMM over weights
// repacked once at load time. model/kernels.h's MatMul is built around
// dot products for decoder-sized n (reusing each weight block for up to 4
// rows); here every weight value is reused for n rows from cache.
// Internal to embed/.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "model/kernels.h"
#include "model/thread_pool.h"

namespace tinyrag::embed {

// Output rows in groups of kPanel: panel p holds rows [p*kPanel, (p+1)*kPanel)
// interleaved as [cols][kPanel], so one step of the inner loop reads kPanel
// consecutive floats (rows past `rows` are zero).
inline constexpr int64_t kPanel = 16;

struct PackedMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> panels;  // [ceil(rows / kPanel)][cols][kPanel]
};

// Decodes `w` (any type DequantizeRow handles) to f32 and packs it.
// InvalidArgument when the type cannot be decoded or the view is malformed.
absl::StatusOr<PackedMatrix> PackWeights(const WeightView& w);

// y[i][r] = bias[r] + sum_c x[i][c] w[r][c] for i < n, r < w.rows; x is
// [n][w.cols], y is [n][w.rows], bias has w.rows values. Work is split over
// `pool` (nullptr: the calling thread). Thread-safe for distinct outputs.
void PackedMatMul(const PackedMatrix& w, const float* x, int64_t n, float* y, const float* bias, ThreadPool* pool);

// A micro-kernel: m <= rows rows of x (ldx floats apart, `cols` long) times
// one panel, plus bias, into y (only the first `valid` <= kPanel columns are
// stored, only `valid` bias values are read).
struct PanelKernel {
  void (*fn)(const float* panel, const float* x, int64_t ldx, int64_t cols, int m, float* y, int64_t ldy,
             const float* bias, int valid);
  int rows;  // tile height
};
// The micro-kernel for the active CPU level (also used by attention.cpp).
PanelKernel ActivePanelKernel();

}  // namespace tinyrag::embed
