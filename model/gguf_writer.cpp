// GGUF writer: v3 (or v2) files laid out as llama.cpp lays them out, so that
// what we write loads in llama.cpp and back into GgufFile unchanged.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "model/gguf.h"

namespace tinyrag {

namespace {

constexpr uint64_t kDefaultAlignment = 32;
constexpr std::string_view kAlignmentKey = "general.alignment";

// Debian's abseil has its own string_view type; bridge std::string_view into StrCat.
absl::string_view A(std::string_view s) { return {s.data(), s.size()}; }

uint64_t AlignUp(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

bool IsUnsignedInt(GgufValueType t) {
  return t == GgufValueType::kUint8 || t == GgufValueType::kUint16 || t == GgufValueType::kUint32 ||
         t == GgufValueType::kUint64;
}
bool IsSignedInt(GgufValueType t) {
  return t == GgufValueType::kInt8 || t == GgufValueType::kInt16 || t == GgufValueType::kInt32 ||
         t == GgufValueType::kInt64;
}
uint64_t UnsignedMax(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8: return 0xFF;
    case GgufValueType::kUint16: return 0xFFFF;
    case GgufValueType::kUint32: return 0xFFFFFFFF;
    default: return std::numeric_limits<uint64_t>::max();
  }
}
int64_t SignedMax(GgufValueType t) {
  switch (t) {
    case GgufValueType::kInt8: return 0x7F;
    case GgufValueType::kInt16: return 0x7FFF;
    case GgufValueType::kInt32: return 0x7FFFFFFF;
    default: return std::numeric_limits<int64_t>::max();
  }
}
bool FitsFloat32(double v) { return std::isnan(v) || static_cast<double>(static_cast<float>(v)) == v; }

absl::Status Bad(absl::string_view key, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("GGUF value of key '", key, "': ", problem));
}

absl::Status ValidateArray(absl::string_view key, const GgufArray& a) {
  const GgufValueType t = a.type;
  const bool int_like = IsUnsignedInt(t) || IsSignedInt(t) || t == GgufValueType::kBool;
  const bool float_like = t == GgufValueType::kFloat32 || t == GgufValueType::kFloat64;
  if (!int_like && !float_like && t != GgufValueType::kString && t != GgufValueType::kArray) {
    return Bad(key, absl::StrCat("array of unknown type ", static_cast<uint32_t>(t)));
  }
  if ((!int_like && !a.ints.empty()) || (!float_like && !a.floats.empty()) ||
      (t != GgufValueType::kString && !a.strings.empty()) ||
      (t != GgufValueType::kArray && !a.arrays.empty())) {
    return Bad(key, absl::StrCat("array of ", A(GgufValueTypeName(t)), " holds elements of another type"));
  }
  for (int64_t v : a.ints) {
    const bool ok = t == GgufValueType::kBool  ? (v == 0 || v == 1)
                    : t == GgufValueType::kUint64 ? true  // any bit pattern
                    : t == GgufValueType::kInt64  ? true
                    : IsUnsignedInt(t) ? (v >= 0 && static_cast<uint64_t>(v) <= UnsignedMax(t))
                                       : (v >= -SignedMax(t) - 1 && v <= SignedMax(t));
    if (!ok) return Bad(key, absl::StrCat("array element ", v, " does not fit ", A(GgufValueTypeName(t))));
  }
  if (t == GgufValueType::kFloat32) {
    for (double v : a.floats) {
      if (!FitsFloat32(v)) return Bad(key, absl::StrCat("array element ", v, " is not a float32"));
    }
  }
  for (const GgufArray& sub : a.arrays) {
    if (absl::Status s = ValidateArray(key, sub); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The factories always produce consistent values; this catches hand-built ones.
absl::Status ValidateValue(absl::string_view key, const GgufValue& v) {
  const GgufValueType t = v.type;
  if (IsUnsignedInt(t)) {
    const uint64_t* u = std::get_if<uint64_t>(&v.data);
    if (u == nullptr || *u > UnsignedMax(t)) return Bad(key, absl::StrCat("not a ", A(GgufValueTypeName(t))));
    return absl::OkStatus();
  }
  if (IsSignedInt(t)) {
    const int64_t* i = std::get_if<int64_t>(&v.data);
    if (i == nullptr || *i > SignedMax(t) || *i < -SignedMax(t) - 1) {
      return Bad(key, absl::StrCat("not an ", A(GgufValueTypeName(t))));
    }
    return absl::OkStatus();
  }
  switch (t) {
    case GgufValueType::kFloat32:
    case GgufValueType::kFloat64: {
      const double* d = std::get_if<double>(&v.data);
      if (d == nullptr || (t == GgufValueType::kFloat32 && !FitsFloat32(*d))) {
        return Bad(key, absl::StrCat("not a ", A(GgufValueTypeName(t))));
      }
      return absl::OkStatus();
    }
    case GgufValueType::kBool:
      return std::holds_alternative<bool>(v.data) ? absl::OkStatus() : Bad(key, "not a bool");
    case GgufValueType::kString:
      return std::holds_alternative<std::string>(v.data) ? absl::OkStatus() : Bad(key, "not a string");
    case GgufValueType::kArray: {
      const GgufArray* a = std::get_if<GgufArray>(&v.data);
      if (a == nullptr) return Bad(key, "not an array");
      return ValidateArray(key, *a);
    }
    default: return Bad(key, absl::StrCat("unknown type ", static_cast<uint32_t>(t)));
  }
}

// Little-endian appends (the host is x86-64, so a plain copy).
template <typename T>
void Put(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void PutString(std::vector<uint8_t>& out, std::string_view s) {
  Put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

// Writes one integer element of type `t` from its held value.
void PutInt(std::vector<uint8_t>& out, GgufValueType t, uint64_t bits) {
  switch (t) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool: Put<uint8_t>(out, static_cast<uint8_t>(bits)); break;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16: Put<uint16_t>(out, static_cast<uint16_t>(bits)); break;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32: Put<uint32_t>(out, static_cast<uint32_t>(bits)); break;
    default: Put<uint64_t>(out, bits); break;
  }
}

void PutFloat(std::vector<uint8_t>& out, GgufValueType t, double v) {
  if (t == GgufValueType::kFloat32) {
    Put<float>(out, static_cast<float>(v));
  } else {
    Put<double>(out, v);
  }
}

void PutArray(std::vector<uint8_t>& out, const GgufArray& a) {
  Put<uint32_t>(out, static_cast<uint32_t>(a.type));
  Put<uint64_t>(out, a.size());
  for (int64_t v : a.ints) PutInt(out, a.type, static_cast<uint64_t>(v));
  for (double v : a.floats) PutFloat(out, a.type, v);
  for (const std::string& s : a.strings) PutString(out, s);
  for (const GgufArray& sub : a.arrays) PutArray(out, sub);
}

// `v` was validated by SetValue, so the variant holds the alternative its type implies.
void PutValue(std::vector<uint8_t>& out, const GgufValue& v) {
  Put<uint32_t>(out, static_cast<uint32_t>(v.type));
  if (const uint64_t* u = std::get_if<uint64_t>(&v.data)) {
    PutInt(out, v.type, *u);
  } else if (const int64_t* i = std::get_if<int64_t>(&v.data)) {
    PutInt(out, v.type, static_cast<uint64_t>(*i));
  } else if (const double* d = std::get_if<double>(&v.data)) {
    PutFloat(out, v.type, *d);
  } else if (const bool* b = std::get_if<bool>(&v.data)) {
    Put<uint8_t>(out, *b ? 1 : 0);
  } else if (const std::string* s = std::get_if<std::string>(&v.data)) {
    PutString(out, *s);
  } else {
    PutArray(out, std::get<GgufArray>(v.data));
  }
}

// Writes all of `bytes` to `fd`, retrying short writes.
bool WriteAll(int fd, const uint8_t* bytes, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, bytes, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

GgufWriter::GgufWriter(uint32_t version, uint64_t alignment) : version_(version), alignment_(alignment) {
  if (!IsPowerOfTwo(alignment) || alignment > std::numeric_limits<uint32_t>::max()) {
    status_ = absl::InvalidArgumentError(
        absl::StrCat("GGUF writer alignment ", alignment, " is not a power of two that fits uint32"));
    alignment_ = kDefaultAlignment;  // keeps the layout arithmetic defined
  }
}

absl::Status GgufWriter::status() const { return status_; }

void GgufWriter::SetValue(std::string key, GgufValue value) {
  if (absl::Status s = ValidateValue(key, value); !s.ok()) {
    if (status_.ok()) status_ = s;
    return;
  }
  if (key == kAlignmentKey) {
    // The key decides where readers look for tensors, so it also sets the layout.
    const uint64_t* v = std::get_if<uint64_t>(&value.data);
    if (value.type != GgufValueType::kUint32 || !IsPowerOfTwo(*v)) {
      if (status_.ok()) {
        status_ = absl::InvalidArgumentError("GGUF writer: general.alignment must be a uint32 power of two");
      }
      return;
    }
    alignment_ = *v;
  }
  for (GgufKeyValue& kv : metadata_) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  metadata_.push_back({std::move(key), std::move(value)});
}

absl::StatusOr<GgufWriter::PendingTensor> GgufWriter::CheckTensor(std::string name, GgmlType type,
                                                                  std::vector<int64_t> shape) const {
  auto bad = [&](absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF writer: tensor '", name, "': ", problem));
  };
  if (name.empty()) return bad("empty name");
  for (const PendingTensor& t : tensors_) {
    if (t.name == name) return bad("duplicate name");
  }
  const std::optional<TypeTraits> traits = FindTypeTraits(static_cast<uint32_t>(type));
  if (!traits) return bad(absl::StrCat("unknown type id ", static_cast<uint32_t>(type)));
  if (shape.empty() || shape.size() > 4) return bad(absl::StrCat(shape.size(), " dimensions (allowed: 1 to 4)"));
  int64_t elements = 1;
  for (int64_t d : shape) {
    if (d < 0) return bad(absl::StrCat("negative dimension ", d));
    if (__builtin_mul_overflow(elements, d, &elements)) return bad("element count overflows");
  }
  if (shape[0] % traits->block_elems != 0) {
    return bad(absl::StrCat("row length ", shape[0], " is not a multiple of the ", A(traits->name),
                            " block size ", traits->block_elems));
  }
  int64_t nbytes;
  if (__builtin_mul_overflow(elements / traits->block_elems, traits->block_bytes, &nbytes)) {
    return bad("byte size overflows");
  }
  PendingTensor t;
  t.name = std::move(name);
  t.type = type;
  t.shape = std::move(shape);
  t.nbytes = static_cast<uint64_t>(nbytes);
  return t;
}

absl::Status GgufWriter::AddTensor(std::string name, GgmlType type, std::vector<int64_t> shape,
                                   std::vector<uint8_t> data) {
  absl::StatusOr<PendingTensor> t = CheckTensor(std::move(name), type, std::move(shape));
  if (!t.ok()) return t.status();
  if (data.size() != t->nbytes) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF writer: tensor '", t->name, "': ", data.size(),
                                                   " bytes of data, expected ", t->nbytes));
  }
  t->data = std::move(data);
  tensors_.push_back(*std::move(t));
  return absl::OkStatus();
}

absl::Status GgufWriter::AddTensorWithFiller(std::string name, GgmlType type, std::vector<int64_t> shape,
                                             TensorFiller fill) {
  absl::StatusOr<PendingTensor> t = CheckTensor(std::move(name), type, std::move(shape));
  if (!t.ok()) return t.status();
  if (!fill) return absl::InvalidArgumentError(absl::StrCat("GGUF writer: tensor '", t->name, "': no filler"));
  t->fill = std::move(fill);
  tensors_.push_back(*std::move(t));
  return absl::OkStatus();
}

std::vector<uint8_t> GgufWriter::SerializeHead() const {
  const bool add_alignment =
      alignment_ != kDefaultAlignment &&
      std::none_of(metadata_.begin(), metadata_.end(),
                   [](const GgufKeyValue& kv) { return kv.key == kAlignmentKey; });
  std::vector<uint8_t> out;
  Put<uint32_t>(out, 0x46554747);  // "GGUF"
  Put<uint32_t>(out, version_);
  Put<uint64_t>(out, tensors_.size());
  Put<uint64_t>(out, metadata_.size() + (add_alignment ? 1 : 0));
  for (const GgufKeyValue& kv : metadata_) {
    PutString(out, kv.key);
    PutValue(out, kv.value);
  }
  if (add_alignment) {
    PutString(out, kAlignmentKey);
    PutValue(out, GgufValue::U32(static_cast<uint32_t>(alignment_)));
  }
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    PutString(out, t.name);
    Put<uint32_t>(out, static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) Put<uint64_t>(out, static_cast<uint64_t>(d));
    Put<uint32_t>(out, static_cast<uint32_t>(t.type));
    Put<uint64_t>(out, offset);
    offset += AlignUp(t.nbytes, alignment_);
  }
  out.resize(AlignUp(out.size(), alignment_), 0);
  return out;
}

std::vector<uint8_t> GgufWriter::Serialize() const {
  if (!status_.ok()) return {};
  std::vector<uint8_t> out = SerializeHead();
  for (const PendingTensor& t : tensors_) {
    const size_t at = out.size();
    out.resize(at + t.nbytes, 0);
    if (t.fill) {
      t.fill(std::span<uint8_t>(out.data() + at, t.nbytes));
    } else if (t.nbytes > 0) {  // an empty vector's data() may be null
      std::memcpy(out.data() + at, t.data.data(), t.nbytes);
    }
    // Each tensor, the last one included, is padded to the alignment as llama.cpp does.
    out.resize(AlignUp(out.size(), alignment_), 0);
  }
  return out;
}

absl::Status GgufWriter::WriteFile(const std::string& path) const {
  if (!status_.ok()) return status_;
  // The temporary lives in the target's directory so that rename() is atomic.
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot create a temporary file beside it: ", std::strerror(errno)));
  }
  auto fail = [&](absl::string_view what) {
    const std::string msg = absl::StrCat(path, ": ", what, ": ", std::strerror(errno));
    ::close(fd);
    ::unlink(tmp.c_str());
    return absl::InternalError(msg);
  };
  if (::fchmod(fd, 0644) != 0) return fail("cannot set permissions");

  const std::vector<uint8_t> head = SerializeHead();
  if (!WriteAll(fd, head.data(), head.size())) return fail("write failed");
  static constexpr uint8_t kZeros[256] = {};
  std::vector<uint8_t> buffer;  // holds one filled tensor at a time
  for (const PendingTensor& t : tensors_) {
    const uint8_t* bytes = t.data.data();
    if (t.fill) {
      buffer.assign(t.nbytes, 0);
      t.fill(std::span<uint8_t>(buffer.data(), buffer.size()));
      bytes = buffer.data();
    }
    if (!WriteAll(fd, bytes, t.nbytes)) return fail("write failed");
    const uint64_t pad = AlignUp(t.nbytes, alignment_) - t.nbytes;
    for (uint64_t done = 0; done < pad;) {
      const uint64_t n = std::min<uint64_t>(pad - done, sizeof kZeros);
      if (!WriteAll(fd, kZeros, n)) return fail("write failed");
      done += n;
    }
  }
  if (::fsync(fd) != 0) return fail("fsync failed");
  if (::close(fd) != 0) {
    const std::string msg = absl::StrCat(path, ": close failed: ", std::strerror(errno));
    ::unlink(tmp.c_str());
    return absl::InternalError(msg);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string msg = absl::StrCat(path, ": cannot rename the temporary file into place: ",
                                         std::strerror(errno));
    ::unlink(tmp.c_str());
    return absl::InternalError(msg);
  }
  // Make the rename itself durable; failing to sync the directory is not an error
  // of the write (some file systems refuse fsync on directories).
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace tinyrag
