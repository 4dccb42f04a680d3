// Tensor element types as numbered in GGML/GGUF files, and their block geometry.
//
// Every quantized type stores a row as a sequence of fixed-size blocks; a block
// holds `block_elems` values in `block_bytes` bytes (model/quant_blocks.h has the
// layouts). A row length must be a multiple of block_elems.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tinyrag {

// Numeric values are the on-disk ids of GGUF tensor infos; never renumber.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  // 4 and 5 were Q4_2/Q4_3, removed from GGML; files never use them.
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
};

struct TypeTraits {
  GgmlType type;
  std::string_view name;  // as GGML prints it: "F32", "Q4_K", "IQ4_XS", ...
  int64_t block_elems;    // values per block (1 for plain types)
  int64_t block_bytes;    // bytes per block
  bool supported;         // tinyrag can dequantize and compute with it
};

// Traits of a type id read from a file, or nullopt for an id GGML does not define.
std::optional<TypeTraits> FindTypeTraits(uint32_t type_id);

// Traits of a known type (every enumerator above is known).
const TypeTraits& Traits(GgmlType type);

// Type by its GGML name, case-insensitive ("q4_k" -> kQ4_K); nullopt if unknown.
std::optional<GgmlType> TypeFromName(std::string_view name);

inline std::string_view TypeName(GgmlType type) { return Traits(type).name; }

// Bytes taken by a row of `n` values, or -1 when n is not a multiple of the block size.
int64_t RowBytes(GgmlType type, int64_t n);

}  // namespace tinyrag
