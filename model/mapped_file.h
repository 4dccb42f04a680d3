// The read-only bytes of a model file: memory-mapped from disk, or a private
// copy of an in-memory buffer (tests, fuzzing). Shared by the GGUF and
// safetensors readers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tinyrag {

class MappedFile {
 public:
  // Maps `path` read-only (MAP_PRIVATE); the descriptor is closed right away and
  // pages are read only when touched. Errors name the path: NotFound,
  // PermissionDenied, InvalidArgument ("not a regular file", e.g. a directory
  // or FIFO, which is opened without blocking) or Internal (stat/mmap failed).
  static absl::StatusOr<MappedFile> Open(const std::string& path);
  // A private copy of `bytes`.
  static MappedFile Copy(std::span<const uint8_t> bytes);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  // Valid for the object's lifetime; nullptr when size() == 0.
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

  // For a mapping, frees the resident pages that lie wholly inside
  // [offset, offset + length) (touching them again reads the file); no effect
  // on a copy. The contents seen through data() never change.
  void ReleasePages(uint64_t offset, uint64_t length) const;

 private:
  void Release();

  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  void* mapping_ = nullptr;     // set when mapped
  std::vector<uint8_t> owned_;  // set when copied
};

}  // namespace tinyrag
