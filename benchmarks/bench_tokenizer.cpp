// Tokenizer throughput (bytes/s of input) per kind, with the real vocabularies
// of ../shared/fixtures/vocab: WordPiece (bert-bge), SentencePiece BPE
// (llama-spm) and byte-level BPE (gpt-2), on ~64 KB of English prose and of
// mixed text. The ":threads" runs share one tokenizer between 2 threads
// (Encode is const and lock-free, so bytes/s should roughly double).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benchmarks/bench_texts.h"
#include "model/tokenizer.h"

namespace tinyrag {
namespace {

const std::string& EnglishProse() {
  static const std::string text = bench::EnglishProse(64 * 1024);
  return text;
}

const std::string& MixedText() {
  static const std::string text = bench::MixedText(64 * 1024);
  return text;
}

void BM_Encode(benchmark::State& state, const Tokenizer* tokenizer, const std::string* text) {
  size_t tokens = 0;
  for (auto _ : state) {
    const std::vector<TokenId> ids = tokenizer->Encode(*text);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text->size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}

}  // namespace
}  // namespace tinyrag

int main(int argc, char** argv) {
  using tinyrag::Tokenizer;
  // benchmarks/this_file.cpp -> repository root -> ../shared/fixtures/vocab
  const std::filesystem::path root = std::filesystem::path(__FILE__).parent_path().parent_path();
  const std::filesystem::path vocab_dir = root.parent_path() / "shared" / "fixtures" / "vocab";
  std::vector<std::unique_ptr<Tokenizer>> tokenizers;  // outlive the benchmark run
  for (const char* name : {"bert-bge", "llama-spm", "gpt-2"}) {
    const std::filesystem::path path = vocab_dir / (std::string("ggml-vocab-") + name + ".gguf");
    auto tokenizer = Tokenizer::FromGgufPath(path.string());
    if (!tokenizer.ok()) {
      std::fprintf(stderr, "skipping %s: %s\n", name, std::string(tokenizer.status().message()).c_str());
      continue;
    }
    tokenizers.push_back(*std::move(tokenizer));
    const Tokenizer* tok = tokenizers.back().get();
    for (auto [label, text] : {std::pair{"prose", &tinyrag::EnglishProse()}, std::pair{"mixed", &tinyrag::MixedText()}}) {
      const std::string bench = std::string("BM_Encode/") + name + "/" + label;
      benchmark::RegisterBenchmark(bench.c_str(), tinyrag::BM_Encode, tok, text)->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark((bench + ":threads").c_str(), tinyrag::BM_Encode, tok, text)
          ->Threads(2)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
