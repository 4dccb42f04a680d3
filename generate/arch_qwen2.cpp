// Architecture `qwen2`: Qwen2 / Qwen2.5. As llama, plus biases on the Q, K and
// V projections, NEOX-style rotary pairs (first half with second half) and
// usually tied output embeddings.
#include "generate/arch.h"

namespace tinyrag {

const ArchSpec& Qwen2Arch() {
  static const ArchSpec kSpec{
    .name = "qwen2",
    .rope_style = RopeStyle::kNeox,
    .tensors = {
      .token_embd = "token_embd.weight",
      .output_norm = "output_norm.weight",
      .output = "output.weight",
      .attn_norm = "blk.{}.attn_norm.weight",
      .attn_q = "blk.{}.attn_q.weight",
      .attn_k = "blk.{}.attn_k.weight",
      .attn_v = "blk.{}.attn_v.weight",
      .attn_output = "blk.{}.attn_output.weight",
      .attn_q_bias = "blk.{}.attn_q.bias",
      .attn_k_bias = "blk.{}.attn_k.bias",
      .attn_v_bias = "blk.{}.attn_v.bias",
      .ffn_norm = "blk.{}.ffn_norm.weight",
      .ffn_gate = "blk.{}.ffn_gate.weight",
      .ffn_up = "blk.{}.ffn_up.weight",
      .ffn_down = "blk.{}.ffn_down.weight",
    },
    .keys = {
      .context_length = "{}.context_length",
      .embedding_length = "{}.embedding_length",
      .block_count = "{}.block_count",
      .feed_forward_length = "{}.feed_forward_length",
      .head_count = "{}.attention.head_count",
      .head_count_kv = "{}.attention.head_count_kv",
      .key_length = "{}.attention.key_length",
      .value_length = "{}.attention.value_length",
      .rope_dimensions = "{}.rope.dimension_count",
      .rope_freq_base = "{}.rope.freq_base",
      .rope_scaling_type = "{}.rope.scaling.type",
      .rope_scaling_factor = "{}.rope.scaling.factor",
      .rope_scale_linear = "{}.rope.scale_linear",
      .rms_epsilon = "{}.attention.layer_norm_rms_epsilon",
    },
  };
  return kSpec;
}

}  // namespace tinyrag
