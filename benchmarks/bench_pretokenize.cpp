// Pre-tokenizer throughput (bytes/s) per rule set on ~4 KB of English prose
// and ~4 KB of mixed text (code, numbers, accents, Cyrillic, CJK, emoji).
// BM_IcuRegexGpt2 is a point of comparison: the GPT-2 pattern run by ICU's
// regex engine over the same text, the alternative to hand-written matchers.
#include <benchmark/benchmark.h>
#include <unicode/regex.h>
#include <unicode/unistr.h>

#include <memory>
#include <string>
#include <utility>

#include "model/pretokenize.h"

namespace tinyrag {
namespace {

std::string RepeatTo(std::string_view unit, size_t size) {
  std::string out;
  while (out.size() < size) out.append(unit);
  return out;
}

const std::string& EnglishProse() {
  static const std::string text = RepeatTo(
      "The library opens at nine o'clock, but on Saturdays it doesn't close until late. "
      "Visitors who've registered can borrow up to 12 books for 21 days; anyone else may "
      "read in the hall. In 2023 the collection grew by 4,500 volumes, mostly history, "
      "science and poetry. \"We're proud of it,\" the librarian said, \"and we'll keep "
      "growing.\" Questions? Ask at the front desk, call 555-0142, or write to the office.\n\n",
      4096);
  return text;
}

const std::string& MixedText() {
  static const std::string text = RepeatTo(
      "def tokenize(text: str) -> list[int]:\n    return [ord(c) for c in text]  # TODO\n"
      "Prix: 1 299,99 € — café, naïve, Ærøskøbing; Привет, как дела? 3.14159 × 2 = 6.28318\n"
      "東京タワーは高さ333メートルです。北京欢迎你！서울은 한국의 수도입니다. 🙂👍🏽 ok!!\n"
      "\tif (x != y && z >= 10) { y += x; }  // done\r\n",
      4096);
  return text;
}

void BM_PreTokenize(benchmark::State& state, PreTokenizer rules, const std::string* text) {
  size_t pieces = 0;
  for (auto _ : state) {
    auto out = PreTokenize(rules, *text);
    pieces = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text->size()));
  state.counters["pieces"] = static_cast<double>(pieces);
}

void BM_IcuRegexGpt2(benchmark::State& state, const std::string* text) {
  UErrorCode status = U_ZERO_ERROR;
  const std::unique_ptr<icu::RegexPattern> pattern(icu::RegexPattern::compile(
      icu::UnicodeString::fromUTF8(
          "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"),
      0, status));
  if (U_FAILURE(status)) {
    state.SkipWithError("ICU could not compile the GPT-2 pattern");
    return;
  }
  size_t pieces = 0;
  for (auto _ : state) {
    // Decoding to UTF-16 is part of the cost: ICU regex works on UTF-16.
    const icu::UnicodeString u = icu::UnicodeString::fromUTF8(*text);
    std::unique_ptr<icu::RegexMatcher> m(pattern->matcher(u, status));
    pieces = 0;
    while (m->find()) ++pieces;
    benchmark::DoNotOptimize(pieces);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text->size()));
  state.counters["pieces"] = static_cast<double>(pieces);
}

const std::pair<const char*, PreTokenizer> kRuleSets[] = {
    {"gpt2", PreTokenizer::kGpt2},
    {"default", PreTokenizer::kDefault},
    {"llama3", PreTokenizer::kLlama3},
    {"qwen2", PreTokenizer::kQwen2},
    {"starcoder", PreTokenizer::kStarCoder},
    {"falcon", PreTokenizer::kFalcon},
    {"deepseek_llm", PreTokenizer::kDeepseekLlm},
    {"deepseek_coder", PreTokenizer::kDeepseekCoder},
    {"deepseek_v3", PreTokenizer::kDeepseekV3},
    {"bloom", PreTokenizer::kBloom},
    {"tekken", PreTokenizer::kTekken},
    {"chameleon", PreTokenizer::kChameleon},
};

const int kRegistered = [] {
  for (const auto& [name, rules] : kRuleSets) {
    benchmark::RegisterBenchmark((std::string("BM_PreTokenize/") + name + "/english").c_str(), BM_PreTokenize,
                                 rules, &EnglishProse());
    benchmark::RegisterBenchmark((std::string("BM_PreTokenize/") + name + "/mixed").c_str(), BM_PreTokenize,
                                 rules, &MixedText());
  }
  benchmark::RegisterBenchmark("BM_IcuRegexGpt2/english", BM_IcuRegexGpt2, &EnglishProse());
  benchmark::RegisterBenchmark("BM_IcuRegexGpt2/mixed", BM_IcuRegexGpt2, &MixedText());
  return 0;
}();

}  // namespace
}  // namespace tinyrag

BENCHMARK_MAIN();
