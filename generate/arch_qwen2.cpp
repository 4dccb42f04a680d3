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
  };
  return kSpec;
}

}  // namespace tinyrag
