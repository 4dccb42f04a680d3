// The immutable vocabulary of a tokenizer, built from GGUF metadata (or, for
// WordPiece, from a Hugging Face vocab.txt): token strings, scores, types,
// BPE merge ranks, special token ids and the flags that steer tokenization.
// Once built a Vocab never changes, so any number of threads may read it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"

namespace tinyrag {

class GgufFile;

using TokenId = int32_t;
inline constexpr TokenId kNoToken = -1;

enum class TokenizerKind {
  kWordPiece,      // tokenizer.ggml.model = "bert"
  kSentencePiece,  // "llama": SentencePiece-style BPE driven by scores, byte fallback
  kByteLevelBpe,   // "gpt2": GPT-2 byte-to-unicode mapping, merges by rank
};
std::string_view TokenizerKindName(TokenizerKind kind);

// GGUF token types (tokenizer.ggml.token_type); on-disk values, never renumber.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Everything needed to build a vocabulary. Fields left empty/unset take the
// defaults of the reference runtime for the kind (see Vocab::Create).
struct VocabSpec {
  TokenizerKind kind = TokenizerKind::kSentencePiece;
  std::string pre;                  // tokenizer.ggml.pre ("" = absent)
  std::string model_name;           // general.name (a few models get token attributes by name)
  std::vector<std::string> tokens;  // id -> text, in the stored form (▁ for spaces in SPM/BERT)
  std::vector<float> scores;        // empty, or one per token
  std::vector<TokenType> types;     // empty (all normal), or one per token
  std::vector<std::string> merges;  // byte-level BPE: "left right", rank = index
  std::optional<TokenId> bos, eos, unk, sep, pad, cls, mask, eot, eom;
  std::optional<TokenId> fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
  std::optional<bool> add_bos, add_eos, add_space_prefix;
};

class Vocab {
 public:
  // Attribute bits per token (derived from the GGUF type plus per-model rules).
  enum Attr : uint32_t {
    kAttrNormal = 1u << 0,
    kAttrUnknown = 1u << 1,
    kAttrControl = 1u << 2,
    kAttrUserDefined = 1u << 3,
    kAttrUnused = 1u << 4,
    kAttrByte = 1u << 5,
    kAttrLStrip = 1u << 6,  // swallow white space before the token's text when matched
    kAttrRStrip = 1u << 7,  // ... and after it
  };

  // Validates `spec` (sizes of scores/types, special ids in range, non-empty
  // tokens, well-formed merges) and builds the lookup tables. Special ids out
  // of range are ignored in favour of the kind's default, as the reference
  // runtime does. InvalidArgument on anything else that is malformed.
  static absl::StatusOr<std::shared_ptr<const Vocab>> Create(VocabSpec spec);

  // Reads tokenizer.ggml.* and general.name from `file`. InvalidArgument names
  // the missing or malformed key; an unsupported tokenizer.ggml.model is an
  // error listing the supported ones.
  static absl::StatusOr<std::shared_ptr<const Vocab>> FromGguf(const GgufFile& file);

  // Builds a WordPiece vocabulary from the lines of a Hugging Face vocab.txt
  // (one token per line, id = line number): "the" is stored as "▁the", "##h"
  // as "h", "[CLS]"-style bracketed tokens unchanged — the same form the GGUF
  // converter writes, so ids and behaviour match a GGUF of the same model.
  // [PAD] [UNK] [CLS] [SEP] [MASK] become control tokens and special ids.
  static absl::StatusOr<std::shared_ptr<const Vocab>> FromWordPieceVocabTxt(
      const std::vector<std::string>& lines);

  TokenizerKind kind() const { return kind_; }
  const std::string& pre() const { return pre_; }
  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }

  // Token text in stored form; `id` must be in [0, size()).
  const std::string& text(TokenId id) const { return tokens_[id]; }
  float score(TokenId id) const { return scores_.empty() ? 0.0f : scores_[id]; }
  uint32_t attrs(TokenId id) const { return attrs_[id]; }
  bool is_control(TokenId id) const { return (attrs_[id] & kAttrControl) != 0; }

  // The id of a token with exactly this text, or kNoToken.
  TokenId Find(std::string_view text) const;
  // Byte-level BPE merge rule: its rank (lower merges first) and the id of
  // the merged text (kNoToken when the merged text is not a token).
  struct Merge {
    int32_t rank = -1;
    TokenId merged = kNoToken;
  };
  // The merge of two tokens, or nullopt when there is no such rule. Fast path.
  std::optional<Merge> MergeOfTokens(TokenId left, TokenId right) const;
  // The merge of two texts, at least one of which is not a token (rare:
  // only rules naming non-token pieces). Uses `scratch` as a key buffer.
  std::optional<Merge> MergeOfTexts(std::string_view left, std::string_view right, std::string& scratch) const;
  // True when some merge rule names a piece that is not a token.
  bool has_text_merges() const { return !text_merges_.empty(); }
  // SentencePiece: the <0xNN> token of `byte`, or kNoToken.
  TokenId ByteToken(uint8_t byte) const { return byte_tokens_[byte]; }
  // Length in bytes of the longest token text.
  size_t max_token_bytes() const { return max_token_bytes_; }

  // Special ids (kNoToken when the model has none).
  TokenId bos() const { return bos_; }
  TokenId eos() const { return eos_; }
  TokenId unk() const { return unk_; }
  TokenId sep() const { return sep_; }
  TokenId pad() const { return pad_; }
  TokenId mask() const { return mask_; }
  TokenId eot() const { return eot_; }
  // Tokens that end generation (EOS, EOT, <|im_end|>, ...), sorted.
  const std::vector<TokenId>& end_of_generation() const { return eog_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  // Byte-level BPE: a word that is itself a token skips the merges (Llama 3).
  bool ignore_merges() const { return ignore_merges_; }
  // Decoding removes the space before . , ! ? and some contractions.
  bool clean_spaces() const { return clean_spaces_; }
  // SentencePiece: no token has a ▁ right after another character, so no
  // merge can cross the start of a ▁-prefixed word and text may be encoded
  // word by word with the same result (true for Llama/Phi-3 vocabularies).
  bool words_are_independent() const { return words_are_independent_; }

  // Control, user-defined and unknown tokens whose text is matched in raw
  // input, longest text first (ties by id).
  const std::vector<TokenId>& special_tokens_by_length() const { return special_by_length_; }

 private:
  Vocab() = default;
  Vocab(const Vocab&) = delete;  // token_to_id_ views tokens_
  Vocab& operator=(const Vocab&) = delete;

  TokenizerKind kind_ = TokenizerKind::kSentencePiece;
  std::string pre_;
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<uint32_t> attrs_;
  // Keys view the strings of tokens_ (no second copy of every token).
  absl::flat_hash_map<absl::string_view, TokenId> token_to_id_;
  // Merge rules by (left id << 32 | right id); rules naming a non-token piece
  // are kept by their text "left right" instead.
  absl::flat_hash_map<uint64_t, Merge> token_merges_;
  absl::flat_hash_map<std::string, Merge> text_merges_;
  TokenId byte_tokens_[256];
  size_t max_token_bytes_ = 0;
  TokenId bos_ = kNoToken, eos_ = kNoToken, unk_ = kNoToken, sep_ = kNoToken;
  TokenId pad_ = kNoToken, mask_ = kNoToken, eot_ = kNoToken;
  std::vector<TokenId> eog_;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
  bool ignore_merges_ = false, clean_spaces_ = false, words_are_independent_ = false;
  std::vector<TokenId> special_by_length_;
};

}  // namespace tinyrag
