// `tinyrag bench --embed`: encoder throughput on synthetic inputs of exactly
// p tokens ([CLS], p - 2 random ordinary tokens, [SEP]) in batches of b, so
// the numbers do not depend on a tokenizer or a text corpus. The same inputs
// are encoded once to warm up, then `reps` times; the mean time is reported.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "embed/encoder.h"
#include "nlohmann/json.hpp"
#include "service/cli/bench.h"
#include "service/cli/command.h"

namespace tinyrag::cli {

int RunEmbedBench(const BenchArgs& args) {
  auto encoder = Encoder::Load(args.model, EncoderLoadOptions{.threads = args.threads});
  if (!encoder.ok()) return ReportError(encoder.status());
  const Encoder& enc = **encoder;
  const int p = args.n_prompt > 0 ? args.n_prompt : 128;
  if (p < 2 || p > enc.info().max_seq_len) {
    return ReportError(absl::InvalidArgumentError(
        absl::StrCat("bench: -p ", p, " must be in [2, ", enc.info().max_seq_len, "] for this model")));
  }
  const Vocab& vocab = enc.tokenizer().vocab();
  const std::vector<TokenId> specials = enc.Tokenize("");  // [CLS] [SEP]
  std::mt19937 rng(1234);
  std::uniform_int_distribution<TokenId> pick(0, vocab.size() - 1);
  std::vector<std::vector<TokenId>> inputs(args.batch);
  for (auto& ids : inputs) {
    ids.push_back(specials.front());
    while (static_cast<int>(ids.size()) < p - 1) {
      const TokenId id = pick(rng);
      if (!vocab.is_control(id)) ids.push_back(id);
    }
    ids.push_back(specials.back());
  }
  const EmbedOptions options{.batch_size = args.batch};
  if (auto warm = enc.EmbedIds(inputs, options); !warm.ok()) return ReportError(warm.status());
  std::vector<double> seconds;
  for (int r = 0; r < args.reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    auto out = enc.EmbedIds(inputs, options);
    const auto stop = std::chrono::steady_clock::now();
    if (!out.ok()) return ReportError(out.status());
    seconds.push_back(std::chrono::duration<double>(stop - start).count());
  }
  double mean = 0.0;
  for (double s : seconds) mean += s;
  mean /= static_cast<double>(seconds.size());
  double var = 0.0;
  for (double s : seconds) var += (s - mean) * (s - mean);
  const double stddev = seconds.size() > 1 ? std::sqrt(var / static_cast<double>(seconds.size() - 1)) : 0.0;
  const double texts_per_s = args.batch / mean;
  const double tps = texts_per_s * p;

  if (args.json) {
    nlohmann::json j = {{"model", args.model},
                        {"format", enc.info().format},
                        {"weight_type", enc.info().weight_type},
                        {"embed_tps", tps},
                        {"texts_per_s", texts_per_s},
                        {"n_tokens", p},
                        {"batch", args.batch},
                        {"threads", enc.threads()},
                        {"reps", args.reps},
                        {"seconds_per_batch", mean},
                        {"seconds_stddev", stddev}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("embed %s (%s, %s): %d texts x %d tokens, %d threads: %.1f tokens/s, %.2f texts/s (%.4f s +- %.4f)\n",
                args.model.c_str(), enc.info().format.c_str(), enc.info().weight_type.c_str(), args.batch, p,
                enc.threads(), tps, texts_per_s, mean, stddev);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace tinyrag::cli
