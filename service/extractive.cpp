#include "service/extractive.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tinyrag {
namespace {

// Folds the commonest English plural so "refunds" meets "refund" and
// "batteries" meets "battery"; short words and "-ss"/"-us"/"-is" endings stay.
std::string FoldPlural(std::string w) {
  if (w.size() >= 5 && w.ends_with("ies")) return w.substr(0, w.size() - 3) + "y";
  if (w.size() >= 4 && w.back() == 's' && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is")) {
    w.pop_back();
  }
  return w;
}

// The folded content words of `text`, plus those of its hyphenated words
// written solid, so "Wi-Fi" also gives "wifi" and "e-mail" "email".
std::set<std::string> WordSet(std::string_view text) {
  // How customers phrase a question, not what it is about: answers rarely
  // repeat these, so as rare words they would outweigh the real topic.
  static const std::set<std::string> kPhrasing = {"mean", "say",   "said", "long", "many",   "much", "get",
                                                   "got",  "need",  "want", "know", "tell",   "happen",
                                                   "still", "actually", "really", "way", "please", "don", "doesn"};
  std::set<std::string> out;
  for (std::string& w : ContentWords(text)) {
    std::string folded = FoldPlural(std::move(w));
    if (!kPhrasing.contains(folded)) out.insert(std::move(folded));
  }
  std::string solid;
  bool joined = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool inner_hyphen = text[i] == '-' && i > 0 && i + 1 < text.size() &&
                              std::isalnum(static_cast<unsigned char>(text[i - 1])) &&
                              std::isalnum(static_cast<unsigned char>(text[i + 1]));
    if (inner_hyphen) {
      joined = true;
    } else {
      solid.push_back(text[i]);
    }
  }
  if (joined) {
    for (std::string& w : ContentWords(solid)) {
      std::string folded = FoldPlural(std::move(w));
      if (!kPhrasing.contains(folded)) out.insert(std::move(folded));
    }
  }
  return out;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// White space runs become one space; a leading list bullet and Markdown
// emphasis marks are dropped (layout, not part of the sentence).
std::string CleanSentence(std::string_view raw) {
  std::string out;
  bool space = false;
  for (char c : raw) {
    if (IsSpace(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  for (std::string_view bullet : {"- ", "* ", "+ ", "\xE2\x80\xA2 "}) {  // U+2022 BULLET
    if (out.starts_with(bullet)) {
      out.erase(0, bullet.size());
      break;
    }
  }
  // Markdown emphasis and code marks are layout too.
  for (std::string_view mark : {"**", "__", "`"}) {
    for (size_t at = out.find(mark); at != std::string::npos; at = out.find(mark, at)) out.erase(at, mark.size());
  }
  return out;
}

// Whether the line starting at `pos` is a list item or a table row (its own unit).
bool StartsItem(std::string_view text, size_t pos) {
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  const std::string_view rest = text.substr(pos);
  for (std::string_view marker : {"- ", "* ", "+ ", "|", "\xE2\x80\xA2 "}) {
    if (rest.starts_with(marker)) return true;
  }
  size_t digits = 0;
  while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
  return digits > 0 && digits + 1 < rest.size() && (rest[digits] == '.' || rest[digits] == ')') &&
         rest[digits + 1] == ' ';
}

// ICU ends a sentence at every line feed, so text wrapped at a fixed width
// would fall apart into fragments. A single line feed inside a paragraph
// becomes a space unless the next line is a list item or a table row; byte
// offsets are unchanged (one byte for one).
std::string UnwrapLines(std::string_view text) {
  std::string out(text);
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] != '\n') continue;
    const bool blank_before = i == 0 || out[i - 1] == '\n';
    const bool blank_after = i + 1 >= out.size() || out[i + 1] == '\n';
    if (!blank_before && !blank_after && !StartsItem(text, i + 1)) out[i] = ' ';
  }
  return out;
}

int CountWords(std::string_view s) {
  int n = 0;
  bool in_word = false;
  for (char c : s) {
    if (IsSpace(c)) {
      in_word = false;
    } else if (!in_word) {
      in_word = true;
      ++n;
    }
  }
  return n;
}

bool EndsSentence(std::string_view s) {
  if (s.empty()) return false;
  for (std::string_view end : {".", "!", "?", ":", ";", ")", "\"", "'", "\xE2\x80\x9D", "\xE2\x80\xA6"}) {  // ” …
    if (s.ends_with(end)) return true;
  }
  return false;
}

// A short line without closing punctuation is a heading or a label: it
// says what the following sentences are about but answers nothing itself.
bool IsHeadingLine(std::string_view s) { return !EndsSentence(s) && CountWords(s) <= 6; }

struct Candidate {
  ScoredSentence scored;
  std::set<std::string> words;    // the sentence's own
  std::set<std::string> context;  // title, heading line or FAQ question before it
};

// Credit of question word `w` in a set of sentences: 1 when one of them has
// it, 0.5 when only their context does.
double Credit(const std::string& w, std::span<const Candidate* const> sentences) {
  double credit = 0;
  for (const Candidate* c : sentences) {
    if (c->words.contains(w)) return 1.0;
    if (c->context.contains(w)) credit = 0.5;
  }
  return credit;
}

double Coverage(const std::map<std::string, double>& question_weights, double total,
                std::span<const Candidate* const> sentences) {
  if (total <= 0) return 0;
  double covered = 0;
  for (const auto& [w, weight] : question_weights) covered += weight * Credit(w, sentences);
  return covered / total;
}

// Cuts `text` to at most `max_bytes` at a word boundary (never inside a
// UTF-8 sequence) and marks the cut with "…".
std::string CutText(const std::string& text, size_t max_bytes) {
  static constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
  if (text.size() <= max_bytes) return text;
  if (max_bytes <= kEllipsis.size()) return std::string();
  size_t cut = max_bytes - kEllipsis.size();
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  const size_t space = text.rfind(' ', cut);
  if (space != std::string::npos && space > cut / 2) cut = space;
  std::string out = text.substr(0, cut);
  while (!out.empty() && IsSpace(out.back())) out.pop_back();
  return out + std::string(kEllipsis);
}

// "text [n]." — the marker goes before closing sentence punctuation, as the
// generative answers place it.
std::string WithCitation(const std::string& text, int n) {
  const std::string marker = absl::StrCat(" [", n, "]");
  if (!text.empty() && (text.back() == '.' || text.back() == '!' || text.back() == '?')) {
    return absl::StrCat(text.substr(0, text.size() - 1), marker, text.substr(text.size() - 1));
  }
  return text + marker;
}

absl::Status CheckOptions(const ExtractiveOptions& o) {
  auto finite_in = [](double v, double lo, double hi) { return std::isfinite(v) && v >= lo && v <= hi; };
  if (!finite_in(o.min_support, 0, 2)) return absl::InvalidArgumentError("extractive: min_support not in [0, 2]");
  if (!finite_in(o.semantic_weight, 0, 1)) {
    return absl::InvalidArgumentError("extractive: semantic_weight not in [0, 1]");
  }
  if (!finite_in(o.rank_prior, 0, 1)) return absl::InvalidArgumentError("extractive: rank_prior not in [0, 1]");
  if (!finite_in(o.min_coverage_gain, 0, 1)) {
    return absl::InvalidArgumentError("extractive: min_coverage_gain not in [0, 1]");
  }
  if (o.max_answer_bytes < 32) return absl::InvalidArgumentError("extractive: max_answer_bytes below 32");
  return absl::OkStatus();
}

ExtractiveAnswer NoAnswer() {
  ExtractiveAnswer a;
  a.answer = std::string(kNoAnswerSentence);
  a.no_answer = true;
  return a;
}

}  // namespace

absl::StatusOr<ExtractiveAnswer> ExtractAnswer(std::string_view question, std::span<const Passage> passages,
                                               const EmbedTextsFn& embed, const ExtractiveOptions& options) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  const std::set<std::string> question_words = WordSet(question);
  if (question_words.empty() || passages.empty()) return NoAnswer();

  std::vector<Candidate> candidates;
  for (size_t i = 0; i < passages.size(); ++i) {
    const std::string text = UnwrapLines(passages[i].text);
    const std::set<std::string> title = WordSet(passages[i].title);
    std::set<std::string> context_line;
    size_t start = 0;
    for (size_t end : SentenceEnds(text)) {
      std::string clean = CleanSentence(std::string_view(text).substr(start, end - start));
      const size_t begin = start;
      start = end;
      if (clean.empty()) continue;
      std::set<std::string> words = WordSet(clean);
      if (clean.back() == '?' || IsHeadingLine(clean)) {
        context_line = std::move(words);
        continue;
      }
      if (words.empty()) continue;
      Candidate c;
      c.scored.passage = static_cast<int>(i + 1);
      c.scored.begin = begin;
      c.scored.end = end;
      c.scored.text = std::move(clean);
      c.words = std::move(words);
      c.context = title;
      c.context.insert(context_line.begin(), context_line.end());
      candidates.push_back(std::move(c));
    }
  }
  if (candidates.empty()) return NoAnswer();

  // Inverse sentence frequency of each question word over the candidates.
  std::map<std::string, double> weights;
  double total = 0;
  const double n = static_cast<double>(candidates.size());
  for (const std::string& w : question_words) {
    const double sf = static_cast<double>(
        std::count_if(candidates.begin(), candidates.end(), [&](const Candidate& c) { return c.words.contains(w); }));
    weights[w] = std::log(1.0 + n / (1.0 + sf));
    total += weights[w];
  }

  if (embed) {
    std::vector<std::string> texts;
    texts.reserve(candidates.size() + 1);
    texts.emplace_back(question);
    for (const Candidate& c : candidates) texts.push_back(c.scored.text);
    absl::StatusOr<std::vector<std::vector<float>>> vectors = embed(texts);
    if (!vectors.ok()) return vectors.status();
    if (vectors->size() != texts.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("extractive: the encoder returned ", vectors->size(), " vectors for ", texts.size(), " texts"));
    }
    for (const std::vector<float>& v : *vectors) {
      if (v.size() != (*vectors)[0].size()) {
        return absl::InvalidArgumentError("extractive: the encoder returned vectors of different dimensions");
      }
    }
    for (size_t i = 0; i < candidates.size(); ++i) {
      candidates[i].scored.similarity = std::max(0.0, Cosine((*vectors)[0], (*vectors)[i + 1]));
    }
  }
  const double sw = embed ? options.semantic_weight : 0.0;
  for (Candidate& c : candidates) {
    const Candidate* one[] = {&c};
    c.scored.coverage = Coverage(weights, total, one);
    c.scored.support = (1 - sw) * c.scored.coverage + sw * c.scored.similarity + options.rank_prior / c.scored.passage;
  }

  // The first of equals wins: higher-ranked passage, earlier sentence.
  size_t best = 0;
  for (size_t i = 1; i < candidates.size(); ++i) {
    if (candidates[i].scored.support > candidates[best].scored.support) best = i;
  }
  ExtractiveAnswer out;
  out.sentences_scored = static_cast<int>(candidates.size());
  out.best = candidates[best].scored;
  if (out.best.support < options.min_support) {
    ExtractiveAnswer refusal = NoAnswer();
    refusal.best = out.best;
    refusal.coverage = out.best.coverage;
    refusal.sentences_scored = out.sentences_scored;
    return refusal;
  }

  // A second sentence: the one that follows a lead-in ("…, do this:") in the
  // same passage, otherwise the one adding most coverage of the question.
  std::vector<size_t> chosen = {best};
  const size_t kNone = candidates.size();
  size_t second = kNone;
  const Candidate& b = candidates[best];
  if (b.scored.text.back() == ':' && best + 1 < candidates.size() &&
      candidates[best + 1].scored.passage == b.scored.passage) {
    second = best + 1;
  } else {
    const Candidate* alone[] = {&b};
    const double base = Coverage(weights, total, alone);
    double best_gain = 0;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (i == best || candidates[i].scored.support < options.min_support) continue;
      const Candidate* pair[] = {&b, &candidates[i]};
      const double gain = Coverage(weights, total, pair) - base;
      if (gain > best_gain) {  // strictly: the first of equals wins
        best_gain = gain;
        second = i;
      }
    }
    if (best_gain < options.min_coverage_gain) second = kNone;
  }

  auto marker_bytes = [](int n) { return absl::StrCat(" [", n, "]").size(); };
  std::string first = WithCitation(
      CutText(b.scored.text, options.max_answer_bytes - marker_bytes(b.scored.passage)), b.scored.passage);
  if (second != kNone) {
    const Candidate& s = candidates[second];
    const std::string extra = WithCitation(s.scored.text, s.scored.passage);
    if (first.size() + 1 + extra.size() <= options.max_answer_bytes) chosen.push_back(second);
  }
  // Sentences of one passage keep their order there; otherwise the best leads.
  if (chosen.size() == 2 && candidates[chosen[0]].scored.passage == candidates[chosen[1]].scored.passage &&
      candidates[chosen[1]].scored.begin < candidates[chosen[0]].scored.begin) {
    std::swap(chosen[0], chosen[1]);
  }

  std::vector<const Candidate*> parts;
  std::set<int> cited;
  for (size_t i : chosen) {
    const Candidate& c = candidates[i];
    const std::string piece = i == best ? first : WithCitation(c.scored.text, c.scored.passage);
    if (!out.answer.empty()) out.answer += ' ';
    out.answer += piece;
    out.chosen.push_back(c.scored);
    parts.push_back(&c);
    cited.insert(c.scored.passage);
  }
  out.no_answer = false;
  out.cited.assign(cited.begin(), cited.end());
  out.coverage = Coverage(weights, total, parts);
  return out;
}

ConfidenceFeatures ExtractiveConfidenceFeatures(std::span<const Passage> passages, const ExtractiveAnswer& answer) {
  ConfidenceFeatures f;
  SetRetrievalFeatures(passages, f);
  SetGenerationFeatures({}, answer.no_answer, f);
  f.lexical_support = answer.coverage;
  f.semantic_support = answer.best.similarity;
  return f;
}

}  // namespace tinyrag
