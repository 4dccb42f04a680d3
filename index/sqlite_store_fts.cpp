#include "index/sqlite_store_fts.h"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <iterator>
#include <string_view>

#include "absl/container/flat_hash_set.h"

namespace tinyrag::sqlite {
namespace {

// Common English function words: they occur in most chunks, so matching them
// only adds noise to an OR query. Sorted for binary search.
constexpr std::string_view kStopWords[] = {
    "a",       "about",  "above",  "after", "again",   "against", "all",   "am",    "an",    "and",   "any",
    "are",     "as",     "at",     "be",    "because", "been",    "before", "being", "below", "between", "both",
    "but",     "by",     "can",    "could", "did",     "do",      "does",  "doing", "down",  "during", "each",
    "few",     "for",    "from",   "further", "had",   "has",     "have",  "having", "he",   "her",   "here",
    "hers",    "him",    "his",    "how",   "i",       "if",      "in",    "into",  "is",    "it",    "its",
    "itself",  "just",   "me",     "more",  "most",    "my",      "no",    "nor",   "not",   "now",   "of",
    "off",     "on",     "once",   "only",  "or",      "other",   "our",   "ours",  "out",   "over",  "own",
    "same",    "she",    "should", "so",    "some",    "such",    "than",  "that",  "the",   "their", "theirs",
    "them",    "then",   "there",  "these", "they",    "this",    "those", "through", "to",  "too",   "under",
    "until",   "up",     "very",   "was",   "we",      "were",    "what",  "when",  "where", "which", "while",
    "who",     "whom",   "why",    "will",  "with",    "would",   "you",   "your",  "yours", "yourself",
    "yourselves"};

bool IsStopWord(std::string_view w) { return std::binary_search(std::begin(kStopWords), std::end(kStopWords), w); }

// Letters, digits and combining marks make words, as in unicode61.
bool IsWordChar(UChar32 c) {
  if (u_isalnum(c)) return true;
  const int8_t type = u_charType(c);
  return type == U_NON_SPACING_MARK || type == U_COMBINING_SPACING_MARK || type == U_ENCLOSING_MARK;
}

}  // namespace

std::vector<std::string> QuestionTerms(std::string_view question) {
  std::vector<std::string> words;
  std::string word;
  const auto* s = reinterpret_cast<const uint8_t*>(question.data());
  const int32_t n = static_cast<int32_t>(std::min<size_t>(question.size(), INT32_MAX));
  int32_t i = 0;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  while (i < n) {
    UChar32 c;
    U8_NEXT(s, i, n, c);  // c < 0 for an ill-formed sequence: a separator
    if (c < 0 || !IsWordChar(c)) {
      flush();
      continue;
    }
    c = u_tolower(c);
    char buf[U8_MAX_LENGTH];
    int32_t len = 0;
    UBool error = false;
    U8_APPEND(reinterpret_cast<uint8_t*>(buf), len, U8_MAX_LENGTH, c, error);
    if (!error) word.append(buf, static_cast<size_t>(len));
  }
  flush();

  std::vector<std::string> kept, all;
  absl::flat_hash_set<std::string> seen;
  for (std::string& w : words) {
    if (!seen.insert(w).second) continue;
    if (!IsStopWord(w)) kept.push_back(w);
    all.push_back(std::move(w));
  }
  return kept.empty() ? all : kept;
}

std::string FtsMatchExpression(std::string_view question) {
  std::string expr;
  for (const std::string& term : QuestionTerms(question)) {
    if (!expr.empty()) expr += " OR ";
    // A word never contains '"' (it is not a word character), so quoting
    // needs no escaping: inside quotes FTS5 reads everything as text.
    expr += '"';
    expr += term;
    expr += '"';
  }
  return expr;
}

}  // namespace tinyrag::sqlite
