#include "service/citations.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>

#include "service/prompt.h"

namespace tinyrag {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Reads a decimal number at text[i]; nullopt when there is none. Numbers too
// long for int saturate (they are out of range anyway).
std::optional<int64_t> ReadNumber(std::string_view text, size_t& i) {
  const size_t start = i;
  int64_t v = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    v = std::min<int64_t>(v * 10 + (text[i] - '0'), int64_t{1} << 40);
    ++i;
  }
  if (i == start) return std::nullopt;
  return v;
}

void SkipSpaces(std::string_view text, size_t& i) {
  while (i < text.size() && IsSpace(text[i])) ++i;
}

// Parses the inside of a bracket starting after '['; the marker when the
// bracket holds only numbers and ranges and closes, with i past ']'.
std::optional<CitationMarker> ReadMarker(std::string_view text, size_t& i, int n_passages) {
  CitationMarker m;
  while (true) {
    SkipSpaces(text, i);
    const std::optional<int64_t> a = ReadNumber(text, i);
    if (!a) return std::nullopt;
    int64_t b = *a;
    SkipSpaces(text, i);
    const std::string_view en_dash = "\u2013";
    const bool dash = i < text.size() && text[i] == '-';
    const bool en = text.substr(i, en_dash.size()) == en_dash;
    if (dash || en) {
      i += dash ? 1 : en_dash.size();
      SkipSpaces(text, i);
      const std::optional<int64_t> e = ReadNumber(text, i);
      if (!e) return std::nullopt;
      b = *e;
      SkipSpaces(text, i);
    }
    const int64_t lo = std::min(*a, b), hi = std::max(*a, b);
    // In-range numbers are enumerated; the rest only counted.
    for (int64_t n = std::max<int64_t>(lo, 1); n <= std::min<int64_t>(hi, n_passages); ++n) {
      m.passages.push_back(static_cast<int>(n));
    }
    const int64_t in_range = std::max<int64_t>(0, std::min<int64_t>(hi, n_passages) - std::max<int64_t>(lo, 1) + 1);
    m.out_of_range += static_cast<int>(std::min<int64_t>(hi - lo + 1 - in_range, 1 << 20));
    if (i >= text.size()) return std::nullopt;
    if (text[i] == ']') {
      ++i;
      break;
    }
    if (text[i] != ',' && text[i] != ';') return std::nullopt;
    ++i;
  }
  std::sort(m.passages.begin(), m.passages.end());
  m.passages.erase(std::unique(m.passages.begin(), m.passages.end()), m.passages.end());
  return m;
}

// Lower-case ASCII letters and digits, words separated by one space; every
// other byte (punctuation, apostrophes of any kind) is dropped, so "Don’t"
// and "dont" agree.
std::string Normalize(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      if (space && !out.empty()) out.push_back(' ');
      space = false;
      out.push_back(static_cast<char>(std::tolower(u)));
    } else if (IsSpace(c)) {
      space = true;
    }
  }
  return out;
}

}  // namespace

ParsedCitations ParseCitations(std::string_view answer, int n_passages) {
  ParsedCitations out;
  for (size_t i = 0; i < answer.size(); ++i) {
    if (answer[i] != '[') continue;
    size_t j = i + 1;
    std::optional<CitationMarker> m = ReadMarker(answer, j, n_passages);
    if (!m) continue;  // ordinary text; a '[' inside it is tried on its own
    m->begin = i;
    m->end = j;
    out.cited.insert(out.cited.end(), m->passages.begin(), m->passages.end());
    out.out_of_range += m->out_of_range;
    out.markers.push_back(std::move(*m));
    i = j - 1;
  }
  std::sort(out.cited.begin(), out.cited.end());
  out.cited.erase(std::unique(out.cited.begin(), out.cited.end()), out.cited.end());
  return out;
}

std::string StripCitations(std::string_view answer, const ParsedCitations& citations) {
  std::string out;
  size_t at = 0;
  for (const CitationMarker& m : citations.markers) {
    std::string_view before = answer.substr(at, m.begin - at);
    while (!before.empty() && IsSpace(before.back())) before.remove_suffix(1);
    out.append(before);
    at = m.end;
  }
  out.append(answer.substr(at));
  return out;
}

bool IsNoAnswer(std::string_view answer) {
  const std::string text = Normalize(StripCitations(answer, ParseCitations(answer, 0)));
  static const std::string kSentence = Normalize(kNoAnswerSentence);
  return !text.empty() && (text == kSentence || text == "i dont know" || text == "i do not know");
}

}  // namespace tinyrag
