#include "generate/decoder_context.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "generate/attention.h"
#include "generate/vector_math.h"
#include "model/half.h"
#include "model/quantize.h"

namespace tinyrag {
namespace {

// out[i] = x[i] * w[i] / sqrt(mean(x^2) + eps) over one row of n values.
void RmsNorm(const float* x, const float* w, int64_t n, float eps, float* out) {
  // Four partial sums: one chain of dependent double adds waited ~4 cycles
  // per value, on the calling thread while the pool's workers idled.
  double part[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int k = 0; k < 4; ++k) part[k] += static_cast<double>(x[i + k]) * x[i + k];
  }
  for (; i < n; ++i) part[0] += static_cast<double>(x[i]) * x[i];
  const double ss = (part[0] + part[1]) + (part[2] + part[3]);
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

// Rotates the first n_rot dimensions of one head by the angles in cs
// ([n_rot/2] pairs of cos, sin).
void Rope(float* head, const float* cs, int64_t n_rot, RopeStyle style) {
  const int64_t half = n_rot / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float c = cs[2 * i], s = cs[2 * i + 1];
    const int64_t a = style == RopeStyle::kNormal ? 2 * i : i;
    const int64_t b = style == RopeStyle::kNormal ? 2 * i + 1 : i + half;
    const float x0 = head[a], x1 = head[b];
    head[a] = x0 * c - x1 * s;
    head[b] = x0 * s + x1 * c;
  }
}

// Rows per FFN block: 2 x 128 x n_ff floats (5 MB for Qwen2.5-0.5B) instead of
// 2 x max_batch x n_ff, which keeps resident memory near file + KV cache.
constexpr int64_t kFfnRows = 128;
// Query rows per attention block (see Attention).
constexpr int64_t kAttentionRows = 8;

}  // namespace

DecoderContext::DecoderContext(const DecoderModel& model, const DecoderContextOptions& options, ThreadPool* pool)
    : model_(model), cfg_(model.config()), options_(options), pool_(pool) {}

absl::StatusOr<std::unique_ptr<DecoderContext>> DecoderContext::Create(const DecoderModel& model,
                                                                       const DecoderContextOptions& options,
                                                                       ThreadPool* pool) {
  const DecoderConfig& cfg = model.config();
  DecoderContextOptions o = options;
  if (o.n_ctx == 0) o.n_ctx = std::min<int64_t>(cfg.n_ctx_train, 4096);
  if (o.n_ctx < 1 || o.n_ctx > cfg.n_ctx_train) {
    return absl::InvalidArgumentError(
        absl::StrCat("n_ctx ", o.n_ctx, " must be in [1, ", cfg.n_ctx_train, "] (the model's context length)"));
  }
  if (o.n_seq < 1 || o.n_seq > 4096) return absl::InvalidArgumentError(absl::StrCat("n_seq ", o.n_seq, " out of range"));
  if (o.max_batch < 1 || o.max_batch > 65536) {
    return absl::InvalidArgumentError(absl::StrCat("max_batch ", o.max_batch, " out of range"));
  }
  if (o.max_outputs == 0) o.max_outputs = o.n_seq;
  if (o.max_outputs < 1 || o.max_outputs > o.max_batch) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_outputs ", o.max_outputs, " must be in [1, max_batch ", o.max_batch, "]"));
  }
  if (o.prefix_cache_entries < 0 || o.prefix_cache_entries > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("prefix_cache_entries ", o.prefix_cache_entries, " must be in [0, 64]"));
  }
  std::unique_ptr<DecoderContext> ctx(new DecoderContext(model, o, pool));
  ctx->kernel_options_.activations = o.activations;
  const int64_t B = o.max_batch;
  const int64_t q_dim = cfg.n_head * cfg.head_dim, kv_dim = cfg.n_head_kv * cfg.head_dim;
  ctx->q_dim_ = q_dim;
  ctx->kv_dim_ = kv_dim;
  const size_t cache = static_cast<size_t>(cfg.n_layer) * o.n_seq * o.n_ctx * kv_dim;
  if (o.kv_type == KvCacheType::kF16) {
    ctx->k_f16_.assign(cache, 0);
    ctx->v_f16_.assign(cache, 0);
  } else {
    ctx->k_f32_.assign(cache, 0.0f);
    ctx->v_f32_.assign(cache, 0.0f);
  }
  ctx->seq_len_.assign(o.n_seq, 0);
  ctx->x_.resize(B * cfg.n_embd);
  ctx->xb_.resize(B * cfg.n_embd);
  ctx->xb2_.resize(B * cfg.n_embd);
  ctx->q_.resize(B * q_dim);
  ctx->k_.resize(B * kv_dim);
  ctx->v_.resize(B * kv_dim);
  ctx->att_out_.resize(B * q_dim);
  ctx->ffn_rows_ = std::min<int64_t>(B, kFfnRows);
  ctx->ff_gate_.resize(ctx->ffn_rows_ * cfg.n_ff);
  ctx->ff_up_.resize(ctx->ffn_rows_ * cfg.n_ff);
  ctx->row_pos_.resize(B);
  ctx->row_seq_.resize(B);
  ctx->rope_cs_.resize(B * cfg.n_rot);
  const int threads = pool ? pool->num_threads() : 1;
  ctx->attention_scratch_floats_ = attention::ScratchFloats(
      static_cast<int>(std::min<int64_t>(B, kAttentionRows)), static_cast<int>(cfg.n_head / cfg.n_head_kv),
      o.n_ctx, cfg.head_dim);
  ctx->attention_scratch_.resize(static_cast<size_t>(threads) * ctx->attention_scratch_floats_);
  ctx->block_starts_.reserve(B + 1);
  ctx->out_x_.resize(o.max_outputs * cfg.n_embd);
  ctx->logits_.resize(o.max_outputs * cfg.n_vocab);
  return ctx;
}

uint64_t DecoderContext::kv_cache_bytes() const {
  return (k_f16_.size() + v_f16_.size()) * sizeof(uint16_t) + (k_f32_.size() + v_f32_.size()) * sizeof(float);
}

std::span<const float> DecoderContext::logits(int64_t i) const {
  if (i < 0 || i >= n_outputs_) return {};
  return {logits_.data() + i * cfg_.n_vocab, static_cast<size_t>(cfg_.n_vocab)};
}

int64_t DecoderContext::sequence_length(int seq) const {
  return seq >= 0 && seq < options_.n_seq ? seq_len_[seq] : 0;
}

void DecoderContext::TruncateSequence(int seq, int64_t length) {
  if (seq < 0 || seq >= options_.n_seq || length < 0 || length >= seq_len_[seq]) return;
  seq_len_[seq] = length;
}

uint64_t KvRows::bytes() const {
  return (k_f16_.capacity() + v_f16_.capacity()) * sizeof(uint16_t) +
         (k_f32_.capacity() + v_f32_.capacity()) * sizeof(float);
}

absl::Status DecoderContext::SaveKv(int seq, int64_t begin, int64_t end, KvRows& out) const {
  if (seq < 0 || seq >= options_.n_seq) {
    return absl::InvalidArgumentError(absl::StrCat("SaveKv: sequence ", seq, " out of range [0, ", options_.n_seq, ")"));
  }
  if (begin < 0 || begin > end || end > seq_len_[seq]) {
    return absl::InvalidArgumentError(absl::StrCat("SaveKv: positions [", begin, ", ", end, ") are not inside the ",
                                                   seq_len_[seq], " of sequence ", seq));
  }
  const bool f16 = options_.kv_type == KvCacheType::kF16;
  const size_t per_head = static_cast<size_t>(end - begin) * cfg_.head_dim;
  const size_t total = per_head * cfg_.n_head_kv * cfg_.n_layer;
  // resize keeps the capacity, so a buffer reused for prefixes up to its
  // largest one allocates nothing more.
  if (f16) {
    out.k_f16_.resize(total);
    out.v_f16_.resize(total);
    out.k_f32_.clear();
    out.v_f32_.clear();
  } else {
    out.k_f32_.resize(total);
    out.v_f32_.resize(total);
    out.k_f16_.clear();
    out.v_f16_.clear();
  }
  // out holds [layer][head][position] runs of the saved positions.
  for (int l = 0; l < cfg_.n_layer; ++l) {
    for (int64_t h = 0; h < cfg_.n_head_kv; ++h) {
      const size_t from = KvOffset(l, seq, h, begin), to = (l * cfg_.n_head_kv + h) * per_head;
      if (f16) {
        std::copy_n(&k_f16_[from], per_head, &out.k_f16_[to]);
        std::copy_n(&v_f16_[from], per_head, &out.v_f16_[to]);
      } else {
        std::copy_n(&k_f32_[from], per_head, &out.k_f32_[to]);
        std::copy_n(&v_f32_[from], per_head, &out.v_f32_[to]);
      }
    }
  }
  out.model_ = &model_;
  out.type_ = options_.kv_type;
  out.begin_ = begin;
  out.end_ = end;
  return absl::OkStatus();
}

absl::Status DecoderContext::RestoreKv(const KvRows& rows, int64_t end, int seq) {
  if (seq < 0 || seq >= options_.n_seq) {
    return absl::InvalidArgumentError(
        absl::StrCat("RestoreKv: sequence ", seq, " out of range [0, ", options_.n_seq, ")"));
  }
  if (rows.model_ != &model_ || rows.type_ != options_.kv_type) {
    return absl::InvalidArgumentError("RestoreKv: rows saved from a context of another model or KV cache type");
  }
  if (end < rows.begin_ || end > rows.end_ || rows.begin_ > seq_len_[seq]) {
    return absl::InvalidArgumentError(absl::StrCat("RestoreKv: cannot write positions [", rows.begin_, ", ", end,
                                                   ") of rows [", rows.begin_, ", ", rows.end_, ") into sequence ",
                                                   seq, " of length ", seq_len_[seq]));
  }
  const bool f16 = options_.kv_type == KvCacheType::kF16;
  const size_t per_head = static_cast<size_t>(rows.end_ - rows.begin_) * cfg_.head_dim;
  const size_t n = static_cast<size_t>(end - rows.begin_) * cfg_.head_dim;
  for (int l = 0; l < cfg_.n_layer; ++l) {
    for (int64_t h = 0; h < cfg_.n_head_kv; ++h) {
      const size_t from = (l * cfg_.n_head_kv + h) * per_head, to = KvOffset(l, seq, h, rows.begin_);
      if (f16) {
        std::copy_n(&rows.k_f16_[from], n, &k_f16_[to]);
        std::copy_n(&rows.v_f16_[from], n, &v_f16_[to]);
      } else {
        std::copy_n(&rows.k_f32_[from], n, &k_f32_[to]);
        std::copy_n(&rows.v_f32_[from], n, &v_f32_[to]);
      }
    }
  }
  seq_len_[seq] = end;
  return absl::OkStatus();
}

int64_t DecoderContext::RestoreCachedPrefix(int seq, std::span<const TokenId> tokens) {
  if (seq < 0 || seq >= options_.n_seq) return 0;
  seq_len_[seq] = 0;
  CachedPrefix* best = nullptr;
  int64_t best_len = 0;
  for (CachedPrefix& p : prefixes_) {
    const size_t n = std::min(p.tokens.size(), tokens.size());
    const int64_t len = std::mismatch(p.tokens.begin(), p.tokens.begin() + n, tokens.begin()).first - p.tokens.begin();
    if (len > best_len || (len == best_len && len > 0 && p.last_used > best->last_used)) {
      best = &p;
      best_len = len;
    }
  }
  if (best == nullptr) return 0;
  best->last_used = ++use_clock_;
  // Cannot fail: the entry was saved by this context and best_len is inside it.
  if (!RestoreKv(best->rows, best_len, seq).ok()) return 0;
  return best_len;
}

absl::Status DecoderContext::CachePrefix(int seq, std::span<const TokenId> tokens) {
  if (seq < 0 || seq >= options_.n_seq) {
    return absl::InvalidArgumentError(
        absl::StrCat("CachePrefix: sequence ", seq, " out of range [0, ", options_.n_seq, ")"));
  }
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n > seq_len_[seq]) {
    return absl::InvalidArgumentError(
        absl::StrCat("CachePrefix: ", n, " tokens but sequence ", seq, " holds ", seq_len_[seq], " positions"));
  }
  if (options_.prefix_cache_entries == 0 || n == 0) return absl::OkStatus();
  for (CachedPrefix& p : prefixes_) {
    if (std::equal(p.tokens.begin(), p.tokens.end(), tokens.begin(), tokens.end())) {
      p.last_used = ++use_clock_;
      return absl::OkStatus();
    }
  }
  CachedPrefix* slot;
  if (static_cast<int>(prefixes_.size()) < options_.prefix_cache_entries) {
    slot = &prefixes_.emplace_back();
  } else {
    slot = &*std::min_element(prefixes_.begin(), prefixes_.end(),
                              [](const CachedPrefix& a, const CachedPrefix& b) { return a.last_used < b.last_used; });
  }
  // Until the copy succeeds the entry must match nothing.
  slot->tokens.clear();
  if (absl::Status s = SaveKv(seq, 0, n, slot->rows); !s.ok()) return s;
  slot->tokens.assign(tokens.begin(), tokens.end());
  slot->last_used = ++use_clock_;
  return absl::OkStatus();
}

uint64_t DecoderContext::prefix_cache_bytes() const {
  uint64_t bytes = 0;
  for (const CachedPrefix& p : prefixes_) bytes += p.rows.bytes() + p.tokens.capacity() * sizeof(TokenId);
  return bytes;
}

size_t DecoderContext::KvOffset(int layer, int seq, int64_t head, int64_t pos) const {
  const size_t head_rows = (static_cast<size_t>(layer) * options_.n_seq + seq) * cfg_.n_head_kv + head;
  return (head_rows * options_.n_ctx + pos) * cfg_.head_dim;
}

absl::Status DecoderContext::Project(const WeightView& w, const float* x, int64_t n, float* y) {
  if (n == 1) return MatVec(w, x, y, pool_, kernel_options_);
  return MatMul(w, x, n, y, pool_, kernel_options_);
}

absl::Status DecoderContext::Decode(std::span<const BatchToken> batch) {
  const int64_t n = static_cast<int64_t>(batch.size());
  if (n == 0) return absl::InvalidArgumentError("Decode: empty batch");
  if (n > options_.max_batch) {
    return absl::InvalidArgumentError(absl::StrCat("Decode: batch of ", n, " tokens exceeds max_batch ",
                                                   options_.max_batch));
  }
  // Validate everything and assign positions before touching any state.
  int64_t outputs = 0;
  std::vector<int64_t>& pos = row_pos_;
  for (int64_t i = 0; i < n; ++i) {
    const BatchToken& t = batch[i];
    if (t.seq < 0 || t.seq >= options_.n_seq) {
      return absl::InvalidArgumentError(absl::StrCat("Decode: sequence ", t.seq, " out of range [0, ",
                                                     options_.n_seq, ")"));
    }
    if (t.token < 0 || t.token >= cfg_.n_vocab) {
      return absl::InvalidArgumentError(absl::StrCat("Decode: token id ", t.token, " out of range [0, ",
                                                     cfg_.n_vocab, ")"));
    }
    outputs += t.logits ? 1 : 0;
  }
  if (outputs > options_.max_outputs) {
    return absl::InvalidArgumentError(absl::StrCat("Decode: ", outputs, " outputs requested, max_outputs is ",
                                                   options_.max_outputs));
  }
  for (int64_t i = 0; i < n; ++i) {
    // Position = tokens already in the sequence + earlier tokens of it in this batch.
    int64_t p = seq_len_[batch[i].seq];
    for (int64_t j = 0; j < i; ++j) p += batch[j].seq == batch[i].seq ? 1 : 0;
    if (p >= options_.n_ctx) {
      return absl::OutOfRangeError(absl::StrCat("context length ", options_.n_ctx, " exceeded (sequence ",
                                                batch[i].seq, " would need position ", p, ")"));
    }
    pos[i] = p;
    row_seq_[i] = batch[i].seq;
  }

  // rope_cs [n][n_rot]: per row, cos/sin of pos * freq_scale * base^(-2i/n_rot) / factor_i.
  const int64_t half = cfg_.n_rot / 2;
  const std::vector<float>& factors = model_.rope_freq_factors();
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < half; ++i) {
      double theta = static_cast<double>(pos[r]) * cfg_.rope_freq_scale *
                     std::pow(static_cast<double>(cfg_.rope_freq_base), -2.0 * i / cfg_.n_rot);
      if (!factors.empty()) theta /= factors[i];
      rope_cs_[r * cfg_.n_rot + 2 * i] = static_cast<float>(std::cos(theta));
      rope_cs_[r * cfg_.n_rot + 2 * i + 1] = static_cast<float>(std::sin(theta));
    }
  }

  Embed(batch);  // x [n][n_embd]
  for (int l = 0; l < cfg_.n_layer; ++l) {
    if (absl::Status s = Layer(l, n); !s.ok()) return s;
  }
  for (int64_t i = 0; i < n; ++i) seq_len_[batch[i].seq] = std::max(seq_len_[batch[i].seq], pos[i] + 1);
  return Output(batch);
}

void DecoderContext::Embed(std::span<const BatchToken> batch) {
  const WeightView& e = model_.token_embd();
  const int64_t d = cfg_.n_embd;
  for (size_t i = 0; i < batch.size(); ++i) DequantizeWeightRow(e, batch[i].token, x_.data() + i * d);
}

absl::Status DecoderContext::Layer(int l, int64_t n) {
  const DecoderLayer& w = model_.layers()[l];
  const int64_t d = cfg_.n_embd, hd = cfg_.head_dim, ff = cfg_.n_ff;

  // xb [n][d] = RMSNorm(x) * attn_norm
  for (int64_t r = 0; r < n; ++r) RmsNorm(&x_[r * d], w.attn_norm.data(), d, cfg_.rms_eps, &xb_[r * d]);
  // q [n][q_dim], k [n][kv_dim], v [n][kv_dim] = projections (+ bias)
  {
    const WeightView ws[] = {w.wq, w.wk, w.wv};
    float* const ys[] = {q_.data(), k_.data(), v_.data()};
    if (absl::Status s = MatMulShared(ws, xb_.data(), n, ys, pool_, kernel_options_); !s.ok()) return s;
  }
  if (!w.bq.empty()) {
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t i = 0; i < q_dim_; ++i) q_[r * q_dim_ + i] += w.bq[i];
      for (int64_t i = 0; i < kv_dim_; ++i) k_[r * kv_dim_ + i] += w.bk[i];
      for (int64_t i = 0; i < kv_dim_; ++i) v_[r * kv_dim_ + i] += w.bv[i];
    }
  }
  // Per-head RMSNorm of q and k (qwen3), then RoPE on every head.
  for (int64_t r = 0; r < n; ++r) {
    const float* cs = &rope_cs_[r * cfg_.n_rot];
    for (int64_t h = 0; h < cfg_.n_head; ++h) {
      float* head = &q_[r * q_dim_ + h * hd];
      if (!w.q_norm.empty()) RmsNorm(head, w.q_norm.data(), hd, cfg_.rms_eps, head);
      Rope(head, cs, cfg_.n_rot, cfg_.rope_style);
    }
    for (int64_t h = 0; h < cfg_.n_head_kv; ++h) {
      float* head = &k_[r * kv_dim_ + h * hd];
      if (!w.k_norm.empty()) RmsNorm(head, w.k_norm.data(), hd, cfg_.rms_eps, head);
      Rope(head, cs, cfg_.n_rot, cfg_.rope_style);
    }
  }
  StoreKv(l, n);
  // att_out [n][q_dim] = softmax(q K^T / sqrt(hd)) V per row and head
  if (absl::Status s = Attention(l, n); !s.ok()) return s;
  // x += att_out Wo^T   (xb2 [n][d])
  if (absl::Status s = Project(w.wo, att_out_.data(), n, xb2_.data()); !s.ok()) return s;
  for (int64_t i = 0; i < n * d; ++i) x_[i] += xb2_[i];

  // xb [n][d] = RMSNorm(x) * ffn_norm
  for (int64_t r = 0; r < n; ++r) RmsNorm(&x_[r * d], w.ffn_norm.data(), d, cfg_.rms_eps, &xb_[r * d]);
  // The FFN runs over blocks of up to ffn_rows_ rows, so its wide buffers stay
  // small (the weights are reread per block, a small cost next to the math).
  for (int64_t r0 = 0; r0 < n; r0 += ffn_rows_) {
    const int64_t m = std::min(ffn_rows_, n - r0);
    // ff_gate, ff_up [m][ff]; ff_gate = silu(gate) * up
    const WeightView ws[] = {w.w_gate, w.w_up};
    float* const ys[] = {ff_gate_.data(), ff_up_.data()};
    if (absl::Status s = MatMulShared(ws, &xb_[r0 * d], m, ys, pool_, kernel_options_); !s.ok()) return s;
    SiluMul(ff_gate_.data(), ff_up_.data(), m * ff);
    // x += ff_gate Wdown^T   (xb2 [m][d])
    if (absl::Status s = Project(w.w_down, ff_gate_.data(), m, xb2_.data()); !s.ok()) return s;
    for (int64_t i = 0; i < m * d; ++i) x_[r0 * d + i] += xb2_[i];
  }
  return absl::OkStatus();
}

void DecoderContext::SiluMul(float* gate, const float* up, int64_t n) {
  // Elementwise, so any split gives the same values; below a few thousand
  // values the pool's round trip (~0.5 us) costs more than half the work.
  constexpr int64_t kMinParallel = 2048;
  if (pool_ == nullptr || n < kMinParallel) return vmath::SiluMul(gate, up, n);
  const int64_t tasks = 2 * pool_->num_threads();
  const int64_t chunk = (n / tasks + 63) / 64 * 64;
  pool_->ParallelFor(tasks, [&](int64_t t, int) {
    const int64_t begin = std::min(n, t * chunk), end = std::min(n, begin + chunk);
    if (begin < end) vmath::SiluMul(gate + begin, up + begin, end - begin);
  });
}

void DecoderContext::StoreKv(int l, int64_t n) {
  const int64_t hd = cfg_.head_dim;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t h = 0; h < cfg_.n_head_kv; ++h) {
      const size_t at = KvOffset(l, row_seq_[r], h, row_pos_[r]);
      const float* k = &k_[r * kv_dim_ + h * hd];
      const float* v = &v_[r * kv_dim_ + h * hd];
      if (options_.kv_type == KvCacheType::kF16) {
        for (int64_t i = 0; i < hd; ++i) {
          k_f16_[at + i] = F32ToF16(k[i]);
          v_f16_[at + i] = F32ToF16(v[i]);
        }
      } else {
        std::copy_n(k, hd, &k_f32_[at]);
        std::copy_n(v, hd, &v_f32_[at]);
      }
    }
  }
}

absl::Status DecoderContext::Attention(int l, int64_t n) {
  const int64_t hd = cfg_.head_dim;
  const int group = static_cast<int>(cfg_.n_head / cfg_.n_head_kv);  // query heads per KV head (GQA/MQA)
  const bool f16 = options_.kv_type == KvCacheType::kF16;
  // Row blocks: runs of up to kAttentionRows consecutive positions of one
  // sequence (a prompt's rows), which share each converted key/value row.
  std::vector<int64_t>& starts = block_starts_;
  starts.clear();
  for (int64_t r = 0; r < n; ++r) {
    const bool continues = r > 0 && r - starts.back() < kAttentionRows &&
                           row_seq_[r] == row_seq_[r - 1] && row_pos_[r] == row_pos_[r - 1] + 1;
    if (!continues) starts.push_back(r);
  }
  const int64_t blocks = static_cast<int64_t>(starts.size());
  starts.push_back(n);
  // One task per (row block, KV head), the longest (last) blocks first.
  auto task = [&](int64_t t, int thread) {
    const int64_t b = blocks - 1 - t / cfg_.n_head_kv, g = t % cfg_.n_head_kv;
    const int64_t r = starts[b];
    const size_t base = KvOffset(l, row_seq_[r], g, 0);
    attention::Args a;
    a.q = &q_[r * q_dim_ + g * group * hd];
    a.q_stride = q_dim_;
    a.n_rows = static_cast<int>(starts[b + 1] - r);
    a.n_q = group;
    a.head_dim = hd;
    a.k = f16 ? static_cast<const void*>(&k_f16_[base]) : &k_f32_[base];
    a.v = f16 ? static_cast<const void*>(&v_f16_[base]) : &v_f32_[base];
    a.f16 = f16;
    a.stride = hd;
    a.len = row_pos_[r] + 1;  // causal: row i sees positions 0..pos + i of its sequence
    a.scale = 1.0f / std::sqrt(static_cast<float>(hd));
    a.scratch = &attention_scratch_[static_cast<size_t>(thread) * attention_scratch_floats_];
    a.out = &att_out_[r * q_dim_ + g * group * hd];
    a.out_stride = q_dim_;
    attention::Attend(a);
  };
  if (pool_ != nullptr) {
    pool_->ParallelFor(blocks * cfg_.n_head_kv, task);
  } else {
    for (int64_t t = 0; t < blocks * cfg_.n_head_kv; ++t) task(t, 0);
  }
  return absl::OkStatus();
}

absl::Status DecoderContext::Output(std::span<const BatchToken> batch) {
  const int64_t d = cfg_.n_embd;
  // out_x [n_outputs][d] = RMSNorm(x) * output_norm for the rows that want logits
  n_outputs_ = 0;
  for (size_t r = 0; r < batch.size(); ++r) {
    if (!batch[r].logits) continue;
    RmsNorm(&x_[r * d], model_.output_norm().data(), d, cfg_.rms_eps, &out_x_[n_outputs_ * d]);
    ++n_outputs_;
  }
  if (n_outputs_ == 0) return absl::OkStatus();
  // logits [n_outputs][n_vocab] = out_x Wout^T
  return Project(model_.output(), out_x_.data(), n_outputs_, logits_.data());
}

}  // namespace tinyrag
