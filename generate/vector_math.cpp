#include "generate/vector_math.h"

#include <algorithm>
#include <cmath>

#include "model/cpu_features.h"

namespace tinyrag::vmath {
namespace {

bool UseAvx2() {
  static const bool avx2 = ActiveCpuLevel() >= CpuLevel::kAvx2;
  return avx2;
}

}  // namespace

void SiluMulScalar(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i])) * y[i];
}

void SoftmaxScalar(float* s, int64_t n) {
  const float m = *std::max_element(s, s + n);
  double sum = 0;
  for (int64_t p = 0; p < n; ++p) sum += (s[p] = std::exp(s[p] - m));
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t p = 0; p < n; ++p) s[p] *= inv;
}

void SiluMul(float* x, const float* y, int64_t n) {
  UseAvx2() ? SiluMulAvx2(x, y, n) : SiluMulScalar(x, y, n);
}

void Softmax(float* s, int64_t n) { UseAvx2() ? SoftmaxAvx2(s, n) : SoftmaxScalar(s, n); }

}  // namespace tinyrag::vmath
