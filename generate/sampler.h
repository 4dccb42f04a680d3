// Choosing the next token from logits: greedy, or temperature sampling
// restricted by top-k, top-p and min-p, with a repetition penalty; plus the
// log-probabilities the service reports per generated token.
//
// A Sampler owns its random generator, seeded from the options: the same
// seed, logits and history always give the same tokens, on every platform.
// One Sampler per sequence; not thread-safe.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "model/vocab.h"

namespace tinyrag {

struct SamplerOptions {
  float temperature = 0.8f;  // <= 0: greedy (argmax), every other option but the penalty ignored
  int top_k = 40;            // keep the k most likely tokens; <= 0 keeps all
  float top_p = 0.95f;       // keep the smallest set whose probability reaches p; >= 1 keeps all
  float min_p = 0.05f;       // drop tokens below min_p times the best one's probability; <= 0 keeps all
  float repeat_penalty = 1.0f;  // > 1 makes tokens of the recent history less likely (llama.cpp's rule)
  int repeat_last_n = 64;       // how much history the penalty looks at
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerOptions& options);

  // The chosen token for `logits` ([n_vocab], not modified), given the tokens
  // generated or read so far (`history`, oldest first). Allocates nothing
  // after the first call at a given vocabulary size.
  TokenId Sample(std::span<const float> logits, std::span<const TokenId> history);

  const SamplerOptions& options() const { return options_; }

 private:
  SamplerOptions options_;
  std::mt19937_64 rng_;
  std::vector<float> work_;                      // [n_vocab] penalized logits
  std::vector<std::pair<float, TokenId>> cand_;  // candidates, best first
};

// A token's natural-log probability under softmax(logits) (the model's own
// distribution, before sampling options) and the `top_n` most likely tokens
// with theirs, best first. An id outside logits gets -infinity.
struct TokenLogProbs {
  float logprob = 0;
  std::vector<std::pair<TokenId, float>> top;
};
TokenLogProbs ComputeLogProbs(std::span<const float> logits, TokenId token, int top_n);

}  // namespace tinyrag
