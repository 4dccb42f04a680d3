// SentencePiece-style BPE (tokenizer.ggml.model = "llama"): spaces become ▁,
// then adjacent symbols are merged best-score-first as long as the merged
// text is a vocabulary token; symbols left without a token fall back to
// <0xNN> byte tokens (or the unknown token when the vocabulary has none).
#include <algorithm>

#include "model/tokenizer_internal.h"

namespace tinyrag {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581
// Without independent words, fragments longer than this are encoded in
// consecutive chunks so symbol offsets fit in 32 bits (far beyond any real
// request).
constexpr size_t kMaxChunk = size_t{1} << 30;

struct Bigram {
  int32_t left;
  int32_t right;
  float score;
  uint32_t size;
};

// Highest score first; on a tie, the leftmost pair first.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

class SentencePieceModel final : public TokenizerModel {
 public:
  explicit SentencePieceModel(const Vocab& vocab) : vocab_(vocab) {}

  void EncodeText(std::string_view text, bool after_special, std::vector<TokenId>& out) const override {
    std::string escaped;
    escaped.reserve(text.size() + text.size() / 4 + 3);
    if (vocab_.add_space_prefix() && after_special) escaped.append(kSpaceMark);
    for (char c : text) {
      if (c == ' ') {
        escaped.append(kSpaceMark);
      } else {
        escaped.push_back(c);
      }
    }
    Scratch scratch;
    if (vocab_.words_are_independent()) {
      // Encode word by word (each word starts at a ▁ that follows other
      // text): same result, but small heaps that stay in cache.
      size_t start = 0;
      for (size_t at = escaped.find(kSpaceMark, 1); at != std::string::npos;
           at = escaped.find(kSpaceMark, at + kSpaceMark.size())) {
        const bool after_mark = at >= kSpaceMark.size() + start &&
                                escaped.compare(at - kSpaceMark.size(), kSpaceMark.size(), kSpaceMark) == 0;
        if (at > start && !after_mark) {
          EncodeEscaped(std::string_view(escaped).substr(start, at - start), scratch, out);
          start = at;
        }
      }
      EncodeEscaped(std::string_view(escaped).substr(start), scratch, out);
      return;
    }
    std::string_view rest = escaped;
    while (!rest.empty()) {
      size_t n = std::min(rest.size(), kMaxChunk);
      while (n < rest.size() && (static_cast<uint8_t>(rest[n]) & 0xC0) == 0x80) --n;
      EncodeEscaped(rest.substr(0, n), scratch, out);
      rest.remove_prefix(n);
    }
  }

  std::string NormalPiece(TokenId id) const override {
    if (vocab_.attrs(id) & Vocab::kAttrByte) {
      const std::string& t = vocab_.text(id);  // "<0xNN>"
      if (t.size() == 6) {
        unsigned value = 0;
        for (char c : t.substr(3, 2)) {
          value = value * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        return std::string(1, static_cast<char>(value & 0xFF));
      }
    }
    std::string piece;
    std::string_view t = vocab_.text(id);
    size_t pos = 0;
    while (pos < t.size()) {
      if (t.compare(pos, kSpaceMark.size(), kSpaceMark) == 0) {
        piece.push_back(' ');
        pos += kSpaceMark.size();
      } else {
        piece.push_back(t[pos++]);
      }
    }
    return piece;
  }

 private:
  // Working memory reused across the words of one call.
  struct Scratch {
    std::vector<MergeSymbol> symbols;
    std::vector<Bigram> heap;
  };

  void EncodeEscaped(std::string_view text, Scratch& scratch, std::vector<TokenId>& out) const {
    std::vector<MergeSymbol>& symbols = scratch.symbols;
    symbols.clear();
    for (size_t offs = 0; offs < text.size();) {
      const uint32_t len = static_cast<uint32_t>(std::min(SymbolLength(text[offs]), text.size() - offs));
      const int32_t index = static_cast<int32_t>(symbols.size());
      symbols.push_back({index - 1, offs + len == text.size() ? -1 : index + 1,
                         static_cast<uint32_t>(offs), len});
      offs += len;
    }

    std::vector<Bigram>& heap = scratch.heap;  // a binary heap, best pair at the front
    heap.clear();
    auto try_add = [&](int32_t left, int32_t right) {
      if (left < 0 || right < 0) return;
      const uint32_t size = symbols[left].size + symbols[right].size;
      const TokenId id = vocab_.Find(text.substr(symbols[left].offset, size));
      if (id == kNoToken) return;
      heap.push_back({left, right, vocab_.score(id), size});
      std::push_heap(heap.begin(), heap.end(), BigramOrder{});
    };
    for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), BigramOrder{});
      const Bigram b = heap.back();
      heap.pop_back();
      MergeSymbol& left = symbols[b.left];
      MergeSymbol& right = symbols[b.right];
      // Stale entry: one side was merged into something else meanwhile.
      if (left.size == 0 || right.size == 0 || left.size + right.size != b.size) continue;
      left.size += right.size;
      right.size = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = b.left;
      try_add(left.prev, b.left);
      try_add(b.left, left.next);
    }

    for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
      const std::string_view piece = text.substr(symbols[i].offset, symbols[i].size);
      const TokenId id = vocab_.Find(piece);
      if (id != kNoToken) {
        out.push_back(id);
        continue;
      }
      // Byte fallback; a vocabulary without the needed <0xNN> tokens gives
      // one unknown token for the whole symbol instead.
      const bool all_bytes = std::all_of(piece.begin(), piece.end(), [&](char c) {
        return vocab_.ByteToken(static_cast<uint8_t>(c)) != kNoToken;
      });
      if (all_bytes) {
        for (char c : piece) out.push_back(vocab_.ByteToken(static_cast<uint8_t>(c)));
      } else if (vocab_.unk() != kNoToken) {
        out.push_back(vocab_.unk());
      }
    }
  }

  const Vocab& vocab_;
};

}  // namespace

std::unique_ptr<TokenizerModel> MakeSentencePieceModel(const Vocab& vocab) {
  return std::make_unique<SentencePieceModel>(vocab);
}

}  // namespace tinyrag
