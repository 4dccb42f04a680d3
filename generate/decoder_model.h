// A decoder-only language model loaded from a GGUF file: hyperparameters and
// views of the weights inside the memory-mapped file (llama, qwen2, qwen3).
//
// The model is immutable after Load and shared by every context that runs
// it: all const methods are thread-safe. Matrices are not copied (they stay
// in the mapping, in their stored type); small vectors (norm weights, biases,
// RoPE factors) are converted to f32 once at load.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "generate/arch.h"
#include "model/gguf.h"
#include "model/kernels.h"
#include "model/tokenizer.h"
#include "model/weight_arena.h"

namespace tinyrag {

struct DecoderConfig {
  std::string arch;
  RopeStyle rope_style = RopeStyle::kNormal;
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;    // per-head width of Q and K (key_length)
  int64_t n_ff = 0;
  int64_t n_ctx_train = 0;  // the context length the model was trained for
  int64_t n_rot = 0;        // leading dimensions of each head that RoPE rotates
  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // positions are multiplied by this (linear scaling)
  bool tied_output = false;      // the output matrix is token_embd
};

struct DecoderLayer {
  std::vector<float> attn_norm;  // [n_embd]
  WeightView wq;                 // [n_head*head_dim rows][n_embd]
  WeightView wk;                 // [n_head_kv*head_dim][n_embd]
  WeightView wv;                 // [n_head_kv*head_dim][n_embd]
  WeightView wo;                 // [n_embd][n_head*head_dim]
  std::vector<float> bq, bk, bv;         // biases, empty when the architecture has none
  std::vector<float> q_norm, k_norm;     // [head_dim] or empty
  std::vector<float> ffn_norm;   // [n_embd]
  WeightView w_gate;             // [n_ff][n_embd]
  WeightView w_up;               // [n_ff][n_embd]
  WeightView w_down;             // [n_embd][n_ff]
};

class DecoderModel {
 public:
  // Opens and maps `path`, reads the architecture table for its
  // general.architecture and checks every tensor's presence, type and shape.
  // Errors (InvalidArgument unless the file cannot be opened) name the file
  // and: an unsupported architecture (listing the supported ones), a missing
  // tensor or metadata key, a shape that disagrees with the hyperparameters.
  static absl::StatusOr<std::unique_ptr<DecoderModel>> Load(const std::string& path);
  // Same over an already opened file (shared: the model keeps it alive).
  // Load also releases the metadata arrays longer than kKeptArrayElements
  // (the tokenizer's) once the vocabulary is built: file() then has the
  // tensors and scalar metadata; use tokenizer() for the vocabulary.
  static absl::StatusOr<std::unique_ptr<DecoderModel>> FromGguf(std::shared_ptr<const GgufFile> file);
  static constexpr size_t kKeptArrayElements = 4096;

  const DecoderConfig& config() const { return config_; }
  const ArchSpec& arch() const { return *arch_; }
  const GgufFile& file() const { return *file_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

  const WeightView& token_embd() const { return token_embd_; }  // [n_vocab][n_embd]
  const std::vector<float>& output_norm() const { return output_norm_; }
  const WeightView& output() const { return output_; }          // [n_vocab][n_embd]
  // Per rotated pair, the divisor of its frequency ([n_rot/2]); empty when absent.
  const std::vector<float>& rope_freq_factors() const { return rope_freq_factors_; }
  const std::vector<DecoderLayer>& layers() const { return layers_; }

  // Bytes of all weight tensors (for bandwidth figures).
  uint64_t weight_bytes() const { return weight_bytes_; }

 private:
  DecoderModel() = default;

  std::shared_ptr<const GgufFile> file_;
  const ArchSpec* arch_ = nullptr;
  DecoderConfig config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  WeightView token_embd_;
  std::vector<float> output_norm_;
  WeightView output_;
  std::vector<float> rope_freq_factors_;
  std::vector<DecoderLayer> layers_;
  uint64_t weight_bytes_ = 0;
  // Matrices rewritten into the quad layout at load (their views point here;
  // the file's pages of them are released).
  WeightArena converted_weights_;

  friend class DecoderModelLoader;
};

}  // namespace tinyrag
