// Time to first token with and without the prompt-prefix KV cache
// (GenerateOptions::shared_prefix_tokens): a P-token shared prefix (the system
// prompt) followed by the rest of an N-token prompt.
//
//   bench_prefix MODEL [--threads 2] [--prompt 500] [--prefix 100] [--reps 5]
//
// Per repetition, three requests of N tokens in one DecoderContext:
//   none: shared_prefix_tokens = 0 (everything prefilled);
//   cold: a prefix never seen before (computed, then cached);
//   warm: the same prefix with another rest (copied from the cache).
// Time to first token = the wall time of Generate with max_tokens = 1 (prefill
// plus sampling the first token). Prints one JSON object with the medians and
// minima in milliseconds. Token ids are random: the time does not depend on
// them.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "generate/decoder_context.h"
#include "generate/generator.h"
#include "model/thread_pool.h"

namespace tinyrag {
namespace {

struct Args {
  std::string model;
  int threads = 2;
  int64_t prompt = 500;
  int64_t prefix = 100;
  int reps = 5;
};

bool ParseArgs(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--threads" && has_value) {
      a.threads = std::atoi(argv[++i]);
    } else if (arg == "--prompt" && has_value) {
      a.prompt = std::atoll(argv[++i]);
    } else if (arg == "--prefix" && has_value) {
      a.prefix = std::atoll(argv[++i]);
    } else if (arg == "--reps" && has_value) {
      a.reps = std::atoi(argv[++i]);
    } else if (!arg.starts_with("--") && a.model.empty()) {
      a.model = arg;
    } else {
      return false;
    }
  }
  return !a.model.empty() && a.threads >= 1 && a.prefix >= 1 && a.prompt > a.prefix && a.reps >= 1;
}

std::vector<TokenId> RandomIds(int64_t n, int64_t n_vocab, std::mt19937_64& rng) {
  std::uniform_int_distribution<TokenId> id(0, static_cast<TokenId>(n_vocab - 1));
  std::vector<TokenId> ids(n);
  for (TokenId& t : ids) t = id(rng);
  return ids;
}

struct Stats {
  std::vector<double> ms;
  double Median() const {
    std::vector<double> v = ms;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }
  double Min() const { return *std::min_element(ms.begin(), ms.end()); }
};

int Run(const Args& a) {
  auto model = DecoderModel::Load(a.model);
  if (!model.ok()) {
    std::fprintf(stderr, "bench_prefix: %s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  ThreadPool pool(a.threads);
  auto ctx = DecoderContext::Create(**model, {.n_ctx = a.prompt + 16}, &pool);
  if (!ctx.ok()) {
    std::fprintf(stderr, "bench_prefix: %s\n", std::string(ctx.status().message()).c_str());
    return 1;
  }
  const int64_t n_vocab = (*model)->config().n_vocab;
  std::mt19937_64 rng(1234);
  // Returns the time to first token in ms and checks the cache did what the
  // row is labelled with.
  auto ttft = [&](const std::vector<TokenId>& prompt, int64_t shared, int64_t want_cached) -> double {
    GenerateOptions o;
    o.max_tokens = 1;
    o.sampler.temperature = 0;
    o.shared_prefix_tokens = shared;
    const auto start = std::chrono::steady_clock::now();
    auto r = Generate(**ctx, 0, prompt, o);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!r.ok() || r->cached_prompt_tokens != want_cached) {
      std::fprintf(stderr, "bench_prefix: unexpected result (%s)\n",
                   r.ok() ? "cached tokens differ" : std::string(r.status().message()).c_str());
      std::exit(1);
    }
    return ms;
  };
  auto prompt_of = [&](const std::vector<TokenId>& prefix) {
    std::vector<TokenId> p = prefix;
    const std::vector<TokenId> rest = RandomIds(a.prompt - a.prefix, n_vocab, rng);
    p.insert(p.end(), rest.begin(), rest.end());
    return p;
  };
  ttft(prompt_of(RandomIds(a.prefix, n_vocab, rng)), 0, 0);  // warm-up: pages the weights in
  Stats none, cold, warm;
  for (int rep = 0; rep < a.reps; ++rep) {
    none.ms.push_back(ttft(prompt_of(RandomIds(a.prefix, n_vocab, rng)), 0, 0));
    const std::vector<TokenId> prefix = RandomIds(a.prefix, n_vocab, rng);
    cold.ms.push_back(ttft(prompt_of(prefix), a.prefix, 0));
    warm.ms.push_back(ttft(prompt_of(prefix), a.prefix, a.prefix));
  }
  std::printf(
      "{\"model\": \"%s\", \"threads\": %d, \"n_prompt\": %lld, \"n_prefix\": %lld, \"reps\": %d, "
      "\"ttft_ms_none_median\": %.1f, \"ttft_ms_cold_median\": %.1f, \"ttft_ms_warm_median\": %.1f, "
      "\"ttft_ms_none_min\": %.1f, \"ttft_ms_cold_min\": %.1f, \"ttft_ms_warm_min\": %.1f, "
      "\"warm_speedup_vs_none\": %.3f, \"prefix_cache_bytes\": %llu}\n",
      a.model.c_str(), a.threads, static_cast<long long>(a.prompt), static_cast<long long>(a.prefix), a.reps,
      none.Median(), cold.Median(), warm.Median(), none.Min(), cold.Min(), warm.Min(), none.Median() / warm.Median(),
      static_cast<unsigned long long>((*ctx)->prefix_cache_bytes()));
  return 0;
}

}  // namespace
}  // namespace tinyrag

int main(int argc, char** argv) {
  tinyrag::Args a;
  if (!tinyrag::ParseArgs(argc, argv, a)) {
    std::fprintf(stderr,
                 "usage: bench_prefix MODEL [--threads 2] [--prompt 500] [--prefix 100] [--reps 5]\n"
                 "  (prompt > prefix >= 1)\n");
    return 2;
  }
  return tinyrag::Run(a);
}
