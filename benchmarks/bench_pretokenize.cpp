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

#include "benchmarks/bench_texts.h"
#include "model/pretokenize.h"

namespace tinyrag {
namespace {

const std::string& EnglishProse() {
  static const std::string text = bench::EnglishProse(4096);
  return text;
}

const std::string& MixedText() {
  static const std::string text = bench::MixedText(4096);
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
