// AVX2 attention for a block of query rows: the keys the block needs are
// converted to f32 once, transposed in groups of 8 positions, so each query
// gets 8 scores per step from broadcast FMAs (no horizontal sums); the values
// are converted once and accumulated into outputs held in registers.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "generate/attention.h"
#include "generate/vector_math.h"

namespace tinyrag::attention {

namespace {

inline __m256 Load8(const void* base, bool f16, int64_t at) {
  if (f16) {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + at)));
  }
  return _mm256_loadu_ps(static_cast<const float*>(base) + at);
}

// r[t] holds 8 values of row t; afterwards r[i] holds value i of rows 0..7.
inline void Transpose8x8(__m256 r[8]) {
  __m256 t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m256 u[8];
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
    r[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
  }
}

// kt[(b * hd + i) * 8 + t] = key of position 8b + t, value i (0 past max_len).
void TransposeKeys(const Args& a, int64_t max_len, float* kt) {
  const int64_t hd = a.head_dim;
  for (int64_t p0 = 0; p0 < max_len; p0 += 8) {
    for (int64_t i0 = 0; i0 < hd; i0 += 8) {
      __m256 r[8];
      if (i0 == 0) {
        // The cache rows are far apart in memory and read once per step:
        // ask for the next tiles' rows early.
        for (int t = 0; t < 8 && p0 + 32 + t < max_len; ++t) {
          const int64_t at = (p0 + 32 + t) * a.stride;
          const char* row = a.f16 ? reinterpret_cast<const char*>(static_cast<const uint16_t*>(a.k) + at)
                                  : reinterpret_cast<const char*>(static_cast<const float*>(a.k) + at);
          for (int64_t off = 0; off < hd * (a.f16 ? 2 : 4); off += 64) _mm_prefetch(row + off, _MM_HINT_T0);
        }
      }
      for (int t = 0; t < 8; ++t) {
        r[t] = p0 + t < max_len ? Load8(a.k, a.f16, (p0 + t) * a.stride + i0) : _mm256_setzero_ps();
      }
      Transpose8x8(r);
      float* dst = kt + (p0 / 8 * hd + i0) * 8;
      for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + 8 * i, r[i]);
    }
  }
}

// Scores of NQ queries against positions 8b..8b+7, for every block b, NB
// blocks per pass. Each score is one chain of dependent FMAs over the head
// dimension, the same whatever NQ and NB; NQ * NB chains run side by side to
// cover the FMA latency.
template <int NQ, int NB>
void ScoreQueries(const float* const* q, int64_t hd, const float* kt, int64_t blocks, float scale,
                  float* const* scores) {
  const __m256 s = _mm256_set1_ps(scale);
  int64_t b = 0;
  for (; b + NB <= blocks; b += NB) {
    __m256 acc[NB][NQ];
    for (int n = 0; n < NB; ++n) {
      for (int u = 0; u < NQ; ++u) acc[n][u] = _mm256_setzero_ps();
    }
    const float* k = kt + b * hd * 8;
    for (int64_t i = 0; i < hd; ++i) {
      __m256 kv[NB];
      for (int n = 0; n < NB; ++n) kv[n] = _mm256_loadu_ps(k + n * hd * 8 + 8 * i);
      for (int u = 0; u < NQ; ++u) {
        const __m256 qi = _mm256_broadcast_ss(q[u] + i);
        for (int n = 0; n < NB; ++n) acc[n][u] = _mm256_fmadd_ps(qi, kv[n], acc[n][u]);
      }
    }
    for (int n = 0; n < NB; ++n) {
      for (int u = 0; u < NQ; ++u) _mm256_storeu_ps(scores[u] + 8 * (b + n), _mm256_mul_ps(acc[n][u], s));
    }
  }
  if constexpr (NB > 1) {
    if (b < blocks) {  // the last odd block, on its own (same arithmetic)
      float* tail[NQ];
      for (int u = 0; u < NQ; ++u) tail[u] = scores[u] + 8 * b;
      ScoreQueries<NQ, 1>(q, hd, kt + b * hd * 8, 1, scale, tail);
    }
  }
}

// All queries against all blocks: up to 7 queries per pass over the keys,
// two blocks at a time when there are at most 4 (AVX2's 16 registers).
void ScoreAll(const float* const* q, int nq, int64_t hd, const float* kt, int64_t blocks, float scale,
              float* const* scores) {
  switch (nq) {
    case 1: return ScoreQueries<1, 2>(q, hd, kt, blocks, scale, scores);
    case 2: return ScoreQueries<2, 2>(q, hd, kt, blocks, scale, scores);
    case 3: return ScoreQueries<3, 2>(q, hd, kt, blocks, scale, scores);
    case 4: return ScoreQueries<4, 2>(q, hd, kt, blocks, scale, scores);
    case 5: return ScoreQueries<5, 1>(q, hd, kt, blocks, scale, scores);
    case 6: return ScoreQueries<6, 1>(q, hd, kt, blocks, scale, scores);
    default: return ScoreQueries<7, 1>(q, hd, kt, blocks, scale, scores);
  }
}

// out[u][d0 .. d0 + 8 NC) = sum over p < len of w[u][p] * vf[p][d0 ...].
template <int NQ, int NC>
void WeighValues(const float* const* w, const float* vf, int64_t hd, int64_t d0, int64_t len,
                 float* const* out) {
  __m256 acc[NQ][NC];
  for (int u = 0; u < NQ; ++u) {
    for (int c = 0; c < NC; ++c) acc[u][c] = _mm256_setzero_ps();
  }
  for (int64_t p = 0; p < len; ++p) {
    __m256 v[NC];
    for (int c = 0; c < NC; ++c) v[c] = _mm256_loadu_ps(vf + p * hd + d0 + 8 * c);
    for (int u = 0; u < NQ; ++u) {
      const __m256 wp = _mm256_broadcast_ss(w[u] + p);
      for (int c = 0; c < NC; ++c) acc[u][c] = _mm256_fmadd_ps(wp, v[c], acc[u][c]);
    }
  }
  for (int u = 0; u < NQ; ++u) {
    for (int c = 0; c < NC; ++c) _mm256_storeu_ps(out[u] + d0 + 8 * c, acc[u][c]);
  }
}

template <int NQ>
void WeighAllValues(const float* const* w, const float* vf, int64_t hd, int64_t len,
                    float* const* out) {
  int64_t d0 = 0;
  for (; d0 + 32 <= hd; d0 += 32) WeighValues<NQ, 4>(w, vf, hd, d0, len, out);
  for (; d0 < hd; d0 += 8) WeighValues<NQ, 1>(w, vf, hd, d0, len, out);
}

}  // namespace

void AttendAvx2(const Args& a) {
  const int64_t hd = a.head_dim;
  const int64_t max_len = a.len + a.n_rows - 1;
  const int64_t l8 = (max_len + 7) / 8 * 8;
  const int n_queries = a.n_rows * a.n_q;
  float* kt = a.scratch + static_cast<int64_t>(n_queries) * l8;
  float* vf = kt + l8 * hd;
  TransposeKeys(a, max_len, kt);
  const int64_t elem = a.f16 ? 2 : 4;
  for (int64_t p = 0; p < max_len; ++p) {
    if (p + 32 < max_len) {
      const char* ahead = static_cast<const char*>(a.v) + (p + 32) * a.stride * elem;
      for (int64_t off = 0; off < hd * elem; off += 64) _mm_prefetch(ahead + off, _MM_HINT_T0);
    }
    for (int64_t i = 0; i < hd; i += 8) _mm256_storeu_ps(vf + p * hd + i, Load8(a.v, a.f16, p * a.stride + i));
  }
  auto query = [&](int m) { return a.q + (m / a.n_q) * a.q_stride + (m % a.n_q) * hd; };
  auto scores = [&](int m) { return a.scratch + static_cast<int64_t>(m) * l8; };

  // Scores of every query against every position the block needs (row i only
  // uses the first len + i), in groups of up to 7 queries (a KV head's query
  // heads in one pass for Qwen2.5's 7 or fewer).
  const float* q[7];
  float* s[7];
  for (int m = 0; m < n_queries; m += 7) {
    const int group = std::min(7, n_queries - m);
    for (int u = 0; u < group; ++u) {
      q[u] = query(m + u);
      s[u] = scores(m + u);
    }
    ScoreAll(q, group, hd, kt, l8 / 8, a.scale, s);
  }

  for (int r = 0; r < a.n_rows; ++r) {
    const int64_t len = a.len + r;
    for (int j = 0; j < a.n_q; ++j) vmath::Softmax(scores(r * a.n_q + j), len);
    // Heads of one row share their length: two at a time share value loads.
    int j = 0;
    for (; j + 2 <= a.n_q; j += 2) {
      const float* w[2] = {scores(r * a.n_q + j), scores(r * a.n_q + j + 1)};
      float* o[2] = {a.out + r * a.out_stride + j * hd, a.out + r * a.out_stride + (j + 1) * hd};
      WeighAllValues<2>(w, vf, hd, len, o);
    }
    if (j < a.n_q) {
      const float* w[1] = {scores(r * a.n_q + j)};
      float* o[1] = {a.out + r * a.out_stride + j * hd};
      WeighAllValues<1>(w, vf, hd, len, o);
    }
  }
}

}  // namespace tinyrag::attention
