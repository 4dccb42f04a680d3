#include "model/tensor_type.h"

#include <array>
#include <cctype>

namespace tinyrag {
namespace {

// Block geometry of every GGML type (ggml's type_traits: blck_size, type_size).
constexpr std::array kAllTraits = {
    TypeTraits{GgmlType::kF32, "F32", 1, 4, true},
    TypeTraits{GgmlType::kF16, "F16", 1, 2, true},
    TypeTraits{GgmlType::kQ4_0, "Q4_0", 32, 18, true},
    TypeTraits{GgmlType::kQ4_1, "Q4_1", 32, 20, true},
    TypeTraits{GgmlType::kQ5_0, "Q5_0", 32, 22, true},
    TypeTraits{GgmlType::kQ5_1, "Q5_1", 32, 24, true},
    TypeTraits{GgmlType::kQ8_0, "Q8_0", 32, 34, true},
    TypeTraits{GgmlType::kQ8_1, "Q8_1", 32, 36, false},
    TypeTraits{GgmlType::kQ2_K, "Q2_K", 256, 84, true},
    TypeTraits{GgmlType::kQ3_K, "Q3_K", 256, 110, true},
    TypeTraits{GgmlType::kQ4_K, "Q4_K", 256, 144, true},
    TypeTraits{GgmlType::kQ5_K, "Q5_K", 256, 176, true},
    TypeTraits{GgmlType::kQ6_K, "Q6_K", 256, 210, true},
    TypeTraits{GgmlType::kQ8_K, "Q8_K", 256, 292, false},
    TypeTraits{GgmlType::kIQ2_XXS, "IQ2_XXS", 256, 66, false},
    TypeTraits{GgmlType::kIQ2_XS, "IQ2_XS", 256, 74, false},
    TypeTraits{GgmlType::kIQ3_XXS, "IQ3_XXS", 256, 98, false},
    TypeTraits{GgmlType::kIQ1_S, "IQ1_S", 256, 50, false},
    TypeTraits{GgmlType::kIQ4_NL, "IQ4_NL", 32, 18, true},
    TypeTraits{GgmlType::kIQ3_S, "IQ3_S", 256, 110, false},
    TypeTraits{GgmlType::kIQ2_S, "IQ2_S", 256, 82, false},
    TypeTraits{GgmlType::kIQ4_XS, "IQ4_XS", 256, 136, true},
    TypeTraits{GgmlType::kI8, "I8", 1, 1, false},
    TypeTraits{GgmlType::kI16, "I16", 1, 2, false},
    TypeTraits{GgmlType::kI32, "I32", 1, 4, false},
    TypeTraits{GgmlType::kI64, "I64", 1, 8, false},
    TypeTraits{GgmlType::kF64, "F64", 1, 8, false},
    TypeTraits{GgmlType::kIQ1_M, "IQ1_M", 256, 56, false},
    TypeTraits{GgmlType::kBF16, "BF16", 1, 2, true},
    TypeTraits{GgmlType::kTQ1_0, "TQ1_0", 256, 54, false},
    TypeTraits{GgmlType::kTQ2_0, "TQ2_0", 256, 66, false},
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<TypeTraits> FindTypeTraits(uint32_t type_id) {
  for (const TypeTraits& t : kAllTraits) {
    if (static_cast<uint32_t>(t.type) == type_id) return t;
  }
  return std::nullopt;
}

const TypeTraits& Traits(GgmlType type) {
  for (const TypeTraits& t : kAllTraits) {
    if (t.type == type) return t;
  }
  // Every enumerator has an entry; reaching here is a programming error.
  __builtin_trap();
}

std::optional<GgmlType> TypeFromName(std::string_view name) {
  for (const TypeTraits& t : kAllTraits) {
    if (EqualsIgnoreCase(t.name, name)) return t.type;
  }
  return std::nullopt;
}

int64_t RowBytes(GgmlType type, int64_t n) {
  const TypeTraits& t = Traits(type);
  if (n < 0 || n % t.block_elems != 0) return -1;
  return n / t.block_elems * t.block_bytes;
}

}  // namespace tinyrag
