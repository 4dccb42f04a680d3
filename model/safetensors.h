// Reading and writing safetensors files (Hugging Face's weight format).
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON (an object
// mapping tensor names to {"dtype", "shape", "data_offsets": [begin, end]},
// plus an optional "__metadata__" object of strings), then the data section.
// Offsets are relative to the start of the data section.
//
// The reader validates the header as strictly as the GGUF reader: header
// length within the file and below a sane cap, well-formed JSON with no
// duplicate names and no unknown fields, supported dtypes (F32, F16, BF16;
// other safetensors dtypes are named in the error), shapes whose byte size
// equals their data range, and ranges that lie inside the data section,
// do not overlap and cover it without gaps (as the reference implementation
// requires).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/mapped_file.h"

namespace tinyrag {

enum class SafetensorsDtype { kF32, kF16, kBF16 };

// "F32", "F16", "BF16".
std::string_view SafetensorsDtypeName(SafetensorsDtype dtype);
// Bytes per element (4 or 2).
int64_t SafetensorsDtypeSize(SafetensorsDtype dtype);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  // Row-major, outermost first (PyTorch order): a Linear weight is [out, in].
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte range in the data section
  uint64_t end = 0;

  int64_t num_elements() const;
};

// An open, validated safetensors file. Immutable after opening: all const
// methods are safe to call from many threads.
class SafetensorsFile {
 public:
  // Largest header accepted (the reference implementation's cap is 100 MB).
  static constexpr uint64_t kMaxHeaderBytes = 100u << 20;

  // Memory-maps and validates `path`. Errors read "<path>: <problem>":
  // NotFound for a missing file, PermissionDenied when it cannot be read,
  // InvalidArgument for anything wrong with its contents.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  // Validates a copy of `bytes`; `name` is used in error messages.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> FromBuffer(std::span<const uint8_t> bytes,
                                                                     std::string name = "<buffer>");
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  // Tensors in data order (sorted by begin offset).
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  // The tensor called `name`, or nullptr when there is none.
  const SafetensorsTensor* Find(std::string_view name) const;
  // The bytes of `tensor` (which must come from this file). Not aligned to
  // anything beyond 1 byte: copy before reading as floats.
  std::span<const uint8_t> Data(const SafetensorsTensor& tensor) const;
  // The "__metadata__" strings (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;
  absl::Status Parse();
  absl::Status Error(const std::string& problem) const;

  std::string path_;
  MappedFile bytes_;  // the whole file
  uint64_t data_offset_ = 0;  // 8 + header length
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, size_t, std::less<>> by_name_;
};

// Builds a safetensors file in memory (tests and tools). Not thread-safe.
class SafetensorsWriter {
 public:
  // Adds a tensor; `bytes` must hold exactly product(shape) elements of
  // `dtype`. InvalidArgument for a duplicate or empty name, a negative
  // dimension or a size mismatch (the writer then stays usable).
  absl::Status Add(std::string name, SafetensorsDtype dtype, std::vector<int64_t> shape,
                   std::span<const uint8_t> bytes);
  // Convenience: F32 values.
  absl::Status AddF32(std::string name, std::vector<int64_t> shape, std::span<const float> values);
  void SetMetadata(std::string key, std::string value) { metadata_[std::move(key)] = std::move(value); }

  // The whole file: header padded with spaces to a multiple of 8 bytes, then
  // the tensors in the order they were added.
  std::vector<uint8_t> Serialize() const;
  // Writes Serialize() to `path`; Internal naming the path on I/O errors.
  absl::Status WriteFile(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    SafetensorsDtype dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace tinyrag
