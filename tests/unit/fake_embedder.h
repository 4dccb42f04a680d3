// A deterministic Embedder for index/ tests: words (lower-cased runs of
// letters and digits) are hashed into a bag-of-words vector, so texts sharing
// words are close. Counts what it embeds, and can be told to fail.
#pragma once

#include <atomic>
#include <cctype>
#include <cmath>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "index/embedder.h"

namespace tinyrag::testing_support {

class FakeEmbedder final : public Embedder {
 public:
  static constexpr int64_t kDim = 32;

  explicit FakeEmbedder(std::string name = "fake-encoder", int64_t max_tokens = 128)
      : identity_{std::move(name), kDim, "fake-hash"}, max_tokens_(max_tokens) {}

  const EncoderIdentity& identity() const override { return identity_; }
  int64_t dim() const override { return kDim; }
  int64_t max_tokens() const override { return max_tokens_; }

  absl::StatusOr<std::vector<float>> Embed(std::span<const std::string> texts) const override {
    if (fail_after_calls_ >= 0 && calls_.load() >= fail_after_calls_) return absl::UnavailableError("encoder down");
    ++calls_;
    texts_ += static_cast<int64_t>(texts.size());
    std::vector<float> out;
    for (const std::string& t : texts) {
      std::vector<float> v = Vector(t);
      out.insert(out.end(), v.begin(), v.end());
    }
    return out;
  }

  // The normalized vector of `text`.
  static std::vector<float> Vector(std::string_view text) {
    std::vector<float> v(kDim, 0.0f);
    v[0] = 0.05f;  // never the zero vector
    for (const std::string& w : Words(text)) v[std::hash<std::string>{}(w) % kDim] += 1.0f;
    double norm = 0;
    for (float x : v) norm += x * x;
    for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
    return v;
  }

  int64_t CountTokens(std::string_view text) const override { return static_cast<int64_t>(Words(text).size()); }
  int64_t SpecialTokens() const override { return 2; }

  int64_t texts_embedded() const { return texts_.load(); }
  int64_t calls() const { return calls_.load(); }
  // Embed fails (Unavailable) once this many calls succeeded; -1: never.
  void FailAfterCalls(int64_t n) { fail_after_calls_ = n; }

 private:
  static std::vector<std::string> Words(std::string_view text) {
    std::vector<std::string> words;
    std::string cur;
    for (char c : text) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        cur.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      } else if (!cur.empty()) {
        words.push_back(std::move(cur));
        cur.clear();
      }
    }
    if (!cur.empty()) words.push_back(std::move(cur));
    return words;
  }

  EncoderIdentity identity_;
  int64_t max_tokens_;
  int64_t fail_after_calls_ = -1;
  mutable std::atomic<int64_t> calls_{0};
  mutable std::atomic<int64_t> texts_{0};
};

}  // namespace tinyrag::testing_support
