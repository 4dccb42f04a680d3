// Behaviour shared by all tokenizer kinds: special-token partitioning,
// the UTF-8 streaming helper, and one tokenizer shared by many threads.
#include <random>
#include <thread>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/tokenizer.h"
#include "model/vocab.h"

namespace tinyrag {
namespace {

using ::testing::ElementsAre;

// SentencePiece vocabulary with byte fallback and a few special tokens.
std::unique_ptr<Tokenizer> MakeSpm(std::string model_name = "") {
  VocabSpec spec;
  spec.kind = TokenizerKind::kSentencePiece;
  spec.model_name = std::move(model_name);
  spec.tokens = {"<unk>", "<s>", "</s>"};
  spec.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  for (int b = 0; b < 256; ++b) {
    spec.tokens.push_back(absl::StrFormat("<0x%02X>", b));
    spec.types.push_back(TokenType::kByte);
  }
  for (std::string t : {"\u2581", "a", "b", "\u2581a", "\u2581b", "ab", "\u2581ab"}) {
    spec.tokens.push_back(t);
    spec.types.push_back(TokenType::kNormal);
  }
  // 266 <|x|>, 267 <|x|>y (longer, contains the shorter), 268 <|end|> (an EOG name)
  for (std::string t : {"<|x|>", "<|x|>y", "<|end|>"}) {
    spec.tokens.push_back(t);
    spec.types.push_back(TokenType::kUserDefined);
  }
  spec.scores.assign(spec.tokens.size(), 0.0f);
  spec.scores[262] = 1;  // ▁a
  spec.scores[265] = 2;  // ▁ab
  auto vocab = Vocab::Create(std::move(spec));
  EXPECT_TRUE(vocab.ok()) << vocab.status();
  auto tok = Tokenizer::Create(*vocab);
  EXPECT_TRUE(tok.ok()) << tok.status();
  return *std::move(tok);
}

TEST(TokenizerTest, LongestSpecialTokenWins) {
  auto tok = MakeSpm();
  // "<|x|>y" is matched before "<|x|>" can claim its prefix.
  EXPECT_THAT(tok->Encode("<|x|>y<|x|>"), ElementsAre(267, 266));
}

TEST(TokenizerTest, EndOfTurnLookalikesAreControlTokens) {
  auto tok = MakeSpm();
  // "<|end|>" was typed user-defined but is treated as control (reference
  // behaviour): matched only with parse_special, and it ends generation.
  EXPECT_TRUE(tok->vocab().is_control(268));
  EXPECT_TRUE(tok->IsEndOfGeneration(268));
  EXPECT_THAT(tok->Encode("<|end|>", {.parse_special = true}), ElementsAre(268));
  EXPECT_NE(tok->Encode("<|end|>"), std::vector<TokenId>{268});
}

TEST(TokenizerTest, Phi3SpecialTokensSwallowFollowingSpaces) {
  auto phi3 = MakeSpm("Phi3");
  auto plain = MakeSpm();
  // rstrip: the spaces after <|x|> vanish, then the space prefix comes back.
  EXPECT_THAT(phi3->Encode("<|x|>  ab"), ElementsAre(266, 265));
  EXPECT_THAT(plain->Encode("<|x|> ab"), ElementsAre(266, 259, 265));
}

TEST(Utf8StreamTest, HoldsSplitCharactersUntilComplete) {
  Utf8Stream stream;
  EXPECT_EQ(stream.Push("a\xC3"), "a");
  EXPECT_EQ(stream.pending(), 1u);
  EXPECT_EQ(stream.Push("\xA9"), "\u00e9");
  const std::string llama = "\U0001F999";
  for (size_t i = 0; i + 1 < llama.size(); ++i) EXPECT_EQ(stream.Push(llama.substr(i, 1)), "");
  EXPECT_EQ(stream.Push(llama.substr(3)), llama);
  EXPECT_EQ(stream.Finish(), "");
}

TEST(Utf8StreamTest, InvalidBytesBecomeReplacementCharacters) {
  Utf8Stream stream;
  EXPECT_EQ(stream.Push("\xFF" "a"), "\uFFFD" "a");
  EXPECT_EQ(stream.Push("\xC3"), "");
  EXPECT_EQ(stream.Push("b"), "\uFFFD" "b");  // the sequence was cut short
  EXPECT_EQ(stream.Push("\xE0\x80"), "\uFFFD\uFFFD");  // overlong form, never valid
  EXPECT_EQ(stream.Push("\xED\xA0\x80"), "\uFFFD\uFFFD\uFFFD");  // surrogate
  EXPECT_EQ(stream.Push("\xF0\x9F"), "");
  EXPECT_EQ(stream.Finish(), "\uFFFD");  // incomplete at the end
  EXPECT_EQ(stream.pending(), 0u);
}

TEST(Utf8StreamTest, StreamsByteFallbackTokens) {
  auto tok = MakeSpm();
  const std::string text = "ab \U0001F999\u00e9";
  const std::vector<TokenId> ids = tok->Encode(text);
  Utf8Stream stream;
  std::string out;
  for (TokenId id : ids) {
    const std::string chunk = stream.Push(tok->TokenToPiece(id));
    // Every chunk handed out is complete UTF-8 on its own.
    Utf8Stream check;
    EXPECT_EQ(check.Push(chunk), chunk);
    EXPECT_EQ(check.pending(), 0u);
    out += chunk;
  }
  out += stream.Finish();
  EXPECT_EQ(out, " " + text);  // TokenToPiece keeps the space prefix
}

TEST(TokenizerTest, ManyThreadsShareOneTokenizer) {
  auto tok = MakeSpm();
  std::mt19937 rng(42);
  const std::string alphabet[] = {"a", "b", " ", "\u00e9", "<|x|>", "\U0001F999", "<s>"};
  std::vector<std::string> texts(64);
  for (std::string& t : texts) {
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) t += alphabet[rng() % std::size(alphabet)];
  }
  const EncodeOptions options{.add_special = true, .parse_special = true};
  std::vector<std::vector<TokenId>> expected;
  for (const std::string& t : texts) expected.push_back(tok->Encode(t, options));

  constexpr int kThreads = 8;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int round = 0; round < 50; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          const size_t k = (i + th * 7) % texts.size();
          if (tok->Encode(texts[k], options) != expected[k]) ++mismatches[th];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int th = 0; th < kThreads; ++th) EXPECT_EQ(mismatches[th], 0) << "thread " << th;
}

TEST(VocabTest, RejectsInconsistentSpecs) {
  VocabSpec empty;
  EXPECT_FALSE(Vocab::Create(empty).ok());
  VocabSpec bad_scores;
  bad_scores.tokens = {"a", "b"};
  bad_scores.scores = {1.0f};
  EXPECT_FALSE(Vocab::Create(bad_scores).ok());
  VocabSpec no_bos;  // SentencePiece adds BOS by default, but id 1 does not exist
  no_bos.tokens = {"a"};
  EXPECT_FALSE(Vocab::Create(no_bos).ok());
  no_bos.add_bos = false;
  EXPECT_TRUE(Vocab::Create(no_bos).ok());
}

}  // namespace
}  // namespace tinyrag
