// Running a DecoderModel: the KV cache, the activation buffers and the
// forward pass, for one or many sequences at once.
//
// A batch is a list of tokens, each belonging to a sequence (its own KV
// slot). A sequence's tokens in a batch take the next positions of that
// sequence in order, so one Decode call can prefill a prompt (many tokens of
// one sequence: matrix-matrix products), decode one token (matrix-vector), or
// advance many sequences by one token each (continuous batching) -- the
// weights are read once per call in every case. Every buffer and the KV cache
// are allocated once, in Create; Decode allocates nothing.
//
// Thread safety: a DecoderContext is used by one thread at a time (Decode
// mutates it); many contexts may share one DecoderModel. Work inside Decode is
// spread over the ThreadPool given to Create.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "generate/decoder_model.h"
#include "model/kernels.h"
#include "model/thread_pool.h"

namespace tinyrag {

enum class KvCacheType { kF16, kF32 };

struct DecoderContextOptions {
  // Positions per sequence; 0 means the model's trained context length capped
  // at 4096. Must not exceed the trained length.
  int64_t n_ctx = 0;
  int n_seq = 1;             // independent sequences (KV slots)
  int64_t max_batch = 512;   // most tokens per Decode call
  int64_t max_outputs = 0;   // most tokens per call whose logits are wanted; 0 = n_seq
  KvCacheType kv_type = KvCacheType::kF16;  // f16 halves the cache, as llama.cpp does by default
  ActivationMode activations = ActivationMode::kAuto;
};

// One token of a batch.
struct BatchToken {
  TokenId token = 0;
  int seq = 0;          // which sequence (KV slot) it extends, in [0, n_seq)
  bool logits = false;  // compute the logits at this position
};

class DecoderContext {
 public:
  // Allocates the KV cache and all buffers. `model` and `pool` (nullptr: run
  // on the calling thread) must outlive the context. InvalidArgument for
  // options out of range (naming the option).
  static absl::StatusOr<std::unique_ptr<DecoderContext>> Create(const DecoderModel& model,
                                                                const DecoderContextOptions& options,
                                                                ThreadPool* pool);

  // Runs the forward pass over `batch`: each token is placed at the next free
  // position of its sequence and its keys/values are stored there. Afterwards
  // logits(i) holds the logits of the i-th token that asked for them.
  // Errors, with nothing changed: an empty or too large batch, a bad sequence
  // or token id, more outputs than max_outputs, or a sequence that would grow
  // past n_ctx (OutOfRange: "context length N exceeded"). Cancellation is the
  // caller's: split long prompts into several calls and check between them.
  absl::Status Decode(std::span<const BatchToken> batch);

  // Logits [n_vocab] of the i-th output of the last Decode; valid until the
  // next Decode. Empty span when i is out of range.
  std::span<const float> logits(int64_t i) const;
  int64_t n_outputs() const { return n_outputs_; }

  // Positions filled in sequence `seq` (0 for a bad index).
  int64_t sequence_length(int seq) const;
  // Forgets positions >= `length` of `seq` (0 clears it), so the sequence can
  // be reused or a shared prefix kept. Ignored for a bad index or a length
  // not below the current one.
  void TruncateSequence(int seq, int64_t length);

  const DecoderModel& model() const { return model_; }
  const DecoderContextOptions& options() const { return options_; }
  int64_t n_ctx() const { return options_.n_ctx; }
  // Bytes of the KV cache.
  uint64_t kv_cache_bytes() const;

 private:
  DecoderContext(const DecoderModel& model, const DecoderContextOptions& options, ThreadPool* pool);

  void Embed(std::span<const BatchToken> batch);
  absl::Status Layer(int layer, int64_t n);
  absl::Status Attention(int layer, int64_t n);
  void StoreKv(int layer, int64_t n);
  absl::Status Output(std::span<const BatchToken> batch);
  // y = x W^T for n rows (matrix-vector for one row).
  absl::Status Project(const WeightView& w, const float* x, int64_t n, float* y);
  // Cache row of (layer, seq, position): kv_dim values of K (or V).
  size_t KvOffset(int layer, int seq, int64_t pos) const;

  const DecoderModel& model_;
  const DecoderConfig& cfg_;
  DecoderContextOptions options_;
  ThreadPool* pool_;
  KernelOptions kernel_options_;
  int64_t q_dim_ = 0, kv_dim_ = 0;

  // KV cache: [n_layer][n_seq][n_ctx][kv_dim] of f16 (uint16_t) or f32.
  std::vector<uint16_t> k_f16_, v_f16_;
  std::vector<float> k_f32_, v_f32_;
  std::vector<int64_t> seq_len_;  // [n_seq]

  // Activations for up to max_batch rows; shapes in the forward pass.
  std::vector<float> x_, xb_, xb2_, q_, k_, v_, att_out_;
  int64_t ffn_rows_ = 0;              // rows per FFN block
  std::vector<float> ff_gate_, ff_up_;  // [ffn_rows][n_ff]
  std::vector<int64_t> row_pos_;   // [max_batch] position of each row
  std::vector<int> row_seq_;       // [max_batch]
  std::vector<float> rope_cs_;     // [max_batch][n_rot] cos, sin per rotated pair
  int64_t attention_scratch_floats_ = 0;  // per thread: attention::ScratchFloats of a full block
  std::vector<float> attention_scratch_;  // [threads][attention_scratch_floats_]
  std::vector<int64_t> block_starts_;     // first row of each attention block, then n
  std::vector<float> out_x_;       // [max_outputs][n_embd]
  std::vector<float> logits_;      // [max_outputs][n_vocab]
  int64_t n_outputs_ = 0;
};

}  // namespace tinyrag
