// Pre-tokenization for byte-level BPE: splitting text into the words that BPE
// merges never cross, following the model's `tokenizer.ggml.pre` convention.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tinyrag {

// Splitting rules of the byte-level BPE families. Several `tokenizer.ggml.pre`
// names share one rule set (e.g. smollm, starcoder and refact).
enum class PreTokenizer {
  kDefault,        // "default" or no name: punctuation runs, GPT-2 rules, digits in 3s
  kGpt2,           // "gpt-2" and the GPT-2 family (phi-2, roberta-bpe, olmo, jais, ...)
  kLlama3,         // "llama-bpe", "llama3": digits in groups of up to 3, ...
  kQwen2,          // "qwen2": digits one at a time
  kStarCoder,      // "starcoder", "refact", "smollm": digits one at a time, then GPT-2 rules
  kDeepseekLlm,    // "deepseek-llm"
  kDeepseekCoder,  // "deepseek-coder"
  kFalcon,         // "falcon"
  kMpt,            // "mpt" (GPT-2 rules)
  kDeepseekV3,     // "deepseek-v3"
  kBloom,          // "bloom", "poro-chat", "gpt3-finnish": words end at white space and . , ! ? ( ) | ...
  kViking,         // "viking": Bloom rules, then digits one at a time
  kTekken,         // "tekken" (Mistral): words also split before capitals
  kChameleon,      // "chameleon"
};

// The rule set for a `tokenizer.ggml.pre` value. An empty name (the key is
// absent) means "default", whose rules differ from "gpt-2" as in the reference
// runtime. An unknown name is an InvalidArgument error that lists the
// supported names. Thread-safe.
absl::StatusOr<PreTokenizer> PreTokenizerFromName(std::string_view name);

// Splits UTF-8 `text` into consecutive pieces whose concatenation is `text`
// exactly (no byte dropped or added); the views point into `text`, so they
// live as long as it does. Empty text gives no pieces. Invalid UTF-8 never
// crashes: as in the reference, each byte that does not start a complete
// sequence is split as one U+FFFD (a symbol) but stays the original byte in
// its piece (the reference itself then encodes it as EF BF BD). Thread-safe.
std::vector<std::string_view> PreTokenize(PreTokenizer rules, std::string_view text);

}  // namespace tinyrag
