#include "model/weight_arena.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tinyrag {

absl::StatusOr<WeightArena> WeightArena::Reserve(size_t capacity) {
  WeightArena arena;
  if (capacity == 0) return arena;
  void* m = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot reserve ", capacity, " bytes for weights: ", std::strerror(errno)));
  }
  // A hint: without transparent huge pages the arena works the same.
  ::madvise(m, capacity, MADV_HUGEPAGE);
  arena.base_ = static_cast<uint8_t*>(m);
  arena.capacity_ = capacity;
  return arena;
}

WeightArena::WeightArena(WeightArena&& other) noexcept { *this = std::move(other); }

WeightArena& WeightArena::operator=(WeightArena&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) ::munmap(base_, capacity_);
    base_ = std::exchange(other.base_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    used_ = std::exchange(other.used_, 0);
  }
  return *this;
}

WeightArena::~WeightArena() {
  if (base_ != nullptr) ::munmap(base_, capacity_);
}

uint8_t* WeightArena::Allocate(size_t bytes) {
  const size_t start = (used_ + 63) / 64 * 64;
  if (start > capacity_ || bytes > capacity_ - start) return nullptr;
  used_ = start + bytes;
  return base_ + start;
}

}  // namespace tinyrag
