// Conversion of tensor rows between f32 and the GGML storage types.
//
// Dequantization is bit-exact with GGML's reference (ggml-quants.c): the same
// float operations in the same order, so kernels and tests can use it as the
// oracle. Quantization is a simple, deterministic round-to-nearest with
// per-block scales (not GGML's search, so the bytes differ from llama-quantize;
// any output decodes correctly with GGML).
//
// Types handled: every type with Traits(type).supported — F32, F16, BF16,
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS.
// All functions are thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tensor_type.h"

namespace tinyrag {

// True when DequantizeRow/QuantizeRow handle `type`.
bool CanConvert(GgmlType type);

// Decodes `n` values (a multiple of the type's block size) from `src`, which
// holds RowBytes(type, n) bytes, into dst[0..n). Hot path: only debug asserts
// check the type and n.
void DequantizeRow(GgmlType type, const void* src, float* dst, int64_t n);

// Checked decoding of `n` values from `bytes`. InvalidArgument when the type is
// not handled, n is negative or not a multiple of the block size, or `bytes`
// does not hold exactly RowBytes(type, n) bytes.
absl::StatusOr<std::vector<float>> Dequantize(GgmlType type, std::span<const uint8_t> bytes,
                                              int64_t n);

// Encodes src[0..n) (n a multiple of the block size) into RowBytes(type, n)
// bytes at `dst`. Hot path: only debug asserts check the type and n. The
// result depends only on the input values (deterministic across runs).
void QuantizeRow(GgmlType type, const float* src, void* dst, int64_t n);

// Checked encoding of a matrix whose rows are `row_length` values long (each
// row is encoded independently, as GGML lays out tensors). InvalidArgument
// when the type is not handled, row_length is not positive or not a multiple
// of the block size, or values.size() is not a multiple of row_length.
absl::StatusOr<std::vector<uint8_t>> Quantize(GgmlType type, std::span<const float> values,
                                              int64_t row_length);

}  // namespace tinyrag
