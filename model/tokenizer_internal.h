// Private to the tokenizer: the per-kind algorithms behind model/tokenizer.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/vocab.h"

namespace tinyrag {

// One tokenization scheme over a vocabulary that outlives it. Immutable after
// construction: every method is const and keeps its state on the stack.
class TokenizerModel {
 public:
  virtual ~TokenizerModel() = default;
  // Appends the ids of `text`, a stretch of raw input between special tokens.
  // `after_special` is true at the start of the input and right after a
  // special token (SentencePiece adds its space prefix there).
  virtual void EncodeText(std::string_view text, bool after_special, std::vector<TokenId>& out) const = 0;
  // The bytes of a normal or byte token (special tokens are handled by the caller).
  virtual std::string NormalPiece(TokenId id) const = 0;
};

std::unique_ptr<TokenizerModel> MakeWordPieceModel(const Vocab& vocab);
std::unique_ptr<TokenizerModel> MakeSentencePieceModel(const Vocab& vocab);
// Fails when the vocabulary's pre-tokenizer name is unknown.
absl::StatusOr<std::unique_ptr<TokenizerModel>> MakeByteLevelBpeModel(const Vocab& vocab);

// Length of the character starting with `lead`, judged by its high nibble
// only (0xF0-0xFF count as 4). The reference runtime splits BPE symbols this
// way, so invalid input splits the same way too.
inline size_t SymbolLength(uint8_t lead) {
  static constexpr uint8_t kByNibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kByNibble[lead >> 4];
}

// A piece of text in a merge session: text[offset, offset + size), linked to
// its live neighbours (-1 at the ends). size 0 marks a symbol merged away.
struct MergeSymbol {
  int32_t prev;
  int32_t next;
  uint32_t offset;
  uint32_t size;
};

}  // namespace tinyrag
