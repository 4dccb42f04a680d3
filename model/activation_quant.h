// 8-bit quantization of activation vectors for the integer dot-product kernels.
//
// A matvec quantizes its activation row once and reuses it for every weight
// row. The numerics follow GGML's CPU backend (the reference our conformance
// tests compare with):
//  - 32-value blocks (for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL weights), as
//    GGML's Q8_0/Q8_1: d = amax / 127 (stored through fp16), q = x * 127 / amax
//    rounded half-to-even;
//  - 256-value super-blocks (k-quants, IQ4_XS), as GGML's Q8_K: the value of
//    largest magnitude maps to -127, d = 1 / (-127 / that value) kept in f32,
//    plus sums of each group of 16 quants.
// All functions are thread-safe; none allocates.
#pragma once

#include <cstdint>

#include "model/quant_blocks.h"

namespace tinyrag {

// One quantized 32-value activation block. `s` is GGML's Q8_1 sum term
// (d * sum(qs), rounded through fp16, using d before rounding); `sum` is the
// exact integer sum of qs, which the kernels use to fold weight offsets.
struct alignas(16) ActBlock32 {
  int8_t qs[kQK];
  float d;  // the fp16-rounded scale, as a float
  float s;
  int32_t sum;
  // -(offset / 8) * sum: each of 8 int32 lanes' share of removing a weight
  // level offset (unsigned levels = signed + offset) from an integer dot.
  // The quantizers write 0; MatMul sets it for the weight type it runs.
  int32_t lane_bias;
};
static_assert(sizeof(ActBlock32) == 48);

// Quantizes x[0..n) into n / 32 blocks at `out`. n must be a multiple of 32.
void QuantizeActivations32(const float* x, int64_t n, ActBlock32* out);

// Quantizes x[0..n) into n / 256 blocks at `out`. n must be a multiple of 256.
void QuantizeActivationsK(const float* x, int64_t n, BlockQ8_K* out);

}  // namespace tinyrag
