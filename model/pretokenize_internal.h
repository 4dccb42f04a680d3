// Internals shared by the pre-tokenizer's files (pretokenize.cpp decodes and
// classifies the text; pretokenize_rules.cpp holds each rule set's matchers).
// Not part of the public contract: include model/pretokenize.h instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "model/pretokenize.h"

namespace tinyrag::pretokenize_internal {

// Per-code-point class bits, with the reference's meaning of the regex
// classes: \p{L}, \p{N}, \p{P}, \p{S}, \p{M} are the Unicode general
// categories L*, N*, P*, S*, M*, except that ASCII '~' is not \p{S} (the
// reference spells ASCII symbols as the list $+<=>^`|); \s is the White_Space
// property, which never overlaps the others. "Other" = not letter, number or
// space.
enum : uint8_t {
  kLetter = 1,
  kNumber = 2,
  kSpace = 4,
  kPunct = 8,
  kSymbol = 16,
  kMark = 32,
};

// The text as code points, with the class of each and the byte offset where
// each starts (plus one final entry: the text's size).
struct Decoded {
  std::vector<uint32_t> cps;
  std::vector<uint8_t> cls;
  std::vector<size_t> offsets;
};

// A piece as a half-open range of code point indices.
struct Span {
  size_t begin;
  size_t end;
};

// One expression of a rule set: splits every piece of `in` into `out` (the
// matches and the text between them, in order).
using Stage = void (*)(const Decoded& d, const std::vector<Span>& in, std::vector<Span>& out);

// The stages of a rule set, in the reference's order. Never empty.
std::span<const Stage> StagesOf(PreTokenizer rules);

}  // namespace tinyrag::pretokenize_internal
