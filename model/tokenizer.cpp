#include "model/tokenizer.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "model/gguf.h"
#include "model/tokenizer_internal.h"

namespace tinyrag {
namespace {

// A stretch of the input: raw text still to tokenize, or a matched special token.
struct Fragment {
  TokenId token;  // kNoToken for raw text
  size_t offset;
  size_t length;
};

bool IsAsciiSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Splits the raw fragments of `fragments` around every occurrence of the
// special tokens' text, longest token first, as the reference runtime does:
// a longer token claims its text before a shorter one can. Tokens marked
// lstrip/rstrip swallow the ASCII white space next to them.
std::vector<Fragment> PartitionSpecial(const Vocab& vocab, std::string_view text, bool parse_special) {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({kNoToken, 0, text.size()});
  std::vector<Fragment> next;
  for (TokenId id : vocab.special_tokens_by_length()) {
    const uint32_t attrs = vocab.attrs(id);
    // Control and unknown tokens are plain text unless asked; user-defined
    // tokens are always matched.
    if (!parse_special && (attrs & (Vocab::kAttrControl | Vocab::kAttrUnknown))) continue;
    const std::string& special = vocab.text(id);
    bool any = false;
    next.clear();
    for (const Fragment& f : fragments) {
      if (f.token != kNoToken) {
        next.push_back(f);
        continue;
      }
      size_t begin = f.offset;
      size_t length = f.length;
      while (length > 0) {
        const size_t match = text.substr(begin, length).find(special);
        if (match == std::string_view::npos) break;
        any = true;
        size_t left_length = match;
        if (attrs & Vocab::kAttrLStrip) {
          while (left_length > 0 && IsAsciiSpace(text[begin + left_length - 1])) --left_length;
        }
        if (left_length > 0) next.push_back({kNoToken, begin, left_length});
        next.push_back({id, begin + match, special.size()});
        size_t right_begin = begin + match + special.size();
        size_t right_length = length - match - special.size();
        if (attrs & Vocab::kAttrRStrip) {
          while (right_length > 0 && IsAsciiSpace(text[right_begin])) {
            ++right_begin;
            --right_length;
          }
        }
        begin = right_begin;
        length = right_length;
      }
      if (length > 0) next.push_back({kNoToken, begin, length});
    }
    if (any) fragments.swap(next);
  }
  return fragments;
}

// Hugging Face's clean-up of tokenization spaces (the reference runtime
// applies an equivalent set of rules when decoding).
std::string CleanUpSpaces(std::string_view text) {
  static const std::vector<std::pair<absl::string_view, absl::string_view>> kRules = {
      {" .", "."},
      {" ?", "?"},
      {" !", "!"},
      {" ,", ","},
      {" ' ", "'"},
      {" n't", "n't"},
      {" 'm", "'m"},
      {" 's", "'s"},
      {" 've", "'ve"},
      {" 're", "'re"}};
  return absl::StrReplaceAll(absl::string_view(text.data(), text.size()), kRules);
}

}  // namespace

Tokenizer::Tokenizer(std::shared_ptr<const Vocab> vocab, std::unique_ptr<TokenizerModel> model)
    : vocab_(std::move(vocab)), model_(std::move(model)) {}

Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Create(std::shared_ptr<const Vocab> vocab) {
  if (vocab == nullptr) return absl::InvalidArgumentError("no vocabulary");
  std::unique_ptr<TokenizerModel> model;
  switch (vocab->kind()) {
    case TokenizerKind::kWordPiece:
      model = MakeWordPieceModel(*vocab);
      break;
    case TokenizerKind::kSentencePiece:
      model = MakeSentencePieceModel(*vocab);
      break;
    case TokenizerKind::kByteLevelBpe: {
      auto bpe = MakeByteLevelBpeModel(*vocab);
      if (!bpe.ok()) return bpe.status();
      model = std::move(*bpe);
      break;
    }
  }
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(vocab), std::move(model)));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const GgufFile& file) {
  auto vocab = Vocab::FromGguf(file);
  if (!vocab.ok()) return vocab.status();
  auto tokenizer = Create(*std::move(vocab));
  if (!tokenizer.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(file.path(), ": ", tokenizer.status().message()));
  }
  return tokenizer;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromGgufPath(const std::string& path) {
  auto file = GgufFile::Open(path);
  if (!file.ok()) return file.status();
  return FromGguf(**file);
}

std::vector<TokenId> Tokenizer::Encode(std::string_view text, const EncodeOptions& options) const {
  const Vocab& v = *vocab_;
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  const std::vector<Fragment> fragments = PartitionSpecial(v, text, options.parse_special);

  const bool wordpiece = v.kind() == TokenizerKind::kWordPiece;
  // BERT always frames with [CLS] ... [SEP]; the others follow add_bos/add_eos.
  if (options.add_special && (wordpiece || v.add_bos()) && v.bos() != kNoToken) out.push_back(v.bos());
  bool after_special = true;
  for (const Fragment& f : fragments) {
    if (f.token != kNoToken) {
      out.push_back(f.token);
      after_special = true;
    } else {
      model_->EncodeText(text.substr(f.offset, f.length), after_special, out);
      after_special = false;
    }
  }
  if (options.add_special) {
    if (wordpiece) {
      if (v.sep() != kNoToken) out.push_back(v.sep());
    } else if (v.add_eos() && v.eos() != kNoToken) {
      out.push_back(v.eos());
    }
  }
  return out;
}

std::string Tokenizer::TokenToPiece(TokenId id, bool render_special) const {
  if (id < 0 || id >= vocab_->size()) return "";
  const uint32_t attrs = vocab_->attrs(id);
  if (attrs & (Vocab::kAttrControl | Vocab::kAttrUnknown)) return render_special ? vocab_->text(id) : "";
  if (attrs & Vocab::kAttrUserDefined) return vocab_->text(id);
  if (attrs & (Vocab::kAttrNormal | Vocab::kAttrByte)) return model_->NormalPiece(id);
  return "";  // unused / undefined tokens print nothing, as in the reference runtime
}

std::string Tokenizer::Decode(std::span<const TokenId> ids, const DecodeOptions& options) const {
  // Only the tokenizer's own word-start space is removed: SentencePiece's
  // space prefix, or BERT's "▁" on the first word.
  bool strip_leading_space =
      vocab_->kind() == TokenizerKind::kWordPiece ||
      (vocab_->kind() == TokenizerKind::kSentencePiece && vocab_->add_space_prefix());
  std::string text;
  for (TokenId id : ids) {
    std::string piece = TokenToPiece(id, !options.skip_special);
    if (piece.empty()) continue;
    if (strip_leading_space && piece.front() == ' ') piece.erase(0, 1);
    strip_leading_space = false;
    text += piece;
  }
  if (options.clean_spaces && vocab_->clean_spaces()) return CleanUpSpaces(text);
  return text;
}

bool Tokenizer::IsEndOfGeneration(TokenId id) const {
  const auto& eog = vocab_->end_of_generation();
  return std::binary_search(eog.begin(), eog.end(), id);
}

namespace {

// Length of the valid UTF-8 sequence starting at s[0] (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF); 0 when s[0] can never start
// one or a later byte breaks it; -1 when `s` ends before the sequence is
// complete but everything so far is valid.
int ValidSequenceLength(std::string_view s) {
  const auto b0 = static_cast<uint8_t>(s[0]);
  if (b0 < 0x80) return 1;
  int len;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (int i = 1; i < len; ++i) {
    if (static_cast<size_t>(i) >= s.size()) return -1;
    const auto b = static_cast<uint8_t>(s[i]);
    if (i == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) return 0;
  }
  return len;
}

constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";

}  // namespace

std::string Utf8Stream::Push(std::string_view bytes) {
  pending_.append(bytes);
  std::string out;
  std::string_view rest = pending_;
  while (!rest.empty()) {
    const int len = ValidSequenceLength(rest);
    if (len < 0) break;  // incomplete: wait for more bytes
    if (len == 0) {
      out.append(kReplacementUtf8);
      rest.remove_prefix(1);
    } else {
      out.append(rest.substr(0, static_cast<size_t>(len)));
      rest.remove_prefix(static_cast<size_t>(len));
    }
  }
  pending_ = std::string(rest);
  return out;
}

std::string Utf8Stream::Finish() {
  std::string out = pending_.empty() ? "" : std::string(kReplacementUtf8);
  pending_.clear();
  return out;
}

}  // namespace tinyrag
