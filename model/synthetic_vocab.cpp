// Synthetic vocabularies (see model/synthetic_vocab.h).
//
// Pieces come from one deterministic stream of lowercase English-like words:
// real frequent words first, then word+suffix forms, then pseudo-words made
// of English syllables. Each kind turns a word into its own piece forms
// (byte-level "Ġword", SentencePiece "▁word", WordPiece "▁word"/"word").
#include "model/synthetic_vocab.h"

#include <cassert>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace tinyrag {
namespace {

// Frequent English words, most frequent first.
constexpr std::string_view kWords[] = {
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by",
    "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an",
    "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has", "there",
    "been", "if", "more", "when", "will", "would", "who", "so", "no", "she", "other", "its",
    "may", "these", "what", "them", "than", "some", "him", "time", "into", "only", "do",
    "new", "about", "two", "first", "also", "after", "any", "like", "our", "over", "such",
    "most", "then", "made", "many", "could", "out", "people", "year", "years", "up", "very",
    "used", "through", "between", "where", "each", "state", "how", "world", "water", "work",
    "part", "because", "those", "both", "same", "under", "during", "while", "well", "city",
    "system", "number", "known", "later", "since", "school", "life", "day", "being", "long",
    "own", "three", "before", "high", "government", "family", "history", "called", "found",
    "should", "make", "found", "use", "name", "group", "area", "country", "war", "house",
    "company", "place", "small", "large", "early", "public", "children", "development",
    "national", "information", "united", "service", "university", "including", "music",
    "best", "show", "question", "answer", "data", "model", "search", "document", "language",
    "text", "query", "result", "example", "question", "report", "research", "science",
    "power", "energy", "light", "money", "health", "market", "program", "computer", "court",
    "river", "north", "south", "east", "west", "century", "season", "team", "game", "player",
    "film", "book", "story", "article", "page", "line", "word", "point", "order", "change",
    "process", "method", "value", "level", "form", "case", "end", "week", "month", "today",
    "good", "great", "little", "right", "old", "big", "different", "important", "general",
    "however", "although", "because", "without", "against", "within", "among", "around",
    "another", "every", "again", "still", "often", "never", "always", "here", "now", "just",
    "know", "think", "see", "come", "take", "give", "find", "tell", "ask", "become", "leave",
    "feel", "seem", "keep", "begin", "help", "turn", "start", "move", "live", "believe",
    "bring", "happen", "write", "provide", "sit", "stand", "lose", "pay", "meet", "include",
    "continue", "set", "learn", "lead", "understand", "watch", "follow", "stop", "create",
    "speak", "read", "allow", "add", "spend", "grow", "open", "walk", "win", "offer",
    "remember", "love", "consider", "appear", "buy", "wait", "serve", "die", "send", "expect",
    "build", "stay", "fall", "cut", "reach", "kill", "remain", "suggest", "raise", "pass",
    "sell", "require", "decide", "pull", "student", "country", "problem", "hand", "eye",
    "body", "head", "side", "woman", "man", "child", "friend", "father", "mother", "room",
    "night", "home", "land", "food", "car", "street", "door", "table", "road", "tree",
};

constexpr std::string_view kSuffixes[] = {"s",    "ed",   "ing",  "er",   "ly",   "tion",
                                          "ment", "ness", "able", "est",  "al",   "ic",
                                          "ous",  "ful",  "less", "ive",  "ity",  "ize",
                                          "ence", "ance", "ist",  "ship", "ward", "ency"};

constexpr std::string_view kOnsets[] = {
    "",   "",   "",   "b",  "c",  "d",  "f",  "g",  "h",  "j",  "k",  "l",  "m",  "n",  "p",
    "r",  "s",  "t",  "v",  "w",  "y",  "z",  "bl", "br", "ch", "cl", "cr", "dr", "fl", "fr",
    "gl", "gr", "pl", "pr", "sc", "sh", "sk", "sl", "sm", "sn", "sp", "st", "str", "sw", "th",
    "tr", "wh", "qu"};
constexpr std::string_view kNuclei[] = {"a",  "e",  "i",  "o",  "u",  "a",  "e",  "i", "o",
                                        "ai", "ea", "ee", "ie", "oo", "ou", "ay", "oa", "y"};
constexpr std::string_view kCodas[] = {"",   "",   "",   "",   "b",  "ck", "d",  "ff", "g",
                                       "l",  "ll", "m",  "n",  "nd", "ng", "nt", "p",  "r",
                                       "rd", "rk", "rt", "s",  "ss", "st", "t",  "x",  "th"};

// SplitMix64: a tiny deterministic generator, independent of library versions.
uint64_t NextRandom(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

template <size_t N>
std::string_view Pick(const std::string_view (&items)[N], uint64_t& state) {
  return items[NextRandom(state) % N];
}

// The stream of lowercase words every vocabulary draws its pieces from.
class WordSource {
 public:
  std::string Next() {
    constexpr size_t kNumWords = std::size(kWords);
    constexpr size_t kNumSuffixed = 120;  // frequent words that also get suffixed forms
    if (index_ < kNumWords) return std::string(kWords[index_++]);
    if (index_ < kNumWords + kNumSuffixed * std::size(kSuffixes)) {
      const size_t k = index_++ - kNumWords;
      return std::string(kWords[k % kNumSuffixed]) + std::string(kSuffixes[k / kNumSuffixed]);
    }
    ++index_;
    std::string word;
    const int syllables = 1 + static_cast<int>(NextRandom(state_) % 3);
    for (int s = 0; s < syllables; ++s) {
      for (std::string_view part : {Pick(kOnsets, state_), Pick(kNuclei, state_), Pick(kCodas, state_)}) {
        word += part;
      }
    }
    if (NextRandom(state_) % 4 == 0) word += Pick(kSuffixes, state_);
    return word;
  }

 private:
  size_t index_ = 0;
  uint64_t state_ = 0x74696e7972616775ull;  // fixed: the vocabulary never depends on a seed
};

std::string Capitalized(std::string word) {
  if (!word.empty() && word[0] >= 'a' && word[0] <= 'z') word[0] = static_cast<char>(word[0] - 32);
  return word;
}

// UTF-8 encoding of a code point below 0x10000.
std::string Utf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// GPT-2's reversible byte-to-unicode map: printable bytes stand for themselves,
// the others (controls, space, ...) map to U+0100 onwards in byte order.
struct ByteSymbols {
  std::string of_byte[256];
  uint8_t order[256];  // the bytes in GPT-2 vocabulary order
  ByteSymbols() {
    int n = 0;
    auto printable = [](int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; };
    for (int b = 0; b < 256; ++b) {
      if (printable(b)) {
        of_byte[b] = Utf8(static_cast<uint32_t>(b));
        order[n++] = static_cast<uint8_t>(b);
      }
    }
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      if (!printable(b)) {
        of_byte[b] = Utf8(static_cast<uint32_t>(256 + extra++));
        order[n++] = static_cast<uint8_t>(b);
      }
    }
  }
};

// Grows a list of distinct pieces where each new piece is the concatenation of
// two pieces already present (recorded as a merge), up to a capacity.
class PieceBuilder {
 public:
  explicit PieceBuilder(size_t capacity) : capacity_(capacity) {}

  bool full() const { return pieces_.size() >= capacity_; }
  bool Has(const std::string& piece) const { return have_.contains(piece); }
  const std::vector<std::string>& pieces() const { return pieces_; }
  const std::vector<std::string>& merges() const { return merges_; }

  // Adds an atomic piece (a byte symbol or a single character).
  void AddAtom(const std::string& piece) {
    if (!full() && have_.insert(piece).second) pieces_.push_back(piece);
  }

  // Adds the piece made of `symbols` (atoms), first adding whatever prefixes it
  // needs: the piece is split at the first point where both parts are present,
  // or else built from its prefix one symbol shorter.
  void Add(const std::vector<std::string>& symbols) { Ensure(symbols, symbols.size()); }

 private:
  // Ensures the piece of the first `n` symbols exists; false when out of room.
  bool Ensure(const std::vector<std::string>& symbols, size_t n) {
    std::string whole;
    for (size_t i = 0; i < n; ++i) whole += symbols[i];
    if (Has(whole)) return true;
    if (n == 1 || full()) return false;
    std::string left;
    for (size_t k = 1; k < n; ++k) {
      left += symbols[k - 1];
      std::string right;
      for (size_t i = k; i < n; ++i) right += symbols[i];
      if (Has(left) && Has(right)) return Record(std::move(whole), left, right);
    }
    if (!Ensure(symbols, n - 1) || full()) return false;
    std::string prefix;
    for (size_t i = 0; i + 1 < n; ++i) prefix += symbols[i];
    return Record(std::move(whole), prefix, symbols[n - 1]);
  }

  bool Record(std::string piece, const std::string& left, const std::string& right) {
    merges_.push_back(left + " " + right);
    have_.insert(piece);
    pieces_.push_back(std::move(piece));
    return true;
  }

  size_t capacity_;
  std::vector<std::string> pieces_;
  std::vector<std::string> merges_;
  absl::flat_hash_set<std::string> have_;
};

// Splits UTF-8 text into one string per character.
std::vector<std::string> Characters(std::string_view text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    out.emplace_back(text.substr(i, len));
    i += len;
  }
  return out;
}

const std::string kSpmSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's word-start mark

void Append(SyntheticVocab& v, std::string token, TokenType type) {
  v.tokens.push_back(std::move(token));
  v.token_types.push_back(static_cast<int32_t>(type));
}

}  // namespace

SyntheticVocab MakeByteBpeVocab(const ByteBpeLayout& layout) {
  assert(layout.normal >= 256);
  static const ByteSymbols kBytes;
  PieceBuilder builder(static_cast<size_t>(layout.normal));
  for (int i = 0; i < 256; ++i) builder.AddAtom(kBytes.of_byte[kBytes.order[i]]);

  auto symbols_of = [&](std::string_view text) {
    std::vector<std::string> out;
    for (unsigned char c : text) out.push_back(kBytes.of_byte[c]);
    return out;
  };
  // Whitespace and punctuation runs that real vocabularies merge early.
  for (std::string_view run : {"  ", "    ", "\n\n", " (", " \"", ".\n", ",\"", "  \n", "        ",
                               " -", "--", "...", "://", " =", "()", ");", " {", "\t\t"}) {
    builder.Add(symbols_of(run));
  }
  WordSource words;
  for (size_t n = 0; !builder.full(); ++n) {
    const std::string w = words.Next();
    builder.Add(symbols_of(" " + w));
    const bool frequent = n < std::size(kWords);
    if (frequent || n % 3 == 0) builder.Add(symbols_of(w));
    if (frequent || n % 5 == 0) builder.Add(symbols_of(" " + Capitalized(w)));
    if (frequent) builder.Add(symbols_of(Capitalized(w)));
    if (n == std::size(kWords)) {  // numbers, once the frequent words are in
      for (int k = 0; k < 1000; ++k) builder.Add(symbols_of(std::to_string(k)));
    }
  }

  SyntheticVocab v;
  for (const SpecialToken& s : layout.leading) Append(v, s.text, s.type);
  for (const std::string& piece : builder.pieces()) Append(v, piece, TokenType::kNormal);
  for (const SpecialToken& s : layout.trailing) Append(v, s.text, s.type);
  assert(static_cast<int32_t>(v.tokens.size()) <= layout.total);
  while (static_cast<int32_t>(v.tokens.size()) < layout.total) {
    Append(v, absl::StrCat("[PAD", v.tokens.size(), "]"), TokenType::kUnused);
  }
  v.merges = builder.merges();
  return v;
}

SyntheticVocab MakeSentencePieceVocab(int32_t total) {
  SyntheticVocab v;
  Append(v, "<unk>", TokenType::kUnknown);
  Append(v, "<s>", TokenType::kControl);
  Append(v, "</s>", TokenType::kControl);
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    Append(v, std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", TokenType::kByte);
  }
  const size_t first_piece = v.tokens.size();
  PieceBuilder builder(static_cast<size_t>(total) - first_piece);
  // Single characters first: with the highest scores they are the building blocks.
  builder.AddAtom(kSpmSpace);
  for (char c = 'a'; c <= 'z'; ++c) builder.AddAtom(std::string(1, c));
  for (char c = 'A'; c <= 'Z'; ++c) builder.AddAtom(std::string(1, c));
  for (char c = '0'; c <= '9'; ++c) builder.AddAtom(std::string(1, c));
  for (char c : std::string_view(".,'\"-:;!?()/&%$#@*+=[]_<>")) builder.AddAtom(std::string(1, c));
  builder.Add({kSpmSpace, kSpmSpace});
  builder.Add({kSpmSpace, kSpmSpace, kSpmSpace, kSpmSpace});
  WordSource words;
  for (size_t n = 0; !builder.full(); ++n) {
    const std::string w = words.Next();
    builder.Add(Characters(kSpmSpace + w));
    const bool frequent = n < std::size(kWords);
    if (frequent || n % 3 == 0) builder.Add(Characters(w));
    if (frequent || n % 5 == 0) builder.Add(Characters(kSpmSpace + Capitalized(w)));
  }
  for (const std::string& piece : builder.pieces()) Append(v, piece, TokenType::kNormal);
  // Scores: 0 for specials and bytes, then decreasing by one per piece as in Llama 2.
  v.scores.assign(v.tokens.size(), 0.0f);
  for (size_t i = first_piece; i < v.tokens.size(); ++i) {
    v.scores[i] = 0.0f - static_cast<float>(i - first_piece);  // +0 for the first
  }
  return v;
}

SyntheticVocab MakeWordPieceVocab(int32_t total) {
  SyntheticVocab v;
  int unused = 0;
  auto add_unused_until = [&](size_t id) {
    while (v.tokens.size() < id) Append(v, absl::StrCat("[unused", unused++, "]"), TokenType::kNormal);
  };
  Append(v, "[PAD]", TokenType::kControl);
  add_unused_until(100);
  for (const char* s : {"[UNK]", "[CLS]", "[SEP]", "[MASK]"}) Append(v, s, TokenType::kControl);
  add_unused_until(999);
  absl::flat_hash_set<std::string> have(v.tokens.begin(), v.tokens.end());
  auto add = [&](std::string piece) {
    if (static_cast<int32_t>(v.tokens.size()) < total && have.insert(piece).second) {
      Append(v, std::move(piece), TokenType::kNormal);
    }
  };
  // Every character both word-initial and as a continuation, so any word splits.
  const std::string_view chars = "!\"#$%&'()*+,-./0123456789:;<=>?@[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
  for (char c : chars) add(kSpmSpace + std::string(1, c));
  for (char c : chars) add(std::string(1, c));
  for (std::string_view suffix : kSuffixes) add(std::string(suffix));
  WordSource words;
  for (size_t n = 0; static_cast<int32_t>(v.tokens.size()) < total; ++n) {
    const std::string w = words.Next();
    add(kSpmSpace + w);
    if (n % 4 == 0) add(w);  // also a continuation piece
  }
  return v;
}

}  // namespace tinyrag
