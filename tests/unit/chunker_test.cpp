// Chunking: exact packing behaviour with a simple word counter, then size
// limits on the real tokenizers of ../shared/fixtures (skipped when absent)
// and on the encoder itself (no chunk is ever truncated by it).
#include "index/chunker.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "embed/encoder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/tokenizer.h"
#include "model/vocab.h"
#include "nlohmann/json.hpp"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// One token per 8 bytes of every white-space separated word (rounded up), so
// a normal word is one token and a giant word many. Two special tokens.
class WordCounter final : public TokenCounter {
 public:
  int64_t CountTokens(std::string_view text) const override {
    int64_t tokens = 0;
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
      size_t j = i;
      while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
      if (j > i) tokens += static_cast<int64_t>((j - i + 7) / 8);
      i = j;
    }
    return tokens;
  }
  int64_t SpecialTokens() const override { return 2; }
};

bool IsBlank(std::string_view text) {
  return text.find_first_not_of(" \t\n\r") == std::string_view::npos;
}

// Every chunk is the slice it claims to be, chunks appear in order, and
// together they cover the text with nothing but white space left out.
void ExpectCovers(std::string_view text, const std::vector<Chunk>& chunks) {
  ASSERT_FALSE(chunks.empty());
  EXPECT_TRUE(IsBlank(text.substr(0, chunks.front().byte_begin)));
  for (size_t c = 0; c < chunks.size(); ++c) {
    const Chunk& chunk = chunks[c];
    ASSERT_LE(chunk.byte_end, text.size());
    ASSERT_LT(chunk.byte_begin, chunk.byte_end);
    EXPECT_EQ(chunk.text, text.substr(chunk.byte_begin, chunk.byte_end - chunk.byte_begin));
    if (c > 0) {
      const Chunk& prev = chunks[c - 1];
      EXPECT_GT(chunk.byte_begin, prev.byte_begin);
      EXPECT_GT(chunk.byte_end, prev.byte_end);
      if (chunk.byte_begin > prev.byte_end) {
        EXPECT_TRUE(IsBlank(text.substr(prev.byte_end, chunk.byte_begin - prev.byte_end))) << "gap before chunk " << c;
      }
    }
  }
  EXPECT_TRUE(IsBlank(text.substr(chunks.back().byte_end)));
}

std::string Sentences(int first, int count) {
  std::string text;
  for (int i = first; i < first + count; ++i) {
    if (!text.empty()) text += ' ';
    text += "Sentence number " + std::to_string(i) + " has six words.";
  }
  return text;
}

Chunker MakeChunker(const TokenCounter& counter, ChunkerOptions options) {
  auto chunker = Chunker::Create(counter, options);
  EXPECT_TRUE(chunker.ok()) << chunker.status();
  return std::move(*chunker);
}

TEST(ChunkerTest, PacksWholeSentencesWithOverlap) {
  WordCounter counter;
  const Chunker chunker = MakeChunker(counter, {.target_tokens = 40, .overlap_tokens = 10});
  const std::string text = Sentences(0, 20);  // 20 sentences of 6 tokens
  auto chunks = chunker.ChunkSection("", {}, text);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ExpectCovers(text, *chunks);
  ASSERT_EQ(chunks->size(), 4u);  // 6 sentences, then 1 carried + 5 new, ...
  for (size_t c = 0; c < chunks->size(); ++c) {
    const Chunk& chunk = (*chunks)[c];
    EXPECT_EQ(chunk.position, static_cast<int64_t>(c));
    EXPECT_LE(chunk.token_count, 40);
    EXPECT_EQ(chunk.token_count, counter.CountTokens(chunk.text));
    EXPECT_EQ(chunk.text.rfind("Sentence number ", 0), 0u) << chunk.text;  // starts a sentence
    EXPECT_EQ(chunk.text.back(), '.');                                   // ends one
    if (c > 0) {
      // The overlap is exactly the previous chunk's last sentence (6 <= 10 < 12 tokens).
      const Chunk& prev = (*chunks)[c - 1];
      ASSERT_LT(chunk.byte_begin, prev.byte_end);
      const std::string shared = text.substr(chunk.byte_begin, prev.byte_end - chunk.byte_begin);
      EXPECT_EQ(counter.CountTokens(shared), 6) << shared;
    }
  }
  EXPECT_EQ((*chunks)[0].text, Sentences(0, 6));
  EXPECT_EQ((*chunks)[1].text, Sentences(5, 6));
}

TEST(ChunkerTest, NoOverlapWhenDisabled) {
  WordCounter counter;
  const Chunker chunker = MakeChunker(counter, {.target_tokens = 40, .overlap_tokens = 0});
  const std::string text = Sentences(0, 20);
  auto chunks = chunker.ChunkSection("", {}, text);
  ASSERT_TRUE(chunks.ok());
  ExpectCovers(text, *chunks);
  for (size_t c = 1; c < chunks->size(); ++c) EXPECT_GE((*chunks)[c].byte_begin, (*chunks)[c - 1].byte_end);
  EXPECT_EQ(chunks->size(), 4u);  // 6 + 6 + 6 + 2 sentences
}

TEST(ChunkerTest, PrefersParagraphEnds) {
  WordCounter counter;
  const Chunker chunker = MakeChunker(counter, {.target_tokens = 40, .overlap_tokens = 0});
  // Paragraphs of 4 sentences (24 tokens): a greedy cut would take 6
  // sentences and split the second paragraph; ending at the first paragraph
  // keeps more than half of the target.
  const std::string p1 = Sentences(0, 4), p2 = Sentences(4, 4), p3 = Sentences(8, 4);
  const std::string text = p1 + "\n\n" + p2 + "\n\n" + p3;
  auto chunks = chunker.ChunkSection("", {}, text);
  ASSERT_TRUE(chunks.ok());
  ExpectCovers(text, *chunks);
  ASSERT_EQ(chunks->size(), 3u);
  EXPECT_EQ((*chunks)[0].text, p1);
  EXPECT_EQ((*chunks)[1].text, p2);
  EXPECT_EQ((*chunks)[2].text, p3);
}

TEST(ChunkerTest, SmallParagraphsShareAChunk) {
  WordCounter counter;
  const Chunker chunker = MakeChunker(counter, {.target_tokens = 40, .overlap_tokens = 0});
  const std::string text = "One short paragraph.\n\nAnother short one.\n\n\n  Third.  \n";
  auto chunks = chunker.ChunkSection("", {}, text);
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 1u);
  EXPECT_EQ((*chunks)[0].text, "One short paragraph.\n\nAnother short one.\n\n\n  Third.");
}

TEST(ChunkerTest, WrappedLinesAreNotSentenceEnds) {
  WordCounter counter;
  const Chunker chunker = MakeChunker(counter, {.target_tokens = 8, .overlap_tokens = 3});
  // Two sentences of 5 and 4 tokens, the first wrapped before "jumps". Were
  // the line end a sentence end, "jumps." (1 token) would be carried over as
  // overlap; the whole first sentence (5 tokens) is too long for that.
  const std::string text = "The quick brown fox\njumps. It lands well now.";
  auto chunks = chunker.ChunkSection("", {}, text);
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 2u);
  EXPECT_EQ((*chunks)[0].text, "The quick brown fox\njumps.");
  EXPECT_EQ((*chunks)[1].text, "It lands well now.");
}

TEST(ChunkerTest, MonsterSentenceIsCutAtWordBoundaries) {
  WordCounter counter;
  const Chunker chunker = MakeChunker(counter, {.target_tokens = 50, .overlap_tokens = 10});
  std::string text = "Short start. ";
  for (int i = 0; i < 300; ++i) text += "word" + std::to_string(i) + " ";
  text += "end. Short tail.";
  auto chunks = chunker.ChunkSection("", {}, text);
  ASSERT_TRUE(chunks.ok());
  ExpectCovers(text, *chunks);
  EXPECT_GE(chunks->size(), 6u);
  for (const Chunk& chunk : *chunks) {
    EXPECT_LE(chunk.token_count, 50);
    // Cuts fall between words, never inside one.
    EXPECT_TRUE(chunk.byte_begin == 0 || text[chunk.byte_begin - 1] == ' ') << chunk.text;
    EXPECT_TRUE(chunk.byte_end == text.size() || text[chunk.byte_end] == ' ') << chunk.text;
  }
}

TEST(ChunkerTest, GiantWordIsCutBetweenCharacters) {
  WordCounter counter;
  const Chunker chunker = MakeChunker(counter, {.target_tokens = 40, .overlap_tokens = 5});
  std::string word;
  for (int i = 0; i < 700; ++i) word += "\xC3\xA9" "ab";  // 3 chars, 4 bytes: cuts must respect UTF-8
  auto chunks = chunker.ChunkSection("", {}, word);
  ASSERT_TRUE(chunks.ok());
  ExpectCovers(word, *chunks);
  std::string joined;
  for (const Chunk& chunk : *chunks) {
    EXPECT_LE(chunk.token_count, 40);
    EXPECT_NE(static_cast<unsigned char>(chunk.text[0]) & 0xC0, 0x80) << "chunk starts inside a character";
    EXPECT_GE(chunk.byte_begin, joined.size());  // no overlap inside one word: it is one sentence
    joined += chunk.text;
  }
  EXPECT_EQ(joined, word);
}

TEST(ChunkerTest, ModelLimitCoversTitleAndHeadings) {
  WordCounter counter;
  // 64 model tokens - 2 special - 5 context tokens = 57 < target 200.
  const Chunker chunker = MakeChunker(counter, {.target_tokens = 200, .overlap_tokens = 10, .max_model_tokens = 64});
  const std::string text = Sentences(0, 40);
  auto chunks = chunker.ChunkSection("Admin Guide", {"Install", "Linux"}, text);
  ASSERT_TRUE(chunks.ok());
  ExpectCovers(text, *chunks);
  for (const Chunk& chunk : *chunks) {
    EXPECT_EQ(chunk.embed_text, "Admin Guide\nInstall > Linux\n\n" + chunk.text);
    EXPECT_LE(chunk.token_count, 57);
    EXPECT_GE(chunk.token_count, 48);  // the limit binds: 9 sentences of 6
    EXPECT_EQ(chunk.embed_token_count, counter.CountTokens(chunk.embed_text) + 2);
    EXPECT_LE(chunk.embed_token_count, 64);
    EXPECT_EQ(chunk.heading_path, (std::vector<std::string>{"Install", "Linux"}));
  }
}

TEST(ChunkerTest, OverlongTitleIsCut) {
  WordCounter counter;
  const Chunker chunker =
      MakeChunker(counter, {.target_tokens = 200, .overlap_tokens = 10, .max_model_tokens = 64, .max_context_tokens = 64});
  std::string title;
  for (int i = 0; i < 100; ++i) title += "title" + std::to_string(i) + " ";
  auto chunks = chunker.ChunkSection(title, {"Heading"}, Sentences(0, 20));
  ASSERT_TRUE(chunks.ok());
  for (const Chunk& chunk : *chunks) {
    EXPECT_LE(chunk.embed_token_count, 64);
    EXPECT_EQ(chunk.embed_text.rfind("title0 title1 ", 0), 0u);
    EXPECT_THAT(chunk.embed_text, HasSubstr("\n\n" + chunk.text));
    EXPECT_GE(chunk.token_count, 24);  // the context takes at most half of the 62 tokens
  }
}

TEST(ChunkerTest, DocumentPositionsSectionsAndEmbedText) {
  WordCounter counter;
  const Chunker chunker = MakeChunker(counter, {.target_tokens = 40, .overlap_tokens = 10});
  Document doc;
  doc.title = "Guide";
  doc.sections = {Section{{}, "Preface text."}, Section{{"Guide", "Install"}, Sentences(0, 10)},
                  Section{{"Guide", "Install", "Linux"}, "Run make."}};
  auto chunks = chunker.ChunkDocument(doc);
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 4u);
  std::vector<int64_t> sections;
  for (size_t c = 0; c < chunks->size(); ++c) {
    EXPECT_EQ((*chunks)[c].position, static_cast<int64_t>(c));
    sections.push_back((*chunks)[c].section);
  }
  EXPECT_EQ(sections, (std::vector<int64_t>{0, 1, 1, 2}));
  EXPECT_EQ((*chunks)[0].embed_text, "Guide\n\nPreface text.");
  // The first heading repeats the title: it is not said twice.
  EXPECT_EQ((*chunks)[3].embed_text, "Guide\nInstall > Linux\n\nRun make.");
  EXPECT_EQ(EmbedText("", {}, "x"), "x");
  EXPECT_EQ(EmbedText("", {"A"}, "x"), "A\n\nx");
}

TEST(ChunkerTest, BlankTextGivesNoChunks) {
  WordCounter counter;
  const Chunker chunker = MakeChunker(counter, {});
  auto chunks = chunker.ChunkSection("T", {}, " \n\n\t ");
  ASSERT_TRUE(chunks.ok());
  EXPECT_TRUE(chunks->empty());
}

TEST(ChunkerTest, RejectsBadOptions) {
  WordCounter counter;
  EXPECT_FALSE(Chunker::Create(counter, {.target_tokens = 4}).ok());
  EXPECT_FALSE(Chunker::Create(counter, {.target_tokens = 40, .overlap_tokens = 40}).ok());
  EXPECT_FALSE(Chunker::Create(counter, {.target_tokens = 40, .overlap_tokens = -1}).ok());
  EXPECT_FALSE(Chunker::Create(counter, {.max_model_tokens = 10}).ok());
  EXPECT_FALSE(Chunker::Create(counter, {.max_model_tokens = -5}).ok());
  EXPECT_FALSE(Chunker::Create(counter, {.max_context_tokens = -1}).ok());
  EXPECT_TRUE(Chunker::Create(counter, {.max_model_tokens = 256}).ok());
}

// ---- real tokenizers -------------------------------------------------------

fs::path FixturesDir() {
  // tests/unit/this_file.cpp -> the repository root -> ../shared/fixtures
  const fs::path root = fs::path(__FILE__).parent_path().parent_path().parent_path();
  return root.parent_path() / "shared" / "fixtures";
}

// Mixed text with a fixed seed: prose of random sentence and paragraph
// lengths, non-ASCII words, one 700-word sentence and one 3000-byte word.
std::string MixedText(uint32_t seed) {
  static const std::vector<std::string> kWords = {
      "the", "server", "restarts", "after", "configuration", "changes", "café", "naïve", "données", "北京",
      "東京", "🙂", "v2.3.1", "user@example.com", "don't", "HTTP/2", "(optional)", "e.g.", "Mr.", "dr.", "—",
      "invoices", "reconciliation", "x86-64", "42", "3.14159", "Ünïcödé", "straße", "ﬁnal", "supercalifragilistic"};
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::string text;
  for (int p = 0; p < 40; ++p) {
    if (!text.empty()) text += "\n\n";
    const int sentences = pick(1, 6);
    for (int s = 0; s < sentences; ++s) {
      const int words = p == 20 && s == 0 ? 700 : pick(3, 40);
      for (int w = 0; w < words; ++w) {
        if (w > 0) text += ' ';
        std::string word = kWords[static_cast<size_t>(pick(0, static_cast<int>(kWords.size()) - 1))];
        if (w == 0) word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
        text += word;
      }
      text += pick(0, 4) == 0 ? "? " : ". ";
    }
    if (p == 30) text += std::string(3000, 'z') + ". ";
  }
  return text;
}

void CheckRealTokenizer(const Tokenizer& tokenizer, const ChunkerOptions& options) {
  TokenizerTokenCounter counter(tokenizer);
  auto chunker = Chunker::Create(counter, options);
  ASSERT_TRUE(chunker.ok()) << chunker.status();
  const std::string text = MixedText(7);
  auto chunks = chunker->ChunkSection("Operations Handbook", {"Servers", "Restarts"}, text);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ExpectCovers(text, *chunks);
  const int64_t specials = static_cast<int64_t>(tokenizer.Encode("", {.add_special = true}).size());
  int64_t largest = 0;
  for (const Chunk& chunk : *chunks) {
    EXPECT_EQ(chunk.token_count, static_cast<int64_t>(tokenizer.Encode(chunk.text).size()));
    EXPECT_LE(chunk.token_count, options.target_tokens);
    const int64_t embed = static_cast<int64_t>(tokenizer.Encode(chunk.embed_text, {.add_special = true}).size());
    EXPECT_EQ(chunk.embed_token_count, embed);
    if (options.max_model_tokens > 0) {
      EXPECT_LE(embed, options.max_model_tokens);
    }
    EXPECT_EQ(chunk.embed_token_count - specials > chunk.token_count, true);  // the context is there
    largest = std::max(largest, chunk.token_count);
  }
  // The limit binds (chunks are not needlessly small).
  EXPECT_GE(largest, options.target_tokens * 3 / 4);
  // Deterministic: the same input gives the same chunks.
  auto again = chunker->ChunkSection("Operations Handbook", {"Servers", "Restarts"}, text);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), chunks->size());
  for (size_t c = 0; c < chunks->size(); ++c) {
    EXPECT_EQ((*again)[c].embed_text, (*chunks)[c].embed_text);
    EXPECT_EQ((*again)[c].byte_begin, (*chunks)[c].byte_begin);
  }
}

class RealVocabTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RealVocabTest, ChunksFitTheTokenizersCount) {
  const fs::path path = FixturesDir() / "vocab" / ("ggml-vocab-" + GetParam() + ".gguf");
  if (!fs::exists(path)) GTEST_SKIP() << "fixture not found: " << path;
  auto tokenizer = Tokenizer::FromGgufPath(path.string());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  CheckRealTokenizer(**tokenizer, {.target_tokens = 100, .overlap_tokens = 20, .max_model_tokens = 128});
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, RealVocabTest, ::testing::Values("bert-bge", "llama-spm", "gpt-2"));

// all-MiniLM-L6-v2's own vocabulary and sequence limit (256): a target above
// the limit is held to it.
TEST(ChunkerRealTest, MiniLmLimits) {
  const fs::path dir = FixturesDir() / "minilm";
  if (!fs::exists(dir / "vocab.txt") || !fs::exists(dir / "sentence_bert_config.json")) {
    GTEST_SKIP() << "all-MiniLM-L6-v2 configuration not found under " << dir;
  }
  std::ifstream in(dir / "vocab.txt");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  auto vocab = Vocab::FromWordPieceVocabTxt(lines);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  auto tokenizer = Tokenizer::Create(*vocab);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const int64_t max_len = nlohmann::json::parse(std::ifstream(dir / "sentence_bert_config.json"))["max_seq_length"];
  ASSERT_EQ(max_len, 256);
  CheckRealTokenizer(**tokenizer, {.max_model_tokens = max_len});  // defaults: 200 / 30
  TokenizerTokenCounter counter(**tokenizer);
  auto chunker = Chunker::Create(counter, {.target_tokens = 400, .overlap_tokens = 30, .max_model_tokens = max_len});
  ASSERT_TRUE(chunker.ok());
  auto chunks = chunker->ChunkSection("Handbook", {"Chapter"}, MixedText(11));
  ASSERT_TRUE(chunks.ok());
  for (const Chunk& chunk : *chunks) EXPECT_LE(chunk.embed_token_count, 256);
}

// The encoder's own tokenizer and limit: no embedded chunk is truncated.
TEST(ChunkerRealTest, EncoderNeverTruncatesAChunk) {
  const fs::path path = FixturesDir() / "models" / "bert-tiny-f32.gguf";
  if (!fs::exists(path)) GTEST_SKIP() << "fixture not found: " << path;
  auto encoder = Encoder::LoadGguf(path.string(), {.threads = 1});
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  TokenizerTokenCounter counter((*encoder)->tokenizer());
  EXPECT_EQ(counter.SpecialTokens(), 2);
  const int64_t max_len = (*encoder)->info().max_seq_len;
  auto chunker = Chunker::Create(counter, {.target_tokens = 4 * max_len, .overlap_tokens = 30, .max_model_tokens = max_len});
  ASSERT_TRUE(chunker.ok()) << chunker.status();
  auto chunks = chunker->ChunkSection("Handbook", {"Servers"}, MixedText(3));
  ASSERT_TRUE(chunks.ok());
  int64_t largest = 0;
  for (const Chunk& chunk : *chunks) {
    bool truncated = true;
    const auto ids = (*encoder)->Tokenize(chunk.embed_text, false, &truncated);
    EXPECT_FALSE(truncated);
    EXPECT_EQ(static_cast<int64_t>(ids.size()), chunk.embed_token_count);
    largest = std::max<int64_t>(largest, static_cast<int64_t>(ids.size()));
  }
  EXPECT_GE(largest, max_len * 3 / 4);
}

}  // namespace
}  // namespace tinyrag
