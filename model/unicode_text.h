// Unicode helpers for the tokenizers: lenient UTF-8 decoding, code point
// classes and normalization. Categories, case mapping and NFD come from ICU,
// not hand-written tables. All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tinyrag::unicode {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Length of the UTF-8 sequence announced by `lead` (1 to 4). A continuation
// byte or an invalid lead byte counts as a sequence of length 1.
size_t Utf8SequenceLength(uint8_t lead);

// Decodes the code point starting at text[pos] (pos < text.size()) and stores
// the number of bytes it used in `*consumed` (always >= 1). A byte that does
// not start a complete, structurally valid sequence decodes to U+FFFD and
// consumes exactly that one byte, so decoding always makes progress.
char32_t DecodeUtf8(std::string_view text, size_t pos, size_t* consumed);

// Appends the UTF-8 encoding of `cp` to `out`; values that are not Unicode
// scalar values (surrogates, > U+10FFFF) are written as U+FFFD.
void AppendUtf8(char32_t cp, std::string& out);

// The code points of `text`, each invalid byte becoming U+FFFD.
std::u32string ToCodePoints(std::string_view text);
std::string ToUtf8(std::u32string_view cps);

// Canonical decomposition (NFD) by ICU. Returns the input unchanged if ICU
// reports an error (it only does so on allocation failure).
std::u32string NormalizeNfd(std::u32string_view cps);

// White space as BERT defines it: space, \t, \n, \r and category Zs.
bool IsBertWhitespace(char32_t cp);
// Control characters as BERT defines them: categories Cc, Cf, Cn, Co and Cs,
// except \t, \n and \r (which count as white space).
bool IsBertControl(char32_t cp);
// Punctuation as BERT defines it: every category P*, plus all ASCII
// non-alphanumeric printable characters ($, +, <, =, >, ^, `, |, ~ are S*).
bool IsBertPunctuation(char32_t cp);
// CJK ideographs (the "Chinese character" blocks of BERT's basic tokenizer).
bool IsCjkIdeograph(char32_t cp);
// Non-spacing combining mark (category Mn): what accent stripping removes.
bool IsNonSpacingMark(char32_t cp);
// Simple (one-to-one) lower-case mapping.
char32_t ToLower(char32_t cp);

}  // namespace tinyrag::unicode
