// Citations in a generated answer: "[n]", "[n, m]", "[n-m]" (also ";" between
// items and an en dash in ranges) mapped to the numbered passages of the
// prompt, and recognition of the fixed "I don't know" answer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tinyrag {

// One bracketed citation marker as written in the answer.
struct CitationMarker {
  size_t begin = 0, end = 0;   // byte range of "[...]" in the answer
  std::vector<int> passages;   // the in-range passage numbers it names, ascending, unique
  int out_of_range = 0;        // numbers it names outside [1, n_passages]
};

struct ParsedCitations {
  std::vector<CitationMarker> markers;  // in answer order
  std::vector<int> cited;               // every in-range passage number cited, ascending, unique
  int out_of_range = 0;                 // numbers cited outside [1, n_passages], dropped
};

// Finds the citation markers of `answer` for a prompt of `n_passages`
// numbered passages. Brackets holding anything else ("[note]", "[1a]",
// "[]") are ordinary text. A range names every number in it; a reversed
// range ("[3-1]") is read in order. Numbers past n_passages are dropped and
// counted, without enumerating huge ranges. Pure, thread-safe.
ParsedCitations ParseCitations(std::string_view answer, int n_passages);

// `answer` without its citation markers (and the spaces before them), e.g.
// for comparing its words with the passages. Pure.
std::string StripCitations(std::string_view answer, const ParsedCitations& citations);

// True when `answer` is the fixed kNoAnswerSentence (service/prompt.h) or its
// leading "I don't know" alone, ignoring case, punctuation (curly or straight
// apostrophes), white space and citation markers. An answer that says more
// than that is not a refusal. Pure.
bool IsNoAnswer(std::string_view answer);

}  // namespace tinyrag
