// Test helper: writes a real decoder preset shrunk to a few small layers, in
// F32, for decoder_reference_check.py (a float64 numpy forward must run over
// it in about a second).
//
// usage: decoder_reference_model PRESET OUT.gguf
//
// Everything but the sizes comes from the preset through PlanModel, so the
// file carries what a `tinyrag mkmodel` file of that preset carries:
// architecture, metadata keys, tokenizer (real vocabulary size), tied or
// separate output, QKV biases, q/k norms, and for llama3.2-1b the rope_freqs
// tensor derived from its Llama 3 RoPE scaling. The shrunk presets are not
// added to model_presets.cpp: they are not real models' shapes, and
// `tinyrag mkmodel --preset` lists real ones only (cli.md).
#include <cstdio>
#include <string>

#include "model/mkmodel.h"
#include "model/model_presets.h"

int main(int argc, char** argv) {
  using namespace tinyrag;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s PRESET OUT.gguf\n", argv[0]);
    return 2;
  }
  const ModelPreset* found = FindPreset(argv[1]);
  if (found == nullptr || found->arch == "bert") {
    std::fprintf(stderr, "%s: not a decoder preset\n", argv[1]);
    return 2;
  }
  ModelPreset p = *found;
  p.n_embd = 64;
  p.n_layer = 2;
  p.n_head = 4;
  p.n_head_kv = 2;
  // Presets whose config.json sets head_dim keep n_head * head_dim != n_embd,
  // as Qwen3 does, so the file needs its key_length / value_length keys.
  p.head_dim = p.head_dim_keys ? 32 : 16;
  p.n_ff = 96;
  p.n_ctx = 256;
  absl::StatusOr<ModelPlan> plan = PlanModel(p, MkmodelType::kF32, /*seed=*/11);
  if (!plan.ok()) {
    std::fprintf(stderr, "%s\n", plan.status().ToString().c_str());
    return 1;
  }
  if (absl::Status s = WriteModel(*plan, argv[2], /*threads=*/2); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
