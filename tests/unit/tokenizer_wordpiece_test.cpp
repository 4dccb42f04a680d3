// WordPiece (BERT) tokenizer on a small hand-built vocabulary in the GGUF
// form ("▁word" starts a word, continuation pieces have no "##").
#include <filesystem>
#include <fstream>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "model/vocab.h"

namespace tinyrag {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::unique_ptr<Tokenizer> MakeTokenizer() {
  VocabSpec spec;
  spec.kind = TokenizerKind::kWordPiece;
  spec.tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",           // 0-4
                 "\u2581hello", "\u2581world", "\u2581un", "\u2581una",  // 5-8
                 "ff", "aff", "able", "affable",                         // 9-12
                 "\u2581!", "\u2581,", "\u2581cafe", "\u2581\u6771",     // 13-16 (東)
                 "\u2581\u4eac", "\u2581a", "a", "\u2581fu", "hrer"};    // 17-21 (京)
  spec.types.assign(spec.tokens.size(), TokenType::kNormal);
  for (int i = 0; i < 5; ++i) spec.types[i] = TokenType::kControl;
  spec.pad = 0;
  spec.unk = 1;
  spec.cls = 2;
  spec.sep = 3;
  spec.mask = 4;
  auto vocab = Vocab::Create(std::move(spec));
  EXPECT_TRUE(vocab.ok()) << vocab.status();
  auto tok = Tokenizer::Create(*vocab);
  EXPECT_TRUE(tok.ok()) << tok.status();
  return *std::move(tok);
}

TEST(WordPieceTest, GreedyLongestMatchFirst) {
  auto tok = MakeTokenizer();
  // "▁una" is longer than "▁un", so greedy matching takes it even though
  // "▁un" + "affable" would also segment the word.
  EXPECT_THAT(tok->Encode("unaffable"), ElementsAre(8, 9, 11));
  EXPECT_THAT(tok->Encode("hello world"), ElementsAre(5, 6));
  EXPECT_THAT(tok->Encode("aaa"), ElementsAre(18, 19, 19));
}

TEST(WordPieceTest, UnknownWordsBecomeOneUnk) {
  auto tok = MakeTokenizer();
  EXPECT_THAT(tok->Encode("hello xyz world"), ElementsAre(5, 1, 6));
  // A word whose tail cannot be segmented is entirely unknown.
  EXPECT_THAT(tok->Encode("helloq"), ElementsAre(1));
  // More than 100 characters: unknown even though it could be segmented.
  EXPECT_THAT(tok->Encode(std::string(100, 'a')).size(), 100u);
  EXPECT_THAT(tok->Encode(std::string(101, 'a')), ElementsAre(1));
}

TEST(WordPieceTest, PunctuationIsSplitOff) {
  auto tok = MakeTokenizer();
  EXPECT_THAT(tok->Encode("hello,world!"), ElementsAre(5, 14, 6, 13));
  // '$' is a symbol (Sc) but BERT counts every ASCII non-alphanumeric as punctuation.
  EXPECT_THAT(tok->Encode("hello$"), ElementsAre(5, 1));
}

TEST(WordPieceTest, LowerCasesAndStripsAccents) {
  auto tok = MakeTokenizer();
  EXPECT_THAT(tok->Encode("HeLLo WORLD"), ElementsAre(5, 6));
  EXPECT_THAT(tok->Encode("Caf\u00e9"), ElementsAre(15));         // precomposed é
  EXPECT_THAT(tok->Encode("Cafe\u0301"), ElementsAre(15));        // e + combining acute
  EXPECT_THAT(tok->Encode("F\u00fchrer"), ElementsAre(20, 21));  // ü -> u
}

TEST(WordPieceTest, CjkCharactersAreWordsOfTheirOwn) {
  auto tok = MakeTokenizer();
  EXPECT_THAT(tok->Encode("\u6771\u4eac"), ElementsAre(16, 17));
  EXPECT_THAT(tok->Encode("hello\u6771world"), ElementsAre(5, 16, 6));
}

TEST(WordPieceTest, ControlCharactersDroppedAndUnicodeSpacesSplit) {
  auto tok = MakeTokenizer();
  EXPECT_THAT(tok->Encode("hel\x01lo"), ElementsAre(5));
  EXPECT_THAT(tok->Encode("hello\u00a0world\u3000hello"), ElementsAre(5, 6, 5));
  EXPECT_THAT(tok->Encode(" \t\n "), IsEmpty());
  EXPECT_THAT(tok->Encode(std::string("hel\xFFlo", 6)), ElementsAre(5));  // invalid byte dropped
}

TEST(WordPieceTest, SpecialTokens) {
  auto tok = MakeTokenizer();
  EncodeOptions special{.add_special = true, .parse_special = true};
  EXPECT_THAT(tok->Encode("hello [MASK] world", special), ElementsAre(2, 5, 4, 6, 3));
  EXPECT_THAT(tok->Encode("", special), ElementsAre(2, 3));
  // Without parse_special the brackets are punctuation and "mask" is unknown.
  EXPECT_THAT(tok->Encode("[MASK]", EncodeOptions{.add_special = true}), ElementsAre(2, 1, 1, 1, 3));
}

TEST(WordPieceTest, DecodeJoinsPieces) {
  auto tok = MakeTokenizer();
  std::vector<TokenId> ids = tok->Encode("Hello, unaffable world!", {.add_special = true});
  EXPECT_EQ(tok->Decode(ids), "hello, unaffable world!");
  EXPECT_EQ(tok->Decode(ids, {.skip_special = false, .clean_spaces = false}),
            "[CLS] hello , unaffable world ![SEP]");
  EXPECT_EQ(tok->TokenToPiece(9), "ff");
  EXPECT_EQ(tok->TokenToPiece(5), " hello");
}

TEST(WordPieceTest, VocabTxtConvertsToGgufForm) {
  auto vocab = Vocab::FromWordPieceVocabTxt({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "##lo", "world"});
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  EXPECT_EQ((*vocab)->text(5), "\u2581hello");
  EXPECT_EQ((*vocab)->text(6), "lo");
  EXPECT_EQ((*vocab)->text(2), "[CLS]");
  EXPECT_TRUE((*vocab)->is_control(2));
  EXPECT_FALSE((*vocab)->is_control(5));
  EXPECT_EQ((*vocab)->bos(), 2);
  EXPECT_EQ((*vocab)->sep(), 3);
  EXPECT_EQ((*vocab)->unk(), 1);
  auto tok = Tokenizer::Create(*vocab);
  ASSERT_TRUE(tok.ok());
  EXPECT_THAT((*tok)->Encode("hellolo world", {.add_special = true}), ElementsAre(2, 5, 6, 7, 3));
  EXPECT_FALSE(Vocab::FromWordPieceVocabTxt({"hello", "world"}).ok());  // no [UNK]/[CLS]/[SEP]
}

// The Hugging Face vocab.txt of all-MiniLM-L6-v2 converts to exactly the
// vocabulary llama.cpp's converter stored in the bert-bge GGUF.
TEST(WordPieceTest, MiniLmVocabTxtMatchesGgufVocabulary) {
  // tests/unit/this_file.cpp -> the repository root -> ../shared/fixtures
  const std::filesystem::path root = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  const std::filesystem::path shared = root.parent_path() / "shared" / "fixtures";
  const auto txt_path = shared / "minilm" / "vocab.txt";
  const auto gguf_path = shared / "vocab" / "ggml-vocab-bert-bge.gguf";
  if (!std::filesystem::exists(txt_path) || !std::filesystem::exists(gguf_path)) {
    GTEST_SKIP() << "fixtures not found under " << shared;
  }
  std::ifstream in(txt_path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  auto from_txt = Vocab::FromWordPieceVocabTxt(lines);
  ASSERT_TRUE(from_txt.ok()) << from_txt.status();
  auto file = GgufFile::Open(gguf_path.string());
  ASSERT_TRUE(file.ok()) << file.status();
  auto from_gguf = Vocab::FromGguf(**file);
  ASSERT_TRUE(from_gguf.ok()) << from_gguf.status();
  ASSERT_EQ((*from_txt)->size(), (*from_gguf)->size());
  for (TokenId id = 0; id < (*from_txt)->size(); ++id) {
    ASSERT_EQ((*from_txt)->text(id), (*from_gguf)->text(id)) << "id " << id;
  }
  EXPECT_EQ((*from_txt)->bos(), (*from_gguf)->bos());
  EXPECT_EQ((*from_txt)->sep(), (*from_gguf)->sep());
  EXPECT_EQ((*from_txt)->unk(), (*from_gguf)->unk());
}

// Arbitrary bytes (invalid UTF-8 included) never crash and give valid ids.
TEST(WordPieceTest, RandomBytesGiveValidIds) {
  auto tok = MakeTokenizer();
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
