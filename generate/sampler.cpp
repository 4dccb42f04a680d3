#include "generate/sampler.h"

#include <algorithm>
#include <cmath>

namespace tinyrag {
namespace {

// Uniform in [0, 1) from the top 53 bits: the same on every platform, unlike
// std::uniform_real_distribution.
double Uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

Sampler::Sampler(const SamplerOptions& options) : options_(options), rng_(options.seed) {}

TokenId Sampler::Sample(std::span<const float> logits, std::span<const TokenId> history) {
  const int64_t n = static_cast<int64_t>(logits.size());
  work_.assign(logits.begin(), logits.end());
  // Repetition penalty over the distinct recent tokens: positive logits are
  // divided by the penalty, negative ones multiplied (llama.cpp's rule).
  if (options_.repeat_penalty != 1.0f && options_.repeat_last_n > 0) {
    const size_t from = history.size() > static_cast<size_t>(options_.repeat_last_n)
                            ? history.size() - options_.repeat_last_n
                            : 0;
    for (size_t i = from; i < history.size(); ++i) {
      const TokenId t = history[i];
      if (t < 0 || t >= n) continue;
      bool seen = false;
      for (size_t j = from; j < i && !seen; ++j) seen = history[j] == t;
      if (seen) continue;
      work_[t] = work_[t] > 0 ? work_[t] / options_.repeat_penalty : work_[t] * options_.repeat_penalty;
    }
  }
  if (options_.temperature <= 0) {
    return static_cast<TokenId>(std::max_element(work_.begin(), work_.end()) - work_.begin());
  }
  // Candidates sorted by logit, best first (ties: lower id first, for determinism).
  cand_.clear();
  for (int64_t i = 0; i < n; ++i) cand_.emplace_back(work_[i], static_cast<TokenId>(i));
  auto better = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  size_t keep = cand_.size();
  if (options_.top_k > 0 && static_cast<size_t>(options_.top_k) < keep) {
    keep = options_.top_k;
    std::partial_sort(cand_.begin(), cand_.begin() + keep, cand_.end(), better);
    cand_.resize(keep);
  } else {
    std::sort(cand_.begin(), cand_.end(), better);
  }
  // Probabilities at the temperature, in place of the logits.
  const float best = cand_[0].first;
  double sum = 0;
  for (auto& c : cand_) {
    c.first = std::exp((c.first - best) / options_.temperature);
    sum += c.first;
  }
  for (auto& c : cand_) c.first = static_cast<float>(c.first / sum);
  // min-p: relative to the best probability.
  if (options_.min_p > 0) {
    const float floor = cand_[0].first * options_.min_p;
    size_t k = 1;
    while (k < cand_.size() && cand_[k].first >= floor) ++k;
    cand_.resize(k);
  }
  // top-p: the shortest prefix whose mass reaches p.
  if (options_.top_p < 1.0f) {
    double mass = 0;
    size_t k = 0;
    while (k < cand_.size()) {
      mass += cand_[k].first;
      ++k;
      if (mass >= options_.top_p) break;
    }
    cand_.resize(k);
  }
  double total = 0;
  for (const auto& c : cand_) total += c.first;
  double r = Uniform(rng_) * total;
  for (const auto& c : cand_) {
    r -= c.first;
    if (r < 0) return c.second;
  }
  return cand_.back().second;  // rounding left r at ~0
}

TokenLogProbs ComputeLogProbs(std::span<const float> logits, TokenId token, int top_n) {
  TokenLogProbs out;
  const float m = *std::max_element(logits.begin(), logits.end());
  double s = 0;
  for (float v : logits) s += std::exp(static_cast<double>(v) - m);
  const double lse = m + std::log(s);
  out.logprob = token >= 0 && static_cast<size_t>(token) < logits.size()
                    ? static_cast<float>(logits[token] - lse)
                    : -INFINITY;
  const size_t k = std::min<size_t>(top_n > 0 ? top_n : 0, logits.size());
  if (k == 0) return out;
  // A small running top-k (k is a handful): no allocation of n_vocab entries.
  out.top.reserve(k + 1);
  for (size_t i = 0; i < logits.size(); ++i) {
    if (out.top.size() == k && logits[i] <= out.top.back().second) continue;
    auto it = std::find_if(out.top.begin(), out.top.end(), [&](const auto& p) { return logits[i] > p.second; });
    out.top.insert(it, {static_cast<TokenId>(i), logits[i]});
    if (out.top.size() > k) out.top.pop_back();
  }
  for (auto& p : out.top) p.second = static_cast<float>(p.second - lse);
  return out;
}

}  // namespace tinyrag
