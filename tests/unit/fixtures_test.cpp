// Parsing of the conformance fixtures formats (../shared/fixtures/README.md),
// on small files written by the test into a temporary folder.
#include "model/fixtures.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/vocab.h"

namespace tinyrag::fixtures {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("tinyrag_fixtures_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void Write(const std::string& name, std::string_view content) const {
    std::ofstream out(path_ / name, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  }

 private:
  fs::path path_;
};

TEST(FixturesTest, SplitCases) {
  EXPECT_THAT(SplitCases("a\n__case__\n\n__case__\nb", kCaseSeparator, false), ElementsAre("a", "", "b"));
  EXPECT_THAT(SplitCases("", kCaseSeparator, false), ElementsAre(""));
  // Vocabulary tests end every case with the separator.
  EXPECT_THAT(SplitCases("x\n__ggml_vocab_test__\n\n__ggml_vocab_test__\n", kVocabTestSeparator, true),
              ElementsAre("x", ""));
}

TEST(FixturesTest, ParseTokenLines) {
  auto cases = ParseTokenLines(" 1 403 407\n\n 5\n");
  ASSERT_TRUE(cases.ok()) << cases.status();
  EXPECT_THAT(*cases, ElementsAre(ElementsAre(1, 403, 407), IsEmpty(), ElementsAre(5)));
  auto no_final_newline = ParseTokenLines(" 7 8");
  ASSERT_TRUE(no_final_newline.ok());
  EXPECT_THAT(*no_final_newline, ElementsAre(ElementsAre(7, 8)));
  EXPECT_THAT(*ParseTokenLines(""), IsEmpty());
  auto bad = ParseTokenLines(" 1 2\n 3 x4\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("line 2"));
  EXPECT_FALSE(ParseTokenLines(" -3\n").ok());
}

TEST(FixturesTest, ParseIds) {
  auto ids = ParseIds("143 794\n624  345\n");
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ElementsAre(143, 794, 624, 345));
  EXPECT_FALSE(ParseIds("1 2.5").ok());
}

TEST(FixturesTest, ReadFloat32File) {
  TempDir dir;
  const float values[3] = {1.5f, -2.0f, 3.25f};
  dir.Write("v.bin", std::string_view(reinterpret_cast<const char*>(values), sizeof(values)));
  auto read = ReadFloat32File(dir.path() / "v.bin", 3);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(*read, ElementsAre(1.5f, -2.0f, 3.25f));
  EXPECT_FALSE(ReadFloat32File(dir.path() / "v.bin", 4).ok());
  dir.Write("odd.bin", "abcde");
  EXPECT_FALSE(ReadFloat32File(dir.path() / "odd.bin").ok());
  EXPECT_EQ(ReadFloat32File(dir.path() / "missing.bin").status().code(), absl::StatusCode::kNotFound);
}

TEST(FixturesTest, LoadManifest) {
  TempDir dir;
  dir.Write("MANIFEST.json", R"({
    "z.gguf": {"vocab_only": true, "tokenization": "z.tok", "texts": "t.txt"},
    "a.gguf": {"arch": "llama", "n_vocab": 959, "n_embd": 256, "tensor_types": ["F32", "Q4_K"],
               "texts": "t.txt", "tokenization": "a.tok",
               "logits": [{"ids": "a.case0.ids", "logits": "a.case0.logits", "dtype": "float32", "shape": [48, 959]}]},
    "b.gguf": {"arch": "bert", "embeddings": {"embed": "b.embed", "ids": "b.embed.ids", "dtype": "float32",
               "shape": [13, 128], "pooled": true, "normalized": false}}
  })");
  auto entries = LoadManifest(dir.path());
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  const ManifestEntry& a = (*entries)[0];
  EXPECT_EQ(a.model_file, "a.gguf");
  EXPECT_EQ(a.arch, "llama");
  EXPECT_EQ(a.n_vocab, 959);
  EXPECT_THAT(a.tensor_types, ElementsAre("F32", "Q4_K"));
  EXPECT_TRUE(a.Has(Kind::kTokens));
  EXPECT_TRUE(a.Has(Kind::kLogits));
  EXPECT_FALSE(a.Has(Kind::kEmbeddings));
  ASSERT_EQ(a.logits.size(), 1u);
  EXPECT_EQ(a.logits[0].logits_file, "a.case0.logits");
  EXPECT_THAT(a.logits[0].shape, ElementsAre(48, 959));
  const ManifestEntry& b = (*entries)[1];
  ASSERT_TRUE(b.embeddings.has_value());
  EXPECT_EQ(b.embeddings->ids_file, "b.embed.ids");
  EXPECT_FALSE(b.embeddings->normalized);
  EXPECT_FALSE(b.Has(Kind::kTokens));
  EXPECT_TRUE((*entries)[2].vocab_only);
}

TEST(FixturesTest, LoadManifestReportsBadFields) {
  TempDir dir;
  dir.Write("MANIFEST.json", R"({"a.gguf": {"n_vocab": "many"}})");
  auto entries = LoadManifest(dir.path());
  ASSERT_FALSE(entries.ok());
  EXPECT_THAT(std::string(entries.status().message()), HasSubstr("n_vocab"));
  dir.Write("MANIFEST.json", "{not json");
  EXPECT_FALSE(LoadManifest(dir.path()).ok());
  dir.Write("MANIFEST.json", R"({"a.gguf": {"tokenization": "a.tok"}})");  // texts missing
  EXPECT_FALSE(LoadManifest(dir.path()).ok());
  TempDir empty;
  EXPECT_EQ(LoadManifest(empty.path()).status().code(), absl::StatusCode::kNotFound);
}

TEST(FixturesTest, FindVocabTests) {
  TempDir dir;
  for (std::string name : {"b.gguf", "b.gguf.inp", "b.gguf.out", "a.gguf", "a.gguf.inp", "a.gguf.out", "c.gguf"}) {
    dir.Write(name, "");
  }
  auto tests = FindVocabTests(dir.path());
  ASSERT_TRUE(tests.ok()) << tests.status();
  ASSERT_EQ(tests->size(), 2u);  // c.gguf has no .inp/.out
  EXPECT_EQ((*tests)[0].gguf_file, "a.gguf");
  EXPECT_EQ((*tests)[1].out_file, "b.gguf.out");
  EXPECT_FALSE(FindVocabTests(dir.path() / "nope").ok());
}

TEST(FixturesTest, KindNames) {
  EXPECT_EQ(KindFromName("logits"), Kind::kLogits);
  EXPECT_EQ(KindName(Kind::kEmbeddings), "embeddings");
  EXPECT_FALSE(KindFromName("weights").has_value());
}

TEST(FixturesTest, CompareTokenizationFindsFirstMismatch) {
  VocabSpec spec;
  spec.kind = TokenizerKind::kSentencePiece;
  spec.tokens = {"<unk>", "<s>", "</s>", "\u2581a", "\u2581b"};
  auto vocab = Vocab::Create(spec);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  auto tok = Tokenizer::Create(*vocab);
  ASSERT_TRUE(tok.ok());
  const EncodeOptions opts{.add_special = true};
  auto same = CompareTokenization(**tok, {"a", "b"}, {{1, 3}, {1, 4}}, opts);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->cases, 2u);
  EXPECT_EQ(same->exact, 2u);
  EXPECT_FALSE(same->first_mismatch.has_value());
  auto diff = CompareTokenization(**tok, {"a", "b", "a"}, {{1, 3}, {1, 3}, {3}}, opts);
  ASSERT_TRUE(diff.ok());
  EXPECT_EQ(diff->exact, 1u);
  ASSERT_TRUE(diff->first_mismatch.has_value());
  EXPECT_EQ(diff->first_mismatch->index, 1u);
  EXPECT_THAT(diff->first_mismatch->got, ElementsAre(1, 4));
  EXPECT_FALSE(CompareTokenization(**tok, {"a"}, {}, opts).ok());
}

}  // namespace
}  // namespace tinyrag::fixtures
