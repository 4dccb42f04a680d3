#include "model/quad_layout.h"

#include <cstring>

#include "model/quant_blocks.h"

namespace tinyrag {
namespace {

// The unsigned levels of one quad: levels[k][p] as in the header's v[k][p].
using QuadLevels = uint8_t[4][32];

// Value x (< 32) of block j sits at levels[x / 8 % 4][8 * j + x % 8].
uint8_t& LevelOf(QuadLevels& levels, int j, int x) { return levels[x / 8][8 * j + x % 8]; }

uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
void StoreU32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

// Low nibbles of v[0], v[1] and high nibbles of v[2], v[3] in 64 bytes.
void PackNibbles(const QuadLevels& levels, uint8_t* out) {
  for (int p = 0; p < 32; ++p) {
    out[p] = static_cast<uint8_t>((levels[0][p] & 15) | (levels[2][p] & 15) << 4);
    out[32 + p] = static_cast<uint8_t>((levels[1][p] & 15) | (levels[3][p] & 15) << 4);
  }
}
void UnpackNibbles(const uint8_t* in, QuadLevels& levels) {
  for (int p = 0; p < 32; ++p) {
    levels[0][p] = in[p] & 15;
    levels[2][p] = in[p] >> 4;
    levels[1][p] = in[32 + p] & 15;
    levels[3][p] = in[32 + p] >> 4;
  }
}

// Nibble x of a Q4_0/Q5_0 block's qs: values 0-15 low, 16-31 high.
uint8_t Nibble(const uint8_t* qs, int x) { return x < 16 ? qs[x] & 15 : qs[x - 16] >> 4; }
void SetNibble(uint8_t* qs, int x, uint8_t v) {
  if (x < 16) {
    qs[x] = static_cast<uint8_t>((qs[x] & 0xF0) | v);
  } else {
    qs[x - 16] = static_cast<uint8_t>((qs[x - 16] & 0x0F) | v << 4);
  }
}

template <class Block>
void QuadToLayout(const Block* b, uint8_t* out);
template <class Block>
void LayoutToQuad(const uint8_t* in, Block* b);

template <>
void QuadToLayout(const BlockQ4_0* b, uint8_t* out) {
  QuadLevels levels;
  for (int j = 0; j < 4; ++j) {
    std::memcpy(out + 2 * j, &b[j].d, 2);
    for (int x = 0; x < 32; ++x) LevelOf(levels, j, x) = Nibble(b[j].qs, x);
  }
  PackNibbles(levels, out + 8);
}
template <>
void LayoutToQuad(const uint8_t* in, BlockQ4_0* b) {
  QuadLevels levels;
  UnpackNibbles(in + 8, levels);
  for (int j = 0; j < 4; ++j) {
    std::memcpy(&b[j].d, in + 2 * j, 2);
    for (int x = 0; x < 32; ++x) SetNibble(b[j].qs, x, LevelOf(levels, j, x));
  }
}

template <>
void QuadToLayout(const BlockQ5_0* b, uint8_t* out) {
  QuadLevels levels;
  uint32_t high[4] = {};
  for (int j = 0; j < 4; ++j) {
    std::memcpy(out + 2 * j, &b[j].d, 2);
    const uint32_t qh = LoadU32(b[j].qh);
    for (int x = 0; x < 32; ++x) {
      LevelOf(levels, j, x) = Nibble(b[j].qs, x);
      high[x / 8] |= ((qh >> x) & 1u) << (8 * j + x % 8);
    }
  }
  for (int k = 0; k < 4; ++k) StoreU32(out + 8 + 4 * k, high[k]);
  PackNibbles(levels, out + 24);
}
template <>
void LayoutToQuad(const uint8_t* in, BlockQ5_0* b) {
  QuadLevels levels;
  UnpackNibbles(in + 24, levels);
  for (int j = 0; j < 4; ++j) {
    std::memcpy(&b[j].d, in + 2 * j, 2);
    uint32_t qh = 0;
    for (int x = 0; x < 32; ++x) {
      SetNibble(b[j].qs, x, LevelOf(levels, j, x));
      qh |= ((LoadU32(in + 8 + 4 * (x / 8)) >> (8 * j + x % 8)) & 1u) << x;
    }
    StoreU32(b[j].qh, qh);
  }
}

template <>
void QuadToLayout(const BlockQ8_0* b, uint8_t* out) {
  QuadLevels levels;
  for (int j = 0; j < 4; ++j) {
    std::memcpy(out + 2 * j, &b[j].d, 2);
    for (int x = 0; x < 32; ++x) LevelOf(levels, j, x) = static_cast<uint8_t>(b[j].qs[x]) ^ 0x80;
  }
  std::memcpy(out + 8, levels, sizeof(levels));
}
template <>
void LayoutToQuad(const uint8_t* in, BlockQ8_0* b) {
  QuadLevels levels;
  std::memcpy(levels, in + 8, sizeof(levels));
  for (int j = 0; j < 4; ++j) {
    std::memcpy(&b[j].d, in + 2 * j, 2);
    for (int x = 0; x < 32; ++x) b[j].qs[x] = static_cast<int8_t>(LevelOf(levels, j, x) ^ 0x80);
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
    Block blocks[4] = {};
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
