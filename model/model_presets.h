// Shapes and tokenizer conventions of real models, for generating random-weight
// GGUF files with the same layout (tinyrag mkmodel).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "model/gguf.h"

namespace tinyrag {

enum class PresetTokenizer {
  kQwen25,     // byte-level BPE, pre "qwen2", ChatML specials (Qwen2.5)
  kQwen3,      // as Qwen2.5 plus the Qwen3 tool/think tokens
  kSmolLM,     // byte-level BPE, pre "smollm", 17 leading specials
  kLlama3,     // byte-level BPE, pre "llama-bpe", 256 trailing specials
  kTinyLlama,  // SentencePiece BPE (Llama 2 layout), Zephyr chat template
  kBert,       // WordPiece (bert-base-uncased layout)
};

struct ModelPreset {
  std::string_view name;          // the --preset name, e.g. "qwen2.5-0.5b"
  std::string_view arch;          // general.architecture: "llama", "qwen2", "qwen3", "bert"
  std::string_view display_name;  // general.name
  std::string_view size_label;    // general.size_label
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;  // equal to n_head without grouped-query attention
  int64_t head_dim = 0;
  int64_t n_ff = 0;
  int64_t n_ctx = 0;           // context_length (max_position_embeddings)
  double rope_base = 0;        // 0: no RoPE (BERT)
  double norm_eps = 0;         // RMSNorm eps (decoders) or LayerNorm eps (BERT)
  bool tied_embeddings = false;  // no output.weight: token_embd is the output projection
  bool qkv_bias = false;         // attn_q/k/v biases (qwen2)
  bool qk_norm = false;          // attn_q_norm / attn_k_norm (qwen3)
  bool head_dim_keys = false;    // config.json has head_dim: write key_length/value_length
  // Llama 3 RoPE scaling, written as the rope_freqs tensor (factor 0: none).
  double rope_scale_factor = 0;
  double rope_low_freq_factor = 0;
  double rope_high_freq_factor = 0;
  int64_t rope_original_ctx = 0;
  int64_t pooling_type = 0;     // BERT: 1 mean
  int64_t token_type_count = 0;  // BERT: type_vocab_size
  PresetTokenizer tokenizer = PresetTokenizer::kQwen25;
};

// All presets, in a fixed order. The returned reference is valid for the
// program's lifetime; thread-safe.
const std::vector<ModelPreset>& AllPresets();

// The preset named `name` (exact, lower-case), or nullptr when there is none.
const ModelPreset* FindPreset(std::string_view name);

// The tokenizer.* metadata of a preset: model, pre-tokenizer, tokens, token
// types, scores or merges, special token ids and flags, chat template.
// Deterministic; builds the vocabulary (up to ~0.3 s for 150k tokens).
std::vector<GgufKeyValue> TokenizerMetadata(const ModelPreset& preset);

}  // namespace tinyrag
