// Byte-level BPE (tokenizer.ggml.model = "gpt2"): the pre-tokenizer named by
// tokenizer.ggml.pre splits the text into words; each word's bytes are mapped
// to printable code points (GPT-2's byte-to-unicode table) and adjacent
// symbols are merged lowest-rank-first following tokenizer.ggml.merges.
// No cache: each call works on its own stack, so Encode stays lock-free.
#include <algorithm>
#include <array>

#include "model/pretokenize.h"
#include "model/tokenizer_internal.h"
#include "model/unicode_text.h"

namespace tinyrag {
namespace {

struct Bigram {
  int32_t left;
  int32_t right;
  int32_t rank;
  uint32_t left_size;
  uint32_t right_size;
};

// Lowest rank first; on a tie, the leftmost pair first.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

// GPT-2's reversible byte <-> code point mapping: printable Latin-1 bytes map
// to themselves, the other 68 bytes to U+0100 onwards, in byte order.
struct ByteMapping {
  std::array<std::string, 256> byte_to_utf8;
  std::array<int16_t, 0x200> cp_to_byte;  // -1: not a mapped code point

  ByteMapping() {
    cp_to_byte.fill(-1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(next++);
      unicode::AppendUtf8(cp, byte_to_utf8[b]);
      cp_to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteMapping& Mapping() {
  static const ByteMapping mapping;
  return mapping;
}

class ByteLevelBpeModel final : public TokenizerModel {
 public:
  ByteLevelBpeModel(const Vocab& vocab, PreTokenizer rules) : vocab_(vocab), rules_(rules) {}

  void EncodeText(std::string_view text, bool /*after_special*/, std::vector<TokenId>& out) const override {
    const ByteMapping& mapping = Mapping();
    // Scratch reused across the words of this call.
    std::string mapped;
    std::string key;
    std::vector<MergeSymbol> symbols;
    std::vector<Bigram> storage;

    for (std::string_view word : PreTokenize(rules_, text)) {
      mapped.clear();
      for (size_t pos = 0; pos < word.size();) {
        size_t n = 0;
        const char32_t cp = unicode::DecodeUtf8(word, pos, &n);
        // The reference runtime replaces each invalid byte by U+FFFD before
        // mapping; valid characters keep their bytes.
        const std::string_view bytes =
            (cp == unicode::kReplacementChar && n == 1) ? std::string_view("\xEF\xBF\xBD") : word.substr(pos, n);
        for (char c : bytes) mapped.append(mapping.byte_to_utf8[static_cast<uint8_t>(c)]);
        pos += n;
      }
      if (vocab_.ignore_merges()) {
        if (const TokenId id = vocab_.Find(mapped); id != kNoToken) {
          out.push_back(id);
          continue;
        }
      }
      MergeWord(mapped, key, symbols, storage, out);
    }
  }

  std::string NormalPiece(TokenId id) const override {
    const ByteMapping& mapping = Mapping();
    const std::string& t = vocab_.text(id);
    std::string piece;
    piece.reserve(t.size());
    for (size_t pos = 0; pos < t.size();) {
      size_t n = 0;
      const char32_t cp = unicode::DecodeUtf8(t, pos, &n);
      if (cp < mapping.cp_to_byte.size() && mapping.cp_to_byte[cp] >= 0) {
        piece.push_back(static_cast<char>(mapping.cp_to_byte[cp]));
      } else {
        piece.append(t, pos, n);  // not a mapped byte: keep the text as stored
      }
      pos += n;
    }
    return piece;
  }

 private:
  void MergeWord(std::string_view word, std::string& key, std::vector<MergeSymbol>& symbols,
                 std::vector<Bigram>& storage, std::vector<TokenId>& out) const {
    symbols.clear();
    for (size_t offs = 0; offs < word.size();) {
      const uint32_t len = static_cast<uint32_t>(std::min(SymbolLength(word[offs]), word.size() - offs));
      const int32_t index = static_cast<int32_t>(symbols.size());
      symbols.push_back({index - 1, offs + len == word.size() ? -1 : index + 1, static_cast<uint32_t>(offs), len});
      offs += len;
    }
    // A binary heap kept in `storage` so its capacity is reused across words.
    std::vector<Bigram>& heap = storage;
    heap.clear();
    auto try_add = [&](int32_t left, int32_t right) {
      if (left < 0 || right < 0) return;
      const MergeSymbol& l = symbols[left];
      const MergeSymbol& r = symbols[right];
      const int32_t rank = vocab_.MergeRank(word.substr(l.offset, l.size), word.substr(r.offset, r.size), key);
      if (rank < 0) return;
      heap.push_back({left, right, rank, l.size, r.size});
      std::push_heap(heap.begin(), heap.end(), BigramOrder{});
    };
    for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), BigramOrder{});
      const Bigram b = heap.back();
      heap.pop_back();
      MergeSymbol& left = symbols[b.left];
      MergeSymbol& right = symbols[b.right];
      // Stale entry: either side changed since the pair was queued.
      if (left.size != b.left_size || right.size != b.right_size || left.next != b.right) continue;
      left.size += right.size;
      right.size = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = b.left;
      try_add(left.prev, b.left);
      try_add(b.left, left.next);
    }

    for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
      const std::string_view piece = word.substr(symbols[i].offset, symbols[i].size);
      const TokenId id = vocab_.Find(piece);
      if (id != kNoToken) {
        out.push_back(id);
        continue;
      }
      // No token for the symbol: emit whichever of its single bytes are
      // tokens (what the reference runtime does; it drops the rest).
      for (char c : piece) {
        const TokenId byte_id = vocab_.Find(std::string_view(&c, 1));
        if (byte_id != kNoToken) out.push_back(byte_id);
      }
    }
  }

  const Vocab& vocab_;
  const PreTokenizer rules_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TokenizerModel>> MakeByteLevelBpeModel(const Vocab& vocab) {
  auto rules = PreTokenizerFromName(vocab.pre());  // "" (no key) means "default"
  if (!rules.ok()) return rules.status();
  return std::unique_ptr<TokenizerModel>(std::make_unique<ByteLevelBpeModel>(vocab, *rules));
}

}  // namespace tinyrag
