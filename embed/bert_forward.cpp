// The BERT forward pass: embeddings + LayerNorm, then per layer
//   x = LN(x + Wo Attention(Wq x, Wk x, Wv x))
//   x = LN(x + Wd GELU(Wu x))
// then pooling. Shapes: T tokens in the batch (all sequences packed), E width,
// F FFN width, H heads of d = E / H.
#include "embed/bert_forward.h"

#include <cmath>
#include <cstring>

#include "embed/ops.h"
#include "embed/attention.h"
#include "embed/gemm.h"
#include "model/quantize.h"

namespace tinyrag::embed {

ForwardScratch::ForwardScratch(const BertConfig& c, int64_t max_tokens_in, int64_t max_len_in, int threads)
    : max_tokens(max_tokens_in), max_len(max_len_in) {
  const size_t te = static_cast<size_t>(max_tokens * c.n_embd);
  x.resize(te);
  q.resize(te);
  k.resize(te);
  v.resize(te);
  ctx.resize(te);
  proj.resize(te);
  ff.resize(static_cast<size_t>(max_tokens * c.n_ff));
  const int64_t d = c.n_embd / c.n_head;
  attn.resize(static_cast<size_t>(threads * AttentionScratchSize(max_len, d)));
}

absl::Status ForwardBatch(const BertWeights& w, std::span<const std::span<const int32_t>> seqs, ThreadPool& pool,
                          ForwardScratch& s, float* pooled) {
  const BertConfig& c = w.config;
  const EncoderOps& ops = ActiveOps();
  const int64_t E = c.n_embd, F = c.n_ff, H = c.n_head, d = E / H;
  const int64_t n_seq = static_cast<int64_t>(seqs.size());

  // Row offset of each sequence in the packed batch.
  std::vector<int64_t> off(n_seq + 1, 0);
  for (int64_t i = 0; i < n_seq; ++i) off[i + 1] = off[i] + static_cast<int64_t>(seqs[i].size());
  const int64_t T = off[n_seq];
  if (T > s.max_tokens) return absl::InternalError("encoder batch larger than its scratch");

  float* x = s.x.data();  // [T][E]

  // Embeddings: word + position + token type 0, then LayerNorm.   x: [T][E]
  pool.ParallelForRange(n_seq, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      for (int64_t t = 0; t < static_cast<int64_t>(seqs[i].size()); ++t) {
        float* row = x + (off[i] + t) * E;
        const auto* src = static_cast<const uint8_t*>(w.token_embd.data) + seqs[i][t] * w.token_embd.row_stride;
        DequantizeRow(w.token_embd.type, src, row, E);
        const float* p = w.position_embd.data() + t * E;
        for (int64_t j = 0; j < E; ++j) row[j] += p[j] + w.token_type0[j];
      }
      ops.add_layer_norm(x + off[i] * E, nullptr, off[i + 1] - off[i], E, w.embd_norm_w.data(), w.embd_norm_b.data(),
                         c.norm_eps);
    }
  });

  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (const BertLayer& L : w.layers) {
    // Projections (bias included).   q, k, v: [T][E]
    PackedMatMul(L.q, x, T, s.q.data(), L.q_b.data(), &pool);
    PackedMatMul(L.k, x, T, s.k.data(), L.k_b.data(), &pool);
    PackedMatMul(L.v, x, T, s.v.data(), L.v_b.data(), &pool);

    // Attention, one task per (sequence, head); each head reads columns
    // [h d, (h + 1) d) of its sequence's rows only.   ctx: [T][E]
    pool.ParallelFor(n_seq * H, [&](int64_t task, int thread) {
      const int64_t i = task / H, h = task % H;
      const int64_t base = off[i] * E + h * d;
      Attention(s.q.data() + base, s.k.data() + base, s.v.data() + base, E, d, off[i + 1] - off[i], scale,
                s.ctx.data() + base, s.attn.data() + thread * AttentionScratchSize(s.max_len, d));
    });

    // Output projection, residual, LayerNorm.   proj: [T][E] -> x: [T][E]
    PackedMatMul(L.out, s.ctx.data(), T, s.proj.data(), L.out_b.data(), &pool);
    pool.ParallelForRange(T, 16, [&](int64_t b, int64_t e, int) {
      ops.add_layer_norm(x + b * E, s.proj.data() + b * E, e - b, E, L.attn_norm_w.data(), L.attn_norm_b.data(),
                         c.norm_eps);
    });

    // Feed-forward.   ff: [T][F] -> proj: [T][E] -> x: [T][E]
    PackedMatMul(L.up, x, T, s.ff.data(), L.up_b.data(), &pool);
    pool.ParallelForRange(T, 8, [&](int64_t b, int64_t e, int) { ops.gelu(s.ff.data() + b * F, e - b, F); });
    PackedMatMul(L.down, s.ff.data(), T, s.proj.data(), L.down_b.data(), &pool);
    pool.ParallelForRange(T, 16, [&](int64_t b, int64_t e, int) {
      ops.add_layer_norm(x + b * E, s.proj.data() + b * E, e - b, E, L.out_norm_w.data(), L.out_norm_b.data(),
                         c.norm_eps);
    });
  }

  // Pooling.   pooled: [n_seq][E]
  for (int64_t i = 0; i < n_seq; ++i) {
    float* out = pooled + i * E;
    if (c.pooling == PoolingKind::kCls) {
      std::memcpy(out, x + off[i] * E, static_cast<size_t>(E) * sizeof(float));
      continue;
    }
    std::fill(out, out + E, 0.0f);
    for (int64_t r = off[i]; r < off[i + 1]; ++r) {
      const float* row = x + r * E;
      for (int64_t j = 0; j < E; ++j) out[j] += row[j];
    }
    const float inv = 1.0f / static_cast<float>(off[i + 1] - off[i]);
    for (int64_t j = 0; j < E; ++j) out[j] *= inv;
  }
  return absl::OkStatus();
}

}  // namespace tinyrag::embed
