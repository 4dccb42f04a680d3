// Architecture `qwen3`: Qwen3. As qwen2 without the QKV biases, plus an
// RMSNorm over each head of Q and K (weights of head_dim values shared by all
// heads) before RoPE; head_dim comes from key_length and need not be
// embedding_length / head_count.
#include "generate/arch.h"

namespace tinyrag {

const ArchSpec& Qwen3Arch() {
  static const ArchSpec kSpec{
    .name = "qwen3",
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
      .attn_q_norm = "blk.{}.attn_q_norm.weight",
      .attn_k_norm = "blk.{}.attn_k_norm.weight",
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
