#include "model/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace tinyrag {
namespace {

using ::testing::HasSubstr;

// A file made by hand: the 8-byte length, `header` verbatim, `data_bytes` zeros.
std::vector<uint8_t> HandMade(const std::string& header, size_t data_bytes, std::optional<uint64_t> length = {}) {
  const uint64_t n = length.value_or(header.size());
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + data_bytes, 0);
  return out;
}

std::string ErrorOf(const std::vector<uint8_t>& bytes) {
  auto f = SafetensorsFile::FromBuffer(bytes, "t.safetensors");
  if (f.ok()) return "OK";
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(f.status().message(), HasSubstr("t.safetensors: "));
  return std::string(f.status().message());
}

TEST(SafetensorsTest, WriterRoundTrip) {
  SafetensorsWriter w;
  const std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  ASSERT_TRUE(w.AddF32("a.weight", {2, 3}, a).ok());
  const uint16_t halves[2] = {0x3c00, 0xc000};
  ASSERT_TRUE(w.Add("b", SafetensorsDtype::kF16, {2}, {reinterpret_cast<const uint8_t*>(halves), 4}).ok());
  ASSERT_TRUE(w.Add("empty", SafetensorsDtype::kBF16, {0, 4}, {}).ok());
  w.SetMetadata("format", "pt");
  const std::vector<uint8_t> bytes = w.Serialize();
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  EXPECT_EQ((8 + header_len) % 8, 0u);

  auto f = SafetensorsFile::FromBuffer(bytes);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ((*f)->tensors().size(), 3u);
  const SafetensorsTensor* t = (*f)->Find("a.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dtype, SafetensorsDtype::kF32);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 3}));
  std::vector<float> back(6);
  std::memcpy(back.data(), (*f)->Data(*t).data(), 24);
  EXPECT_EQ(back, a);
  const SafetensorsTensor* b = (*f)->Find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, SafetensorsDtype::kF16);
  EXPECT_EQ((*f)->Data(*b).size(), 4u);
  EXPECT_EQ((*f)->Find("missing"), nullptr);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
}

TEST(SafetensorsTest, OpenFromDiskAndMissingFile) {
  const std::string path = (std::filesystem::temp_directory_path() / "tinyrag_st_test.safetensors").string();
  SafetensorsWriter w;
  const std::vector<float> v = {1, 2, 3, 4};
  ASSERT_TRUE(w.AddF32("x", {4}, v).ok());
  ASSERT_TRUE(w.WriteFile(path).ok());
  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->Find("x")->num_elements(), 4);
  std::filesystem::remove(path);
  auto missing = SafetensorsFile::Open(path);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(SafetensorsTest, WriterRejectsBadInput) {
  SafetensorsWriter w;
  const std::vector<float> v = {1, 2, 3};
  EXPECT_FALSE(w.AddF32("x", {2, 2}, v).ok());
  EXPECT_FALSE(w.AddF32("", {3}, v).ok());
  EXPECT_TRUE(w.AddF32("x", {3}, v).ok());
  EXPECT_FALSE(w.AddF32("x", {3}, v).ok());
}

TEST(SafetensorsTest, HeaderLength) {
  EXPECT_THAT(ErrorOf({1, 2, 3}), HasSubstr("too short"));
  EXPECT_THAT(ErrorOf(HandMade("{}", 0, uint64_t{1} << 40)), HasSubstr("exceeds the limit"));
  EXPECT_THAT(ErrorOf(HandMade("{}", 0, 100)), HasSubstr("past the end of the file"));
  EXPECT_THAT(ErrorOf(HandMade("{}", 0, 0)), HasSubstr("too small"));
  EXPECT_EQ(ErrorOf(HandMade("{}", 0)), "OK");
}

TEST(SafetensorsTest, MalformedJson) {
  EXPECT_THAT(ErrorOf(HandMade("[1, 2]  ", 0)), HasSubstr("does not start with '{'"));
  EXPECT_THAT(ErrorOf(HandMade("{\"a\": ", 0)), HasSubstr("not valid JSON"));
  EXPECT_THAT(ErrorOf(HandMade("{\"a\": 3}", 0)), HasSubstr("is not an object"));
  EXPECT_THAT(ErrorOf(HandMade("{\"__metadata__\": {\"k\": 1}}", 0)), HasSubstr("not a string"));
}

TEST(SafetensorsTest, DuplicateNames) {
  const std::string t = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  EXPECT_THAT(ErrorOf(HandMade("{\"w\":" + t + ",\"w\":" + t + "}", 4)), HasSubstr("duplicate key \"w\""));
  EXPECT_THAT(ErrorOf(HandMade(R"({"w":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4)),
              HasSubstr("duplicate key \"dtype\""));
}

TEST(SafetensorsTest, Dtypes) {
  EXPECT_THAT(ErrorOf(HandMade(R"({"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8)),
              HasSubstr("dtype I64 is not supported (supported: F32, F16, BF16)"));
  EXPECT_THAT(ErrorOf(HandMade(R"({"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,8]}})", 8)),
              HasSubstr("unknown dtype \"Q4\""));
  EXPECT_THAT(ErrorOf(HandMade(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4)), HasSubstr("missing string dtype"));
  EXPECT_EQ(ErrorOf(HandMade(R"({"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", 4)), "OK");
}

TEST(SafetensorsTest, ShapesAndRanges) {
  EXPECT_THAT(ErrorOf(HandMade(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)),
              HasSubstr("needs 12 bytes but data_offsets [0, 8] hold 8"));
  EXPECT_THAT(ErrorOf(HandMade(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)),
              HasSubstr("not a size"));
  EXPECT_THAT(ErrorOf(HandMade(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4)),
              HasSubstr("not a size"));
  EXPECT_THAT(ErrorOf(HandMade(
                  R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})", 4)),
              HasSubstr("too large"));
  EXPECT_THAT(ErrorOf(HandMade(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4)),
              HasSubstr("reversed"));
  EXPECT_THAT(ErrorOf(HandMade(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4)),
              HasSubstr("run past the data section"));
  EXPECT_THAT(ErrorOf(HandMade(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4)),
              HasSubstr("two unsigned integers"));
  EXPECT_THAT(ErrorOf(HandMade(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}})", 4)),
              HasSubstr("unknown field \"extra\""));
}

TEST(SafetensorsTest, OverlapGapsAndTail) {
  EXPECT_THAT(ErrorOf(HandMade(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                               12)),
              HasSubstr("overlap"));
  EXPECT_THAT(ErrorOf(HandMade(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
              HasSubstr("unused bytes [0, 4)"));
  EXPECT_THAT(ErrorOf(HandMade(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 12)),
              HasSubstr("8 bytes after the last tensor"));
}

}  // namespace
}  // namespace tinyrag
