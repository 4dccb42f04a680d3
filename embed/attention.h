// Bidirectional multi-head attention of one head over one sequence, as two
// small GEMMs on the micro-kernel of gemm.h. Internal to embed/.
#pragma once

#include <cstdint>

namespace tinyrag::embed {

// Floats of scratch Attention needs for sequences of up to `n` tokens and
// head width `d`.
int64_t AttentionScratchSize(int64_t n, int64_t d);

// out[i] = sum_j softmax_j(scale * q[i].k[j]) v[j] for i, j < n: every token
// sees every token of its own sequence and nothing else (the padding mask of
// a padded batch). Rows of q, k, v and out are `stride` floats apart and `d`
// long. Thread-safe given distinct `out` and `scratch`.
void Attention(const float* q, const float* k, const float* v, int64_t stride, int64_t d, int64_t n, float scale,
               float* out, float* scratch);

}  // namespace tinyrag::embed
