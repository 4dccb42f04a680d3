// Causal attention for a block of consecutive query rows of one sequence and
// the query heads that share one KV head (grouped-query attention), over a KV
// cache stored as f16 or f32. Internal to generate/: the forward pass calls
// Attend once per (row block, KV head).
#pragma once

#include <cstdint>

namespace tinyrag::attention {

struct Args {
  const float* q = nullptr;  // row i, head j: q[i * q_stride + j * head_dim ...]
  int64_t q_stride = 0;
  int n_rows = 1;            // consecutive positions of one sequence
  int n_q = 1;               // query heads of this KV head
  int64_t head_dim = 0;
  const void* k = nullptr;   // keys of position 0 of this KV head; positions are `stride` elements apart
  const void* v = nullptr;   // values, same layout
  bool f16 = true;           // cache element type: IEEE half (uint16_t) or float
  int64_t stride = 0;
  int64_t len = 0;           // row i attends to positions [0, len + i)
  float scale = 1.0f;        // applied to q.k before the softmax
  float* scratch = nullptr;  // ScratchFloats(n_rows, n_q, len + n_rows - 1, head_dim) floats
  float* out = nullptr;      // row i, head j: out[i * out_stride + j * head_dim ...]
  int64_t out_stride = 0;
};

// Scratch floats Attend needs for a block of `n_rows` rows whose last row
// attends to `max_len` positions.
int64_t ScratchFloats(int n_rows, int n_q, int64_t max_len, int64_t head_dim);

// The attention weights Attend leaves in the scratch: row i, head j's
// weights over its positions [0, len + i) start at the returned pointer.
const float* Weights(const Args& a, int row, int head);

// Picks the fastest path for this CPU. Thread-safe (writes only scratch/out).
void Attend(const Args& a);
// The portable path (the reference the SIMD one is compared with).
void AttendScalar(const Args& a);
// AVX2 + FMA + F16C; requires head_dim % 8 == 0 (attention_avx2.cpp): keys
// and values are converted to f32 once per block and shared by its rows and
// heads; scores are computed 8 positions at a time without horizontal sums.
void AttendAvx2(const Args& a);

}  // namespace tinyrag::attention
