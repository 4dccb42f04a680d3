// Tokenizers: text <-> token ids for WordPiece (BERT), SentencePiece-style
// BPE (Llama 2) and byte-level BPE (GPT-2, Llama 3, Qwen2, ...), agreeing id
// for id with the reference runtime (llama.cpp).
//
// A Tokenizer is an immutable vocabulary plus the algorithm; every call keeps
// its working state on its own stack, so one Tokenizer is shared by all
// request threads without locks: all const methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/vocab.h"

namespace tinyrag {

class GgufFile;
class TokenizerModel;  // the per-kind algorithm (tokenizer_internal.h)

struct EncodeOptions {
  // Add the model's special tokens: BOS/EOS as the metadata says (BOS by
  // default for SentencePiece), [CLS] ... [SEP] for BERT.
  bool add_special = false;
  // Recognize the text of control tokens (<|im_start|>, [MASK], <s>, ...) in
  // the input and emit their ids. User-defined tokens are always recognized.
  bool parse_special = false;
};

struct DecodeOptions {
  // Drop control/unknown tokens (BOS, EOS, [CLS], ...) from the text;
  // when false their text is written out.
  bool skip_special = true;
  // Apply the model's clean-up of spaces before punctuation (" ." -> ".")
  // when its vocabulary asks for it (BERT, GPT-2 family).
  bool clean_spaces = true;
};

class Tokenizer {
 public:
  // Builds the tokenizer stored in a GGUF model or vocabulary-only file.
  // Errors (InvalidArgument) name the file and the missing or bad key; an
  // unknown tokenizer.ggml.pre is an error listing the supported names.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromGguf(const GgufFile& file);
  // Opens `path` and builds its tokenizer (convenience for the CLI and tools).
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromGgufPath(const std::string& path);
  // Builds a tokenizer over an existing vocabulary (shared, never modified).
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Create(std::shared_ptr<const Vocab> vocab);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  const Vocab& vocab() const { return *vocab_; }
  TokenizerKind kind() const { return vocab_->kind(); }

  // Token ids of `text` (any bytes: invalid UTF-8 is handled, never rejected).
  // Thread-safe.
  std::vector<TokenId> Encode(std::string_view text, const EncodeOptions& options = {}) const;

  // The bytes a token stands for, as generation prints it token by token:
  // "▁the" -> " the", <0x0A> -> "\n", byte-level "Ġthe" -> " the", BERT
  // continuation "ing" -> "ing". Control/unknown tokens give their text when
  // `render_special`, else "". An id outside the vocabulary gives "".
  // The piece may end inside a UTF-8 sequence (use Utf8Stream). Thread-safe.
  std::string TokenToPiece(TokenId id, bool render_special = false) const;

  // The text of a whole sequence: pieces joined, then the single leading space
  // the tokenizer itself introduced removed (SentencePiece space prefix, BERT
  // word start), then optional space clean-up. Invalid ids are skipped. Bytes
  // that do not form valid UTF-8 are kept as they are. Thread-safe.
  std::string Decode(std::span<const TokenId> ids, const DecodeOptions& options = {}) const;

  // True for tokens that end generation (EOS, EOT, <|im_end|>, ...).
  bool IsEndOfGeneration(TokenId id) const;

 private:
  Tokenizer(std::shared_ptr<const Vocab> vocab, std::unique_ptr<TokenizerModel> model);

  std::shared_ptr<const Vocab> vocab_;
  std::unique_ptr<TokenizerModel> model_;
};

// Turns a stream of token pieces into text that only ever contains complete
// UTF-8 sequences: a multi-byte character split across tokens is held back
// until its last byte arrives. A byte that can never become part of a valid
// sequence is emitted as U+FFFD right away, so an invalid stream never stalls.
// One object per stream; not thread-safe (use one per request).
class Utf8Stream {
 public:
  // Appends `bytes` and returns the longest complete prefix not yet returned.
  std::string Push(std::string_view bytes);
  // Ends the stream: returns what is held back, an incomplete tail becoming U+FFFD.
  std::string Finish();
  // Bytes currently held back (0 to 3).
  size_t pending() const { return pending_.size(); }

 private:
  std::string pending_;
};

}  // namespace tinyrag
