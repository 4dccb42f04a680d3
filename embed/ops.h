// The encoder's elementwise kernels (the matrix products are in gemm.h).
// Compiled twice from
// ops_impl.inc — baseline x86-64 and AVX2+FMA — and picked at run time from
// the CPU level model/cpu_features.h reports. Internal to embed/.
//
// All functions are pure (they touch only their arguments): thread-safe.
#pragma once

#include <cstdint>

namespace tinyrag::embed {

struct EncoderOps {
  // x[i] = LayerNorm(x[i] + (r ? r[i] : 0)) * w + b for each of n rows of e
  // values (biased variance, as BERT).
  void (*add_layer_norm)(float* x, const float* r, int64_t n, int64_t e, const float* w, const float* b, float eps);
  // x = GELU(x) for n * e values, GELU with erf (as BERT; relative error of
  // the erfc approximation below 2e-7).
  void (*gelu)(float* x, int64_t n, int64_t e);
  // Row-wise softmax of scale * s over the first n values of each of `rows`
  // rows that are `ld` floats apart; values [n, ld) of each row are set to 0.
  void (*softmax)(float* s, int64_t rows, int64_t n, int64_t ld, float scale);
};

// The ops for the active CPU level (cached after the first call).
const EncoderOps& ActiveOps();
// The portable ops (tests compare the two).
const EncoderOps& BaselineOps();

}  // namespace tinyrag::embed
