// Causal attention of one query row for the query heads that share one KV
// head (grouped-query attention), over a KV cache stored as f16 or f32.
// Internal to generate/: the forward pass calls Attend once per (row, KV head).
#pragma once

#include <cstdint>

namespace tinyrag::attention {

struct Args {
  const float* q = nullptr;  // [n_q][head_dim]: the query heads of this KV head
  int n_q = 1;
  int64_t head_dim = 0;
  const void* k = nullptr;   // keys of position 0 of this KV head; positions are `stride` elements apart
  const void* v = nullptr;   // values, same layout
  bool f16 = true;           // cache element type: IEEE half (uint16_t) or float
  int64_t stride = 0;
  int64_t len = 0;           // attend to positions [0, len)
  float scale = 1.0f;        // applied to q.k before the softmax
  float* scores = nullptr;   // scratch [n_q][len]
  float* out = nullptr;      // [n_q][head_dim]
};

// Picks the fastest path for this CPU. Thread-safe (writes only scores/out).
void Attend(const Args& a);
// The portable path (the reference the SIMD one is compared with).
void AttendScalar(const Args& a);
// AVX2 + FMA + F16C; requires head_dim % 8 == 0 (attention_avx2.cpp).
void AttendAvx2(const Args& a);

}  // namespace tinyrag::attention
