// Architecture `llama`: TinyLlama, SmolLM2, Llama 3.2, stories260K (llama2.c).
// Pre-norm blocks with RMSNorm, rotary positions on adjacent pairs, grouped-query
// attention, SwiGLU feed-forward. The output matrix may be absent (SmolLM2,
// Llama 3.2 tie it to the token embeddings). Llama 3 models carry their RoPE
// scaling as the rope_freqs tensor (one divisor per rotated pair) rather than
// as metadata.
#include "generate/arch.h"

namespace tinyrag {

const ArchSpec& LlamaArch() {
  static const ArchSpec kSpec{
    .name = "llama",
    .rope_style = RopeStyle::kNormal,
    .tensors = {
      .token_embd = "token_embd.weight",
      .output_norm = "output_norm.weight",
      .output = "output.weight",
      .rope_freqs = "rope_freqs.weight",
      .attn_norm = "blk.{}.attn_norm.weight",
      .attn_q = "blk.{}.attn_q.weight",
      .attn_k = "blk.{}.attn_k.weight",
      .attn_v = "blk.{}.attn_v.weight",
      .attn_output = "blk.{}.attn_output.weight",
      .ffn_norm = "blk.{}.ffn_norm.weight",
      .ffn_gate = "blk.{}.ffn_gate.weight",
      .ffn_up = "blk.{}.ffn_up.weight",
      .ffn_down = "blk.{}.ffn_down.weight",
    },
  };
  return kSpec;
}

}  // namespace tinyrag
