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
  kGpt2,           // "default", "gpt-2" and the GPT-2 family
  kLlama3,         // "llama-bpe", "llama3": digits in groups of up to 3, ...
  kQwen2,          // "qwen2": digits one at a time
  kStarCoder,      // "starcoder", "refact", "smollm": digits one at a time, then GPT-2 rules
  kDeepseekLlm,    // "deepseek-llm"
  kDeepseekCoder,  // "deepseek-coder"
  kFalcon,         // "falcon"
  kMpt,            // "mpt" (GPT-2 rules)
};

// The rule set for a `tokenizer.ggml.pre` value (an absent key means "default").
// An unknown name is an InvalidArgument error that lists the supported names.
absl::StatusOr<PreTokenizer> PreTokenizerFromName(std::string_view name);

// Splits UTF-8 `text` into consecutive pieces whose concatenation is `text`
// exactly (no byte dropped or added). Invalid UTF-8 never crashes: each invalid
// byte is treated as one code point of its own category. Thread-safe.
std::vector<std::string_view> PreTokenize(PreTokenizer rules, std::string_view text);

}  // namespace tinyrag
