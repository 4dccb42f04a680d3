// The BERT forward pass over one batch of token sequences. Internal to embed/.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "embed/bert_arch.h"
#include "model/thread_pool.h"

namespace tinyrag::embed {

// Activation buffers for batches of up to `max_tokens` tokens in total and
// `max_len` tokens per sequence. Sized once per Embed call, reused by every
// batch of that call; one per call, so concurrent calls never share one.
struct ForwardScratch {
  ForwardScratch(const BertConfig& c, int64_t max_tokens, int64_t max_len, int threads);

  int64_t max_tokens;
  int64_t max_len;
  std::vector<float> x;     // [T][E] hidden state
  std::vector<float> q, k, v;  // [T][E] each
  std::vector<float> ctx;   // [T][E] attention output before the projection
  std::vector<float> proj;  // [T][E] projection outputs (attention out, FFN down)
  std::vector<float> ff;    // [T][F] FFN intermediate
  std::vector<float> attn;  // [threads][AttentionScratchSize(max_len, d)]
};

// Runs the encoder over `seqs` (each non-empty, ids < n_vocab, at most
// max_len long, total at most max_tokens) and writes each sequence's pooled,
// un-normalized embedding to pooled[i * E .. (i + 1) * E).
//
// Sequences are packed back to back (token t of sequence i is row off_i + t)
// rather than padded: attention of sequence i only ever reads rows
// [off_i, off_i + len_i), which is exactly what a padding mask would allow,
// and no matrix product is spent on padding.
absl::Status ForwardBatch(const BertWeights& w, std::span<const std::span<const int32_t>> seqs, ThreadPool& pool,
                          ForwardScratch& s, float* pooled);

}  // namespace tinyrag::embed
