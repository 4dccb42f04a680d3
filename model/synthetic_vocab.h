// Synthetic tokenizer vocabularies of the real sizes and kinds, for generated
// models (tinyrag mkmodel): the real vocabularies cannot be downloaded here.
//
// The pieces are English-like (common words, then pseudo-words built from
// English syllables), so tokenizing English text gives multi-byte tokens. Every
// vocabulary is deterministic: it depends only on its parameters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/vocab.h"  // TokenType

namespace tinyrag {

struct SyntheticVocab {
  std::vector<std::string> tokens;  // distinct strings, in id order
  std::vector<int32_t> token_types;  // TokenType values, one per token
  std::vector<float> scores;         // SentencePiece only (empty otherwise)
  std::vector<std::string> merges;   // byte-level BPE only: "left right", rank order
};

struct SpecialToken {
  std::string text;
  TokenType type = TokenType::kControl;
};

// Layout of a byte-level BPE (tokenizer.ggml.model "gpt2") vocabulary:
// `leading` special tokens, then `normal` BPE tokens (the 256 byte symbols in
// GPT-2's byte-to-unicode order, then one token per merge), then `trailing`
// special tokens, then "[PAD<id>]" tokens of type unused up to `total`.
struct ByteBpeLayout {
  std::vector<SpecialToken> leading;
  int32_t normal = 0;  // >= 256
  std::vector<SpecialToken> trailing;
  int32_t total = 0;
};

// Every token after the byte symbols is the merge of two earlier tokens, and
// `merges` lists those merges in id order. Requires normal >= 256 and total >=
// the tokens laid out (checked by assert; the presets are fixed).
SyntheticVocab MakeByteBpeVocab(const ByteBpeLayout& layout);

// A SentencePiece BPE vocabulary (tokenizer.ggml.model "llama") of `total`
// tokens in the Llama 2 layout: <unk>, <s>, </s>, the 256 byte tokens <0xNN>,
// then pieces ("▁" marks a word start) with decreasing scores; every piece
// longer than one character is the concatenation of two earlier pieces.
SyntheticVocab MakeSentencePieceVocab(int32_t total);

// A WordPiece vocabulary (tokenizer.ggml.model "bert") of `total` tokens in
// the bert-base-uncased layout ([PAD]=0, [unused*], [UNK]=100, [CLS]=101,
// [SEP]=102, [MASK]=103, more [unused*] up to 998), in the GGUF convention:
// word-initial pieces start with "▁", continuation pieces have no "##".
SyntheticVocab MakeWordPieceVocab(int32_t total);

}  // namespace tinyrag
