#include "model/activation_quant.h"

#include <cmath>
#include <cstring>

#include "model/half.h"

namespace tinyrag {

void QuantizeActivations32(const float* x, int64_t n, ActBlock32* out) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    ActBlock32& blk = out[b];
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    for (int j = 0; j < kQK; ++j) {
      // Default rounding mode: half to even, as GGML's vector path rounds.
      const int v = static_cast<int>(std::nearbyint(x[j] * id));
      blk.qs[j] = static_cast<int8_t>(v);
      sum += v;
    }
    blk.d = F16ToF32(F32ToF16(d));
    blk.s = F16ToF32(F32ToF16(d * static_cast<float>(sum)));
    blk.sum = sum;
    blk.lane_bias = 0;
  }
}

void QuantizeActivationsK(const float* x, int64_t n, BlockQ8_K* out) {
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    BlockQ8_K& blk = out[b];
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      std::memset(&blk, 0, sizeof blk);
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) {
      const int v = static_cast<int>(std::nearbyint(iscale * x[j]));
      blk.qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
    }
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += blk.qs[16 * g + j];
      blk.bsums[g] = static_cast<int16_t>(sum);
    }
    blk.d = 1.0f / iscale;
  }
}

}  // namespace tinyrag
