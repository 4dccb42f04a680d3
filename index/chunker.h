// Chunking on the encoder's own tokens.
//
// A document's sections are cut into chunks of at most `target_tokens` tokens
// (as the encoder's tokenizer counts them), preferring, in order: paragraph
// boundaries, sentence boundaries (ICU's sentence rules), word boundaries,
// and only inside a single huge word, character boundaries. Consecutive
// chunks of a section share up to `overlap_tokens` tokens of whole sentences.
// A chunk never spans two sections, so its heading path is exact.
//
// What is embedded is EmbedText(title, heading path, chunk text): the title
// and the heading path are prepended so that a passage deep in a manual still
// says what it is about. The limit applies to that whole text: with the
// model's special tokens ([CLS] ... [SEP]) it never exceeds `max_model_tokens`,
// so the encoder never truncates a chunk.
//
// Output is a pure function of the input and the options: deterministic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "index/extract.h"
#include "model/tokenizer.h"

namespace tinyrag {

namespace chunker_internal {
class Breaks;  // ICU break iterators (chunker.cpp)
}  // namespace chunker_internal

// How many tokens a text costs. Implementations must be thread-safe when the
// Chunker using them is shared by threads.
class TokenCounter {
 public:
  virtual ~TokenCounter() = default;
  // Tokens of `text` without any special token.
  virtual int64_t CountTokens(std::string_view text) const = 0;
  // Special tokens the model adds around every text ([CLS] and [SEP]: 2).
  virtual int64_t SpecialTokens() const = 0;
};

// Counts with a model's tokenizer (not owned: it must outlive the counter).
// Thread-safe, as Tokenizer is.
class TokenizerTokenCounter final : public TokenCounter {
 public:
  explicit TokenizerTokenCounter(const Tokenizer& tokenizer);
  int64_t CountTokens(std::string_view text) const override;
  int64_t SpecialTokens() const override { return special_tokens_; }

 private:
  const Tokenizer& tokenizer_;
  int64_t special_tokens_;
};

struct ChunkerOptions {
  // Tokens of chunk text (title and headings not counted) to aim for.
  int64_t target_tokens = 200;
  // Tokens of whole sentences repeated from the end of the previous chunk.
  // Must be less than target_tokens; 0 disables overlap.
  int64_t overlap_tokens = 30;
  // The encoder's maximum sequence length, special tokens included
  // (EncoderInfo::max_seq_len); 0 means no model limit.
  int64_t max_model_tokens = 0;
  // The prepended title and heading path may take at most this many tokens
  // (and never more than half of the model limit); longer ones are cut.
  int64_t max_context_tokens = 64;
};

struct Chunk {
  int64_t position = 0;                   // 0, 1, 2 ... in document order
  int64_t section = 0;                    // index into Document::sections
  std::vector<std::string> heading_path;  // the section's heading path
  std::string text;                       // the passage, a slice of the section text
  int64_t token_count = 0;                // tokens of `text`, no special tokens
  std::string embed_text;                 // EmbedText(title, heading path, text), possibly with the context cut
  int64_t embed_token_count = 0;          // tokens of `embed_text` plus the special tokens
  size_t byte_begin = 0;                  // [byte_begin, byte_end) of `text` in the section text
  size_t byte_end = 0;
};

// Title, heading path and text as one string to embed:
// "Title\nInstall > Linux\n\ntext". A first heading equal to the title is not
// repeated; empty parts are left out.
std::string EmbedText(std::string_view title, const std::vector<std::string>& heading_path, std::string_view text);

class Chunker {
 public:
  // InvalidArgument when target_tokens < 8, overlap_tokens is negative or not
  // below target_tokens, max_context_tokens is negative, or max_model_tokens
  // leaves fewer than 16 tokens for text. `counter` is not owned and must
  // outlive the Chunker.
  static absl::StatusOr<Chunker> Create(const TokenCounter& counter, const ChunkerOptions& options = {});

  // The chunks of `doc`, positions numbered from 0; empty when every section
  // is blank. Internal when ICU cannot create its break iterators. Thread-safe.
  absl::StatusOr<std::vector<Chunk>> ChunkDocument(const Document& doc) const;

  // The chunks of one section's text (section index 0); `first_position` is
  // the position of the first chunk. Same errors as ChunkDocument.
  absl::StatusOr<std::vector<Chunk>> ChunkSection(std::string_view title, const std::vector<std::string>& heading_path,
                                                  std::string_view text, int64_t first_position = 0) const;

  const ChunkerOptions& options() const { return options_; }

 private:
  Chunker(const TokenCounter& counter, const ChunkerOptions& options) : counter_(&counter), options_(options) {}
  std::vector<Chunk> ChunkWith(const chunker_internal::Breaks& breaks, std::string_view title,
                               const std::vector<std::string>& heading_path, std::string_view text,
                               int64_t first_position) const;

  const TokenCounter* counter_;
  ChunkerOptions options_;
};

}  // namespace tinyrag
