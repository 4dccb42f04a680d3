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
  // Prompt prefixes whose K/V rows the context keeps (see CachePrefix); 0
  // turns the prefix cache off. Each takes at most n_ctx positions of one
  // sequence's cache, allocated when first used.
  int prefix_cache_entries = 2;
};

// K/V rows of positions [begin, end) of one sequence, every layer, copied out
// of a DecoderContext's cache in its element type (DecoderContext::SaveKv).
// Owns its memory, which later saves reuse.
class KvRows {
 public:
  int64_t begin() const { return begin_; }
  int64_t end() const { return end_; }
  uint64_t bytes() const;  // memory held now

 private:
  friend class DecoderContext;
  const DecoderModel* model_ = nullptr;  // the model the rows belong to (identity only; not owned)
  KvCacheType type_ = KvCacheType::kF16;
  int64_t begin_ = 0, end_ = 0;
  // [n_layer][end - begin][kv_dim]: per layer the rows are contiguous, as in the cache.
  std::vector<uint16_t> k_f16_, v_f16_;
  std::vector<float> k_f32_, v_f32_;
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

  // Copies the K/V rows of positions [begin, end) of sequence `seq` (every
  // layer) into `out`, replacing what it held. InvalidArgument for a bad
  // sequence or a range not inside [0, sequence_length(seq)].
  absl::Status SaveKv(int seq, int64_t begin, int64_t end, KvRows& out) const;
  // Writes the rows of positions [rows.begin(), end) from `rows` into
  // sequence `seq` at the same positions; the sequence then holds exactly
  // `end` positions (positions below rows.begin() stay, later ones are
  // forgotten). Needs rows.begin() <= sequence_length(seq), rows.begin() <=
  // end <= rows.end() and rows saved by a context of the same model and KV
  // type; InvalidArgument otherwise, with nothing changed.
  absl::Status RestoreKv(const KvRows& rows, int64_t end, int seq);

  // The prefix cache: K/V rows of recently seen prompt prefixes keyed by their
  // token ids, so requests that start with the same tokens (a fixed system
  // prompt) compute them once. Keyed by the ids themselves, so a hit is always
  // right whoever claims a prefix is shared. Same thread rules as Decode.
  //
  // Clears sequence `seq`, then fills positions [0, m) from the cached prefix
  // sharing the longest run m of leading ids with `tokens` (the most recently
  // used among equals, which becomes the most recent). Returns m: 0 when
  // nothing matches, the cache is off or `seq` is bad.
  int64_t RestoreCachedPrefix(int seq, std::span<const TokenId> tokens);
  // Saves positions [0, tokens.size()) of `seq` as the cached prefix
  // `tokens` (they must be the K/V of exactly those ids: the caller's word),
  // replacing the least recently used entry when all are taken. Does nothing
  // when the cache is off, `tokens` is empty or already cached.
  // InvalidArgument when `seq` is bad or holds fewer positions.
  absl::Status CachePrefix(int seq, std::span<const TokenId> tokens);
  // Bytes held by the prefix cache's entries.
  uint64_t prefix_cache_bytes() const;

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
  // gate[i] = silu(gate[i]) * up[i] for i < n, split over the pool.
  void SiluMul(float* gate, const float* up, int64_t n);
  absl::Status Output(std::span<const BatchToken> batch);
  // y = x W^T for n rows (matrix-vector for one row).
  absl::Status Project(const WeightView& w, const float* x, int64_t n, float* y);
  // The cache is head-major, [layer][seq][KV head][position][head_dim], so
  // attention reads one head's keys and values as contiguous runs. Offset of
  // (layer, seq, head, position)'s head_dim values of K (or V).
  size_t KvOffset(int layer, int seq, int64_t head, int64_t pos) const;

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

  struct CachedPrefix {
    std::vector<TokenId> tokens;
    KvRows rows;
    uint64_t last_used = 0;  // value of use_clock_ at its last hit or save
  };
  std::vector<CachedPrefix> prefixes_;  // up to prefix_cache_entries, filled on demand
  uint64_t use_clock_ = 0;
};

}  // namespace tinyrag
