// GgufFile: reads every fixture model, and turns every kind of bad file into a
// clean error naming the file and the problem (never a crash or a huge allocation).
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/gguf.h"
#include "model/mapped_file.h"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// ../shared/fixtures beside the repository root (this file is tests/unit/...).
fs::path FixturesDir() {
  return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "shared" /
         "fixtures";
}

// Little-endian byte builder for hand-made files.
class Bytes {
 public:
  Bytes& U8(uint8_t v) { return Put(v); }
  Bytes& U32(uint32_t v) { return Put(v); }
  Bytes& U64(uint64_t v) { return Put(v); }
  Bytes& F32(float v) { return Put(v); }
  Bytes& Raw(std::string_view s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& Str(std::string_view s) { return U64(s.size()).Raw(s); }
  Bytes& Header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    return Raw("GGUF").U32(version).U64(n_tensors).U64(n_kv);
  }
  // A key with a uint32 value.
  Bytes& KvU32(std::string_view key, uint32_t v) { return Str(key).U32(4).U32(v); }
  Bytes& TensorInfo(std::string_view name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) U64(d);
    return U32(type).U64(offset);
  }
  Bytes& PadTo(size_t alignment) {
    while (b_.size() % alignment != 0) b_.push_back(0);
    return *this;
  }
  Bytes& Zeros(size_t n) {
    b_.resize(b_.size() + n, 0);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return b_; }

 private:
  template <typename T>
  Bytes& Put(T v) {
    const size_t at = b_.size();
    b_.resize(at + sizeof v);
    std::memcpy(b_.data() + at, &v, sizeof v);
    return *this;
  }
  std::vector<uint8_t> b_;
};

absl::Status ParseStatus(const std::vector<uint8_t>& bytes) {
  return GgufFile::FromBuffer(bytes, "bad.gguf").status();
}

// Expects a clean InvalidArgument error that names the file and contains `what`.
void ExpectError(const std::vector<uint8_t>& bytes, const std::string& what) {
  const absl::Status s = ParseStatus(bytes);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), StartsWith("bad.gguf: ")) << s;
  EXPECT_THAT(s.message(), HasSubstr(what)) << s;
}

// A small valid file whose last tensor ends exactly at the end of the file, so
// that cutting any byte off makes it invalid.
std::vector<uint8_t> SmallValidFile() {
  GgufWriter w;
  w.SetValue("general.architecture", GgufValue::String("llama"));
  w.SetValue("llama.block_count", GgufValue::U32(2));
  GgufArray tokens;
  tokens.type = GgufValueType::kString;
  tokens.strings = {"<s>", "</s>", "\xE2\x96\x81the"};
  w.SetValue("tokenizer.ggml.tokens", GgufValue::Array(tokens));
  GgufArray scores;
  scores.type = GgufValueType::kFloat32;
  scores.floats = {0, -1, -2.5};
  w.SetValue("tokenizer.ggml.scores", GgufValue::Array(scores));
  w.SetValue("f64", GgufValue::F64(2.5));
  w.SetValue("flag", GgufValue::Bool(true));
  EXPECT_TRUE(w.AddTensor("a", GgmlType::kQ4_0, {32, 2}, std::vector<uint8_t>(36, 1)).ok());
  EXPECT_TRUE(w.AddTensor("b", GgmlType::kF32, {8}, std::vector<uint8_t>(32, 2)).ok());
  return w.Serialize();
}

TEST(GgufReaderTest, ParsesSmallValidFile) {
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::FromBuffer(SmallValidFile(), "ok.gguf");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->path(), "ok.gguf");
  EXPECT_EQ((*f)->version(), 3u);
  EXPECT_EQ((*f)->alignment(), 32u);
  EXPECT_EQ((*f)->architecture(), "llama");
  EXPECT_EQ(*(*f)->GetInt("llama.block_count"), 2);
  EXPECT_EQ(*(*f)->GetFloat("f64"), 2.5);
  ASSERT_EQ((*f)->tensors().size(), 2u);
  EXPECT_EQ((*f)->tensors()[0].rows(), 2);
  EXPECT_EQ((*f)->tensors()[0].num_elements(), 64);
  EXPECT_EQ((*f)->tensors()[0].nbytes, 36u);
  EXPECT_EQ((*f)->tensors()[1].offset, 64u);
}

TEST(GgufReaderTest, ReleaseLargeArraysEmptiesOnlyLongArrays) {
  GgufWriter w;
  GgufArray tokens;
  tokens.type = GgufValueType::kString;
  for (int i = 0; i < 100; ++i) tokens.strings.push_back("token" + std::to_string(i));
  GgufArray small;
  small.type = GgufValueType::kInt32;
  small.ints = {1, 2, 3};
  w.SetValue("tokenizer.ggml.tokens", GgufValue::Array(tokens));
  w.SetValue("small", GgufValue::Array(small));
  w.SetValue("name", GgufValue::String("kept"));
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::FromBuffer(w.Serialize(), "arrays.gguf");
  ASSERT_TRUE(f.ok()) << f.status();
  (*f)->ReleaseLargeArrays(10);
  absl::StatusOr<const GgufArray*> released = (*f)->GetArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(released.ok());
  EXPECT_EQ((*released)->type, GgufValueType::kString);
  EXPECT_EQ((*released)->size(), 0u);
  absl::StatusOr<const GgufArray*> kept = (*f)->GetArray("small");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ((*kept)->ints, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(*(*f)->GetString("name"), "kept");
}

TEST(GgufReaderTest, EveryTruncationIsACleanError) {
  const std::vector<uint8_t> full = SmallValidFile();
  ASSERT_TRUE(ParseStatus(full).ok());
  for (size_t len = 0; len < full.size(); ++len) {
    const std::vector<uint8_t> cut(full.begin(), full.begin() + len);
    const absl::Status s = ParseStatus(cut);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << "length " << len << ": " << s;
    EXPECT_THAT(std::string(s.message()), StartsWith("bad.gguf: ")) << len;
  }
}

TEST(GgufReaderTest, GettersReportMissingKeysAndWrongTypes) {
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::FromBuffer(SmallValidFile(), "m.gguf");
  ASSERT_TRUE(f.ok());
  const GgufFile& g = **f;
  EXPECT_EQ(g.Find("nope"), nullptr);
  EXPECT_EQ(g.GetString("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(g.GetString("nope").status().message(), HasSubstr("m.gguf: key 'nope' not found"));
  EXPECT_EQ(g.GetInt("general.architecture").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(g.GetInt("general.architecture").status().message(),
              HasSubstr("key 'general.architecture' has type string, expected an integer"));
  EXPECT_FALSE(g.GetFloat("llama.block_count").ok());
  EXPECT_FALSE(g.GetBool("llama.block_count").ok());
  EXPECT_FALSE(g.GetArray("llama.block_count").ok());
  EXPECT_FALSE(g.GetString("tokenizer.ggml.tokens").ok());
  EXPECT_TRUE(*g.GetBool("flag"));
  absl::StatusOr<const GgufArray*> scores = g.GetArray("tokenizer.ggml.scores");
  ASSERT_TRUE(scores.ok());
  EXPECT_EQ((*scores)->type, GgufValueType::kFloat32);
  EXPECT_EQ((*scores)->floats, (std::vector<double>{0, -1, -2.5}));
}

TEST(GgufReaderTest, RejectsBadMagicAndUnsupportedVersions) {
  ExpectError(Bytes().Raw("GGUX").U32(3).U64(0).U64(0).bytes(), "bad magic");
  ExpectError(Bytes().Raw("GG").bytes(), "too short (2 bytes)");
  ExpectError({}, "too short (0 bytes)");
  // Version 1 stored 32-bit counts.
  ExpectError(Bytes().Raw("GGUF").U32(1).U32(0).U32(0).bytes(), "version 1");
  ExpectError(Bytes().Header(4, 0, 0).bytes(), "unsupported GGUF version 4");
  ExpectError(Bytes().Header(0, 0, 0).bytes(), "unsupported GGUF version 0");
  ExpectError(Bytes().Raw("GGUF").Raw(std::string("\0\0\0\3", 4)).U64(0).U64(0).bytes(), "big-endian");
  // A v2 file with no metadata and no tensors is valid.
  EXPECT_TRUE(ParseStatus(Bytes().Header(2, 0, 0).bytes()).ok());
}

TEST(GgufReaderTest, RejectsAbsurdCountsWithoutAllocating) {
  const uint64_t huge = 1ull << 60;
  ExpectError(Bytes().Header(3, huge, 0).bytes(), "tensor count 1152921504606846976 is impossible");
  ExpectError(Bytes().Header(3, 0, huge).bytes(), "metadata count 1152921504606846976 is impossible");
  ExpectError(Bytes().Header(3, 0, ~0ull).bytes(), "metadata count");
  for (uint32_t elem : {0u, 6u, 8u, 9u, 12u}) {  // uint8, float32, string, array, float64
    ExpectError(Bytes().Header(3, 0, 1).Str("arr").U32(9).U32(elem).U64(huge).Zeros(64).bytes(),
                "length of array 'arr' 1152921504606846976 is impossible");
  }
  // Just one element too many for the bytes present.
  ExpectError(Bytes().Header(3, 0, 1).Str("arr").U32(9).U32(4).U64(3).U32(1).U32(2).bytes(),
              "length of array 'arr' 3 is impossible");
}

// Counts that the file could hold but no real model has: refused before any
// allocation proportional to them.
TEST(GgufReaderTest, RejectsCountsBeyondTheLimits) {
  ExpectError(Bytes().Header(3, 0, (1 << 20) + 1).Zeros(14 << 20).bytes(),
              "metadata count 1048577 exceeds the limit of 1048576");
  ExpectError(Bytes().Header(3, (1 << 20) + 1, 0).Zeros(33 << 20).bytes(),
              "tensor count 1048577 exceeds the limit of 1048576");
  // 2^26 + 1 uint8 elements are 64 MiB on disk but 512 MiB as int64 in memory.
  ExpectError(Bytes().Header(3, 0, 1).Str("big").U32(9).U32(0).U64((1 << 26) + 1).Zeros((1 << 26) + 1).bytes(),
              "array 'big' of 67108865 elements would take the metadata past 512 MiB in memory");
}

TEST(GgufReaderTest, RejectsBadStringLengths) {
  ExpectError(Bytes().Header(3, 0, 1).U64(1ull << 60).Raw("key").Zeros(16).bytes(),
              "string length 1152921504606846976 of the key of metadata entry 0");
  ExpectError(Bytes().Header(3, 0, 1).U64(~0ull).Zeros(16).bytes(), "string length 18446744073709551615");
  ExpectError(Bytes().Header(3, 0, 1).Str("k").U32(8).U64(6).Raw("abcde").bytes(),
              "string length 6 of the value of key 'k'");
  ExpectError(Bytes().Header(3, 0, 1).Str("k").U32(9).U32(8).U64(2).Str("ok").U64(100).Raw("x").bytes(),
              "string length 100 of element 1 of array 'k'");
  ExpectError(Bytes().Header(3, 1, 0).U64(50).Raw("w").Zeros(40).bytes(), "string length 50 of the name of tensor 0");
}

TEST(GgufReaderTest, RejectsUnknownValueTypes) {
  ExpectError(Bytes().Header(3, 0, 1).Str("k").U32(13).U32(0).bytes(), "key 'k' has unknown value type 13");
  ExpectError(Bytes().Header(3, 0, 1).Str("k").U32(0xFFFFFFFF).U32(0).bytes(), "unknown value type 4294967295");
  ExpectError(Bytes().Header(3, 0, 1).Str("k").U32(9).U32(99).U64(0).bytes(),
              "array 'k' has unknown element type 99");
  ExpectError(Bytes().Header(3, 0, 1).Str("b").U32(7).U8(2).bytes(), "bool value 2 of key 'b'");
  ExpectError(Bytes().Header(3, 0, 1).Str("b").U32(9).U32(7).U64(2).U8(1).U8(9).bytes(), "bool element 1");
}

TEST(GgufReaderTest, NestedArraysParseToABoundedDepth) {
  // [[1, 2], []] of uint8 parses.
  std::vector<uint8_t> ok =
      Bytes().Header(3, 0, 1).Str("n").U32(9).U32(9).U64(2).U32(0).U64(2).U8(1).U8(2).U32(0).U64(0).bytes();
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::FromBuffer(ok, "n.gguf");
  ASSERT_TRUE(f.ok()) << f.status();
  const GgufArray* a = *(*f)->GetArray("n");
  ASSERT_EQ(a->arrays.size(), 2u);
  EXPECT_EQ(a->arrays[0].ints, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(a->arrays[1].size(), 0u);
  // 100 levels of one-element arrays: refused before recursing that deep.
  Bytes deep;
  deep.Header(3, 0, 1).Str("d").U32(9);
  for (int i = 0; i < 100; ++i) deep.U32(9).U64(1);
  deep.U32(0).U64(0);
  ExpectError(deep.bytes(), "nested deeper than");
}

TEST(GgufReaderTest, RejectsDuplicateKeysAndTensorNames) {
  ExpectError(Bytes().Header(3, 0, 2).KvU32("k", 1).KvU32("k", 2).bytes(), "duplicate metadata key 'k'");
  ExpectError(Bytes()
                  .Header(3, 2, 0)
                  .TensorInfo("w", {8}, 0, 0)
                  .TensorInfo("w", {8}, 0, 32)
                  .PadTo(32)
                  .Zeros(64)
                  .bytes(),
              "duplicate tensor name 'w'");
}

TEST(GgufReaderTest, RejectsBadTensorShapesAndTypes) {
  auto one = [](std::vector<uint64_t> dims, uint32_t type) {
    return Bytes().Header(3, 1, 0).TensorInfo("w", dims, type, 0).PadTo(32).Zeros(64).bytes();
  };
  ExpectError(one({8}, 4), "tensor 'w' has unknown tensor type id 4");
  ExpectError(one({8}, 99), "unknown tensor type id 99");
  ExpectError(one({1, 1, 1, 1, 1}, 0), "tensor 'w' has 5 dimensions");
  ExpectError(Bytes().Header(3, 1, 0).Str("w").U32(1000).Zeros(200).bytes(), "1000 dimensions");
  ExpectError(one({}, 0), "0 dimensions");
  ExpectError(one({1ull << 32, 1ull << 32}, 0), "overflows");
  ExpectError(one({3, 1ull << 62, 1, 1}, 0), "overflows");
  // No elements, but rows() would overflow (found by the fuzzer).
  ExpectError(one({0, 1ull << 57, 1ull << 56}, 0), "overflows");
  ExpectError(one({1ull << 63}, 0), "too large (or negative)");
  ExpectError(one({~0ull}, 0), "too large (or negative)");
  // Elements fit int64 but bytes do not: 2^62 F64 values take 2^65 bytes.
  ExpectError(one({1ull << 62}, 28), "byte size overflows");
  ExpectError(Bytes().Header(3, 1, 0).TensorInfo("", {8}, 0, 0).PadTo(32).Zeros(32).bytes(),
              "tensor 0 has an empty name");
  ExpectError(one({33}, 2), "rows of 33 values, not a multiple of the block size 32");
  ExpectError(one({128}, 12), "not a multiple of the block size 256");
}

TEST(GgufReaderTest, RejectsMisplacedTensorData) {
  ExpectError(Bytes().Header(3, 1, 0).TensorInfo("w", {4}, 0, 16).PadTo(32).Zeros(64).bytes(),
              "tensor 'w' data offset 16 is not a multiple of the alignment 32");
  // The header is 24 bytes, the info 8+1+4+8+4+8 = 33: data starts at 64.
  ExpectError(Bytes().Header(3, 1, 0).TensorInfo("w", {8}, 0, 0).PadTo(32).Zeros(31).bytes(),
              "bad.gguf: tensor 'w' data [offset 64, 32 bytes] extends past the end of the file (95 bytes)");
  ExpectError(Bytes().Header(3, 1, 0).TensorInfo("w", {8}, 0, 1ull << 63).PadTo(32).Zeros(32).bytes(),
              "extends past the end of the file");
  ExpectError(Bytes().Header(3, 1, 0).TensorInfo("w", {8}, 0, ~0ull << 5).PadTo(32).Zeros(32).bytes(),
              "offset 18446744073709551615");  // saturated, not wrapped
  // No data section at all: the file ends right after the tensor info.
  ExpectError(Bytes().Header(3, 1, 0).TensorInfo("w", {0}, 0, 0).bytes(), "extends past the end");
  // An empty tensor at the very end is fine.
  EXPECT_TRUE(ParseStatus(Bytes().Header(3, 1, 0).TensorInfo("w", {0, 5}, 0, 0).PadTo(32).bytes()).ok());
}

TEST(GgufReaderTest, ChecksAlignment) {
  for (uint32_t bad : {0u, 3u, 48u}) {
    ExpectError(Bytes().Header(3, 0, 1).KvU32("general.alignment", bad).bytes(),
                "general.alignment " + std::to_string(bad) + " is not a nonzero power of two");
  }
  ExpectError(Bytes().Header(3, 0, 1).Str("general.alignment").U32(5).U32(64).bytes(),
              "general.alignment has type int32, expected uint32");
  // 64-byte alignment moves the data section and constrains offsets.
  Bytes good;
  good.Header(3, 1, 1).KvU32("general.alignment", 64).TensorInfo("w", {8}, 0, 0).PadTo(64).Zeros(32);
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::FromBuffer(good.bytes(), "a.gguf");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->alignment(), 64u);
  EXPECT_EQ((*f)->data_offset(), 128u);
  ExpectError(Bytes()
                  .Header(3, 1, 1)
                  .KvU32("general.alignment", 64)
                  .TensorInfo("w", {8}, 0, 32)
                  .PadTo(64)
                  .Zeros(128)
                  .bytes(),
              "not a multiple of the alignment 64");
}

TEST(GgufReaderTest, OpenReportsMissingEmptyAndNonRegularFiles) {
  absl::StatusOr<std::unique_ptr<GgufFile>> missing = GgufFile::Open("/nonexistent/model.gguf");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), StartsWith("/nonexistent/model.gguf: cannot open"));

  absl::StatusOr<std::unique_ptr<GgufFile>> dir = GgufFile::Open("/tmp");
  EXPECT_THAT(dir.status().message(), HasSubstr("/tmp: not a regular file"));

  const std::string empty = (fs::temp_directory_path() / "gguf_reader_test_empty.gguf").string();
  { std::ofstream(empty).flush(); }
  absl::StatusOr<std::unique_ptr<GgufFile>> e = GgufFile::Open(empty);
  EXPECT_THAT(e.status().message(), HasSubstr("too short (0 bytes)"));
  fs::remove(empty);
}

TEST(GgufReaderTest, OpenMapsTheSameContentAsFromBuffer) {
  const std::vector<uint8_t> bytes = SmallValidFile();
  const std::string path = (fs::temp_directory_path() / "gguf_reader_test_map.gguf").string();
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::Open(path);
  fs::remove(path);  // the mapping outlives the directory entry
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->file_size(), bytes.size());
  const GgufTensorInfo* b = (*f)->FindTensor("b");
  ASSERT_NE(b, nullptr);
  std::span<const uint8_t> d = (*f)->TensorData(*b);
  ASSERT_EQ(d.size(), 32u);
  EXPECT_EQ(d[0], 2);
  EXPECT_EQ(d[31], 2);
}

// Every GGUF fixture loads, and every tensor's bytes lie inside the file.
TEST(GgufReaderTest, OpensEveryFixtureFile) {
  const fs::path root = FixturesDir();
  if (!fs::exists(root)) GTEST_SKIP() << "fixtures not found at " << root << " (../shared is absent)";
  int files = 0;
  for (const char* sub : {"models", "real", "vocab"}) {
    const fs::path dir = root / sub;
    if (!fs::exists(dir)) continue;
    nlohmann::json manifest;
    if (fs::exists(dir / "MANIFEST.json")) manifest = nlohmann::json::parse(std::ifstream(dir / "MANIFEST.json"));
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() != ".gguf") continue;
      ++files;
      absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::Open(entry.path().string());
      ASSERT_TRUE(f.ok()) << f.status();
      const GgufFile& g = **f;
      EXPECT_EQ(g.file_size(), fs::file_size(entry.path()));
      EXPECT_TRUE(g.version() == 2 || g.version() == 3);
      const std::string name = entry.path().filename().string();
      if (manifest.contains(name)) {
        const nlohmann::json& m = manifest[name];
        if (m.contains("arch")) {
          EXPECT_EQ(g.architecture(), m["arch"].get<std::string>()) << name;
        }
        if (m.value("vocab_only", false)) {
          EXPECT_TRUE(g.tensors().empty()) << name;
        }
        if (m.contains("tensor_types")) {
          std::set<std::string> types;
          for (const GgufTensorInfo& t : g.tensors()) types.insert(std::string(TypeName(t.type)));
          EXPECT_EQ(types, m["tensor_types"].get<std::set<std::string>>()) << name;
        }
      }
      EXPECT_TRUE(g.Find("tokenizer.ggml.tokens") != nullptr) << name;
      for (const GgufTensorInfo& t : g.tensors()) {
        EXPECT_EQ(t.offset % g.alignment(), 0u) << name << " " << t.name;
        EXPECT_LE(g.data_offset() + t.offset + t.nbytes, g.file_size()) << name << " " << t.name;
        EXPECT_EQ(g.TensorData(t).size(), t.nbytes) << name << " " << t.name;
        EXPECT_EQ(g.FindTensor(t.name), &t);
      }
    }
  }
  EXPECT_GT(files, 0) << "no .gguf files under " << root;
}

// Released pages of a mapping read the file again; a copy is left alone.
TEST(MappedFileTest, ReleasedPagesKeepTheirBytes) {
  const fs::path path = fs::temp_directory_path() / "tinyrag_mapped_release.bin";
  std::vector<uint8_t> bytes(5 * 4096 + 123);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + 3);
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  auto mapped = MappedFile::Open(path.string());
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  ASSERT_EQ(std::memcmp(mapped->data(), bytes.data(), bytes.size()), 0);
  mapped->ReleasePages(100, 4 * 4096);
  mapped->ReleasePages(0, bytes.size() + 1000);  // past the end: clamped
  EXPECT_EQ(std::memcmp(mapped->data(), bytes.data(), bytes.size()), 0);
  const MappedFile copy = MappedFile::Copy(bytes);
  copy.ReleasePages(0, bytes.size());
  EXPECT_EQ(std::memcmp(copy.data(), bytes.data(), bytes.size()), 0);
  fs::remove(path);
}

}  // namespace
}  // namespace tinyrag
