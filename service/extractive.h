// Extractive answers: the best-supported sentence(s) of the retrieved
// passages, quoted verbatim with [n] citations, without a generative model.
// For support desks that must not paraphrase, and the fallback when no
// decoder is configured or it is overloaded.
//
// Each passage is split into sentences (ICU rules, service/prompt.h's
// SentenceEnds, after joining lines wrapped inside a paragraph; list items
// and table rows stay apart). A sentence's support for the question mixes:
//  - lexical coverage: the question's content words (confidence.h's
//    ContentWords, with a light plural folding, without phrasing words such
//    as "mean", "long" or "many" that answers rarely repeat) found in the sentence,
//    weighted by their inverse sentence frequency across the passages, so a
//    rare word ("E42") counts more than one every sentence has ("thermostat");
//    words found only in the sentence's context (the document title, the
//    heading line or the FAQ question just before it) count half;
//  - semantic similarity: the cosine of the question's and the sentence's
//    encoder embeddings, when an embed function is given;
//  - a small prior for the passage's rank.
// Questions and heading lines are never chosen themselves: they are the
// context of the sentences that follow them.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "service/confidence.h"
#include "service/prompt.h"

namespace tinyrag {

struct ExtractiveOptions {
  // Below this support for the best sentence the answer is kNoAnswerSentence.
  double min_support = 0.40;
  // Weight of the semantic similarity when an embed function is given (the
  // lexical coverage gets 1 - this); without one the support is lexical.
  double semantic_weight = 0.4;
  // Support added for passage 1; passage n gets rank_prior / n.
  double rank_prior = 0.04;
  // The answer (citation markers included) stays within this many bytes; a
  // single sentence longer than that is cut at a word boundary with "…".
  size_t max_answer_bytes = 480;
  // A second sentence joins the best one when it raises the question's
  // weighted coverage by at least this much and has min_support itself.
  double min_coverage_gain = 0.15;
};

// One sentence of a passage with its scores.
struct ScoredSentence {
  int passage = 0;              // 1-based: passages[passage - 1]
  size_t begin = 0, end = 0;    // byte range of the sentence in that passage's text
  std::string text;             // the sentence, white space collapsed, bullet marker dropped
  double coverage = 0;          // weighted fraction of the question's words, in [0, 1]
  double similarity = 0;        // cosine with the question, floored at 0 (0 without an encoder)
  double support = 0;           // the combined score compared with min_support
};

struct ExtractiveAnswer {
  // The chosen sentences, each followed by its citation ("… 30 days [2]."),
  // or exactly kNoAnswerSentence when nothing reached min_support.
  std::string answer;
  bool no_answer = true;
  std::vector<int> cited;               // passage numbers cited, ascending, unique (empty for no answer)
  std::vector<ScoredSentence> chosen;   // the answer's sentences in answer order (empty for no answer)
  // The best candidate even when it fell below min_support (support 0 and
  // passage 0 when no passage had a candidate sentence), for confidence and
  // for explaining a refusal.
  ScoredSentence best;
  // Weighted coverage of the question by the chosen sentences together (the
  // best candidate's for no answer), in [0, 1].
  double coverage = 0;
  int sentences_scored = 0;  // candidate sentences over all passages
};

// Picks the answer to `question` from `passages` (best first; passage n is
// passages[n - 1]). `embed` may be empty (lexical support only); when given
// it is called once with the question followed by every candidate sentence.
// No passages, or no question content words, give the no-answer result.
// Errors: InvalidArgument for options out of range or when embed returns
// the wrong number of vectors or mixed dimensions; embed's own errors as
// they come. Deterministic; pure apart from embed; thread-safe when embed is.
absl::StatusOr<ExtractiveAnswer> ExtractAnswer(std::string_view question, std::span<const Passage> passages,
                                               const EmbedTextsFn& embed, const ExtractiveOptions& options = {});

// The confidence features of an extractive answer over the same passages:
// the retrieval features (SetRetrievalFeatures), mean/min log-prob 0 (no
// generation), no_answer, lexical_support = answer.coverage and
// semantic_support = answer.best.similarity. Score them with the model's
// `extractive` weight set. Pure.
ConfidenceFeatures ExtractiveConfidenceFeatures(std::span<const Passage> passages, const ExtractiveAnswer& answer);

}  // namespace tinyrag
