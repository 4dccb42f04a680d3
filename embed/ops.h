// The encoder's elementwise and attention kernels (everything but the big
// matrix products, which come from model/kernels.h). Compiled twice from
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
  // x[i] += b for each of n rows of e values.
  void (*add_bias)(float* x, int64_t n, int64_t e, const float* b);
  // x[i] = GELU(x[i] + b) for each of n rows of e values, GELU with erf
  // (as BERT; error of the erf approximation below 2e-7).
  void (*add_bias_gelu)(float* x, int64_t n, int64_t e, const float* b);
  // Bidirectional attention of one head over one sequence of `n` tokens:
  // out[i] = sum_j softmax_j(scale * q[i].k[j]) v[j] for i < n. Rows of q, k,
  // v and out are `stride` floats apart and `d` long. `scratch` holds at least
  // (d + 1) * n floats.
  void (*attention)(const float* q, const float* k, const float* v, int64_t stride, int64_t d, int64_t n,
                    float scale, float* out, float* scratch);
};

// The ops for the active CPU level (cached after the first call).
const EncoderOps& ActiveOps();
// The portable ops (tests compare the two).
const EncoderOps& BaselineOps();

}  // namespace tinyrag::embed
