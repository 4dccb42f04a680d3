// GGUF metadata values: type names, factories, equality.
#include <bit>

#include "model/gguf.h"

namespace tinyrag {

std::string_view GgufValueTypeName(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8: return "uint8";
    case GgufValueType::kInt8: return "int8";
    case GgufValueType::kUint16: return "uint16";
    case GgufValueType::kInt16: return "int16";
    case GgufValueType::kUint32: return "uint32";
    case GgufValueType::kInt32: return "int32";
    case GgufValueType::kFloat32: return "float32";
    case GgufValueType::kBool: return "bool";
    case GgufValueType::kString: return "string";
    case GgufValueType::kArray: return "array";
    case GgufValueType::kUint64: return "uint64";
    case GgufValueType::kInt64: return "int64";
    case GgufValueType::kFloat64: return "float64";
  }
  return "unknown";
}

size_t GgufArray::size() const {
  switch (type) {
    case GgufValueType::kFloat32:
    case GgufValueType::kFloat64: return floats.size();
    case GgufValueType::kString: return strings.size();
    case GgufValueType::kArray: return arrays.size();
    default: return ints.size();
  }
}

// Floats compare by bit pattern so that a NaN read back equals the NaN written.
bool operator==(const GgufArray& a, const GgufArray& b) {
  if (a.type != b.type || a.ints != b.ints || a.strings != b.strings || a.arrays != b.arrays ||
      a.floats.size() != b.floats.size()) {
    return false;
  }
  for (size_t i = 0; i < a.floats.size(); ++i) {
    if (std::bit_cast<uint64_t>(a.floats[i]) != std::bit_cast<uint64_t>(b.floats[i])) return false;
  }
  return true;
}

namespace {
GgufValue Make(GgufValueType type, auto data) {
  GgufValue v;
  v.type = type;
  v.data = std::move(data);
  return v;
}
}  // namespace

GgufValue GgufValue::U8(uint8_t v) { return Make(GgufValueType::kUint8, uint64_t{v}); }
GgufValue GgufValue::I8(int8_t v) { return Make(GgufValueType::kInt8, int64_t{v}); }
GgufValue GgufValue::U16(uint16_t v) { return Make(GgufValueType::kUint16, uint64_t{v}); }
GgufValue GgufValue::I16(int16_t v) { return Make(GgufValueType::kInt16, int64_t{v}); }
GgufValue GgufValue::U32(uint32_t v) { return Make(GgufValueType::kUint32, uint64_t{v}); }
GgufValue GgufValue::I32(int32_t v) { return Make(GgufValueType::kInt32, int64_t{v}); }
GgufValue GgufValue::U64(uint64_t v) { return Make(GgufValueType::kUint64, v); }
GgufValue GgufValue::I64(int64_t v) { return Make(GgufValueType::kInt64, v); }
GgufValue GgufValue::F32(float v) { return Make(GgufValueType::kFloat32, double{v}); }
GgufValue GgufValue::F64(double v) { return Make(GgufValueType::kFloat64, v); }
GgufValue GgufValue::Bool(bool v) { return Make(GgufValueType::kBool, v); }
GgufValue GgufValue::String(std::string v) { return Make(GgufValueType::kString, std::move(v)); }
GgufValue GgufValue::Array(GgufArray v) { return Make(GgufValueType::kArray, std::move(v)); }

}  // namespace tinyrag
