// Memory for weights a model rewrites at load (model/quad_layout.h): one
// anonymous mapping handed out front to back, backed by transparent huge
// pages where the kernel allows them (fewer page faults while filling it and
// fewer TLB misses while decode streams it). Pages count as resident only once
// written, so reserving the whole model file's size costs nothing until used.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"

namespace tinyrag {

class WeightArena {
 public:
  // Reserves `capacity` bytes of address space. ResourceExhausted when the
  // mapping fails.
  static absl::StatusOr<WeightArena> Reserve(size_t capacity);

  WeightArena() = default;
  WeightArena(WeightArena&& other) noexcept;
  WeightArena& operator=(WeightArena&& other) noexcept;
  WeightArena(const WeightArena&) = delete;
  WeightArena& operator=(const WeightArena&) = delete;
  ~WeightArena();

  // `bytes` of fresh zeroed memory, 64-byte aligned, valid for the arena's
  // life; nullptr when fewer than that are left.
  uint8_t* Allocate(size_t bytes);
  size_t used() const { return used_; }

 private:
  uint8_t* base_ = nullptr;
  size_t capacity_ = 0;
  size_t used_ = 0;
};

}  // namespace tinyrag
