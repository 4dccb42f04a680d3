#include "service/confidence.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <unordered_set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "unicode/uchar.h"
#include "unicode/unistr.h"

namespace tinyrag {
namespace {

// Function words carry no evidence that a passage supports a sentence.
const std::unordered_set<std::string>& StopWords() {
  static const std::unordered_set<std::string> words{
      "the",  "and",   "for",  "are",   "was",   "were", "with", "that",  "this",  "these", "those", "from",
      "has",  "have",  "had",  "not",   "but",   "its",  "it's", "they",  "them",  "their", "there", "which",
      "who",  "whom",  "what", "when",  "where", "why",  "how",  "than",  "then",  "also",  "into",  "onto",
      "can",  "could", "will", "would", "shall", "should", "may", "might", "must", "been", "being", "does",
      "did",  "doing", "such", "some",  "any",   "all",  "each", "other", "only",  "very",  "more",  "most",
      "you",  "your",  "our",  "his",   "her",   "she",  "him",  "about", "over",  "under", "upon",  "based"};
  return words;
}


double Finite(double v) { return std::isfinite(v) ? v : 0.0; }

}  // namespace

std::array<double, ConfidenceFeatures::kCount> ConfidenceFeatures::ToArray() const {
  return {best_fused,  best_dense, best_lexical,    fused_margin,    mean_logprob,
          min_logprob, no_answer,  lexical_support, semantic_support};
}

ConfidenceFeatures ConfidenceFeatures::FromArray(const std::array<double, kCount>& v) {
  ConfidenceFeatures f;
  f.best_fused = v[0];
  f.best_dense = v[1];
  f.best_lexical = v[2];
  f.fused_margin = v[3];
  f.mean_logprob = v[4];
  f.min_logprob = v[5];
  f.no_answer = v[6];
  f.lexical_support = v[7];
  f.semantic_support = v[8];
  return f;
}

void SetRetrievalFeatures(std::span<const Passage> passages, ConfidenceFeatures& f) {
  std::vector<double> fused;
  f.best_dense = f.best_lexical = 0;
  bool dense = false, lexical = false;
  for (const Passage& p : passages) {
    fused.push_back(p.score);
    if (p.dense_score) f.best_dense = dense ? std::max(f.best_dense, *p.dense_score) : *p.dense_score;
    if (p.lexical_score) f.best_lexical = lexical ? std::max(f.best_lexical, *p.lexical_score) : *p.lexical_score;
    dense |= p.dense_score.has_value();
    lexical |= p.lexical_score.has_value();
  }
  std::sort(fused.begin(), fused.end(), std::greater<>());
  f.best_fused = fused.empty() ? 0 : fused[0];
  f.fused_margin = fused.empty() ? 0 : fused[0] - (fused.size() > 1 ? fused[1] : 0.0);
}

void SetGenerationFeatures(std::span<const float> logprobs, bool no_answer, ConfidenceFeatures& f) {
  double sum = 0, lo = 0;
  for (size_t i = 0; i < logprobs.size(); ++i) {
    sum += logprobs[i];
    lo = i == 0 ? logprobs[i] : std::min<double>(lo, logprobs[i]);
  }
  f.mean_logprob = logprobs.empty() ? 0 : sum / static_cast<double>(logprobs.size());
  f.min_logprob = lo;
  f.no_answer = no_answer ? 1 : 0;
}

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double{a[i]} * b[i];
    aa += double{a[i]} * a[i];
    bb += double{b[i]} * b[i];
  }
  if (aa <= 0 || bb <= 0) return 0;
  return ab / std::sqrt(aa * bb);
}

std::vector<std::string> ContentWords(std::string_view text) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), text.size()));
  u.foldCase();
  std::vector<std::string> words;
  icu::UnicodeString word;
  int32_t chars = 0;
  auto flush = [&] {
    if (chars >= 3) {
      std::string w;
      word.toUTF8String(w);
      if (!StopWords().contains(w)) words.push_back(std::move(w));
    }
    word.remove();
    chars = 0;
  };
  for (int32_t i = 0; i < u.length();) {
    const UChar32 c = u.char32At(i);
    if (u_isalnum(c)) {
      word.append(c);
      ++chars;
    } else {
      flush();
    }
    i += U16_LENGTH(c);
  }
  flush();
  return words;
}

absl::Status SetGroundednessFeatures(std::string_view answer, const ParsedCitations& citations,
                                     std::span<const Passage> passages, const EmbedTextsFn& embed,
                                     ConfidenceFeatures& f) {
  f.lexical_support = f.semantic_support = 0;
  if (citations.cited.empty() || passages.empty()) return absl::OkStatus();

  // Each sentence (citations removed) with the passages it leans on.
  struct Sentence {
    std::string text;
    std::vector<int> passages;  // 1-based
  };
  std::vector<Sentence> sentences;
  size_t start = 0;
  for (size_t end : SentenceEnds(answer)) {
    Sentence s;
    ParsedCitations own;
    for (const CitationMarker& m : citations.markers) {
      if (m.begin >= start && m.begin < end) {
        own.markers.push_back(m);
        own.markers.back().begin -= start;
        own.markers.back().end = std::min(m.end, end) - start;
        s.passages.insert(s.passages.end(), m.passages.begin(), m.passages.end());
      }
    }
    s.text = StripCitations(answer.substr(start, end - start), own);
    if (s.passages.empty()) s.passages = citations.cited;
    std::erase_if(s.passages, [&](int n) { return n < 1 || n > static_cast<int>(passages.size()); });
    start = end;
    if (!ContentWords(s.text).empty() && !s.passages.empty()) sentences.push_back(std::move(s));
  }
  if (sentences.empty()) return absl::OkStatus();

  std::vector<std::set<std::string>> passage_words(passages.size());
  for (size_t i = 0; i < passages.size(); ++i) {
    for (std::string& w : ContentWords(absl::StrCat(passages[i].title, " ", passages[i].text))) {
      passage_words[i].insert(std::move(w));
    }
  }
  double lexical = 0;
  for (const Sentence& s : sentences) {
    const std::vector<std::string> words = ContentWords(s.text);
    double best = 0;
    for (int n : s.passages) {
      const auto& pw = passage_words[n - 1];
      const auto found = std::count_if(words.begin(), words.end(), [&](const std::string& w) { return pw.contains(w); });
      best = std::max(best, static_cast<double>(found) / static_cast<double>(words.size()));
    }
    lexical += best;
  }
  f.lexical_support = lexical / static_cast<double>(sentences.size());

  if (!embed) return absl::OkStatus();
  // One call: the sentences, then every passage (cited or not, so indices stay simple).
  std::vector<std::string> texts;
  for (const Sentence& s : sentences) texts.push_back(s.text);
  for (const Passage& p : passages) texts.push_back(p.text);
  absl::StatusOr<std::vector<std::vector<float>>> vectors = embed(texts);
  if (!vectors.ok()) return vectors.status();
  if (vectors->size() != texts.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("groundedness: the encoder returned ", vectors->size(), " vectors for ", texts.size(), " texts"));
  }
  for (const std::vector<float>& v : *vectors) {
    if (v.size() != (*vectors)[0].size()) {
      return absl::InvalidArgumentError("groundedness: the encoder returned vectors of different dimensions");
    }
  }
  double semantic = 0;
  for (size_t i = 0; i < sentences.size(); ++i) {
    double best = 0;
    for (int n : sentences[i].passages) best = std::max(best, Cosine((*vectors)[i], (*vectors)[sentences.size() + n - 1]));
    semantic += best;
  }
  f.semantic_support = semantic / static_cast<double>(sentences.size());
  return absl::OkStatus();
}

ConfidenceScore ConfidenceWeights::Score(const ConfidenceFeatures& features) const {
  ConfidenceScore s;
  s.bias = bias;
  s.logit = bias;
  const auto x = features.ToArray();
  for (size_t i = 0; i < x.size(); ++i) {
    s.contributions[i] = weights[i] * Finite(x[i]);
    s.logit += s.contributions[i];
  }
  s.confidence = 1.0 / (1.0 + std::exp(-s.logit));
  return s;
}

namespace {

// One weight set from `j`; `nested_allowed` admits the "extractive" key (top level only).
absl::Status ParseWeights(const nlohmann::json& j, bool nested_allowed, ConfidenceWeights& m) {
  if (!j.is_object()) return absl::InvalidArgumentError("not a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key != "note" && key != "bias" && key != "weights" && !(nested_allowed && key == "extractive")) {
      return absl::InvalidArgumentError(absl::StrCat("unknown key \"", key, "\""));
    }
  }
  if (j.contains("note")) {
    if (!j["note"].is_string()) return absl::InvalidArgumentError("\"note\" is not a string");
    m.note = j["note"].get<std::string>();
  }
  if (!j.contains("bias") || !j["bias"].is_number() || !std::isfinite(j["bias"].get<double>())) {
    return absl::InvalidArgumentError("\"bias\" missing or not a finite number");
  }
  m.bias = j["bias"].get<double>();
  if (!j.contains("weights") || !j["weights"].is_object()) {
    return absl::InvalidArgumentError("\"weights\" missing or not an object");
  }
  const nlohmann::json& w = j["weights"];
  for (const auto& [key, value] : w.items()) {
    if (std::find(kConfidenceFeatureNames.begin(), kConfidenceFeatureNames.end(), key) ==
        kConfidenceFeatureNames.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown feature \"", key, "\""));
    }
  }
  for (size_t i = 0; i < kConfidenceFeatureNames.size(); ++i) {
    const std::string name(kConfidenceFeatureNames[i]);
    if (!w.contains(name)) return absl::InvalidArgumentError(absl::StrCat("no weight for feature \"", name, "\""));
    if (!w[name].is_number() || !std::isfinite(w[name].get<double>())) {
      return absl::InvalidArgumentError(absl::StrCat("weight \"", name, "\" is not a finite number"));
    }
    m.weights[i] = w[name].get<double>();
  }
  return absl::OkStatus();
}

nlohmann::ordered_json WeightsJson(const ConfidenceWeights& m) {
  nlohmann::ordered_json j;
  j["note"] = m.note;
  j["bias"] = m.bias;
  nlohmann::ordered_json w = nlohmann::ordered_json::object();
  for (size_t i = 0; i < m.weights.size(); ++i) w[std::string(kConfidenceFeatureNames[i])] = m.weights[i];
  j["weights"] = w;
  return j;
}

}  // namespace

absl::StatusOr<ConfidenceModel> ConfidenceModel::FromJson(std::string_view json) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("confidence model: not a JSON object");
  ConfidenceModel m;
  if (absl::Status s = ParseWeights(j, /*nested_allowed=*/true, m); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("confidence model: ", s.message()));
  }
  if (j.contains("extractive")) {
    ConfidenceWeights e;
    if (absl::Status s = ParseWeights(j["extractive"], /*nested_allowed=*/false, e); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("confidence model: extractive: ", s.message()));
    }
    m.extractive = std::move(e);
  }
  return m;
}

absl::StatusOr<ConfidenceModel> ConfidenceModel::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("confidence model: cannot open ", path));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  absl::StatusOr<ConfidenceModel> m = FromJson(text);
  if (!m.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", m.status().message()));
  return m;
}

std::string ConfidenceModel::ToJson() const {
  nlohmann::ordered_json j = WeightsJson(*this);
  if (extractive) j["extractive"] = WeightsJson(*extractive);
  return j.dump(2) + "\n";
}

absl::Status ConfidenceModel::Save(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << ToJson();
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat("confidence model: cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("confidence model: cannot rename ", tmp, " to ", path, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace tinyrag
