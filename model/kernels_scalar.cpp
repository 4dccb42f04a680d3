// Portable row kernels: the oracle for the SIMD paths and the fallback on CPUs
// without AVX2. Kept simple and close to the block definitions in
// model/quant_blocks.h. The integer parts of the q8 dot products and the order
// of the per-super-block float operations are what the SIMD k-quant kernels
// reproduce exactly.
#include <cstring>

#include "model/activation_quant.h"
#include "model/half.h"
#include "model/kernels_internal.h"
#include "model/quant_blocks.h"
#include "model/tensor_type.h"

namespace tinyrag::kernels {
namespace {

// ---- 32-value blocks: integer levels plus scale (and min for the _1 types).
struct Decoded32 {
  int8_t q[kQK];
  float d;
  float m;  // 0 for the types without a min
};

void Decode(const BlockQ4_0& b, Decoded32& o) {
  for (int j = 0; j < 16; ++j) {
    o.q[j] = static_cast<int8_t>((b.qs[j] & 15) - 8);
    o.q[j + 16] = static_cast<int8_t>((b.qs[j] >> 4) - 8);
  }
  o.d = F16ToF32(b.d);
  o.m = 0.0f;
}
void Decode(const BlockQ4_1& b, Decoded32& o) {
  for (int j = 0; j < 16; ++j) {
    o.q[j] = static_cast<int8_t>(b.qs[j] & 15);
    o.q[j + 16] = static_cast<int8_t>(b.qs[j] >> 4);
  }
  o.d = F16ToF32(b.d);
  o.m = F16ToF32(b.m);
}
uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
void Decode(const BlockQ5_0& b, Decoded32& o) {
  const uint32_t qh = Load32(b.qh);
  for (int j = 0; j < 16; ++j) {
    o.q[j] = static_cast<int8_t>(((b.qs[j] & 15) | ((qh >> j) & 1) << 4) - 16);
    o.q[j + 16] = static_cast<int8_t>(((b.qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16);
  }
  o.d = F16ToF32(b.d);
  o.m = 0.0f;
}
void Decode(const BlockQ5_1& b, Decoded32& o) {
  const uint32_t qh = Load32(b.qh);
  for (int j = 0; j < 16; ++j) {
    o.q[j] = static_cast<int8_t>((b.qs[j] & 15) | ((qh >> j) & 1) << 4);
    o.q[j + 16] = static_cast<int8_t>((b.qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
  }
  o.d = F16ToF32(b.d);
  o.m = F16ToF32(b.m);
}
void Decode(const BlockQ8_0& b, Decoded32& o) {
  std::memcpy(o.q, b.qs, kQK);
  o.d = F16ToF32(b.d);
  o.m = 0.0f;
}
void Decode(const BlockIQ4_NL& b, Decoded32& o) {
  for (int j = 0; j < 16; ++j) {
    o.q[j] = kIQ4NLValues[b.qs[j] & 15];
    o.q[j + 16] = kIQ4NLValues[b.qs[j] >> 4];
  }
  o.d = F16ToF32(b.d);
  o.m = 0.0f;
}

template <class Block>
void Dot32F32(const void* w, const void* const* acts, int na, int64_t cols, float* out) {
  const Block* blocks = static_cast<const Block*>(w);
  for (int a = 0; a < na; ++a) {
    const float* x = static_cast<const float*>(acts[a]);
    float acc = 0.0f;
    Decoded32 dec;
    for (int64_t b = 0; b < cols / kQK; ++b) {
      Decode(blocks[b], dec);
      for (int j = 0; j < kQK; ++j) {
        const float v = dec.d * static_cast<float>(dec.q[j]) + dec.m;
        acc += v * x[b * kQK + j];
      }
    }
    out[a] = acc;
  }
}

template <class Block>
void Dot32Q8(const void* w, const void* const* acts, int na, int64_t cols, float* out) {
  const Block* blocks = static_cast<const Block*>(w);
  for (int a = 0; a < na; ++a) {
    const ActBlock32* y = static_cast<const ActBlock32*>(acts[a]);
    float acc = 0.0f;
    Decoded32 dec;
    for (int64_t b = 0; b < cols / kQK; ++b) {
      Decode(blocks[b], dec);
      int32_t sumi = 0;
      for (int j = 0; j < kQK; ++j) sumi += dec.q[j] * y[b].qs[j];
      acc += (dec.d * y[b].d) * static_cast<float>(sumi) + dec.m * y[b].s;
    }
    out[a] = acc;
  }
}

// ---- 256-value super-blocks: levels q (after offsets), integer scale and min
// per group of 16, and the float multipliers: x = (d * sc) * q - (dmin * mn).
struct DecodedK {
  int8_t q[kQK_K];
  int sc[16];
  int mn[16];
  float d;
  float dmin;
};

void Decode(const BlockQ2_K& b, DecodedK& o) {
  for (int v = 0; v < kQK_K; ++v) {
    o.q[v] = static_cast<int8_t>((b.qs[32 * (v / 128) + v % 32] >> (2 * ((v % 128) / 32))) & 3);
  }
  for (int g = 0; g < 16; ++g) {
    o.sc[g] = b.scales[g] & 15;
    o.mn[g] = b.scales[g] >> 4;
  }
  o.d = F16ToF32(b.d);
  o.dmin = F16ToF32(b.dmin);
}
void Decode(const BlockQ3_K& b, DecodedK& o) {
  for (int v = 0; v < kQK_K; ++v) {
    const int low = (b.qs[32 * (v / 128) + v % 32] >> (2 * ((v % 128) / 32))) & 3;
    const int high = (b.hmask[v % 32] >> (v / 32)) & 1;
    o.q[v] = static_cast<int8_t>((low | high << 2) - 4);
  }
  for (int g = 0; g < 16; ++g) {
    const int low = (b.scales[g % 8] >> (4 * (g / 8))) & 15;
    const int high = (b.scales[8 + g % 4] >> (2 * (g / 4))) & 3;
    o.sc[g] = (low | high << 4) - 32;
    o.mn[g] = 0;
  }
  o.d = F16ToF32(b.d);
  o.dmin = 0.0f;
}
// The 6-bit scale and min of sub-block s (of 32) of Q4_K/Q5_K.
void KScaleMin(const uint8_t* s12, int s, int& sc, int& mn) {
  if (s < 4) {
    sc = s12[s] & 63;
    mn = s12[s + 4] & 63;
  } else {
    sc = (s12[s + 4] & 15) | (s12[s - 4] >> 6) << 4;
    mn = (s12[s + 4] >> 4) | (s12[s] >> 6) << 4;
  }
}
void Decode(const BlockQ4_K& b, DecodedK& o) {
  for (int v = 0; v < kQK_K; ++v) {
    const uint8_t byte = b.qs[32 * (v / 64) + v % 32];
    o.q[v] = static_cast<int8_t>((v / 32) % 2 ? byte >> 4 : byte & 15);
  }
  for (int s = 0; s < 8; ++s) {
    KScaleMin(b.scales, s, o.sc[2 * s], o.mn[2 * s]);
    o.sc[2 * s + 1] = o.sc[2 * s];
    o.mn[2 * s + 1] = o.mn[2 * s];
  }
  o.d = F16ToF32(b.d);
  o.dmin = F16ToF32(b.dmin);
}
void Decode(const BlockQ5_K& b, DecodedK& o) {
  for (int v = 0; v < kQK_K; ++v) {
    const uint8_t byte = b.qs[32 * (v / 64) + v % 32];
    const int low = (v / 32) % 2 ? byte >> 4 : byte & 15;
    const int high = (b.qh[v % 32] >> (v / 32)) & 1;
    o.q[v] = static_cast<int8_t>(low | high << 4);
  }
  for (int s = 0; s < 8; ++s) {
    KScaleMin(b.scales, s, o.sc[2 * s], o.mn[2 * s]);
    o.sc[2 * s + 1] = o.sc[2 * s];
    o.mn[2 * s + 1] = o.mn[2 * s];
  }
  o.d = F16ToF32(b.d);
  o.dmin = F16ToF32(b.dmin);
}
void Decode(const BlockQ6_K& b, DecodedK& o) {
  for (int v = 0; v < kQK_K; ++v) {
    const int h = v / 128, r = v % 128;
    const uint8_t lbyte = b.ql[64 * h + r % 64];
    const int low = r < 64 ? lbyte & 15 : lbyte >> 4;
    const int high = (b.qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
    o.q[v] = static_cast<int8_t>((low | high << 4) - 32);
  }
  for (int g = 0; g < 16; ++g) {
    o.sc[g] = b.scales[g];
    o.mn[g] = 0;
  }
  o.d = F16ToF32(b.d);
  o.dmin = 0.0f;
}
void Decode(const BlockIQ4_XS& b, DecodedK& o) {
  for (int s = 0; s < 8; ++s) {
    for (int j = 0; j < 16; ++j) {
      o.q[32 * s + j] = kIQ4NLValues[b.qs[16 * s + j] & 15];
      o.q[32 * s + j + 16] = kIQ4NLValues[b.qs[16 * s + j] >> 4];
    }
    const int ls = ((b.scales_l[s / 2] >> (4 * (s % 2))) & 15) | ((b.scales_h >> (2 * s)) & 3) << 4;
    o.sc[2 * s] = o.sc[2 * s + 1] = ls - 32;
    o.mn[2 * s] = o.mn[2 * s + 1] = 0;
  }
  o.d = F16ToF32(b.d);
  o.dmin = 0.0f;
}

template <class Block>
void DotKF32(const void* w, const void* const* acts, int na, int64_t cols, float* out) {
  const Block* blocks = static_cast<const Block*>(w);
  for (int a = 0; a < na; ++a) {
    const float* x = static_cast<const float*>(acts[a]);
    float acc = 0.0f;
    DecodedK dec;
    for (int64_t b = 0; b < cols / kQK_K; ++b) {
      Decode(blocks[b], dec);
      for (int g = 0; g < 16; ++g) {
        const float dl = dec.d * static_cast<float>(dec.sc[g]);
        const float ml = dec.dmin * static_cast<float>(dec.mn[g]);
        for (int j = 0; j < 16; ++j) {
          const int v = 16 * g + j;
          acc += (dl * static_cast<float>(dec.q[v]) - ml) * x[b * kQK_K + v];
        }
      }
    }
    out[a] = acc;
  }
}

template <class Block>
void DotKQ8(const void* w, const void* const* acts, int na, int64_t cols, float* out) {
  const Block* blocks = static_cast<const Block*>(w);
  for (int a = 0; a < na; ++a) {
    const BlockQ8_K* y = static_cast<const BlockQ8_K*>(acts[a]);
    float acc = 0.0f;
    DecodedK dec;
    for (int64_t b = 0; b < cols / kQK_K; ++b) {
      Decode(blocks[b], dec);
      int32_t isum = 0, mins = 0;
      for (int g = 0; g < 16; ++g) {
        int32_t dot = 0;
        for (int j = 0; j < 16; ++j) dot += dec.q[16 * g + j] * y[b].qs[16 * g + j];
        isum += dec.sc[g] * dot;
        mins += dec.mn[g] * y[b].bsums[g];
      }
      // This exact expression (and order) is what the SIMD kernels compute.
      acc += (dec.d * y[b].d) * static_cast<float>(isum) -
             (dec.dmin * y[b].d) * static_cast<float>(mins);
    }
    out[a] = acc;
  }
}

// ---- Float weights (always f32 activations).
template <float (*ToF32)(uint16_t)>
void DotHalfF32(const void* w, const void* const* acts, int na, int64_t cols, float* out) {
  const uint16_t* row = static_cast<const uint16_t*>(w);
  for (int a = 0; a < na; ++a) {
    const float* x = static_cast<const float*>(acts[a]);
    float acc = 0.0f;
    for (int64_t j = 0; j < cols; ++j) acc += ToF32(row[j]) * x[j];
    out[a] = acc;
  }
}

void DotF32F32(const void* w, const void* const* acts, int na, int64_t cols, float* out) {
  const float* row = static_cast<const float*>(w);
  for (int a = 0; a < na; ++a) {
    const float* x = static_cast<const float*>(acts[a]);
    float acc = 0.0f;
    for (int64_t j = 0; j < cols; ++j) acc += row[j] * x[j];
    out[a] = acc;
  }
}

template <class Block>
void Set32(KernelTable& t, GgmlType type) {
  t[static_cast<int>(type)] = {&Dot32F32<Block>, &Dot32Q8<Block>};
}
template <class Block>
void SetK(KernelTable& t, GgmlType type) {
  t[static_cast<int>(type)] = {&DotKF32<Block>, &DotKQ8<Block>};
}

}  // namespace

void FillScalarKernels(KernelTable& t) {
  t[static_cast<int>(GgmlType::kF32)].f32 = &DotF32F32;
  t[static_cast<int>(GgmlType::kF16)].f32 = &DotHalfF32<F16ToF32>;
  t[static_cast<int>(GgmlType::kBF16)].f32 = &DotHalfF32<Bf16ToF32>;
  Set32<BlockQ4_0>(t, GgmlType::kQ4_0);
  Set32<BlockQ4_1>(t, GgmlType::kQ4_1);
  Set32<BlockQ5_0>(t, GgmlType::kQ5_0);
  Set32<BlockQ5_1>(t, GgmlType::kQ5_1);
  Set32<BlockQ8_0>(t, GgmlType::kQ8_0);
  Set32<BlockIQ4_NL>(t, GgmlType::kIQ4_NL);
  SetK<BlockQ2_K>(t, GgmlType::kQ2_K);
  SetK<BlockQ3_K>(t, GgmlType::kQ3_K);
  SetK<BlockQ4_K>(t, GgmlType::kQ4_K);
  SetK<BlockQ5_K>(t, GgmlType::kQ5_K);
  SetK<BlockQ6_K>(t, GgmlType::kQ6_K);
  SetK<BlockIQ4_XS>(t, GgmlType::kIQ4_XS);
}

}  // namespace tinyrag::kernels
