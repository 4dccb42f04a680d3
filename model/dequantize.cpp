// Reference dequantization of every supported GGML type (layouts in
// model/quant_blocks.h). Each decoder repeats GGML's float operations in the
// same order — e.g. Q4_K forms d*scale and dmin*min once per sub-block and
// then computes (d*scale)*q - dmin*min — so results are bit-identical.
#include <cassert>
#include <cstring>

#include "absl/strings/str_format.h"
#include "model/half.h"
#include "model/quant_blocks.h"
#include "model/quantize.h"

namespace tinyrag {
namespace {

void DecodeF16(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = F16ToF32(x[i]);
}

void DecodeBF16(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = Bf16ToF32(x[i]);
}

void DecodeQ4_0(const BlockQ4_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = F16ToF32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = static_cast<float>((x[i].qs[j] & 0xF) - 8) * d;
      y[j + kQK / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void DecodeQ4_1(const BlockQ4_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = F16ToF32(x[i].d);
    const float m = F16ToF32(x[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 0xF) * d + m;
      y[j + kQK / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

// The 5-bit value j of a Q5_0/Q5_1 block (0..31).
template <typename Block>
inline int Q5Value(const Block& b, uint32_t qh, int j) {
  const int nibble = j < kQK / 2 ? (b.qs[j] & 0xF) : (b.qs[j - kQK / 2] >> 4);
  return nibble | static_cast<int>((qh >> j) & 1u) << 4;
}

void DecodeQ5_0(const BlockQ5_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = F16ToF32(x[i].d);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof qh);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(Q5Value(x[i], qh, j) - 16) * d;
  }
}

void DecodeQ5_1(const BlockQ5_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = F16ToF32(x[i].d);
    const float m = F16ToF32(x[i].m);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof qh);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(Q5Value(x[i], qh, j)) * d + m;
  }
}

void DecodeQ8_0(const BlockQ8_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = F16ToF32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

// 2-bit field of value v in the qs array shared by Q2_K and Q3_K.
inline int LowTwoBits(const uint8_t* qs, int v) {
  return (qs[32 * (v / 128) + v % 32] >> (2 * ((v % 128) / 32))) & 3;
}

void DecodeQ2_K(const BlockQ2_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = F16ToF32(x[i].d);
    const float dmin = F16ToF32(x[i].dmin);
    for (int s = 0; s < kQK_K / 16; ++s) {
      const uint8_t sc = x[i].scales[s];
      const float dl = d * static_cast<float>(sc & 0xF);
      const float ml = dmin * static_cast<float>(sc >> 4);
      for (int v = 16 * s; v < 16 * s + 16; ++v) {
        y[v] = dl * static_cast<float>(LowTwoBits(x[i].qs, v)) - ml;
      }
    }
  }
}

// The 6-bit scale of sub-block s (0..15) of a Q3_K block, without its +32 offset removed.
inline int Q3Scale(const uint8_t* scales, int s) {
  const int low = (scales[s % 8] >> (4 * (s / 8))) & 0xF;
  const int high = (scales[8 + s % 4] >> (2 * (s / 4))) & 3;
  return low | high << 4;
}

void DecodeQ3_K(const BlockQ3_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = F16ToF32(x[i].d);
    for (int s = 0; s < kQK_K / 16; ++s) {
      const float dl = d * static_cast<float>(Q3Scale(x[i].scales, s) - 32);
      for (int v = 16 * s; v < 16 * s + 16; ++v) {
        const int high = (x[i].hmask[v % 32] >> (v / 32)) & 1;
        y[v] = dl * static_cast<float>(LowTwoBits(x[i].qs, v) - (high ? 0 : 4));
      }
    }
  }
}

// Scale and min (6 bits each) of sub-block s (0..7) of a Q4_K/Q5_K block.
inline void KScaleMin(const uint8_t* q, int s, int* sc, int* mn) {
  if (s < 4) {
    *sc = q[s] & 63;
    *mn = q[s + 4] & 63;
  } else {
    *sc = (q[s + 4] & 0xF) | (q[s - 4] >> 6) << 4;
    *mn = (q[s + 4] >> 4) | (q[s] >> 6) << 4;
  }
}

void DecodeQ4_K(const BlockQ4_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = F16ToF32(x[i].d);
    const float dmin = F16ToF32(x[i].dmin);
    for (int s = 0; s < 8; ++s) {
      int sc, mn;
      KScaleMin(x[i].scales, s, &sc, &mn);
      const float dl = d * static_cast<float>(sc);
      const float ml = dmin * static_cast<float>(mn);
      const uint8_t* q = x[i].qs + 32 * (s / 2);
      const int shift = 4 * (s % 2);
      for (int l = 0; l < 32; ++l) {
        y[32 * s + l] = dl * static_cast<float>((q[l] >> shift) & 0xF) - ml;
      }
    }
  }
}

void DecodeQ5_K(const BlockQ5_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = F16ToF32(x[i].d);
    const float dmin = F16ToF32(x[i].dmin);
    for (int s = 0; s < 8; ++s) {
      int sc, mn;
      KScaleMin(x[i].scales, s, &sc, &mn);
      const float dl = d * static_cast<float>(sc);
      const float ml = dmin * static_cast<float>(mn);
      const uint8_t* q = x[i].qs + 32 * (s / 2);
      const int shift = 4 * (s % 2);
      for (int l = 0; l < 32; ++l) {
        const int value = ((q[l] >> shift) & 0xF) | ((x[i].qh[l] >> s) & 1) << 4;
        y[32 * s + l] = dl * static_cast<float>(value) - ml;
      }
    }
  }
}

void DecodeQ6_K(const BlockQ6_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = F16ToF32(x[i].d);
    for (int v = 0; v < kQK_K; ++v) {
      const int h = v / 128;
      const int r = v % 128;
      const int low = (x[i].ql[64 * h + r % 64] >> (4 * (r / 64))) & 0xF;
      const int high = (x[i].qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
      // GGML multiplies d by the int8 scale first, then by the quant.
      y[v] = d * static_cast<float>(x[i].scales[v / 16]) * static_cast<float>((low | high << 4) - 32);
    }
  }
}

void DecodeIQ4_NL(const BlockIQ4_NL* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = F16ToF32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = d * static_cast<float>(kIQ4NLValues[x[i].qs[j] & 0xF]);
      y[j + kQK / 2] = d * static_cast<float>(kIQ4NLValues[x[i].qs[j] >> 4]);
    }
  }
}

void DecodeIQ4_XS(const BlockIQ4_XS* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = F16ToF32(x[i].d);
    for (int s = 0; s < 8; ++s) {
      const int ls = ((x[i].scales_l[s / 2] >> (4 * (s % 2))) & 0xF) |
                     ((x[i].scales_h >> (2 * s)) & 3) << 4;
      const float dl = d * static_cast<float>(ls - 32);
      const uint8_t* q = x[i].qs + 16 * s;
      float* out = y + 32 * s;
      for (int j = 0; j < 16; ++j) {
        out[j] = dl * static_cast<float>(kIQ4NLValues[q[j] & 0xF]);
        out[j + 16] = dl * static_cast<float>(kIQ4NLValues[q[j] >> 4]);
      }
    }
  }
}

}  // namespace

bool CanConvert(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
    case GgmlType::kQ4_0:
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1:
    case GgmlType::kQ8_0:
    case GgmlType::kQ2_K:
    case GgmlType::kQ3_K:
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ6_K:
    case GgmlType::kIQ4_NL:
    case GgmlType::kIQ4_XS:
      return true;
    default:
      return false;
  }
}

void DequantizeRow(GgmlType type, const void* src, float* dst, int64_t n) {
  assert(CanConvert(type));
  assert(n % Traits(type).block_elems == 0);
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case GgmlType::kF16:
      return DecodeF16(static_cast<const uint16_t*>(src), dst, n);
    case GgmlType::kBF16:
      return DecodeBF16(static_cast<const uint16_t*>(src), dst, n);
    case GgmlType::kQ4_0:
      return DecodeQ4_0(static_cast<const BlockQ4_0*>(src), dst, n / kQK);
    case GgmlType::kQ4_1:
      return DecodeQ4_1(static_cast<const BlockQ4_1*>(src), dst, n / kQK);
    case GgmlType::kQ5_0:
      return DecodeQ5_0(static_cast<const BlockQ5_0*>(src), dst, n / kQK);
    case GgmlType::kQ5_1:
      return DecodeQ5_1(static_cast<const BlockQ5_1*>(src), dst, n / kQK);
    case GgmlType::kQ8_0:
      return DecodeQ8_0(static_cast<const BlockQ8_0*>(src), dst, n / kQK);
    case GgmlType::kQ2_K:
      return DecodeQ2_K(static_cast<const BlockQ2_K*>(src), dst, n / kQK_K);
    case GgmlType::kQ3_K:
      return DecodeQ3_K(static_cast<const BlockQ3_K*>(src), dst, n / kQK_K);
    case GgmlType::kQ4_K:
      return DecodeQ4_K(static_cast<const BlockQ4_K*>(src), dst, n / kQK_K);
    case GgmlType::kQ5_K:
      return DecodeQ5_K(static_cast<const BlockQ5_K*>(src), dst, n / kQK_K);
    case GgmlType::kQ6_K:
      return DecodeQ6_K(static_cast<const BlockQ6_K*>(src), dst, n / kQK_K);
    case GgmlType::kIQ4_NL:
      return DecodeIQ4_NL(static_cast<const BlockIQ4_NL*>(src), dst, n / kQK);
    case GgmlType::kIQ4_XS:
      return DecodeIQ4_XS(static_cast<const BlockIQ4_XS*>(src), dst, n / kQK_K);
    default:
      return;  // unreachable for handled types (asserted above)
  }
}

absl::StatusOr<std::vector<float>> Dequantize(GgmlType type, std::span<const uint8_t> bytes,
                                              int64_t n) {
  if (!CanConvert(type)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cannot dequantize tensor type %s", TypeName(type)));
  }
  const int64_t row_bytes = n < 0 ? -1 : RowBytes(type, n);
  if (row_bytes < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d values of type %s: not a multiple of the block size %d", n, TypeName(type),
        Traits(type).block_elems));
  }
  if (static_cast<uint64_t>(row_bytes) != bytes.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%d values of type %s take %d bytes, got %d", n, TypeName(type),
                        row_bytes, bytes.size()));
  }
  std::vector<float> out(static_cast<size_t>(n));
  // Block structs need 2-byte alignment; copy when the caller's bytes are odd-aligned.
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(uint16_t) != 0) {
    std::vector<uint16_t> aligned((bytes.size() + 1) / 2);
    std::memcpy(aligned.data(), bytes.data(), bytes.size());
    DequantizeRow(type, aligned.data(), out.data(), n);
  } else if (n > 0) {
    DequantizeRow(type, bytes.data(), out.data(), n);
  }
  return out;
}

}  // namespace tinyrag
