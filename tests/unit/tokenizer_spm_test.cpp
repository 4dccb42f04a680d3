// SentencePiece-style BPE on a small hand-built vocabulary: merges by score,
// ▁ space escaping with the space prefix, byte fallback.
#include <random>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/tokenizer.h"
#include "model/vocab.h"

namespace tinyrag {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr TokenId kByte0 = 3;  // <0x00> .. <0xFF> are ids 3 .. 258
constexpr TokenId Byte(int b) { return kByte0 + b; }

struct Ids {
  TokenId space, h, e, l, o, he, ll, lo, sp_h, hell, sp_hell, w, sp_w, sp_user;
};

// `cross_word_token` adds a token with a ▁ inside a word ("z▁z"), which
// forces whole-text merging instead of word-by-word.
std::unique_ptr<Tokenizer> MakeTokenizer(Ids* ids, VocabSpec spec = {}, bool cross_word_token = false) {
  spec.kind = TokenizerKind::kSentencePiece;
  spec.tokens = {"<unk>", "<s>", "</s>"};
  spec.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  for (int b = 0; b < 256; ++b) {
    spec.tokens.push_back(absl::StrFormat("<0x%02X>", b));
    spec.types.push_back(TokenType::kByte);
  }
  spec.scores.assign(spec.tokens.size(), 0.0f);
  auto add = [&](std::string text, float score, TokenType type = TokenType::kNormal) {
    spec.tokens.push_back(std::move(text));
    spec.scores.push_back(score);
    spec.types.push_back(type);
    return static_cast<TokenId>(spec.tokens.size() - 1);
  };
  const std::string sp = "\u2581";
  ids->space = add(sp, -10);
  ids->h = add("h", -20);
  ids->e = add("e", -20);
  ids->l = add("l", -20);
  ids->o = add("o", -20);
  // Scores decide the order: he, then ll, then lo would come before ▁h.
  ids->he = add("he", -1);
  ids->ll = add("ll", -2);
  ids->lo = add("lo", -3);
  ids->sp_h = add(sp + "h", -5);
  ids->hell = add("hell", -6);
  ids->sp_hell = add(sp + "hell", -7);
  ids->w = add("w", -20);
  ids->sp_w = add(sp + "w", -4);
  ids->sp_user = add("<user>", 0, TokenType::kUserDefined);
  add(sp + sp, -8);  // runs of spaces must stay together when encoding word by word
  if (cross_word_token) add("z" + sp + "z", -30);
  auto vocab = Vocab::Create(std::move(spec));
  EXPECT_TRUE(vocab.ok()) << vocab.status();
  auto tok = Tokenizer::Create(*vocab);
  EXPECT_TRUE(tok.ok()) << tok.status();
  return *std::move(tok);
}

TEST(SentencePieceTest, MergesHighestScoreFirst) {
  Ids id;
  auto tok = MakeTokenizer(&id);
  // ▁ h e l l o: "he" (-1) beats "ll" (-2) beats "lo" (-3) and "▁h" (-5);
  // then "hell" (-6), then "▁hell" (-7). "o" stays alone.
  EXPECT_THAT(tok->Encode("hello"), ElementsAre(id.sp_hell, id.o));
  // Nothing better competes here, so "▁h" forms.
  EXPECT_THAT(tok->Encode("hh"), ElementsAre(id.sp_h, id.h));
}

// Word-by-word encoding (used when no token spans a word start) must give
// exactly what merging the whole text at once gives.
TEST(SentencePieceTest, WordByWordEqualsWholeText) {
  Ids id;
  auto by_word = MakeTokenizer(&id);
  auto whole = MakeTokenizer(&id, {}, /*cross_word_token=*/true);
  ASSERT_TRUE(by_word->vocab().words_are_independent());
  ASSERT_FALSE(whole->vocab().words_are_independent());
  std::mt19937 rng(7);
  const std::string alphabet[] = {"h", "e", "l", "o", "w", " ", " ", "\u00e9", "<s>"};
  for (int i = 0; i < 500; ++i) {
    std::string text;
    const int n = static_cast<int>(rng() % 30);
    for (int k = 0; k < n; ++k) text += alphabet[rng() % std::size(alphabet)];
    const EncodeOptions options{.add_special = true, .parse_special = (i % 2) == 0};
    ASSERT_EQ(by_word->Encode(text, options), whole->Encode(text, options)) << '"' << text << '"';
  }
}

TEST(SentencePieceTest, SpacesBecomeWordMarks) {
  Ids id;
  auto tok = MakeTokenizer(&id);
  EXPECT_THAT(tok->Encode("w w"), ElementsAre(id.sp_w, id.sp_w));
  EXPECT_THAT(tok->Encode(" w"), ElementsAre(id.space, id.sp_w));
  EXPECT_THAT(tok->Encode(""), IsEmpty());
}

TEST(SentencePieceTest, SpacePrefixFollowsMetadata) {
  Ids id;
  VocabSpec spec;
  spec.add_space_prefix = false;
  auto tok = MakeTokenizer(&id, spec);
  EXPECT_THAT(tok->Encode("w w"), ElementsAre(id.w, id.sp_w));
}

TEST(SentencePieceTest, ByteFallbackForUnknownCharacters) {
  Ids id;
  auto tok = MakeTokenizer(&id);
  // é is C3 A9; 🦙 is F0 9F A6 99.
  EXPECT_THAT(tok->Encode("w\u00e9"), ElementsAre(id.sp_w, Byte(0xC3), Byte(0xA9)));
  EXPECT_THAT(tok->Encode("\U0001F999"), ElementsAre(id.space, Byte(0xF0), Byte(0x9F), Byte(0xA6), Byte(0x99)));
  // Invalid UTF-8 also falls back to bytes.
  EXPECT_THAT(tok->Encode(std::string("w\xFF", 2)), ElementsAre(id.sp_w, Byte(0xFF)));
}

TEST(SentencePieceTest, UnknownTokenWithoutByteTokens) {
  VocabSpec spec;
  spec.kind = TokenizerKind::kSentencePiece;
  spec.tokens = {"<unk>", "<s>", "</s>", "\u2581", "a"};
  spec.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl, TokenType::kNormal,
                TokenType::kNormal};
  auto vocab = Vocab::Create(spec);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  auto tok = Tokenizer::Create(*vocab);
  ASSERT_TRUE(tok.ok());
  EXPECT_THAT((*tok)->Encode("a\u00e9a"), ElementsAre(3, 4, 0, 4));
}

TEST(SentencePieceTest, BosByDefaultAndEosWhenAsked) {
  Ids id;
  auto tok = MakeTokenizer(&id);
  EXPECT_THAT(tok->Encode("w", {.add_special = true}), ElementsAre(1, id.sp_w));
  EXPECT_THAT(tok->Encode("", {.add_special = true}), ElementsAre(1));
  VocabSpec spec;
  spec.add_bos = false;
  spec.add_eos = true;
  auto tok2 = MakeTokenizer(&id, spec);
  EXPECT_THAT(tok2->Encode("w", {.add_special = true}), ElementsAre(id.sp_w, 2));
}

TEST(SentencePieceTest, SpecialTextAndSpacePrefixAfterIt) {
  Ids id;
  auto tok = MakeTokenizer(&id);
  // After a special token the text gets the space prefix again.
  EXPECT_THAT(tok->Encode("w</s>w", {.parse_special = true}), ElementsAre(id.sp_w, 2, id.sp_w));
  // Without parse_special, control text is ordinary text (bytes here)...
  EXPECT_THAT(tok->Encode("</s>").size(), 5u);
  // ...but user-defined tokens are always matched.
  EXPECT_THAT(tok->Encode("w<user>w"), ElementsAre(id.sp_w, id.sp_user, id.sp_w));
}

TEST(SentencePieceTest, DecodeRoundTrips) {
  Ids id;
  auto tok = MakeTokenizer(&id);
  for (std::string text : {"hello", "w w  w", " hello", "h\u00e9llo \U0001F999 w", ""}) {
    std::vector<TokenId> ids = tok->Encode(text, {.add_special = true});
    EXPECT_EQ(tok->Decode(ids), text) << text;
  }
  EXPECT_EQ(tok->TokenToPiece(id.sp_w), " w");
  EXPECT_EQ(tok->TokenToPiece(Byte(0x0A)), "\n");
  EXPECT_EQ(tok->TokenToPiece(1), "");
  EXPECT_EQ(tok->TokenToPiece(1, /*render_special=*/true), "<s>");
  EXPECT_EQ(tok->Decode(tok->Encode("w", {.add_special = true}), {.skip_special = false}), "<s> w");
  EXPECT_EQ(tok->TokenToPiece(-1), "");
  EXPECT_EQ(tok->TokenToPiece(100000), "");
}

// Arbitrary bytes (invalid UTF-8 included) never crash and give valid ids.
TEST(SentencePieceTest, RandomBytesGiveValidIds) {
  Ids id;
  auto tok = MakeTokenizer(&id);
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
