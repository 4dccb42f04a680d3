// GGUF model files: a validating, memory-mapped reader and a writer.
//
// A GGUF file is a header (magic "GGUF", version 2 or 3), typed key/value
// metadata, tensor infos (name, shape, type, offset) and an aligned data
// section. GgufFile::Open checks every count, length, offset and size against
// the file before using it: a truncated, corrupt or hostile file yields an
// error naming the file and the problem, never a crash or a giant allocation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/tensor_type.h"

namespace tinyrag {

// On-disk ids of metadata value types; never renumber.
enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

std::string_view GgufValueTypeName(GgufValueType type);

// An array value: element type plus the elements. Integers of every width are
// held in `ints` (uint64 values above INT64_MAX keep their bit pattern), floats
// of both widths in `floats`, bools in `ints` as 0/1, strings in `strings`.
// Nested arrays are allowed by the format; their elements are in `arrays`.
struct GgufArray {
  GgufValueType type = GgufValueType::kUint8;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
  std::vector<GgufArray> arrays;
  size_t size() const;
};

// One scalar or array value, keeping the exact on-disk type.
struct GgufValue {
  GgufValueType type = GgufValueType::kUint8;
  std::variant<int64_t, uint64_t, double, bool, std::string, GgufArray> data;

  static GgufValue U8(uint8_t v);
  static GgufValue I8(int8_t v);
  static GgufValue U16(uint16_t v);
  static GgufValue I16(int16_t v);
  static GgufValue U32(uint32_t v);
  static GgufValue I32(int32_t v);
  static GgufValue U64(uint64_t v);
  static GgufValue I64(int64_t v);
  static GgufValue F32(float v);
  static GgufValue F64(double v);
  static GgufValue Bool(bool v);
  static GgufValue String(std::string v);
  static GgufValue Array(GgufArray v);

  bool operator==(const GgufValue&) const = default;
};
bool operator==(const GgufArray& a, const GgufArray& b);

struct GgufKeyValue {
  std::string key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::kF32;
  // GGML order: shape[0] is the fastest-varying dimension (the row length);
  // 1 to 4 dimensions, each >= 1... a 0 dimension makes an empty tensor.
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // relative to the start of the data section
  uint64_t nbytes = 0;  // computed from type and shape, checked against the file

  int64_t num_elements() const;
  int64_t rows() const;  // product of shape[1..]
};

class GgufFile {
 public:
  // Memory-maps and validates `path`. Errors name the file and the problem.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses a copy of `bytes` (for fuzzing and tests); `name` is used in errors.
  static absl::StatusOr<std::unique_ptr<GgufFile>> FromBuffer(std::span<const uint8_t> bytes,
                                                               std::string name);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return size_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute offset of the data section

  // Metadata in file order.
  const std::vector<GgufKeyValue>& metadata() const { return metadata_; }
  // The value under `key`, or nullptr when absent. Pointer valid for the file's lifetime.
  const GgufValue* Find(std::string_view key) const;

  // Typed getters. NotFound when the key is absent; InvalidArgument (naming the
  // key, the expected and the actual type) when it has another type. Integer
  // getters accept any integer type whose value fits; GetFloat accepts f32/f64.
  absl::StatusOr<std::string> GetString(std::string_view key) const;
  absl::StatusOr<int64_t> GetInt(std::string_view key) const;
  absl::StatusOr<double> GetFloat(std::string_view key) const;
  absl::StatusOr<bool> GetBool(std::string_view key) const;
  absl::StatusOr<const GgufArray*> GetArray(std::string_view key) const;

  // Tensors in file order; FindTensor returns nullptr when absent.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(std::string_view name) const;
  // The tensor's bytes inside the mapping; valid for the file's lifetime.
  std::span<const uint8_t> TensorData(const GgufTensorInfo& tensor) const;

  // The architecture ("general.architecture"), or "" when absent.
  std::string architecture() const;

 private:
  GgufFile() = default;
  absl::Status Parse();

  std::string path_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  void* mapping_ = nullptr;        // mmap'ed region (Open) or nullptr
  std::vector<uint8_t> owned_;     // buffer copy (FromBuffer)
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<GgufKeyValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
};

// Builds a GGUF file in memory and writes it. Tensors are laid out in the
// order added, each at an offset aligned to `alignment`.
class GgufWriter {
 public:
  explicit GgufWriter(uint32_t version = 3, uint64_t alignment = 32);

  void SetValue(std::string key, GgufValue value);  // replaces an existing key
  // `data` must hold exactly RowBytes(type, shape[0]) * rows bytes.
  absl::Status AddTensor(std::string name, GgmlType type, std::vector<int64_t> shape,
                         std::vector<uint8_t> data);

  // The whole file's bytes.
  std::vector<uint8_t> Serialize() const;
  // Writes to a temporary file beside `path`, then renames it into place.
  absl::Status WriteFile(const std::string& path) const;

 private:
  uint32_t version_;
  uint64_t alignment_;
  std::vector<GgufKeyValue> metadata_;
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;
  };
  std::vector<PendingTensor> tensors_;
};

}  // namespace tinyrag
