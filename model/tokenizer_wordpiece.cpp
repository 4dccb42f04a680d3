// WordPiece (tokenizer.ggml.model = "bert"): BERT's basic tokenization, then
// greedy longest-match-first word pieces.
//
// Basic tokenization, as Hugging Face's BertTokenizer (lower-casing) does it:
// drop NUL, U+FFFD and control characters; white space separates words;
// lower-case, decompose (NFD) and drop non-spacing marks (accent stripping);
// every punctuation character and every CJK ideograph is a word of its own.
//
// The vocabulary is in the GGUF form: a word-initial piece is stored as
// "▁the", a continuation piece without "##" ("ing").
#include <algorithm>

#include "model/tokenizer_internal.h"
#include "model/unicode_text.h"

namespace tinyrag {
namespace {

constexpr std::string_view kWordStart = "\xE2\x96\x81";  // U+2581
// Words longer than this (in code points) become [UNK], as in BERT.
constexpr size_t kMaxWordChars = 100;

class WordPieceModel final : public TokenizerModel {
 public:
  explicit WordPieceModel(const Vocab& vocab) : vocab_(vocab) {}

  void EncodeText(std::string_view text, bool /*after_special*/, std::vector<TokenId>& out) const override {
    const std::u32string normalized = Normalize(text);
    std::string word(kWordStart);  // "▁" + the current word's UTF-8
    size_t word_chars = 0;
    auto flush = [&] {
      if (word_chars > 0) EncodeWord(word, word_chars, out);
      word.resize(kWordStart.size());
      word_chars = 0;
    };
    for (char32_t cp : normalized) {
      if (unicode::IsBertWhitespace(cp)) {
        flush();
      } else if (unicode::IsBertPunctuation(cp) || unicode::IsCjkIdeograph(cp)) {
        flush();
        unicode::AppendUtf8(cp, word);
        word_chars = 1;
        flush();
      } else {
        unicode::AppendUtf8(cp, word);
        ++word_chars;
      }
    }
    flush();
  }

  std::string NormalPiece(TokenId id) const override {
    std::string_view t = vocab_.text(id);
    if (t.substr(0, kWordStart.size()) != kWordStart) return std::string(t);
    std::string piece(1, ' ');
    piece.append(t.substr(kWordStart.size()));
    return piece;
  }

 private:
  // Cleans, lower-cases and strips accents; white space is kept (as is) to
  // separate words.
  static std::u32string Normalize(std::string_view text) {
    std::u32string cps;
    cps.reserve(text.size());
    bool ascii = true;
    for (size_t pos = 0; pos < text.size();) {
      size_t n = 0;
      char32_t cp = unicode::DecodeUtf8(text, pos, &n);
      pos += n;
      if (cp == 0 || cp == unicode::kReplacementChar || unicode::IsBertControl(cp)) continue;
      if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
      } else {
        ascii = false;
        cp = unicode::ToLower(cp);
      }
      cps.push_back(cp);
    }
    if (ascii) return cps;  // nothing to decompose: skip ICU on the common path
    std::u32string decomposed = unicode::NormalizeNfd(cps);
    decomposed.erase(std::remove_if(decomposed.begin(), decomposed.end(), unicode::IsNonSpacingMark),
                     decomposed.end());
    return decomposed;
  }

  // `word` is "▁" followed by the word's UTF-8 (`chars` code points).
  void EncodeWord(std::string_view word, size_t chars, std::vector<TokenId>& out) const {
    const size_t first = out.size();
    if (chars <= kMaxWordChars) {
      const size_t prefix = kWordStart.size();
      const size_t len = word.size() - prefix;  // bytes of the word itself
      size_t start = 0;
      while (start < len) {
        // Word-initial pieces carry the ▁ marker; continuations do not.
        const size_t piece_begin = start == 0 ? 0 : prefix + start;
        size_t end = std::min(len, start + vocab_.max_token_bytes());
        TokenId found = kNoToken;
        for (; end > start; --end) {
          if (end < len && (static_cast<uint8_t>(word[prefix + end]) & 0xC0) == 0x80) continue;
          found = vocab_.Find(word.substr(piece_begin, prefix + end - piece_begin));
          if (found != kNoToken) break;
        }
        if (found == kNoToken) {
          out.resize(first);  // no segmentation: the whole word is unknown
          break;
        }
        out.push_back(found);
        start = end;
      }
      if (out.size() > first) return;
    }
    if (vocab_.unk() != kNoToken) out.push_back(vocab_.unk());
  }

  const Vocab& vocab_;
};

}  // namespace

std::unique_ptr<TokenizerModel> MakeWordPieceModel(const Vocab& vocab) {
  return std::make_unique<WordPieceModel>(vocab);
}

}  // namespace tinyrag
