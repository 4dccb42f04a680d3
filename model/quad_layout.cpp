#include "model/quad_layout.h"

#include <cstring>

#include "model/quant_blocks.h"

// In GGML's Q4_0/Q5_0 blocks byte i of qs holds values i (low nibble) and
// i + 16 (high nibble), so byte p = 8j + i of the layout's first nibble half
// (v[0][p] | v[2][p] << 4: values i and 16 + i of block j) is qs[i] of block
// j as it stands, and the second half takes qs[8 + i]. Q8_0's v[k] takes
// bytes 8k..8k+7 of each block, and Q5_0's high-bit word k byte j is byte k
// of block j's qh. Every conversion is a shuffle of 8-byte or 1-byte pieces.

namespace tinyrag {
namespace {

void SwapNibbleHalves(const uint8_t* const qs[4], uint8_t* nibbles) {
  for (int j = 0; j < 4; ++j) {
    std::memcpy(nibbles + 8 * j, qs[j], 8);
    std::memcpy(nibbles + 32 + 8 * j, qs[j] + 8, 8);
  }
}
void UnswapNibbleHalves(const uint8_t* nibbles, uint8_t* const qs[4]) {
  for (int j = 0; j < 4; ++j) {
    std::memcpy(qs[j], nibbles + 8 * j, 8);
    std::memcpy(qs[j] + 8, nibbles + 32 + 8 * j, 8);
  }
}

template <class Block>
void QuadToLayout(const Block* b, uint8_t* out);
template <class Block>
void LayoutToQuad(const uint8_t* in, Block* b);

template <>
void QuadToLayout(const BlockQ4_0* b, uint8_t* out) {
  const uint8_t* qs[4] = {b[0].qs, b[1].qs, b[2].qs, b[3].qs};
  for (int j = 0; j < 4; ++j) std::memcpy(out + 2 * j, &b[j].d, 2);
  SwapNibbleHalves(qs, out + 8);
}
template <>
void LayoutToQuad(const uint8_t* in, BlockQ4_0* b) {
  uint8_t* qs[4] = {b[0].qs, b[1].qs, b[2].qs, b[3].qs};
  for (int j = 0; j < 4; ++j) std::memcpy(&b[j].d, in + 2 * j, 2);
  UnswapNibbleHalves(in + 8, qs);
}

template <>
void QuadToLayout(const BlockQ5_0* b, uint8_t* out) {
  const uint8_t* qs[4] = {b[0].qs, b[1].qs, b[2].qs, b[3].qs};
  for (int j = 0; j < 4; ++j) {
    std::memcpy(out + 2 * j, &b[j].d, 2);
    for (int k = 0; k < 4; ++k) out[8 + 4 * k + j] = b[j].qh[k];
  }
  SwapNibbleHalves(qs, out + 24);
}
template <>
void LayoutToQuad(const uint8_t* in, BlockQ5_0* b) {
  uint8_t* qs[4] = {b[0].qs, b[1].qs, b[2].qs, b[3].qs};
  for (int j = 0; j < 4; ++j) {
    std::memcpy(&b[j].d, in + 2 * j, 2);
    for (int k = 0; k < 4; ++k) b[j].qh[k] = in[8 + 4 * k + j];
  }
  UnswapNibbleHalves(in + 24, qs);
}

constexpr uint64_t kSignBits = 0x8080808080808080ull;  // level + 128 == level ^ 0x80 per byte

template <>
void QuadToLayout(const BlockQ8_0* b, uint8_t* out) {
  for (int j = 0; j < 4; ++j) {
    std::memcpy(out + 2 * j, &b[j].d, 2);
    for (int k = 0; k < 4; ++k) {
      uint64_t v;
      std::memcpy(&v, b[j].qs + 8 * k, 8);
      v ^= kSignBits;
      std::memcpy(out + 8 + 32 * k + 8 * j, &v, 8);
    }
  }
}
template <>
void LayoutToQuad(const uint8_t* in, BlockQ8_0* b) {
  for (int j = 0; j < 4; ++j) {
    std::memcpy(&b[j].d, in + 2 * j, 2);
    for (int k = 0; k < 4; ++k) {
      uint64_t v;
      std::memcpy(&v, in + 8 + 32 * k + 8 * j, 8);
      v ^= kSignBits;
      std::memcpy(b[j].qs + 8 * k, &v, 8);
    }
  }
}

template <class Block>
void ToQuads(const uint8_t* src, uint8_t* dst, int64_t cols) {
  for (int64_t q = 0; q < cols / (4 * kQK); ++q) {
    Block blocks[4];
    std::memcpy(blocks, src + q * sizeof(blocks), sizeof(blocks));
    QuadToLayout(blocks, dst + q * sizeof(blocks));
  }
}
template <class Block>
void FromQuads(const uint8_t* src, uint8_t* dst, int64_t cols) {
  for (int64_t q = 0; q < cols / (4 * kQK); ++q) {
    Block blocks[4];
    LayoutToQuad(src + q * sizeof(blocks), blocks);
    std::memcpy(dst + q * sizeof(blocks), blocks, sizeof(blocks));
  }
}

}  // namespace

bool HasQuadLayout(GgmlType type) {
  return type == GgmlType::kQ4_0 || type == GgmlType::kQ5_0 || type == GgmlType::kQ8_0;
}

int64_t QuadBytes(GgmlType type) {
  switch (type) {
    case GgmlType::kQ4_0: return 4 * sizeof(BlockQ4_0);
    case GgmlType::kQ5_0: return 4 * sizeof(BlockQ5_0);
    case GgmlType::kQ8_0: return 4 * sizeof(BlockQ8_0);
    default: return 0;
  }
}

void GgmlRowToQuads(GgmlType type, const uint8_t* src, uint8_t* dst, int64_t cols) {
  switch (type) {
    case GgmlType::kQ4_0: return ToQuads<BlockQ4_0>(src, dst, cols);
    case GgmlType::kQ5_0: return ToQuads<BlockQ5_0>(src, dst, cols);
    case GgmlType::kQ8_0: return ToQuads<BlockQ8_0>(src, dst, cols);
    default: return;
  }
}

void QuadsRowToGgml(GgmlType type, const uint8_t* src, uint8_t* dst, int64_t cols) {
  switch (type) {
    case GgmlType::kQ4_0: return FromQuads<BlockQ4_0>(src, dst, cols);
    case GgmlType::kQ5_0: return FromQuads<BlockQ5_0>(src, dst, cols);
    case GgmlType::kQ8_0: return FromQuads<BlockQ8_0>(src, dst, cols);
    default: return;
  }
}

}  // namespace tinyrag
