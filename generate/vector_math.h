// Elementwise math of the decoder's forward pass over float arrays, with an
// AVX2 path picked at run time. Internal to generate/. Thread-safe.
#pragma once

#include <cstdint>

namespace tinyrag::vmath {

// x[i] <- silu(x[i]) * y[i] = x[i] / (1 + exp(-x[i])) * y[i], for i < n.
void SiluMul(float* x, const float* y, int64_t n);

// s[0..n) <- softmax(s[0..n)) (n >= 1).
void Softmax(float* s, int64_t n);

// The portable versions (std::exp), the reference for the AVX2 ones.
void SiluMulScalar(float* x, const float* y, int64_t n);
void SoftmaxScalar(float* s, int64_t n);

// AVX2 + FMA (vector_math_avx2.cpp): exp from a degree-6 polynomial on
// [-ln2/2, ln2/2] and an exponent shift, within 2 ulp of std::exp.
void SiluMulAvx2(float* x, const float* y, int64_t n);
void SoftmaxAvx2(float* s, int64_t n);

}  // namespace tinyrag::vmath
