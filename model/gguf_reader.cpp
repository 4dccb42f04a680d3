// GGUF reader: memory-maps a file and validates every field before using it.
//
// The rule throughout: a count, length or offset read from the file is trusted
// only after checking it against the bytes that remain, so a hostile file can
// cost at most a small constant factor of its own size in memory.

#include <cerrno>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "model/gguf.h"
#include "model/mapped_file.h"

namespace tinyrag {

namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as little-endian uint32
constexpr uint32_t kMaxDims = 4;
// Nested arrays are legal but unused in practice; the bound keeps recursion shallow.
constexpr int kMaxArrayDepth = 8;
constexpr uint64_t kDefaultAlignment = 32;
// Real files have a few dozen keys and at most tens of thousands of tensors; the
// limits keep a hostile count from reserving gigabytes before parsing fails.
constexpr uint64_t kMaxKeys = 1 << 20;
constexpr uint64_t kMaxTensors = 1 << 20;
// Metadata arrays are materialized (a 150k-token vocabulary takes ~10 MB); their
// in-memory footprint, beyond the string bytes themselves, is capped per file.
constexpr uint64_t kMaxArrayBytes = 512ull << 20;

// Smallest on-disk size of one value of `type` (a string is at least its length
// field, an array at least its element type and count). 0 for unknown types.
uint64_t MinValueBytes(uint32_t type) {
  switch (static_cast<GgufValueType>(type)) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool: return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16: return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32: return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
    case GgufValueType::kString: return 8;
    case GgufValueType::kArray: return 12;
  }
  return 0;
}

// Debian's abseil has its own string_view type; bridge std::string_view into StrCat.
absl::string_view A(std::string_view s) { return {s.data(), s.size()}; }

bool IsIntegerType(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kUint64:
    case GgufValueType::kInt64: return true;
    default: return false;
  }
}

}  // namespace

// Bounds-checked little-endian reads over [base, base + size). Every read
// either succeeds completely or returns false and leaves the position alone.
class GgufCursor {
 public:
  GgufCursor(const uint8_t* base, uint64_t size) : base_(base), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  template <typename T>
  bool Read(T* out) {
    if (remaining() < sizeof(T)) return false;
    std::memcpy(out, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  // Reads `n` bytes (already checked to be <= remaining()).
  std::string_view Take(uint64_t n) {
    std::string_view s(reinterpret_cast<const char*>(base_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

namespace {

// Parses metadata values; `error` prefixes messages with the file name.
class ValueParser {
 public:
  ValueParser(GgufCursor& cursor, const std::string& path) : cur_(cursor), path_(path) {}

  // Charges `count` elements of `elem_bytes` each against the array budget.
  absl::Status ChargeArray(uint64_t count, uint64_t elem_bytes, absl::string_view key) {
    if (count > (kMaxArrayBytes - array_bytes_) / elem_bytes) {
      return Error(absl::StrCat("array '", key, "' of ", count, " elements would take the metadata past ",
                                kMaxArrayBytes >> 20, " MiB in memory"));
    }
    array_bytes_ += count * elem_bytes;
    return absl::OkStatus();
  }

  absl::Status Error(absl::string_view problem) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", problem));
  }
  absl::Status Truncated(absl::string_view what, uint64_t need) const {
    return Error(absl::StrCat("truncated file: ", what, " at offset ", cur_.pos(), " needs ", need,
                              " bytes but only ", cur_.remaining(), " remain"));
  }

  template <typename T>
  absl::Status Read(T* out, absl::string_view what) {
    if (!cur_.Read(out)) return Truncated(what, sizeof(T));
    return absl::OkStatus();
  }

  // A uint64 length followed by that many bytes.
  absl::Status ReadString(absl::string_view what, std::string* out) {
    uint64_t len;
    if (!cur_.Read(&len)) return Truncated(absl::StrCat("the length of ", what), 8);
    if (len > cur_.remaining()) {
      return Error(absl::StrCat("string length ", len, " of ", what, " at offset ", cur_.pos() - 8,
                                " exceeds the ", cur_.remaining(), " bytes left in the file"));
    }
    out->assign(cur_.Take(len));
    return absl::OkStatus();
  }

  // A count is believable only if that many elements of at least `min_bytes`
  // each fit in the rest of the file.
  absl::Status CheckCount(uint64_t count, uint64_t min_bytes, absl::string_view what) const {
    if (count > cur_.remaining() / min_bytes) {
      return Error(absl::StrCat(what, " ", count, " is impossible: at ", min_bytes,
                                " bytes each they need more than the ", cur_.remaining(),
                                " bytes left in the file"));
    }
    return absl::OkStatus();
  }

  absl::Status CheckType(uint32_t type, absl::string_view key) const {
    if (MinValueBytes(type) == 0) {
      return Error(absl::StrCat("key '", key, "' has unknown value type ", type));
    }
    return absl::OkStatus();
  }

  absl::Status ParseValue(GgufValueType type, absl::string_view key, GgufValue* out) {
    out->type = type;
    std::string what = absl::StrCat("the value of key '", key, "'");
    switch (type) {
      case GgufValueType::kUint8: return ReadInto<uint8_t, uint64_t>(what, out);
      case GgufValueType::kInt8: return ReadInto<int8_t, int64_t>(what, out);
      case GgufValueType::kUint16: return ReadInto<uint16_t, uint64_t>(what, out);
      case GgufValueType::kInt16: return ReadInto<int16_t, int64_t>(what, out);
      case GgufValueType::kUint32: return ReadInto<uint32_t, uint64_t>(what, out);
      case GgufValueType::kInt32: return ReadInto<int32_t, int64_t>(what, out);
      case GgufValueType::kUint64: return ReadInto<uint64_t, uint64_t>(what, out);
      case GgufValueType::kInt64: return ReadInto<int64_t, int64_t>(what, out);
      case GgufValueType::kFloat32: return ReadInto<float, double>(what, out);
      case GgufValueType::kFloat64: return ReadInto<double, double>(what, out);
      case GgufValueType::kBool: {
        uint8_t b = 0;
        if (absl::Status s = Read(&b, what); !s.ok()) return s;
        if (b > 1) return Error(absl::StrCat("bool value ", int{b}, " of key '", key, "' is not 0 or 1"));
        out->data = b == 1;
        return absl::OkStatus();
      }
      case GgufValueType::kString: {
        std::string s;
        if (absl::Status st = ReadString(what, &s); !st.ok()) return st;
        out->data = std::move(s);
        return absl::OkStatus();
      }
      case GgufValueType::kArray: {
        GgufArray array;
        if (absl::Status s = ParseArray(key, 1, &array); !s.ok()) return s;
        out->data = std::move(array);
        return absl::OkStatus();
      }
    }
    return Error(absl::StrCat("key '", key, "' has unknown value type ", static_cast<uint32_t>(type)));
  }

 private:
  template <typename Disk, typename Held>
  absl::Status ReadInto(absl::string_view what, GgufValue* out) {
    Disk v{};
    if (absl::Status s = Read(&v, what); !s.ok()) return s;
    out->data = static_cast<Held>(v);
    return absl::OkStatus();
  }

  template <typename Disk, typename Held>
  void ReadElements(uint64_t count, std::vector<Held>* out) {
    out->resize(count);
    for (uint64_t i = 0; i < count; ++i) {
      Disk v{};
      cur_.Read(&v);  // cannot fail: CheckCount proved count * sizeof(Disk) bytes remain
      (*out)[i] = static_cast<Held>(v);
    }
  }

  absl::Status ParseArray(absl::string_view key, int depth, GgufArray* out) {
    if (depth > kMaxArrayDepth) {
      return Error(absl::StrCat("key '", key, "' has arrays nested deeper than ", kMaxArrayDepth));
    }
    uint32_t elem_type = 0;
    uint64_t count = 0;
    if (absl::Status s = Read(&elem_type, absl::StrCat("the element type of array '", key, "'"));
        !s.ok()) {
      return s;
    }
    if (MinValueBytes(elem_type) == 0) {
      return Error(absl::StrCat("array '", key, "' has unknown element type ", elem_type));
    }
    if (absl::Status s = Read(&count, absl::StrCat("the length of array '", key, "'")); !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckCount(count, MinValueBytes(elem_type),
                                    absl::StrCat("length of array '", key, "'"));
        !s.ok()) {
      return s;
    }
    out->type = static_cast<GgufValueType>(elem_type);
    const uint64_t elem_bytes = out->type == GgufValueType::kString  ? sizeof(std::string)
                                : out->type == GgufValueType::kArray ? sizeof(GgufArray)
                                                                     : sizeof(int64_t);
    if (absl::Status s = ChargeArray(count, elem_bytes, key); !s.ok()) return s;
    switch (out->type) {
      case GgufValueType::kUint8: ReadElements<uint8_t>(count, &out->ints); break;
      case GgufValueType::kInt8: ReadElements<int8_t>(count, &out->ints); break;
      case GgufValueType::kUint16: ReadElements<uint16_t>(count, &out->ints); break;
      case GgufValueType::kInt16: ReadElements<int16_t>(count, &out->ints); break;
      case GgufValueType::kUint32: ReadElements<uint32_t>(count, &out->ints); break;
      case GgufValueType::kInt32: ReadElements<int32_t>(count, &out->ints); break;
      // uint64 keeps its bit pattern in int64 (documented in GgufArray).
      case GgufValueType::kUint64: ReadElements<uint64_t>(count, &out->ints); break;
      case GgufValueType::kInt64: ReadElements<int64_t>(count, &out->ints); break;
      case GgufValueType::kFloat32: ReadElements<float>(count, &out->floats); break;
      case GgufValueType::kFloat64: ReadElements<double>(count, &out->floats); break;
      case GgufValueType::kBool: {
        ReadElements<uint8_t>(count, &out->ints);
        for (uint64_t i = 0; i < count; ++i) {
          if (out->ints[i] > 1) {
            return Error(absl::StrCat("bool element ", i, " of array '", key, "' is ",
                                      out->ints[i], ", not 0 or 1"));
          }
        }
        break;
      }
      case GgufValueType::kString: {
        out->strings.resize(count);
        for (uint64_t i = 0; i < count; ++i) {
          uint64_t len;
          if (!cur_.Read(&len)) {
            return Truncated(absl::StrCat("the length of string ", i, " of array '", key, "'"), 8);
          }
          if (len > cur_.remaining()) {
            return Error(absl::StrCat("string length ", len, " of element ", i, " of array '", key,
                                      "' at offset ", cur_.pos() - 8, " exceeds the ",
                                      cur_.remaining(), " bytes left in the file"));
          }
          out->strings[i].assign(cur_.Take(len));
        }
        break;
      }
      case GgufValueType::kArray: {
        out->arrays.resize(count);
        for (uint64_t i = 0; i < count; ++i) {
          if (absl::Status s = ParseArray(key, depth + 1, &out->arrays[i]); !s.ok()) return s;
        }
        break;
      }
    }
    return absl::OkStatus();
  }

  GgufCursor& cur_;
  const std::string& path_;
  uint64_t array_bytes_ = 0;  // footprint of the arrays parsed so far
};

}  // namespace

absl::Status GgufFile::Error(const std::string& problem) const {
  return absl::InvalidArgumentError(absl::StrCat(path_, ": ", problem));
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  absl::StatusOr<MappedFile> bytes = MappedFile::Open(path);
  if (!bytes.ok()) return bytes.status();
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  file->bytes_ = *std::move(bytes);
  if (absl::Status s = file->Parse(); !s.ok()) return s;
  return file;
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::FromBuffer(std::span<const uint8_t> bytes,
                                                               std::string name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = std::move(name);
  file->bytes_ = MappedFile::Copy(bytes);
  if (absl::Status s = file->Parse(); !s.ok()) return s;
  return file;
}

GgufFile::~GgufFile() = default;

absl::Status GgufFile::Parse() {
  GgufCursor cur(bytes_.data(), bytes_.size());
  uint32_t magic;
  if (!cur.Read(&magic)) {
    return Error(absl::StrCat("file is too short (", bytes_.size(), " bytes) to be a GGUF file"));
  }
  if (magic != kGgufMagic) {
    return Error(absl::StrCat("not a GGUF file: bad magic 0x",
                              absl::Hex(__builtin_bswap32(magic), absl::kZeroPad8),
                              " (expected \"GGUF\")"));
  }
  if (!cur.Read(&version_)) {
    return Error(absl::StrCat("truncated file: the version needs 4 bytes, only ", cur.remaining(),
                              " remain"));
  }
  if (version_ == 1) {
    return Error("GGUF version 1 (32-bit counts) is not supported; convert the file to version 3");
  }
  if (version_ != 2 && version_ != 3) {
    // A big-endian file shows its small version number byte-swapped.
    const uint32_t swapped = __builtin_bswap32(version_);
    if (swapped >= 1 && swapped <= 3) {
      return Error("big-endian GGUF files are not supported");
    }
    return Error(absl::StrCat("unsupported GGUF version ", version_, " (supported: 2 and 3)"));
  }
  uint64_t n_tensors, n_kv;
  if (!cur.Read(&n_tensors)) {
    return Error(absl::StrCat("truncated file: the tensor count needs 8 bytes, only ",
                              cur.remaining(), " remain"));
  }
  if (!cur.Read(&n_kv)) {
    return Error(absl::StrCat("truncated file: the metadata count needs 8 bytes, only ",
                              cur.remaining(), " remain"));
  }
  // Each key/value takes at least a key length, a type and a 1-byte value.
  if (n_kv > cur.remaining() / 13) {
    return Error(absl::StrCat("metadata count ", n_kv, " is impossible: the file has only ",
                              cur.remaining(), " bytes left"));
  }
  if (n_kv > kMaxKeys) {
    return Error(absl::StrCat("metadata count ", n_kv, " exceeds the limit of ", kMaxKeys));
  }
  if (absl::Status s = ParseMetadata(cur, n_kv); !s.ok()) return s;
  if (absl::Status s = ParseTensorInfos(cur, n_tensors); !s.ok()) return s;
  // The data section starts at the next multiple of the alignment.
  data_offset_ = (cur.pos() + alignment_ - 1) / alignment_ * alignment_;
  return CheckTensorData();
}

absl::Status GgufFile::ParseMetadata(GgufCursor& cur, uint64_t n_kv) {
  ValueParser parser(cur, path_);
  metadata_.reserve(n_kv);
  key_index_.reserve(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    GgufKeyValue kv;
    if (absl::Status s = parser.ReadString(absl::StrCat("the key of metadata entry ", i), &kv.key);
        !s.ok()) {
      return s;
    }
    uint32_t type = 0;
    if (absl::Status s = parser.Read(&type, absl::StrCat("the type of key '", kv.key, "'")); !s.ok()) {
      return s;
    }
    if (absl::Status s = parser.CheckType(type, kv.key); !s.ok()) return s;
    if (absl::Status s = parser.ParseValue(static_cast<GgufValueType>(type), kv.key, &kv.value);
        !s.ok()) {
      return s;
    }
    if (!key_index_.try_emplace(kv.key, metadata_.size()).second) {
      return Error(absl::StrCat("duplicate metadata key '", kv.key, "' (entry ", i, ")"));
    }
    metadata_.push_back(std::move(kv));
  }

  if (const GgufValue* a = Find("general.alignment")) {
    if (a->type != GgufValueType::kUint32) {
      return Error(absl::StrCat("general.alignment has type ", A(GgufValueTypeName(a->type)),
                                ", expected uint32"));
    }
    const uint64_t v = std::get<uint64_t>(a->data);
    if (v == 0 || (v & (v - 1)) != 0) {
      return Error(absl::StrCat("general.alignment ", v, " is not a nonzero power of two"));
    }
    alignment_ = v;
  } else {
    alignment_ = kDefaultAlignment;
  }
  return absl::OkStatus();
}

absl::Status GgufFile::ParseTensorInfos(GgufCursor& cur, uint64_t n_tensors) {
  ValueParser parser(cur, path_);
  // Each tensor info takes at least a name length, n_dims, one dim, type and offset.
  if (absl::Status s = parser.CheckCount(n_tensors, 8 + 4 + 8 + 4 + 8, "tensor count"); !s.ok()) {
    return s;
  }
  if (n_tensors > kMaxTensors) {
    return Error(absl::StrCat("tensor count ", n_tensors, " exceeds the limit of ", kMaxTensors));
  }
  tensors_.reserve(n_tensors);
  tensor_index_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    if (absl::Status s = parser.ReadString(absl::StrCat("the name of tensor ", i), &t.name); !s.ok()) {
      return s;
    }
    if (t.name.empty()) return Error(absl::StrCat("tensor ", i, " has an empty name"));
    const std::string label = absl::StrCat("tensor '", t.name, "'");
    uint32_t n_dims = 0;
    if (absl::Status s = parser.Read(&n_dims, absl::StrCat("the dimension count of ", label)); !s.ok()) {
      return s;
    }
    if (n_dims == 0 || n_dims > kMaxDims) {
      return Error(absl::StrCat(label, " has ", n_dims, " dimensions (allowed: 1 to ", kMaxDims, ")"));
    }
    t.shape.resize(n_dims);
    // Both the element count and the row count (dims 1..n) must fit: a zero
    // first dimension would hide an overflow of the others from the first.
    int64_t elements = 1, rows = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim = 0;
      if (absl::Status s = parser.Read(&dim, absl::StrCat("dimension ", d, " of ", label)); !s.ok()) {
        return s;
      }
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Error(absl::StrCat(label, " dimension ", d, " is ", dim, ", too large (or negative)"));
      }
      t.shape[d] = static_cast<int64_t>(dim);
      if (__builtin_mul_overflow(elements, t.shape[d], &elements) ||
          (d > 0 && __builtin_mul_overflow(rows, t.shape[d], &rows))) {
        return Error(absl::StrCat(label, " has too many elements: the product of its dimensions "
                                         "overflows 64 bits"));
      }
    }
    uint32_t type_id = 0;
    if (absl::Status s = parser.Read(&type_id, absl::StrCat("the type of ", label)); !s.ok()) {
      return s;
    }
    const std::optional<TypeTraits> traits = FindTypeTraits(type_id);
    if (!traits) return Error(absl::StrCat(label, " has unknown tensor type id ", type_id));
    t.type = traits->type;
    if (t.shape[0] % traits->block_elems != 0) {
      return Error(absl::StrCat(label, " of type ", A(traits->name), " has rows of ", t.shape[0],
                                " values, not a multiple of the block size ", traits->block_elems));
    }
    // nbytes = blocks * block_bytes; blocks <= elements, so only the multiply can overflow.
    const int64_t blocks = elements / traits->block_elems;
    int64_t nbytes;
    if (__builtin_mul_overflow(blocks, traits->block_bytes, &nbytes)) {
      return Error(absl::StrCat(label, " is too large: its byte size overflows 64 bits"));
    }
    t.nbytes = static_cast<uint64_t>(nbytes);
    if (absl::Status s = parser.Read(&t.offset, absl::StrCat("the data offset of ", label)); !s.ok()) {
      return s;
    }
    if (!tensor_index_.try_emplace(t.name, tensors_.size()).second) {
      return Error(absl::StrCat("duplicate tensor name '", t.name, "' (tensor ", i, ")"));
    }
    tensors_.push_back(std::move(t));
  }
  return absl::OkStatus();
}

absl::Status GgufFile::CheckTensorData() {
  for (const GgufTensorInfo& t : tensors_) {
    if (t.offset % alignment_ != 0) {
      return Error(absl::StrCat("tensor '", t.name, "' data offset ", t.offset,
                                " is not a multiple of the alignment ", alignment_));
    }
    // Compare without overflow: each term is checked against what is left.
    const bool inside = data_offset_ <= bytes_.size() && t.offset <= bytes_.size() - data_offset_ &&
                        t.nbytes <= bytes_.size() - data_offset_ - t.offset;
    if (!inside) {
      // Saturate the printed absolute offset rather than wrap it.
      uint64_t abs_offset;
      if (__builtin_add_overflow(data_offset_, t.offset, &abs_offset)) {
        abs_offset = std::numeric_limits<uint64_t>::max();
      }
      return Error(absl::StrCat("tensor '", t.name, "' data [offset ", abs_offset, ", ", t.nbytes,
                                " bytes] extends past the end of the file (", bytes_.size(), " bytes)"));
    }
  }
  return absl::OkStatus();
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = key_index_.find(A(key));
  return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

namespace {
absl::Status WrongType(const std::string& path, std::string_view key, std::string_view expected,
                       GgufValueType actual) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": key '", A(key), "' has type ",
                                                 A(GgufValueTypeName(actual)), ", expected ",
                                                 A(expected)));
}
absl::Status Missing(const std::string& path, std::string_view key) {
  return absl::NotFoundError(absl::StrCat(path, ": key '", A(key), "' not found"));
}
}  // namespace

absl::StatusOr<std::string> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (v->type != GgufValueType::kString) return WrongType(path_, key, "string", v->type);
  return std::get<std::string>(v->data);
}

absl::StatusOr<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (!IsIntegerType(v->type)) return WrongType(path_, key, "an integer", v->type);
  if (const uint64_t* u = std::get_if<uint64_t>(&v->data)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::OutOfRangeError(
          absl::StrCat(path_, ": key '", A(key), "' value ", *u, " does not fit in int64"));
    }
    return static_cast<int64_t>(*u);
  }
  return std::get<int64_t>(v->data);
}

absl::StatusOr<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (v->type != GgufValueType::kFloat32 && v->type != GgufValueType::kFloat64) {
    return WrongType(path_, key, "float32 or float64", v->type);
  }
  return std::get<double>(v->data);
}

absl::StatusOr<bool> GgufFile::GetBool(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (v->type != GgufValueType::kBool) return WrongType(path_, key, "bool", v->type);
  return std::get<bool>(v->data);
}

absl::StatusOr<const GgufArray*> GgufFile::GetArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (v->type != GgufValueType::kArray) return WrongType(path_, key, "array", v->type);
  return &std::get<GgufArray>(v->data);
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(A(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> GgufFile::TensorData(const GgufTensorInfo& tensor) const {
  // Infos from this file were validated in Parse; anything else gets an empty span.
  if (data_offset_ > bytes_.size() || tensor.offset > bytes_.size() - data_offset_ ||
      tensor.nbytes > bytes_.size() - data_offset_ - tensor.offset) {
    return {};
  }
  return {bytes_.data() + data_offset_ + tensor.offset, static_cast<size_t>(tensor.nbytes)};
}

void GgufFile::ReleaseTensorPages(const GgufTensorInfo& tensor) const {
  const std::span<const uint8_t> data = TensorData(tensor);
  if (!data.empty()) bytes_.ReleasePages(static_cast<uint64_t>(data.data() - bytes_.data()), data.size());
}

std::string GgufFile::architecture() const {
  const GgufValue* v = Find("general.architecture");
  if (v == nullptr || v->type != GgufValueType::kString) return "";
  return std::get<std::string>(v->data);
}

void GgufFile::ReleaseLargeArrays(size_t min_elements) {
  for (GgufKeyValue& kv : metadata_) {
    auto* array = std::get_if<GgufArray>(&kv.value.data);
    if (array == nullptr || array->size() <= min_elements) continue;
    const GgufValueType type = array->type;
    *array = GgufArray();  // a fresh value: the old vectors' memory is returned
    array->type = type;
  }
}

int64_t GgufTensorInfo::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t GgufTensorInfo::rows() const {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

}  // namespace tinyrag
