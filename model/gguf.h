// GGUF model files: a validating, memory-mapped reader and a writer.
//
// A GGUF file is a header (magic "GGUF", version 2 or 3), typed key/value
// metadata, tensor infos (name, shape, type, offset) and an aligned data
// section. GgufFile::Open checks every count, length, offset and size against
// the file before using it: a truncated, corrupt or hostile file yields an
// error naming the file and the problem, never a crash or a giant allocation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/mapped_file.h"
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

// "uint8", "int32", "float32", "string", "array", ...; "unknown" for other ids.
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
  size_t size() const;  // number of elements of `type`
};

// One scalar or array value, keeping the exact on-disk type. The variant holds
// uint64_t for unsigned integers, int64_t for signed ones, double for f32/f64,
// bool, std::string or GgufArray; the factories below keep type and data in step.
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
  // 1 to 4 dimensions, each >= 0 (a 0 dimension makes an empty tensor).
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // relative to the start of the data section
  uint64_t nbytes = 0;  // computed from type and shape, checked against the file

  int64_t num_elements() const;
  int64_t rows() const;  // product of shape[1..]
};

class GgufCursor;  // the reader's bounds-checked cursor, private to gguf_reader.cpp

// An open, validated GGUF file. Immutable after Open: every const method is
// safe to call from many threads at once.
class GgufFile {
 public:
  // Memory-maps and validates `path` (the descriptor is closed once mapped; the
  // mapping lives until the GgufFile is destroyed). Errors read "<path>: <problem>":
  // NotFound for a missing file, PermissionDenied when it cannot be opened,
  // InvalidArgument for anything wrong with its contents. Loads no tensor data.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses a copy of `bytes` (for fuzzing and tests); `name` is used in errors.
  static absl::StatusOr<std::unique_ptr<GgufFile>> FromBuffer(std::span<const uint8_t> bytes,
                                                               std::string name);
  ~GgufFile();  // unmaps the file: spans from TensorData() die with it
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return bytes_.size(); }
  // Absolute offset of the data section (may equal or pass the file's end when
  // there are no tensors, as in vocabulary-only files).
  uint64_t data_offset() const { return data_offset_; }

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
  // The tensor's bytes inside the mapping (or buffer copy); valid for the file's
  // lifetime. Empty for an info that does not lie inside this file.
  std::span<const uint8_t> TensorData(const GgufTensorInfo& tensor) const;
  // Tells the file its owner has copied the tensor and will not read it soon:
  // a mapped file gives back the resident pages that lie wholly inside the
  // tensor's bytes (they are read from disk again if touched); a buffer copy
  // does nothing. The bytes do not change.
  void ReleaseTensorPages(const GgufTensorInfo& tensor) const;

  // The architecture ("general.architecture"), or "" when absent.
  std::string architecture() const;

  // Frees the elements of every metadata array longer than `min_elements`
  // (a tokenizer's tokens, scores, types and merges: ~150k strings each for
  // modern vocabularies), keeping key and type; they read as empty arrays
  // afterwards. For an owner that has built what it needs from them. The one
  // exception to "immutable after Open": call it before sharing the file.
  void ReleaseLargeArrays(size_t min_elements);

 private:
  GgufFile() = default;
  absl::Status Parse();
  absl::Status ParseMetadata(GgufCursor& cursor, uint64_t n_kv);
  absl::Status ParseTensorInfos(GgufCursor& cursor, uint64_t n_tensors);
  absl::Status CheckTensorData();
  absl::Status Error(const std::string& problem) const;

  std::string path_;
  MappedFile bytes_;  // the whole file
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<GgufKeyValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  absl::flat_hash_map<std::string, size_t> key_index_;     // key -> index in metadata_
  absl::flat_hash_map<std::string, size_t> tensor_index_;  // name -> index in tensors_
};

// Collects metadata and tensors, then writes a GGUF file. Tensors are laid out
// in the order added, each at an offset aligned to `alignment` and padded to it,
// as llama.cpp lays them out. Not thread-safe.
class GgufWriter {
 public:
  // `version` 2 or 3 writes that format (identical layouts). Other values are
  // written as they are, with the v3 layout, so tests can make v1/v4 files.
  // `alignment` must be a nonzero power of two; when it is not 32 the writer
  // adds `general.alignment` (uint32) unless that key was set explicitly.
  explicit GgufWriter(uint32_t version = 3, uint64_t alignment = 32);

  // Sets `key`, replacing an existing value in place (file order is the order
  // keys were first set). A value whose data does not match its type (possible
  // only by building a GgufValue by hand) makes status() an error. Setting
  // `general.alignment` also sets the layout's alignment; it must be a uint32
  // power of two (otherwise status() becomes an error).
  void SetValue(std::string key, GgufValue value);
  // `data` must hold exactly RowBytes(type, shape[0]) * rows bytes. InvalidArgument
  // for a duplicate or empty name, an unknown type, 0 or more than 4 dims, a
  // negative dim, a row length that is not a multiple of the block size, or a
  // size mismatch; nothing is added then.
  absl::Status AddTensor(std::string name, GgmlType type, std::vector<int64_t> shape,
                         std::vector<uint8_t> data);
  // Like AddTensor, but the bytes are produced only when the file is written:
  // `fill` receives a buffer of exactly the tensor's size and must fill all of
  // it, the same way on every call (it runs once per Serialize/WriteFile). Lets
  // a generator write a multi-GB model holding one tensor in memory at a time.
  using TensorFiller = std::function<void(std::span<uint8_t> out)>;
  absl::Status AddTensorWithFiller(std::string name, GgmlType type, std::vector<int64_t> shape,
                                   TensorFiller fill);

  // OK, or the first error from SetValue or the constructor's alignment.
  absl::Status status() const;

  // The whole file's bytes (for tests). Empty when status() is not OK.
  std::vector<uint8_t> Serialize() const;
  // Streams the file to a temporary file beside `path`, fsyncs it and renames it
  // into place: readers never see a partial file. Returns status() if not OK,
  // or an error naming the path when writing fails (the temporary is removed).
  absl::Status WriteFile(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> shape;
    uint64_t nbytes;
    std::vector<uint8_t> data;  // used when `fill` is empty
    TensorFiller fill;
  };
  absl::StatusOr<PendingTensor> CheckTensor(std::string name, GgmlType type,
                                            std::vector<int64_t> shape) const;
  // Header, metadata, tensor infos and the padding up to the data section.
  std::vector<uint8_t> SerializeHead() const;

  uint32_t version_;
  uint64_t alignment_;
  absl::Status status_;
  std::vector<GgufKeyValue> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace tinyrag
