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
  };
  return kSpec;
}

}  // namespace tinyrag
