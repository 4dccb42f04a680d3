// Byte-level BPE (tokenizer.ggml.model = "gpt2"): the pre-tokenizer named by
// tokenizer.ggml.pre splits the text into words; each word's bytes are mapped
// to printable code points (GPT-2's byte-to-unicode table) and adjacent
// symbols are merged lowest-rank-first following tokenizer.ggml.merges.
// No cache: each call works on its own stack, so Encode stays lock-free.
#include <algorithm>
#include <array>
#include <optional>

#include "model/pretokenize.h"
#include "model/tokenizer_internal.h"
#include "model/unicode_text.h"

namespace tinyrag {
namespace {

struct Bigram {
  int32_t left;
  int32_t right;
  int32_t rank;
  TokenId merged;  // token of the merged text, or kNoToken
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
  ByteLevelBpeModel(const Vocab& vocab, PreTokenizer rules) : vocab_(vocab), rules_(rules) {
    for (int b = 0; b < 256; ++b) byte_ids_[b] = vocab_.Find(Mapping().byte_to_utf8[b]);
  }

  void EncodeText(std::string_view text, bool /*after_special*/, std::vector<TokenId>& out) const override {
    const ByteMapping& mapping = Mapping();
    Scratch scratch;
    for (std::string_view word : PreTokenize(rules_, text)) {
      // Map the word's bytes; each byte is one initial symbol.
      scratch.mapped.clear();
      scratch.symbols.clear();
      scratch.ids.clear();
      auto add_byte = [&](uint8_t b) {
        const std::string& m = mapping.byte_to_utf8[b];
        const int32_t index = static_cast<int32_t>(scratch.symbols.size());
        scratch.symbols.push_back({index - 1, index + 1, static_cast<uint32_t>(scratch.mapped.size()),
                                   static_cast<uint32_t>(m.size())});
        scratch.ids.push_back(byte_ids_[b]);
        scratch.mapped.append(m);
      };
      for (size_t pos = 0; pos < word.size();) {
        size_t n = 0;
        const char32_t cp = unicode::DecodeUtf8(word, pos, &n);
        // The reference runtime replaces each invalid byte by U+FFFD before
        // mapping; valid characters keep their bytes.
        const std::string_view bytes =
            (cp == unicode::kReplacementChar && n == 1) ? std::string_view("\xEF\xBF\xBD") : word.substr(pos, n);
        for (char c : bytes) add_byte(static_cast<uint8_t>(c));
        pos += n;
      }
      if (scratch.symbols.empty()) continue;
      scratch.symbols.back().next = -1;
      if (vocab_.ignore_merges()) {
        if (const TokenId id = vocab_.Find(scratch.mapped); id != kNoToken) {
          out.push_back(id);
          continue;
        }
      }
      MergeWord(scratch, out);
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
  // Working memory reused across the words of one call.
  struct Scratch {
    std::string mapped;                // the word in byte-to-unicode form
    std::vector<MergeSymbol> symbols;  // offsets into `mapped`
    std::vector<TokenId> ids;          // token of each symbol's text, or kNoToken
    std::vector<Bigram> heap;          // candidate merges, best at the front
    std::string key;
  };

  void MergeWord(Scratch& s, std::vector<TokenId>& out) const {
    const std::string_view word = s.mapped;
    std::vector<MergeSymbol>& symbols = s.symbols;
    std::vector<Bigram>& heap = s.heap;
    heap.clear();
    auto try_add = [&](int32_t left, int32_t right) {
      if (left < 0 || right < 0) return;
      const MergeSymbol& l = symbols[left];
      const MergeSymbol& r = symbols[right];
      std::optional<Vocab::Merge> merge;
      if (s.ids[left] != kNoToken && s.ids[right] != kNoToken) {
        merge = vocab_.MergeOfTokens(s.ids[left], s.ids[right]);
      } else if (vocab_.has_text_merges()) {
        merge = vocab_.MergeOfTexts(word.substr(l.offset, l.size), word.substr(r.offset, r.size), s.key);
      }
      if (!merge) return;
      heap.push_back({left, right, merge->rank, merge->merged, l.size, r.size});
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
      s.ids[b.left] = b.merged;
      if (right.next >= 0) symbols[right.next].prev = b.left;
      try_add(left.prev, b.left);
      try_add(b.left, left.next);
    }

    for (int32_t i = 0; i != -1; i = symbols[i].next) {
      if (s.ids[i] != kNoToken) {
        out.push_back(s.ids[i]);
        continue;
      }
      // No token for the symbol: emit whichever of its single bytes are
      // tokens (what the reference runtime does; it drops the rest).
      for (char c : word.substr(symbols[i].offset, symbols[i].size)) {
        const TokenId byte_id = vocab_.Find(std::string_view(&c, 1));
        if (byte_id != kNoToken) out.push_back(byte_id);
      }
    }
  }

  const Vocab& vocab_;
  const PreTokenizer rules_;
  TokenId byte_ids_[256];  // token of each byte's mapped character, or kNoToken
};

}  // namespace

absl::StatusOr<std::unique_ptr<TokenizerModel>> MakeByteLevelBpeModel(const Vocab& vocab) {
  auto rules = PreTokenizerFromName(vocab.pre());  // "" (no key) means "default"
  if (!rules.ok()) return rules.status();
  return std::unique_ptr<TokenizerModel>(std::make_unique<ByteLevelBpeModel>(vocab, *rules));
}

}  // namespace tinyrag
