// How each rule set splits: the reference runtime's regular expressions as
// hand-written matchers.
//
// The reference describes each rule set as a sequence of regular expressions:
// the first splits the whole text, each next one splits every piece of the
// previous result again (a piece never grows across a boundary). Within a
// piece, matches are searched left to right: the text between two matches
// becomes a piece of its own, and so does every match. Each expression here
// is a matcher that returns, at a given position, the length of the match a
// backtracking (leftmost-alternative-first) regex engine finds there, or 0
// when none starts there.
//
// Character classes are those of pretokenize_internal.h. The reference runs
// expressions with literal non-ASCII character sets (deepseek's CJK and Latin
// ranges, Bloom's punctuation) over a copy of the text in which every
// non-ASCII white space was replaced by U+000B, so white space never matches
// such a set; IsInSet() and IsBloomWordChar() preserve that.
#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "model/pretokenize.h"
#include "model/pretokenize_internal.h"

namespace tinyrag::pretokenize_internal {
namespace {

bool Has(const Decoded& d, size_t i, uint8_t bits) { return (d.cls[i] & bits) != 0; }
bool IsOther(const Decoded& d, size_t i) { return (d.cls[i] & (kLetter | kNumber | kSpace)) == 0; }
bool IsNewline(uint32_t cp) { return cp == '\r' || cp == '\n'; }

// End of the run of code points with any of `bits`, starting at `p`.
size_t RunOf(const Decoded& d, size_t p, size_t end, uint8_t bits) {
  while (p < end && Has(d, p, bits)) ++p;
  return p;
}
size_t RunOfOther(const Decoded& d, size_t p, size_t end) {
  while (p < end && IsOther(d, p)) ++p;
  return p;
}

// A matcher returns the length of the match starting at `p` within [p, end),
// or 0 when no match starts at `p`.
using Matcher = size_t (*)(const Decoded& d, size_t p, size_t end);

// 's|'t|'re|'ve|'m|'ll|'d, case-sensitive or ASCII case-insensitive. (The
// reference lower-cases with the Unicode mapping; no non-ASCII code point
// lower-cases to one of these letters, so ASCII folding is the same.)
template <bool kIgnoreCase>
size_t MatchContraction(const Decoded& d, size_t p, size_t end) {
  if (d.cps[p] != '\'' || p + 1 >= end) return 0;
  auto fold = [](uint32_t c) { return (kIgnoreCase && c >= 'A' && c <= 'Z') ? c + 32 : c; };
  const uint32_t a = fold(d.cps[p + 1]);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (p + 2 >= end) return 0;
  const uint32_t b = fold(d.cps[p + 2]);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
size_t MatchGpt2(const Decoded& d, size_t p, size_t end) {
  if (size_t n = MatchContraction<false>(d, p, end)) return n;
  // The optional leading space only helps when something follows it.
  const size_t q = (d.cps[p] == ' ' && p + 1 < end) ? p + 1 : p;
  if (Has(d, q, kLetter)) return RunOf(d, q, end, kLetter) - p;
  if (Has(d, q, kNumber)) return RunOf(d, q, end, kNumber) - p;
  if (IsOther(d, q)) return RunOfOther(d, q, end) - p;
  // \s+(?!\S): all the white space at the end of the piece, else all but the
  // last one (which then prefixes the next word). A single white space before
  // a non-space matches nothing and becomes a piece of its own.
  const size_t e = RunOf(d, p, end, kSpace);
  if (e == end) return e - p;
  return e - p > 1 ? e - p - 1 : 0;
}

// \s*[\r\n]+|\s+(?!\S)|\s+ : the white space alternatives that end the
// Llama 3 family of expressions.
size_t MatchSpaces(const Decoded& d, size_t p, size_t end) {
  // \s*[\r\n]+ ends after the run's last newline.
  size_t e = p;
  size_t after_newline = 0;
  for (; e < end && Has(d, e, kSpace); ++e) {
    if (IsNewline(d.cps[e])) after_newline = e + 1;
  }
  if (after_newline != 0) return after_newline - p;
  // \s+(?!\S) keeps the last space for the next word; \s+ takes a lone one.
  return (e < end && e - p > 1) ? e - p - 1 : e - p;
}

// Llama 3 / Qwen2 (kMaxDigits 3 / 1):
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
// | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
template <size_t kMaxDigits>
size_t MatchLlama3(const Decoded& d, size_t p, size_t end) {
  if (size_t n = MatchContraction<true>(d, p, end)) return n;
  const uint32_t c = d.cps[p];
  if (!IsNewline(c) && !Has(d, p, kNumber)) {
    if (Has(d, p, kLetter)) return RunOf(d, p, end, kLetter) - p;
    if (p + 1 < end && Has(d, p + 1, kLetter)) return RunOf(d, p + 1, end, kLetter) - p;
  }
  if (Has(d, p, kNumber)) {
    size_t e = p + 1;
    while (e < end && e - p < kMaxDigits && Has(d, e, kNumber)) ++e;
    return e - p;
  }
  const size_t q = (c == ' ' && p + 1 < end) ? p + 1 : p;
  if (IsOther(d, q)) {
    size_t e = RunOfOther(d, q, end);
    while (e < end && IsNewline(d.cps[e])) ++e;
    return e - p;
  }
  return MatchSpaces(d, p, end);
}

// One code point of category N: \p{N}
size_t MatchOneNumber(const Decoded& d, size_t p, size_t) { return Has(d, p, kNumber) ? 1 : 0; }

// \p{N}+
size_t MatchNumbers(const Decoded& d, size_t p, size_t end) { return RunOf(d, p, end, kNumber) - p; }

// [0-9][0-9][0-9]
size_t MatchThreeAsciiDigits(const Decoded& d, size_t p, size_t end) {
  if (end - p < 3) return 0;
  for (size_t i = p; i < p + 3; ++i) {
    if (d.cps[i] < '0' || d.cps[i] > '9') return 0;
  }
  return 3;
}

// [\p{P}\$\+<=>\^~\|`]+ (falcon) and [\p{P}\$\+<=>\^~\|]+ (default).
template <bool kWithBacktick>
size_t MatchPunctuationRun(const Decoded& d, size_t p, size_t end) {
  auto in_set = [&](size_t i) {
    switch (d.cps[i]) {
      case '$': case '+': case '<': case '=': case '>': case '^': case '~': case '|':
        return true;
      case '`':
        return kWithBacktick;
      default:
        return Has(d, i, kPunct);
    }
  };
  size_t e = p;
  while (e < end && in_set(e)) ++e;
  return e - p;
}

// [\r\n]
size_t MatchNewline(const Decoded& d, size_t p, size_t) { return IsNewline(d.cps[p]) ? 1 : 0; }

using CodeRange = std::pair<uint32_t, uint32_t>;  // inclusive

// Latin, Greek, Cyrillic, ... letters listed explicitly by the deepseek-llm
// pre-tokenizer (A-Za-zµÀ-ÖØ-öø-ƺ... in its pattern).
constexpr CodeRange kDeepseekLetterRanges[] = {
    {0x0041, 0x005A}, {0x0061, 0x007A}, {0x00B5, 0x00B5}, {0x00C0, 0x00D6}, {0x00D8, 0x00F6},
    {0x00F8, 0x01BA}, {0x01BC, 0x01BF}, {0x01C4, 0x0293}, {0x0295, 0x02AF}, {0x0370, 0x0373},
    {0x0376, 0x0377}, {0x037B, 0x037D}, {0x037F, 0x037F}, {0x0386, 0x0386}, {0x0388, 0x038A},
    {0x038C, 0x038C}, {0x038E, 0x03A1}, {0x03A3, 0x03F5}, {0x03F7, 0x0481}, {0x048A, 0x052F},
    {0x0531, 0x0556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA},
    {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15},
    {0x1F18, 0x1F1D}, {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59},
    {0x1F5B, 0x1F5B}, {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB},
    {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107},
    {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126},
    {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F},
    {0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4},
    {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F},
    {0xA771, 0xA787}, {0xA78B, 0xA78E}, {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17},
    {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

// ASCII and full-width punctuation, quotes, ideographic full stop
// (!-/:-~！-／：-～‘-‟　-。). Note :-~ also spans the ASCII letters.
constexpr CodeRange kDeepseekPunctuationRanges[] = {
    {0x0021, 0x002F}, {0x003A, 0x007E}, {0x2018, 0x201F}, {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E},
};

// CJK ideographs, everything from U+0800 up to them, and Hangul
// ([一-龥ࠀ-一가-퟿]).
constexpr CodeRange kDeepseekCjkRanges[] = {{0x0800, 0x9FA5}, {0xAC00, 0xD7FF}};

// A literal set: ranges sorted by start, plus its ASCII members as a bit mask
// so that the common case skips the search.
struct LiteralSet {
  std::span<const CodeRange> ranges;
  std::array<uint64_t, 2> ascii;
};

constexpr LiteralSet MakeLiteralSet(std::span<const CodeRange> ranges) {
  LiteralSet set{ranges, {0, 0}};
  for (const auto& [lo, hi] : ranges) {
    for (uint32_t c = lo; c <= hi && c < 128; ++c) set.ascii[c / 64] |= uint64_t{1} << (c % 64);
  }
  return set;
}

// IsInSet() relies on this: only non-ASCII white space needs the check.
constexpr bool HoldsAsciiSpace(const LiteralSet& set) {
  for (uint32_t c : {0x09u, 0x0Au, 0x0Bu, 0x0Cu, 0x0Du, 0x20u}) {
    if ((set.ascii[c / 64] >> (c % 64)) & 1) return true;
  }
  return false;
}

constexpr LiteralSet kDeepseekLetters = MakeLiteralSet(kDeepseekLetterRanges);
constexpr LiteralSet kDeepseekPunctuation = MakeLiteralSet(kDeepseekPunctuationRanges);
constexpr LiteralSet kDeepseekCjk = MakeLiteralSet(kDeepseekCjkRanges);
static_assert(!HoldsAsciiSpace(kDeepseekLetters) && !HoldsAsciiSpace(kDeepseekPunctuation) &&
              !HoldsAsciiSpace(kDeepseekCjk));

// Membership in a literal set of ranges sorted by start; white space never
// matches (see file comment).
bool IsInSet(const Decoded& d, size_t i, const LiteralSet& set) {
  const uint32_t c = d.cps[i];
  // No set holds ASCII white space (see HoldsAsciiSpace), so the mask
  // alone decides for ASCII.
  if (c < 128) return (set.ascii[c / 64] >> (c % 64)) & 1;
  if (Has(d, i, kSpace)) return false;
  // The last range starting at or before c is the only one that may hold it.
  auto it = std::upper_bound(set.ranges.begin(), set.ranges.end(), c,
                             [](uint32_t v, const CodeRange& r) { return v < r.first; });
  return it != set.ranges.begin() && c <= std::prev(it)->second;
}

size_t RunInSet(const Decoded& d, size_t p, size_t end, const LiteralSet& set) {
  while (p < end && IsInSet(d, p, set)) ++p;
  return p;
}

// \s?[SET]+
size_t MatchSpaceThenSet(const Decoded& d, size_t p, size_t end, const LiteralSet& set) {
  size_t q = p;
  if (Has(d, p, kSpace)) {
    if (p + 1 >= end || !IsInSet(d, p + 1, set)) return 0;
    q = p + 1;
  }
  return RunInSet(d, q, end, set) - p;
}

size_t MatchDeepseekLetters(const Decoded& d, size_t p, size_t end) {
  return MatchSpaceThenSet(d, p, end, kDeepseekLetters);
}
size_t MatchDeepseekPunctuation(const Decoded& d, size_t p, size_t end) {
  return MatchSpaceThenSet(d, p, end, kDeepseekPunctuation);
}
// [一-龥ࠀ-一가-퟿]+
size_t MatchDeepseekCjk(const Decoded& d, size_t p, size_t end) {
  return RunInSet(d, p, end, kDeepseekCjk) - p;
}

// \s+$ : the white space that ends the piece.
size_t MatchTrailingSpace(const Decoded& d, size_t p, size_t end) {
  const size_t e = RunOf(d, p, end, kSpace);
  return (e > p && e == end) ? e - p : 0;
}

// \s?\p{X}+ for a class bit X (deepseek-coder's letters and punctuation).
template <uint8_t kBits>
size_t MatchSpaceThenClass(const Decoded& d, size_t p, size_t end) {
  size_t q = p;
  if (Has(d, p, kSpace)) {
    if (p + 1 >= end || !Has(d, p + 1, kBits)) return 0;
    q = p + 1;
  }
  return RunOf(d, q, end, kBits) - p;
}

// Bloom / Poro / GPT-3 Finnish: ' ?[^(\s|.,!?…。，、।۔،)]+' — words end only at
// white space and these punctuation marks.
bool IsBloomWordChar(const Decoded& d, size_t i) {
  if (Has(d, i, kSpace)) return false;
  switch (d.cps[i]) {
    case '(': case ')': case '|': case '.': case ',': case '!': case '?':
    case 0x2026: case 0x3002: case 0xFF0C: case 0x3001: case 0x0964: case 0x06D4: case 0x060C:
      return false;
    default:
      return true;
  }
}
size_t MatchBloomWord(const Decoded& d, size_t p, size_t end) {
  const size_t q = (d.cps[p] == ' ' && p + 1 < end) ? p + 1 : p;
  size_t e = q;
  while (e < end && IsBloomWordChar(d, e)) ++e;
  return e > q ? e - p : 0;
}

// \p{N}{1,3}
size_t MatchUpToThreeNumbers(const Decoded& d, size_t p, size_t end) {
  size_t e = p;
  while (e < end && e - p < 3 && Has(d, e, kNumber)) ++e;
  return e - p;
}

// Kanji and kana ([一-龥぀-ゟ゠-ヿ]) for deepseek-v3.
constexpr CodeRange kKanjiKanaRanges[] = {{0x3040, 0x309F}, {0x30A0, 0x30FF}, {0x4E00, 0x9FA5}};
constexpr LiteralSet kKanjiKana = MakeLiteralSet(kKanjiKanaRanges);
static_assert(!HoldsAsciiSpace(kKanjiKana));
size_t MatchKanjiKana(const Decoded& d, size_t p, size_t end) { return RunInSet(d, p, end, kKanjiKana) - p; }

bool IsAsciiLetter(uint32_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsAsciiPunctuation(uint32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

// deepseek-v3: [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+
// |[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
size_t MatchDeepseekV3(const Decoded& d, size_t p, size_t end) {
  const uint32_t c = d.cps[p];
  if (IsAsciiPunctuation(c) && p + 1 < end && IsAsciiLetter(d.cps[p + 1])) {
    size_t e = p + 1;
    while (e < end && IsAsciiLetter(d.cps[e])) ++e;
    return e - p;
  }
  // A mark may both be the optional prefix and start the run: either way the
  // match is the run of letters and marks from p.
  if (Has(d, p, kLetter | kMark)) return RunOf(d, p, end, kLetter | kMark) - p;
  if (!IsNewline(c) && !Has(d, p, kPunct | kSymbol) && p + 1 < end && Has(d, p + 1, kLetter | kMark)) {
    return RunOf(d, p + 1, end, kLetter | kMark) - p;
  }
  const size_t q = (c == ' ' && p + 1 < end) ? p + 1 : p;
  if (Has(d, q, kPunct | kSymbol)) {
    size_t e = RunOf(d, q, end, kPunct | kSymbol);
    while (e < end && IsNewline(d.cps[e])) ++e;
    return e - p;
  }
  return Has(d, p, kSpace) ? MatchSpaces(d, p, end) : 0;
}

// Tekken (Mistral) splits words before capitals: with U = a letter that is not
// a-z and W = a letter that is not A-Z (so a non-ASCII letter is both),
// [^\r\n\p{L}\p{N}]?U*W+|[^\r\n\p{L}\p{N}]?U+W*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*
// |\s*[\r\n]+|\s+(?!\S)|\s+ (written with lookaheads in the reference).
bool IsUpperish(const Decoded& d, size_t i) { return Has(d, i, kLetter) && !(d.cps[i] >= 'a' && d.cps[i] <= 'z'); }
bool IsLowerish(const Decoded& d, size_t i) { return Has(d, i, kLetter) && !(d.cps[i] >= 'A' && d.cps[i] <= 'Z'); }
size_t MatchTekken(const Decoded& d, size_t p, size_t end) {
  const uint32_t c = d.cps[p];
  // The optional prefix is a non-letter, so only a letter after it can start a word.
  const bool prefixed =
      !IsNewline(c) && !Has(d, p, kLetter | kNumber) && p + 1 < end && Has(d, p + 1, kLetter);
  const size_t s = prefixed ? p + 1 : p;
  if (Has(d, s, kLetter)) {
    size_t u = s;
    while (u < end && IsUpperish(d, u)) ++u;
    // U*W+: U* gives back letters from the right until a W can follow; the
    // first such position from the right wins, then W+ runs greedily.
    for (size_t k = u + 1; k-- > s;) {
      if (k < end && IsLowerish(d, k)) {
        size_t e = k;
        while (e < end && IsLowerish(d, e)) ++e;
        return e - p;
      }
    }
    // U+W*: reached only for a run of A-Z with no W anywhere after it.
    return u - p;
  }
  if (Has(d, p, kNumber)) return 1;
  const size_t q = (c == ' ' && p + 1 < end) ? p + 1 : p;
  if (IsOther(d, q)) {
    size_t e = RunOfOther(d, q, end);
    while (e < end && (IsNewline(d.cps[e]) || d.cps[e] == '/')) ++e;
    return e - p;
  }
  return MatchSpaces(d, p, end);
}

// Chameleon's special-token shapes: <sentinel:[0-9]+>
size_t MatchSentinel(const Decoded& d, size_t p, size_t end) {
  constexpr std::string_view kPrefix = "<sentinel:";
  if (end - p < kPrefix.size() + 2) return 0;
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    if (d.cps[p + i] != static_cast<uint8_t>(kPrefix[i])) return 0;
  }
  size_t e = p + kPrefix.size();
  const size_t digits = e;
  while (e < end && d.cps[e] >= '0' && d.cps[e] <= '9') ++e;
  if (e == digits || e >= end || d.cps[e] != '>') return 0;
  return e + 1 - p;
}

// (IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z
size_t MatchImageToken(const Decoded& d, size_t p, size_t end) {
  constexpr std::string_view kPrefix = "IMGIMG";
  if (end - p < kPrefix.size() + 2) return 0;
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    if (d.cps[p + i] != static_cast<uint8_t>(kPrefix[i])) return 0;
  }
  size_t e = p + kPrefix.size();
  const size_t letters = e;
  while (e < end && e - letters < 4 && d.cps[e] >= 'A' && d.cps[e] <= 'I') ++e;
  // Giving letters back cannot help: a letter A-I is never the closing Z.
  if (e == letters || e >= end || d.cps[e] != 'Z') return 0;
  return e + 1 - p;
}

// ([\t\n]|    |  ) : a tab or newline, else four spaces, else two.
size_t MatchChameleonSpacing(const Decoded& d, size_t p, size_t end) {
  if (d.cps[p] == '\t' || d.cps[p] == '\n') return 1;
  size_t e = p;
  while (e < end && e - p < 4 && d.cps[e] == ' ') ++e;
  const size_t n = e - p;
  return n == 4 ? 4 : (n >= 2 ? 2 : 0);
}

// [\p{P}!-/:-@\[-`{-~] : one punctuation mark or ASCII symbol.
size_t MatchOnePunctuation(const Decoded& d, size_t p, size_t) {
  return (Has(d, p, kPunct) || IsAsciiPunctuation(d.cps[p])) ? 1 : 0;
}

// Splits every piece of `in` with `Match`: matches and the text between them
// become pieces, in order. The matcher is a template argument so that it is
// inlined into this loop, which calls it at almost every position.
template <Matcher Match>
void ApplyStage(const Decoded& d, const std::vector<Span>& in, std::vector<Span>& out) {
  out.clear();
  for (const Span& piece : in) {
    size_t gap = piece.begin;
    size_t p = piece.begin;
    while (p < piece.end) {
      const size_t len = Match(d, p, piece.end);
      if (len == 0) {
        ++p;
        continue;
      }
      if (gap < p) out.push_back({gap, p});
      out.push_back({p, p + len});
      p += len;
      gap = p;
    }
    if (gap < piece.end) out.push_back({gap, piece.end});
  }
}

}  // namespace

// The stages of each rule set, in the reference's order.
std::span<const Stage> StagesOf(PreTokenizer rules) {
  static constexpr Stage kGpt2[] = {ApplyStage<MatchGpt2>};
  static constexpr Stage kLlama3[] = {ApplyStage<MatchLlama3<3>>};
  static constexpr Stage kQwen2[] = {ApplyStage<MatchLlama3<1>>};
  static constexpr Stage kStarCoder[] = {ApplyStage<MatchOneNumber>, ApplyStage<MatchGpt2>};
  static constexpr Stage kFalcon[] = {ApplyStage<MatchPunctuationRun<true>>, ApplyStage<MatchGpt2>,
                                      ApplyStage<MatchThreeAsciiDigits>};
  static constexpr Stage kDefault[] = {ApplyStage<MatchPunctuationRun<false>>, ApplyStage<MatchGpt2>,
                                       ApplyStage<MatchNumbers>, ApplyStage<MatchThreeAsciiDigits>};
  static constexpr Stage kDeepseekLlm[] = {ApplyStage<MatchNewline>,       ApplyStage<MatchDeepseekLetters>,
                                           ApplyStage<MatchDeepseekPunctuation>, ApplyStage<MatchTrailingSpace>,
                                           ApplyStage<MatchDeepseekCjk>,   ApplyStage<MatchNumbers>};
  static constexpr Stage kDeepseekCoder[] = {ApplyStage<MatchNewline>, ApplyStage<MatchSpaceThenClass<kLetter>>,
                                             ApplyStage<MatchSpaceThenClass<kPunct>>, ApplyStage<MatchDeepseekCjk>,
                                             ApplyStage<MatchOneNumber>};
  static constexpr Stage kDeepseekV3[] = {ApplyStage<MatchUpToThreeNumbers>, ApplyStage<MatchKanjiKana>,
                                          ApplyStage<MatchDeepseekV3>};
  static constexpr Stage kBloom[] = {ApplyStage<MatchBloomWord>};
  static constexpr Stage kViking[] = {ApplyStage<MatchBloomWord>, ApplyStage<MatchOneNumber>};
  static constexpr Stage kTekken[] = {ApplyStage<MatchTekken>};
  static constexpr Stage kChameleon[] = {ApplyStage<MatchSentinel>,        ApplyStage<MatchImageToken>,
                                         ApplyStage<MatchChameleonSpacing>, ApplyStage<MatchOneNumber>,
                                         ApplyStage<MatchOnePunctuation>,   ApplyStage<MatchGpt2>};
  switch (rules) {
    case PreTokenizer::kDefault: return kDefault;
    case PreTokenizer::kGpt2:
    case PreTokenizer::kMpt: return kGpt2;
    case PreTokenizer::kLlama3: return kLlama3;
    case PreTokenizer::kQwen2: return kQwen2;
    case PreTokenizer::kStarCoder: return kStarCoder;
    case PreTokenizer::kDeepseekLlm: return kDeepseekLlm;
    case PreTokenizer::kDeepseekCoder: return kDeepseekCoder;
    case PreTokenizer::kFalcon: return kFalcon;
    case PreTokenizer::kDeepseekV3: return kDeepseekV3;
    case PreTokenizer::kBloom: return kBloom;
    case PreTokenizer::kViking: return kViking;
    case PreTokenizer::kTekken: return kTekken;
    case PreTokenizer::kChameleon: return kChameleon;
  }
  return kGpt2;
}

}  // namespace tinyrag::pretokenize_internal
