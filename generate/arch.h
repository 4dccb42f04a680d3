// Decoder architectures: one table per architecture naming its tensors and
// metadata keys, and the few switches in which the forward passes differ.
// The tables live in arch_<name>.cpp, one file per architecture, as in
// llama.cpp's llama-arch.cpp; names follow llama.cpp's GGUF conventions.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tinyrag {

// How RoPE pairs the dimensions of a head it rotates.
enum class RopeStyle {
  kNormal,  // adjacent pairs (x[2i], x[2i+1]) -- llama.cpp's LLAMA_ROPE_TYPE_NORM
  kNeox,    // halves (x[i], x[i + n_rot/2]) -- GPT-NeoX style, Qwen
};

// Tensor names; per-layer names contain "{}" where the layer index goes
// ("blk.{}.attn_q.weight"). An empty name means the architecture has no such tensor.
struct ArchTensorNames {
  std::string_view token_embd = {};
  std::string_view output_norm = {};
  std::string_view output = {};       // may be absent from a file: then tied to token_embd
  std::string_view rope_freqs = {};   // optional per-dimension frequency divisors (Llama 3)
  std::string_view attn_norm = {};
  std::string_view attn_q = {};
  std::string_view attn_k = {};
  std::string_view attn_v = {};
  std::string_view attn_output = {};
  std::string_view attn_q_bias = {};  // required when non-empty
  std::string_view attn_k_bias = {};
  std::string_view attn_v_bias = {};
  std::string_view attn_q_norm = {};  // per-head RMSNorm weights, required when non-empty
  std::string_view attn_k_norm = {};
  std::string_view ffn_norm = {};
  std::string_view ffn_gate = {};
  std::string_view ffn_up = {};
  std::string_view ffn_down = {};
};

// Metadata keys; "{}" stands for the architecture name ("{}.block_count" ->
// "llama.block_count"). Keys marked optional have the default in the comment.
// The defaults are the keys every llama.cpp decoder architecture uses; a table
// overrides only a key its architecture spells differently.
struct ArchMetadataKeys {
  std::string_view context_length = "{}.context_length";
  std::string_view embedding_length = "{}.embedding_length";
  std::string_view block_count = "{}.block_count";
  std::string_view feed_forward_length = "{}.feed_forward_length";
  std::string_view head_count = "{}.attention.head_count";
  std::string_view head_count_kv = "{}.attention.head_count_kv";  // optional: head_count
  std::string_view key_length = "{}.attention.key_length";  // optional: embedding_length / head_count
  std::string_view value_length = "{}.attention.value_length";      // optional: key_length
  std::string_view rope_dimensions = "{}.rope.dimension_count";     // optional: key_length
  std::string_view rope_freq_base = "{}.rope.freq_base";            // optional: 10000
  std::string_view rope_scaling_type = "{}.rope.scaling.type";  // optional: "none" ("linear" uses the factor)
  std::string_view rope_scaling_factor = "{}.rope.scaling.factor";
  std::string_view rope_scale_linear = "{}.rope.scale_linear";  // older spelling of a linear factor
  std::string_view rms_epsilon = "{}.attention.layer_norm_rms_epsilon";
};

struct ArchSpec {
  std::string_view name;  // general.architecture
  RopeStyle rope_style = RopeStyle::kNormal;
  ArchTensorNames tensors = {};
  ArchMetadataKeys keys = {};
};

// The table of each supported architecture (defined in arch_<name>.cpp).
const ArchSpec& LlamaArch();
const ArchSpec& Qwen2Arch();
const ArchSpec& Qwen3Arch();

// The supported architectures, in a fixed order.
std::span<const ArchSpec* const> SupportedArchs();

// The table for `name`, or InvalidArgument naming it and listing the supported
// ones. The returned reference is to static data (valid forever, thread-safe).
absl::StatusOr<const ArchSpec*> FindArch(std::string_view name);

// `pattern` with "{}" replaced by `value` (the first occurrence only).
std::string FillName(std::string_view pattern, std::string_view value);

}  // namespace tinyrag
