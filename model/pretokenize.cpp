// Byte-level BPE pre-tokenizers: decoding and classifying the text, rule set
// names, and the splitting driver. How each rule set splits lives in
// pretokenize_rules.cpp.
#include "model/pretokenize.h"

#include <unicode/uchar.h>
#include <unicode/uversion.h>

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/pretokenize_internal.h"

namespace tinyrag {
namespace {

using pretokenize_internal::Decoded;
using pretokenize_internal::kLetter;
using pretokenize_internal::kMark;
using pretokenize_internal::kNumber;
using pretokenize_internal::kPunct;
using pretokenize_internal::kSpace;
using pretokenize_internal::kSymbol;

uint8_t ClassifyWithIcu(uint32_t cp) {
  if (cp > 0x10FFFF) return 0;  // decodable but not Unicode: category Cn
  const auto c = static_cast<UChar32>(cp);
  if (u_isUWhiteSpace(c)) return kSpace;
  switch (u_charType(c)) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      return kLetter;
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
      return kNumber;
    case U_CONNECTOR_PUNCTUATION:
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
      return kPunct;
    case U_MATH_SYMBOL:
    case U_CURRENCY_SYMBOL:
    case U_MODIFIER_SYMBOL:
    case U_OTHER_SYMBOL:
      return kSymbol;
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_COMBINING_SPACING_MARK:
      return kMark;
#if U_ICU_VERSION_MAJOR_NUM < 74
    case U_UNASSIGNED:
      // The reference's tables follow Unicode 15.1, whose only new code
      // points are CJK Extension I (category Lo); older ICU lacks them.
      return (cp >= 0x2EBF0 && cp <= 0x2EE5D) ? kLetter : 0;
#endif
    default:
      return 0;
  }
}

// ASCII dominates most text: classify it from a table built once.
const std::array<uint8_t, 128>& AsciiClasses() {
  static const std::array<uint8_t, 128> table = [] {
    std::array<uint8_t, 128> t{};
    for (uint32_t c = 0; c < 128; ++c) t[c] = ClassifyWithIcu(c);
    t['~'] &= ~kSymbol;  // see pretokenize_internal.h
    return t;
  }();
  return table;
}

// Decodes UTF-8 the way the reference does: only the structure is checked
// (lead byte pattern and continuation bytes), so overlong forms and
// surrogates decode to their numeric value, while a byte that does not start
// a complete sequence becomes one U+FFFD of its own.
Decoded Decode(std::string_view text) {
  Decoded d;
  const size_t n = text.size();
  d.cps.reserve(n);
  d.cls.reserve(n);
  d.offsets.reserve(n + 1);
  const auto& ascii = AsciiClasses();
  auto cont = [&](size_t i) { return i < n && (static_cast<uint8_t>(text[i]) & 0xC0) == 0x80; };
  auto low6 = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(text[i]) & 0x3F); };
  size_t i = 0;
  while (i < n) {
    const uint8_t b = static_cast<uint8_t>(text[i]);
    d.offsets.push_back(i);
    if (b < 0x80) {
      d.cps.push_back(b);
      d.cls.push_back(ascii[b]);
      ++i;
      continue;
    }
    uint32_t cp = 0xFFFD;
    size_t len = 1;
    if ((b & 0xE0) == 0xC0) {
      if (cont(i + 1)) cp = ((b & 0x1Fu) << 6) | low6(i + 1), len = 2;
    } else if ((b & 0xF0) == 0xE0) {
      if (cont(i + 1) && cont(i + 2)) cp = ((b & 0x0Fu) << 12) | (low6(i + 1) << 6) | low6(i + 2), len = 3;
    } else if ((b & 0xF8) == 0xF0) {
      if (cont(i + 1) && cont(i + 2) && cont(i + 3)) {
        cp = ((b & 0x07u) << 18) | (low6(i + 1) << 12) | (low6(i + 2) << 6) | low6(i + 3);
        len = 4;
      }
    }
    d.cps.push_back(cp);
    d.cls.push_back(cp < 128 ? ascii[cp] : ClassifyWithIcu(cp));
    i += len;
  }
  d.offsets.push_back(n);
  return d;
}

struct NamedRules {
  std::string_view name;
  PreTokenizer rules;
};

// Every `tokenizer.ggml.pre` value the reference maps to one of our rule sets.
constexpr NamedRules kNames[] = {
    {"default", PreTokenizer::kDefault},
    {"gpt-2", PreTokenizer::kGpt2},
    {"phi-2", PreTokenizer::kGpt2},
    {"jina-es", PreTokenizer::kGpt2},
    {"jina-de", PreTokenizer::kGpt2},
    {"gigachat", PreTokenizer::kGpt2},
    {"jina-v1-en", PreTokenizer::kGpt2},
    {"jina-v2-es", PreTokenizer::kGpt2},
    {"jina-v2-de", PreTokenizer::kGpt2},
    {"jina-v2-code", PreTokenizer::kGpt2},
    {"roberta-bpe", PreTokenizer::kGpt2},
    {"olmo", PreTokenizer::kGpt2},
    {"jais", PreTokenizer::kGpt2},
    {"mpt", PreTokenizer::kMpt},
    {"llama3", PreTokenizer::kLlama3},
    {"llama-v3", PreTokenizer::kLlama3},
    {"llama-bpe", PreTokenizer::kLlama3},
    {"falcon3", PreTokenizer::kLlama3},
    {"dbrx", PreTokenizer::kLlama3},
    {"smaug-bpe", PreTokenizer::kLlama3},
    {"chatglm-bpe", PreTokenizer::kLlama3},
    {"qwen2", PreTokenizer::kQwen2},
    {"deepseek-r1-qwen", PreTokenizer::kQwen2},
    {"megrez", PreTokenizer::kQwen2},
    {"stablelm2", PreTokenizer::kQwen2},
    {"starcoder", PreTokenizer::kStarCoder},
    {"refact", PreTokenizer::kStarCoder},
    {"smollm", PreTokenizer::kStarCoder},
    {"command-r", PreTokenizer::kStarCoder},
    {"codeshell", PreTokenizer::kStarCoder},
    {"exaone", PreTokenizer::kStarCoder},
    {"minerva-7b", PreTokenizer::kStarCoder},
    {"deepseek-llm", PreTokenizer::kDeepseekLlm},
    {"deepseek-coder", PreTokenizer::kDeepseekCoder},
    {"falcon", PreTokenizer::kFalcon},
    {"deepseek-v3", PreTokenizer::kDeepseekV3},
    {"bloom", PreTokenizer::kBloom},
    {"poro-chat", PreTokenizer::kBloom},
    {"gpt3-finnish", PreTokenizer::kBloom},
    {"viking", PreTokenizer::kViking},
    {"tekken", PreTokenizer::kTekken},
    {"chameleon", PreTokenizer::kChameleon},
};

}  // namespace

absl::StatusOr<PreTokenizer> PreTokenizerFromName(std::string_view name) {
  if (name.empty()) return PreTokenizer::kDefault;
  for (const auto& entry : kNames) {
    if (entry.name == name) return entry.rules;
  }
  // This absl build's string_view is not std::string_view: join owned strings.
  std::vector<std::string> names;
  for (const auto& entry : kNames) names.emplace_back(entry.name);
  return absl::InvalidArgumentError(absl::StrCat("unknown pre-tokenizer '", std::string(name),
                                                 "' (tokenizer.ggml.pre); supported: ",
                                                 absl::StrJoin(names, ", ")));
}

std::vector<std::string_view> PreTokenize(PreTokenizer rules, std::string_view text) {
  using pretokenize_internal::Span;
  using pretokenize_internal::Stage;
  std::vector<std::string_view> pieces;
  if (text.empty()) return pieces;
  const Decoded d = Decode(text);
  std::vector<Span> current = {{0, d.cps.size()}};
  std::vector<Span> next;
  for (Stage stage : pretokenize_internal::StagesOf(rules)) {
    stage(d, current, next);
    current.swap(next);
  }
  pieces.reserve(current.size());
  for (const Span& s : current) {
    pieces.push_back(text.substr(d.offsets[s.begin], d.offsets[s.end] - d.offsets[s.begin]));
  }
  return pieces;
}

}  // namespace tinyrag
