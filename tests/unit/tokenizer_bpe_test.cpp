// Byte-level BPE on a small hand-built vocabulary: GPT-2 byte mapping,
// merges by rank, pre-tokenizer selection, special tokens, decoding.
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/tokenizer.h"
#include "model/vocab.h"

namespace tinyrag {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// "Ġ" (U+0120) is the space byte, "Ċ" (U+010A) the newline byte; "Ã" "©"
// are the bytes C3 A9 of "é".
const std::vector<std::string> kTokens = {
    "h", "e", "l", "o", "w", "r", "d", "\u0120", "\u010a",           // 0-8
    "lo", "ll", "he", "hel", "\u0120w", "or", "\u0120wor", "ld",     // 9-16
    "\u00c3", "\u00a9", "\u00c3\u00a9", "hello", "<|endoftext|>",    // 17-21
    "<tool>", "xy"};                                                 // 22-23
// "x y" names pieces that are not tokens themselves (looked up by text).
const std::vector<std::string> kMerges = {"l o", "l l", "h e", "\u0120 w", "o r", "\u0120w or",
                                          "l d", "he l", "\u00c3 \u00a9", "x y"};

std::unique_ptr<Tokenizer> MakeTokenizer(std::string pre, absl::Status* error = nullptr) {
  VocabSpec spec;
  spec.kind = TokenizerKind::kByteLevelBpe;
  spec.pre = std::move(pre);
  spec.tokens = kTokens;
  spec.merges = kMerges;
  spec.types.assign(kTokens.size(), TokenType::kNormal);
  spec.types[21] = TokenType::kControl;
  spec.types[22] = TokenType::kUserDefined;
  spec.bos = 21;
  spec.eos = 21;
  auto vocab = Vocab::Create(std::move(spec));
  EXPECT_TRUE(vocab.ok()) << vocab.status();
  auto tok = Tokenizer::Create(*vocab);
  if (error != nullptr) *error = tok.status();
  if (!tok.ok()) return nullptr;
  return *std::move(tok);
}

TEST(ByteLevelBpeTest, MergesLowestRankFirst) {
  auto tok = MakeTokenizer("gpt-2");
  // h e l l o: "l o" (rank 0) goes before "l l" (rank 1), which is then
  // stale; "h e" (2), then "he l" (7). A score- or left-first order would differ.
  EXPECT_THAT(tok->Encode("hello"), ElementsAre(12, 9));
  // Ġ w o r l d: "Ġ w" (3), "o r" (4), "Ġw or" (5), "l d" (6).
  EXPECT_THAT(tok->Encode(" world"), ElementsAre(15, 16));
  EXPECT_THAT(tok->Encode("hello world"), ElementsAre(12, 9, 15, 16));
}

TEST(ByteLevelBpeTest, MergesOfNonTokenPieces) {
  auto tok = MakeTokenizer("gpt-2");
  EXPECT_TRUE(tok->vocab().has_text_merges());
  EXPECT_THAT(tok->Encode("xy"), ElementsAre(23));
  EXPECT_THAT(tok->Encode("hexy"), ElementsAre(11, 23));
}

TEST(ByteLevelBpeTest, BytesAreMappedToPrintableCharacters) {
  auto tok = MakeTokenizer("gpt-2");
  EXPECT_THAT(tok->Encode("\u00e9"), ElementsAre(19));
  EXPECT_THAT(tok->Encode("\n"), ElementsAre(8));
  EXPECT_THAT(tok->Encode(""), IsEmpty());
  // A symbol without a token whose bytes are not tokens either is dropped,
  // as the reference runtime does ("z" is not in this vocabulary).
  EXPECT_THAT(tok->Encode("hez"), ElementsAre(11));
}

TEST(ByteLevelBpeTest, IgnoreMergesTakesWholeWordTokens) {
  // llama-bpe (Llama 3) looks a whole word up before merging.
  auto llama3 = MakeTokenizer("llama-bpe");
  EXPECT_THAT(llama3->Encode("hello"), ElementsAre(20));
  // ... and adds BOS by default, unlike GPT-2.
  EXPECT_THAT(llama3->Encode("hello", {.add_special = true}), ElementsAre(21, 20));
  auto gpt2 = MakeTokenizer("gpt-2");
  EXPECT_THAT(gpt2->Encode("hello", {.add_special = true}), ElementsAre(12, 9));
}

TEST(ByteLevelBpeTest, UnknownPreTokenizerIsAClearError) {
  absl::Status error;
  EXPECT_EQ(MakeTokenizer("no-such-pre", &error), nullptr);
  EXPECT_FALSE(error.ok());
  EXPECT_THAT(std::string(error.message()), HasSubstr("no-such-pre"));
  EXPECT_THAT(std::string(error.message()), HasSubstr("qwen2"));  // lists the supported ones
}

TEST(ByteLevelBpeTest, SpecialTokens) {
  auto tok = MakeTokenizer("gpt-2");
  EXPECT_THAT(tok->Encode("hello<|endoftext|>hello", {.parse_special = true}), ElementsAre(12, 9, 21, 12, 9));
  const std::vector<TokenId> plain = tok->Encode("<|endoftext|>");
  EXPECT_THAT(plain, ::testing::Not(::testing::Contains(21)));
  // User-defined tokens are matched even without parse_special.
  EXPECT_THAT(tok->Encode("hello<tool>"), ElementsAre(12, 9, 22));
}

TEST(ByteLevelBpeTest, DecodeRoundTrips) {
  auto tok = MakeTokenizer("gpt-2");
  for (std::string text : {"hello world", "\u00e9\n\u00e9", " hello"}) {
    EXPECT_EQ(tok->Decode(tok->Encode(text)), text) << text;
  }
  EXPECT_EQ(tok->TokenToPiece(15), " wor");
  EXPECT_EQ(tok->TokenToPiece(17), "\xC3");  // half of a UTF-8 character
  EXPECT_EQ(tok->TokenToPiece(22), "<tool>");
  EXPECT_EQ(tok->Decode(std::vector<TokenId>{21, 12, 9}), "hello");
  EXPECT_EQ(tok->Decode(std::vector<TokenId>{21, 12, 9}, {.skip_special = false}), "<|endoftext|>hello");
}

TEST(ByteLevelBpeTest, EndOfGenerationTokens) {
  auto tok = MakeTokenizer("gpt-2");
  EXPECT_TRUE(tok->IsEndOfGeneration(21));
  EXPECT_FALSE(tok->IsEndOfGeneration(12));
}

TEST(ByteLevelBpeTest, MalformedMergesAreRejected) {
  VocabSpec spec;
  spec.kind = TokenizerKind::kByteLevelBpe;
  spec.tokens = kTokens;
  spec.merges = {"nospace"};
  EXPECT_FALSE(Vocab::Create(spec).ok());
}

// Arbitrary bytes (invalid UTF-8 included) never crash and give valid ids.
TEST(ByteLevelBpeTest, RandomBytesGiveValidIds) {
  auto tok = MakeTokenizer("gpt-2");
  std::mt19937 rng(1234);
  for (int i = 0; i < 300; ++i) {
    std::string text(rng() % 64, '\0');
    for (char& c : text) c = static_cast<char>(rng() % 256);
    for (int mode = 0; mode < 4; ++mode) {
      const EncodeOptions options{.add_special = (mode & 1) != 0, .parse_special = (mode & 2) != 0};
      const std::vector<TokenId> ids = tok->Encode(text, options);
      for (TokenId t : ids) ASSERT_TRUE(t >= 0 && t < tok->vocab().size()) << t;
      (void)tok->Decode(ids);
    }
  }
}

}  // namespace
}  // namespace tinyrag
