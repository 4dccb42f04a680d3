// Confidence of an answer: named features from retrieval, generation and
// groundedness, combined by a logistic model whose weights come from a JSON
// file (data/confidence_defaults.json holds hand-set priors until
// `calibrate` fits real ones).
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "service/citations.h"
#include "service/prompt.h"

namespace tinyrag {

// The features of one answer. Every field is a plain number so the model is
// one dot product; ToArray/FromArray order them as kConfidenceFeatureNames.
struct ConfidenceFeatures {
  // Retrieval, over the passages in the prompt (0 when there are none or a
  // score is absent from every passage).
  double best_fused = 0;    // highest fused (RRF) score
  double best_dense = 0;    // highest cosine similarity
  double best_lexical = 0;  // highest -bm25
  double fused_margin = 0;  // best fused score minus the second best (minus 0 with one passage)
  // Generation: log-probabilities of the answer tokens (0 for no tokens).
  double mean_logprob = 0;
  double min_logprob = 0;
  double no_answer = 0;  // 1 when the answer is the fixed "I don't know" sentence
  // Groundedness in [0, 1] (0 without citations): per answer sentence, the
  // best support among the passages it cites (the answer's citations for a
  // sentence without its own), averaged over the sentences.
  double lexical_support = 0;   // fraction of the sentence's words found in the passage
  double semantic_support = 0;  // cosine of encoder embeddings (0 without an encoder)

  static constexpr size_t kCount = 9;
  std::array<double, kCount> ToArray() const;
  static ConfidenceFeatures FromArray(const std::array<double, kCount>& v);
};

// Field names in ToArray order (the keys of the weights file).
inline constexpr std::array<std::string_view, ConfidenceFeatures::kCount> kConfidenceFeatureNames = {
    "best_fused",   "best_dense", "best_lexical",    "fused_margin",    "mean_logprob",
    "min_logprob", "no_answer",  "lexical_support", "semantic_support"};

// The retrieval features of `passages` (those in the prompt). Pure.
void SetRetrievalFeatures(std::span<const Passage> passages, ConfidenceFeatures& f);
// The generation features of the answer tokens' log-probabilities. Pure.
void SetGenerationFeatures(std::span<const float> logprobs, bool no_answer, ConfidenceFeatures& f);

// Embeds texts into one vector each (any dimension, the same for all; need
// not be normalized). How groundedness reaches the encoder, so it can be
// faked in tests. May be called from any thread.
using EmbedTextsFn = std::function<absl::StatusOr<std::vector<std::vector<float>>>(std::span<const std::string>)>;

// Sets lexical_support and semantic_support of `answer` whose citations
// `citations` number into `passages` (passage n is passages[n - 1]). Without
// `embed` (empty function) semantic_support is 0. Errors are embed's, or
// InvalidArgument when it returns the wrong number of vectors or mixed
// dimensions.
absl::Status SetGroundednessFeatures(std::string_view answer, const ParsedCitations& citations,
                                     std::span<const Passage> passages, const EmbedTextsFn& embed,
                                     ConfidenceFeatures& f);

// The words of `text` for overlap: case-folded (ICU), split at anything
// that is not a letter or digit, words of fewer than 3 characters and common
// English function words left out. Exposed for tests.
std::vector<std::string> ContentWords(std::string_view text);

// Cosine similarity of two vectors of the same length (0 when either is all
// zeros), accumulated in double. Pure.
double Cosine(const std::vector<float>& a, const std::vector<float>& b);

struct ConfidenceScore {
  double confidence = 0;  // sigmoid(logit), in [0, 1]
  double logit = 0;       // bias + sum of contributions
  double bias = 0;
  std::array<double, ConfidenceFeatures::kCount> contributions{};  // weight × feature, ToArray order
};

// One weight set of the logistic model: confidence = sigmoid(bias + sum
// weight_i × feature_i).
struct ConfidenceWeights {
  std::array<double, ConfidenceFeatures::kCount> weights{};
  double bias = 0;
  std::string note;  // where the weights come from (hand-set priors, a calibration run)

  // Never fails; non-finite features count as 0 (a NaN would poison the score).
  ConfidenceScore Score(const ConfidenceFeatures& features) const;
};

// The confidence model: the generative weight set (the inherited members,
// fitted by `calibrate`) and optionally a second set for extractive answers
// (service/extractive.h). Extractive answers have no generation log-probs,
// and their lexical_support / semantic_support measure how well the chosen
// sentences answer the question (they are verbatim passage text, so the
// generative meaning, support by the cited passage, would always be 1);
// one set cannot serve both, hence two.
struct ConfidenceModel : ConfidenceWeights {
  // Unset in files written by `calibrate` before extractive answers existed
  // and by CalibrateConfidence; callers then take the built-in defaults'.
  std::optional<ConfidenceWeights> extractive;

  // JSON: {"note": "...", "bias": b, "weights": {"best_fused": w, ...},
  // "extractive": {"note": ..., "bias": ..., "weights": {...}}} with every
  // feature name present exactly once in each "weights"; "extractive" is
  // optional. InvalidArgument naming the problem (bad JSON, a missing or
  // unknown name, a non-finite number), prefixed "extractive: " for the
  // second set.
  static absl::StatusOr<ConfidenceModel> FromJson(std::string_view json);
  // Reads FromJson from a file; NotFound / InvalidArgument naming the path.
  static absl::StatusOr<ConfidenceModel> Load(const std::string& path);
  // The FromJson format; "extractive" only when set.
  std::string ToJson() const;
  // Writes ToJson to `path` atomically (a temporary file renamed over it).
  absl::Status Save(const std::string& path) const;
};

}  // namespace tinyrag
