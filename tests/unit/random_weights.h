// Random weights and activations shared by the kernel tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "model/half.h"
#include "model/tensor_type.h"

namespace tinyrag::testing_data {

// Byte offsets of the fp16 scale fields of one block of each quantized type.
inline std::vector<int> HalfFieldOffsets(GgmlType t) {
  switch (t) {
    case GgmlType::kQ4_0:
    case GgmlType::kQ5_0:
    case GgmlType::kQ8_0:
    case GgmlType::kIQ4_NL:
    case GgmlType::kIQ4_XS:
      return {0};
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_1:
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
      return {0, 2};
    case GgmlType::kQ2_K:
      return {80, 82};
    case GgmlType::kQ3_K:
      return {108};
    case GgmlType::kQ6_K:
      return {208};
    default:
      return {};
  }
}

// Random matrix of `rows` rows stored `stride` bytes apart. Quantized types
// get random bytes (every bit pattern is a valid block) with finite, modest
// fp16 scales; float types get values in [-1, 1].
inline std::vector<uint8_t> RandomWeights(GgmlType t, int64_t rows, int64_t cols, int64_t stride,
                                          uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> data(rows * stride + 1);
  for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  const int64_t row_bytes = RowBytes(t, cols);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = data.data() + r * stride;
    if (t == GgmlType::kF32) {
      for (int64_t j = 0; j < cols; ++j) {
        const float v = unit(rng);
        std::memcpy(row + 4 * j, &v, 4);
      }
    } else if (t == GgmlType::kF16 || t == GgmlType::kBF16) {
      for (int64_t j = 0; j < cols; ++j) {
        const float v = unit(rng);
        const uint16_t h = t == GgmlType::kF16 ? F32ToF16(v) : F32ToBf16(v);
        std::memcpy(row + 2 * j, &h, 2);
      }
    } else {
      const int64_t block_bytes = Traits(t).block_bytes;
      for (int64_t b = 0; b < row_bytes / block_bytes; ++b) {
        for (int off : HalfFieldOffsets(t)) {
          const uint16_t h = F32ToF16(unit(rng) * 0.01f);
          std::memcpy(row + b * block_bytes + off, &h, 2);
        }
      }
    }
  }
  return data;
}

inline std::vector<float> RandomActivations(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng);
  return x;
}

}  // namespace tinyrag::testing_data
