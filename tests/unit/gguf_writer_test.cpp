// GgufWriter: what it writes loads back identically (values with their exact
// types, tensors with shapes, types and bytes), laid out as llama.cpp lays it out.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/gguf.h"

namespace tinyrag {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<GgufFile> Load(const std::vector<uint8_t>& bytes) {
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::FromBuffer(bytes, "test.gguf");
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? *std::move(f) : nullptr;
}

std::vector<uint8_t> RandomBytes(size_t n, std::mt19937& rng) {
  std::vector<uint8_t> out(n);
  for (uint8_t& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

std::vector<uint8_t> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A fresh directory under the test temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gguf_writer_test.XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) names.push_back(e.path().filename());
    return names;
  }

 private:
  std::string path_;
};

GgufArray IntArray(GgufValueType type, std::vector<int64_t> v) {
  GgufArray a;
  a.type = type;
  a.ints = std::move(v);
  return a;
}

TEST(GgufWriterTest, RoundTripsEveryScalarTypeWithExtremes) {
  GgufWriter w;
  w.SetValue("u8", GgufValue::U8(255));
  w.SetValue("i8", GgufValue::I8(-128));
  w.SetValue("u16", GgufValue::U16(65535));
  w.SetValue("i16", GgufValue::I16(-32768));
  w.SetValue("u32", GgufValue::U32(0xFFFFFFFFu));
  w.SetValue("i32", GgufValue::I32(std::numeric_limits<int32_t>::min()));
  w.SetValue("u64", GgufValue::U64(std::numeric_limits<uint64_t>::max()));
  w.SetValue("i64", GgufValue::I64(std::numeric_limits<int64_t>::min()));
  w.SetValue("f32", GgufValue::F32(1e-45f));  // a float32 subnormal
  w.SetValue("f64", GgufValue::F64(-1.0 / 3.0));
  w.SetValue("bool_t", GgufValue::Bool(true));
  w.SetValue("bool_f", GgufValue::Bool(false));
  w.SetValue("str", GgufValue::String(std::string("a\0b \xE2\x96\x81the", 9)));
  w.SetValue("empty", GgufValue::String(""));
  ASSERT_TRUE(w.status().ok());
  std::unique_ptr<GgufFile> f = Load(w.Serialize());
  ASSERT_NE(f, nullptr);

  const std::vector<std::string> keys = {"u8",  "i8",  "u16", "i16",    "u32",    "i32", "u64",
                                         "i64", "f32", "f64", "bool_t", "bool_f", "str", "empty"};
  ASSERT_EQ(f->metadata().size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(f->metadata()[i].key, keys[i]);  // file order kept

  EXPECT_EQ(*f->Find("u8"), GgufValue::U8(255));
  EXPECT_EQ(*f->Find("i8"), GgufValue::I8(-128));
  EXPECT_EQ(*f->Find("u16"), GgufValue::U16(65535));
  EXPECT_EQ(*f->Find("i16"), GgufValue::I16(-32768));
  EXPECT_EQ(*f->Find("u32"), GgufValue::U32(0xFFFFFFFFu));
  EXPECT_EQ(*f->Find("i32"), GgufValue::I32(std::numeric_limits<int32_t>::min()));
  EXPECT_EQ(*f->Find("u64"), GgufValue::U64(std::numeric_limits<uint64_t>::max()));
  EXPECT_EQ(*f->Find("i64"), GgufValue::I64(std::numeric_limits<int64_t>::min()));
  EXPECT_EQ(*f->Find("f32"), GgufValue::F32(1e-45f));
  EXPECT_EQ(*f->Find("f64"), GgufValue::F64(-1.0 / 3.0));
  EXPECT_EQ(*f->Find("bool_t"), GgufValue::Bool(true));
  EXPECT_EQ(*f->Find("bool_f"), GgufValue::Bool(false));
  EXPECT_EQ(*f->Find("str"), GgufValue::String(std::string("a\0b \xE2\x96\x81the", 9)));
  EXPECT_EQ(*f->Find("empty"), GgufValue::String(""));

  EXPECT_EQ(*f->GetInt("i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(*f->GetInt("u32"), 0xFFFFFFFFll);
  EXPECT_EQ(f->GetInt("u64").status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(*f->GetFloat("f32"), static_cast<double>(1e-45f));
  EXPECT_TRUE(*f->GetBool("bool_t"));
  EXPECT_EQ(*f->GetString("str"), std::string("a\0b \xE2\x96\x81the", 9));
}

TEST(GgufWriterTest, RoundTripsArraysOfEveryTypeIncludingNested) {
  GgufWriter w;
  w.SetValue("a_u8", GgufValue::Array(IntArray(GgufValueType::kUint8, {0, 1, 255})));
  w.SetValue("a_i8", GgufValue::Array(IntArray(GgufValueType::kInt8, {-128, 127})));
  w.SetValue("a_u16", GgufValue::Array(IntArray(GgufValueType::kUint16, {65535})));
  w.SetValue("a_i16", GgufValue::Array(IntArray(GgufValueType::kInt16, {-32768, 5})));
  w.SetValue("a_u32", GgufValue::Array(IntArray(GgufValueType::kUint32, {0xFFFFFFFFll})));
  w.SetValue("a_i32", GgufValue::Array(IntArray(GgufValueType::kInt32, {-7, 1 << 30})));
  w.SetValue("a_u64", GgufValue::Array(IntArray(GgufValueType::kUint64, {-1})));  // bit pattern 2^64-1
  w.SetValue("a_i64", GgufValue::Array(IntArray(GgufValueType::kInt64, {std::numeric_limits<int64_t>::min()})));
  w.SetValue("a_bool", GgufValue::Array(IntArray(GgufValueType::kBool, {1, 0, 1})));
  GgufArray f32;
  f32.type = GgufValueType::kFloat32;
  f32.floats = {0.5, -2.25, std::numeric_limits<double>::infinity(), std::nan("")};
  w.SetValue("a_f32", GgufValue::Array(f32));
  GgufArray f64;
  f64.type = GgufValueType::kFloat64;
  f64.floats = {0.1, 1e300};
  w.SetValue("a_f64", GgufValue::Array(f64));
  GgufArray strs;
  strs.type = GgufValueType::kString;
  strs.strings = {"<s>", "", "\xE2\x96\x81hello", std::string(1, '\0')};
  w.SetValue("a_str", GgufValue::Array(strs));
  GgufArray empty;
  empty.type = GgufValueType::kInt32;
  w.SetValue("a_empty", GgufValue::Array(empty));
  GgufArray nested;
  nested.type = GgufValueType::kArray;
  nested.arrays = {strs, IntArray(GgufValueType::kUint8, {3}), empty};
  GgufArray nested2;
  nested2.type = GgufValueType::kArray;
  nested2.arrays = {nested};
  w.SetValue("a_nested", GgufValue::Array(nested2));
  ASSERT_TRUE(w.status().ok()) << w.status();

  std::unique_ptr<GgufFile> f = Load(w.Serialize());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->metadata().size(), 14u);
  EXPECT_EQ(*f->Find("a_u8"), GgufValue::Array(IntArray(GgufValueType::kUint8, {0, 1, 255})));
  EXPECT_EQ(*f->Find("a_i8"), GgufValue::Array(IntArray(GgufValueType::kInt8, {-128, 127})));
  EXPECT_EQ(*f->Find("a_u16"), GgufValue::Array(IntArray(GgufValueType::kUint16, {65535})));
  EXPECT_EQ(*f->Find("a_i16"), GgufValue::Array(IntArray(GgufValueType::kInt16, {-32768, 5})));
  EXPECT_EQ(*f->Find("a_u32"), GgufValue::Array(IntArray(GgufValueType::kUint32, {0xFFFFFFFFll})));
  EXPECT_EQ(*f->Find("a_i32"), GgufValue::Array(IntArray(GgufValueType::kInt32, {-7, 1 << 30})));
  EXPECT_EQ(*f->Find("a_u64"), GgufValue::Array(IntArray(GgufValueType::kUint64, {-1})));
  EXPECT_EQ(*f->Find("a_i64"),
            GgufValue::Array(IntArray(GgufValueType::kInt64, {std::numeric_limits<int64_t>::min()})));
  EXPECT_EQ(*f->Find("a_bool"), GgufValue::Array(IntArray(GgufValueType::kBool, {1, 0, 1})));
  EXPECT_EQ(*f->Find("a_f32"), GgufValue::Array(f32));  // NaN compares by bit pattern
  EXPECT_EQ(*f->Find("a_f64"), GgufValue::Array(f64));
  EXPECT_EQ(*f->Find("a_str"), GgufValue::Array(strs));
  EXPECT_EQ(*f->Find("a_empty"), GgufValue::Array(empty));
  EXPECT_EQ(*f->Find("a_nested"), GgufValue::Array(nested2));

  absl::StatusOr<const GgufArray*> a = f->GetArray("a_str");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->size(), 4u);
  EXPECT_EQ((*a)->type, GgufValueType::kString);
}

TEST(GgufWriterTest, RoundTripsTensorsOfEveryTypeWithShapesAndBytes) {
  std::mt19937 rng(1234);
  GgufWriter w;
  w.SetValue("general.architecture", GgufValue::String("llama"));
  struct Added {
    std::string name;
    GgmlType type;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;
  };
  std::vector<Added> added;
  int i = 0;
  for (uint32_t id = 0; id < 64; ++id) {
    const std::optional<TypeTraits> t = FindTypeTraits(id);
    if (!t) continue;
    // Shapes of 1 to 4 dims, rows a multiple of the block size.
    std::vector<int64_t> shape = {t->block_elems * (1 + i % 3)};
    for (int d = 1; d <= i % 4; ++d) shape.push_back(1 + (i + d) % 3);
    int64_t rows = 1;
    for (size_t d = 1; d < shape.size(); ++d) rows *= shape[d];
    std::vector<uint8_t> data = RandomBytes(RowBytes(t->type, shape[0]) * rows, rng);
    added.push_back({"t." + std::string(t->name), t->type, shape, data});
    ASSERT_TRUE(w.AddTensor(added.back().name, t->type, shape, data).ok());
    ++i;
  }
  added.push_back({"empty", GgmlType::kF32, {0, 3}, {}});
  ASSERT_TRUE(w.AddTensor("empty", GgmlType::kF32, {0, 3}, {}).ok());

  const std::vector<uint8_t> bytes = w.Serialize();
  std::unique_ptr<GgufFile> f = Load(bytes);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->architecture(), "llama");
  EXPECT_EQ(f->version(), 3u);
  ASSERT_EQ(f->tensors().size(), added.size());
  uint64_t expected_offset = 0;
  for (size_t k = 0; k < added.size(); ++k) {
    const GgufTensorInfo& t = f->tensors()[k];
    EXPECT_EQ(t.name, added[k].name);
    EXPECT_EQ(t.type, added[k].type) << t.name;
    EXPECT_EQ(t.shape, added[k].shape) << t.name;
    EXPECT_EQ(t.nbytes, added[k].data.size()) << t.name;
    // llama.cpp requires each tensor right after the previous one, padded.
    EXPECT_EQ(t.offset, expected_offset) << t.name;
    expected_offset += (t.nbytes + 31) / 32 * 32;
    std::span<const uint8_t> d = f->TensorData(t);
    EXPECT_TRUE(std::equal(d.begin(), d.end(), added[k].data.begin(), added[k].data.end())) << t.name;
    EXPECT_EQ(f->FindTensor(added[k].name), &t);
  }
  EXPECT_EQ(f->data_offset() % 32, 0u);
  EXPECT_EQ(f->file_size(), f->data_offset() + expected_offset);
  EXPECT_EQ(f->FindTensor("missing"), nullptr);
}

TEST(GgufWriterTest, WritesVersion2AndCustomAlignment) {
  GgufWriter w(2, 64);
  ASSERT_TRUE(w.AddTensor("a", GgmlType::kF32, {3}, std::vector<uint8_t>(12, 7)).ok());
  ASSERT_TRUE(w.AddTensor("b", GgmlType::kF16, {2, 2}, std::vector<uint8_t>(8, 9)).ok());
  std::unique_ptr<GgufFile> f = Load(w.Serialize());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(*f->GetInt("general.alignment"), 64);
  EXPECT_EQ(f->Find("general.alignment")->type, GgufValueType::kUint32);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  EXPECT_EQ(f->tensors()[1].offset, 64u);
  EXPECT_EQ(f->file_size(), f->data_offset() + 128);
}

TEST(GgufWriterTest, GeneralAlignmentKeySetsTheLayout) {
  GgufWriter w;
  w.SetValue("general.alignment", GgufValue::U32(128));
  ASSERT_TRUE(w.AddTensor("a", GgmlType::kF32, {3}, std::vector<uint8_t>(12, 1)).ok());
  ASSERT_TRUE(w.AddTensor("b", GgmlType::kF32, {3}, std::vector<uint8_t>(12, 2)).ok());
  std::unique_ptr<GgufFile> f = Load(w.Serialize());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->alignment(), 128u);
  EXPECT_EQ(f->metadata().size(), 1u);  // not written twice
  EXPECT_EQ(f->data_offset() % 128, 0u);
  EXPECT_EQ(f->tensors()[1].offset, 128u);
  EXPECT_EQ(f->TensorData(f->tensors()[1])[0], 2);

  for (GgufValue bad : {GgufValue::U32(48), GgufValue::U32(0), GgufValue::U64(64), GgufValue::String("64")}) {
    GgufWriter b;
    b.SetValue("general.alignment", bad);
    EXPECT_THAT(b.status().message(), HasSubstr("general.alignment must be a uint32 power of two"));
  }
}

TEST(GgufWriterTest, SetValueReplacesInPlace) {
  GgufWriter w;
  w.SetValue("a", GgufValue::U32(1));
  w.SetValue("b", GgufValue::U32(2));
  w.SetValue("a", GgufValue::String("x"));
  std::unique_ptr<GgufFile> f = Load(w.Serialize());
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->metadata().size(), 2u);
  EXPECT_EQ(f->metadata()[0].key, "a");
  EXPECT_EQ(f->metadata()[0].value, GgufValue::String("x"));
}

TEST(GgufWriterTest, AddTensorRejectsBadTensors) {
  GgufWriter w;
  ASSERT_TRUE(w.AddTensor("x", GgmlType::kF32, {2}, std::vector<uint8_t>(8)).ok());
  EXPECT_THAT(w.AddTensor("x", GgmlType::kF32, {2}, std::vector<uint8_t>(8)).message(),
              HasSubstr("duplicate"));
  EXPECT_THAT(w.AddTensor("", GgmlType::kF32, {2}, std::vector<uint8_t>(8)).message(), HasSubstr("empty"));
  EXPECT_THAT(w.AddTensor("s", GgmlType::kF32, {2}, std::vector<uint8_t>(7)).message(),
              HasSubstr("7 bytes of data, expected 8"));
  EXPECT_THAT(w.AddTensor("q", GgmlType::kQ4_0, {33}, std::vector<uint8_t>(18)).message(),
              HasSubstr("not a multiple"));
  EXPECT_THAT(w.AddTensor("d", GgmlType::kF32, {1, 1, 1, 1, 1}, std::vector<uint8_t>(4)).message(),
              HasSubstr("5 dimensions"));
  EXPECT_THAT(w.AddTensor("z", GgmlType::kF32, {}, {}).message(), HasSubstr("0 dimensions"));
  EXPECT_THAT(w.AddTensor("n", GgmlType::kF32, {-1}, {}).message(), HasSubstr("negative"));
  EXPECT_THAT(w.AddTensor("o", GgmlType::kF32, {1ll << 40, 1ll << 40}, {}).message(), HasSubstr("overflow"));
  EXPECT_THAT(w.AddTensor("u", static_cast<GgmlType>(4), {1}, std::vector<uint8_t>(1)).message(),
              HasSubstr("unknown type id 4"));
  EXPECT_THAT(w.AddTensorWithFiller("f", GgmlType::kF32, {1}, nullptr).message(), HasSubstr("no filler"));
  // Nothing but the first tensor was added.
  std::unique_ptr<GgufFile> f = Load(w.Serialize());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tensors().size(), 1u);
}

TEST(GgufWriterTest, HandBuiltInconsistentValuesMakeTheWriterFail) {
  const std::vector<GgufValue> bad = [] {
    std::vector<GgufValue> v;
    GgufValue s;
    s.type = GgufValueType::kString;  // holds int64 0
    v.push_back(s);
    GgufValue u8 = GgufValue::U32(300);
    u8.type = GgufValueType::kUint8;  // 300 does not fit
    v.push_back(u8);
    GgufValue f32 = GgufValue::F64(0.1);
    f32.type = GgufValueType::kFloat32;  // 0.1 is not a float32
    v.push_back(f32);
    GgufArray a = IntArray(GgufValueType::kBool, {2});
    v.push_back(GgufValue::Array(a));
    GgufArray mixed = IntArray(GgufValueType::kString, {1});
    v.push_back(GgufValue::Array(mixed));
    GgufValue unknown = GgufValue::U8(1);
    unknown.type = static_cast<GgufValueType>(77);
    v.push_back(unknown);
    return v;
  }();
  for (size_t i = 0; i < bad.size(); ++i) {
    GgufWriter w;
    w.SetValue("k", bad[i]);
    EXPECT_FALSE(w.status().ok()) << i;
    EXPECT_THAT(w.status().message(), HasSubstr("'k'")) << i;
    EXPECT_TRUE(w.Serialize().empty()) << i;
    TempDir dir;
    EXPECT_FALSE(w.WriteFile(dir.path() + "/x.gguf").ok()) << i;
    EXPECT_TRUE(dir.Entries().empty()) << i;
  }
}

TEST(GgufWriterTest, RejectsAlignmentThatIsNotAPowerOfTwo) {
  for (uint64_t a : {0ull, 3ull, 48ull, 1ull << 33}) {
    GgufWriter w(3, a);
    EXPECT_THAT(w.status().message(), HasSubstr("alignment")) << a;
    EXPECT_TRUE(w.Serialize().empty());
  }
}

TEST(GgufWriterTest, WriteFileMatchesSerializeAndLeavesNoTemporary) {
  std::mt19937 rng(99);
  GgufWriter w;
  w.SetValue("general.architecture", GgufValue::String("qwen2"));
  ASSERT_TRUE(w.AddTensor("a", GgmlType::kQ8_0, {64, 3}, RandomBytes(34 * 2 * 3, rng)).ok());
  const std::vector<uint8_t> filled = RandomBytes(4 * 1000, rng);
  int fill_calls = 0;
  ASSERT_TRUE(w.AddTensorWithFiller("b", GgmlType::kF32, {1000},
                                    [&](std::span<uint8_t> out) {
                                      ++fill_calls;
                                      ASSERT_EQ(out.size(), filled.size());
                                      std::copy(filled.begin(), filled.end(), out.begin());
                                    })
                  .ok());
  TempDir dir;
  const std::string path = dir.path() + "/model.gguf";
  { std::ofstream(path) << "old contents"; }  // replaced atomically
  ASSERT_TRUE(w.WriteFile(path).ok());
  EXPECT_EQ(fill_calls, 1);
  const std::vector<uint8_t> serialized = w.Serialize();
  EXPECT_EQ(fill_calls, 2);
  EXPECT_EQ(ReadWholeFile(path), serialized);
  EXPECT_EQ(dir.Entries(), std::vector<std::string>{"model.gguf"});

  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->architecture(), "qwen2");
  std::span<const uint8_t> b = (*f)->TensorData(*(*f)->FindTensor("b"));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), filled.begin(), filled.end()));
}

TEST(GgufWriterTest, WriteFileReportsAnUnwritablePath) {
  GgufWriter w;
  const absl::Status s = w.WriteFile("/nonexistent-dir/sub/model.gguf");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent-dir/sub/model.gguf"));
}

}  // namespace
}  // namespace tinyrag
