// Safetensors reader and writer (see safetensors.h for the format and checks).
#include "model/safetensors.h"


#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/mapped_file.h"
#include "nlohmann/json.hpp"

namespace tinyrag {
namespace {

using Json = nlohmann::json;

std::optional<SafetensorsDtype> ParseDtype(std::string_view name) {
  if (name == "F32") return SafetensorsDtype::kF32;
  if (name == "F16") return SafetensorsDtype::kF16;
  if (name == "BF16") return SafetensorsDtype::kBF16;
  return std::nullopt;
}

// Dtypes the format defines that this engine does not load (named in errors
// so "unsupported" is not mistaken for "corrupt").
bool IsOtherSafetensorsDtype(std::string_view name) {
  static constexpr std::string_view kOthers[] = {"F64", "I64", "I32", "I16", "I8",      "U8",      "U16",
                                                 "U32", "U64", "BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0",
                                                 "F6_E2M3", "F6_E3M2", "F4", "C64"};
  return std::find(std::begin(kOthers), std::end(kOthers), name) != std::end(kOthers);
}

uint64_t ReadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Parses `text` as JSON, rejecting duplicate keys in any object (nlohmann
// would silently keep the last one, hiding a corrupt header).
absl::StatusOr<Json> ParseStrictJson(std::string_view text) {
  std::vector<std::set<std::string>> open_objects;
  std::optional<std::string> duplicate;
  Json::parser_callback_t callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start: open_objects.emplace_back(); break;
      case Json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open_objects.empty() && parsed.is_string() &&
            !open_objects.back().insert(parsed.get<std::string>()).second && !duplicate) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default: break;
    }
    return true;
  };
  Json j = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("header is not valid JSON");
  if (duplicate) return absl::InvalidArgumentError(absl::StrCat("header has a duplicate key \"", *duplicate, "\""));
  return j;
}

std::string ShapeString(const std::vector<int64_t>& shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

}  // namespace

std::string_view SafetensorsDtypeName(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::kF32: return "F32";
    case SafetensorsDtype::kF16: return "F16";
    case SafetensorsDtype::kBF16: return "BF16";
  }
  return "?";
}

int64_t SafetensorsDtypeSize(SafetensorsDtype dtype) { return dtype == SafetensorsDtype::kF32 ? 4 : 2; }

int64_t SafetensorsTensor::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::Status SafetensorsFile::Error(const std::string& problem) const {
  return absl::InvalidArgumentError(absl::StrCat(path_, ": ", problem));
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  absl::StatusOr<MappedFile> bytes = MappedFile::Open(path);
  if (!bytes.ok()) return bytes.status();
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->bytes_ = *std::move(bytes);
  if (absl::Status s = file->Parse(); !s.ok()) return s;
  return file;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::FromBuffer(std::span<const uint8_t> bytes,
                                                                             std::string name) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = std::move(name);
  file->bytes_ = MappedFile::Copy(bytes);
  if (absl::Status s = file->Parse(); !s.ok()) return s;
  return file;
}

SafetensorsFile::~SafetensorsFile() = default;

absl::Status SafetensorsFile::Parse() {
  if (bytes_.size() < 8) return Error(absl::StrCat("file of ", bytes_.size(), " bytes is too short for the 8-byte header length"));
  const uint64_t header_len = ReadLe64(bytes_.data());
  if (header_len > kMaxHeaderBytes) {
    return Error(absl::StrCat("header length ", header_len, " exceeds the limit of ", kMaxHeaderBytes, " bytes"));
  }
  if (header_len > bytes_.size() - 8) {
    return Error(absl::StrCat("header length ", header_len, " runs past the end of the file (", bytes_.size(), " bytes)"));
  }
  if (header_len < 2) return Error(absl::StrCat("header length ", header_len, " is too small for a JSON object"));
  data_offset_ = 8 + header_len;
  const uint64_t data_size = bytes_.size() - data_offset_;
  const std::string_view text(reinterpret_cast<const char*>(bytes_.data() + 8), header_len);
  if (text.front() != '{') return Error("header does not start with '{'");

  auto parsed = ParseStrictJson(text);
  if (!parsed.ok()) return Error(std::string(parsed.status().message()));
  const Json& header = *parsed;
  if (!header.is_object()) return Error("header is not a JSON object");

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) return Error("__metadata__ is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) return Error(absl::StrCat("__metadata__ value of \"", key, "\" is not a string"));
        metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string where = absl::StrCat("tensor \"", name, "\"");
    if (name.empty()) return Error("a tensor has an empty name");
    if (!entry.is_object()) return Error(absl::StrCat(where, " is not an object"));
    for (const auto& [key, unused] : entry.items()) {
      if (key != "dtype" && key != "shape" && key != "data_offsets") {
        return Error(absl::StrCat(where, " has an unknown field \"", key, "\""));
      }
    }
    SafetensorsTensor t;
    t.name = name;
    // dtype
    auto dtype_it = entry.find("dtype");
    if (dtype_it == entry.end() || !dtype_it->is_string()) return Error(absl::StrCat(where, ": missing string dtype"));
    const std::string dtype_name = dtype_it->get<std::string>();
    const std::optional<SafetensorsDtype> dtype = ParseDtype(dtype_name);
    if (!dtype) {
      if (IsOtherSafetensorsDtype(dtype_name)) {
        return Error(absl::StrCat(where, ": dtype ", dtype_name, " is not supported (supported: F32, F16, BF16)"));
      }
      return Error(absl::StrCat(where, ": unknown dtype \"", dtype_name, "\""));
    }
    t.dtype = *dtype;
    // shape: non-negative integers; the element count must not overflow.
    auto shape_it = entry.find("shape");
    if (shape_it == entry.end() || !shape_it->is_array()) return Error(absl::StrCat(where, ": missing shape array"));
    if (shape_it->size() > 8) return Error(absl::StrCat(where, ": shape has ", shape_it->size(), " dimensions"));
    uint64_t bytes = static_cast<uint64_t>(SafetensorsDtypeSize(t.dtype));
    for (const Json& d : *shape_it) {
      if (!d.is_number_unsigned()) return Error(absl::StrCat(where, ": shape holds ", d.dump(), ", not a size"));
      const uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t{1} << 48) || (dim != 0 && bytes > (uint64_t{1} << 62) / dim)) {
        return Error(absl::StrCat(where, ": shape ", shape_it->dump(), " is too large"));
      }
      bytes *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    // data_offsets: [begin, end] inside the data section, matching the shape.
    auto off_it = entry.find("data_offsets");
    if (off_it == entry.end() || !off_it->is_array() || off_it->size() != 2 || !(*off_it)[0].is_number_unsigned() ||
        !(*off_it)[1].is_number_unsigned()) {
      return Error(absl::StrCat(where, ": data_offsets must be two unsigned integers [begin, end]"));
    }
    t.begin = (*off_it)[0].get<uint64_t>();
    t.end = (*off_it)[1].get<uint64_t>();
    if (t.begin > t.end) return Error(absl::StrCat(where, ": data_offsets [", t.begin, ", ", t.end, "] are reversed"));
    if (t.end > data_size) {
      return Error(absl::StrCat(where, ": data_offsets [", t.begin, ", ", t.end, "] run past the data section (",
                                data_size, " bytes)"));
    }
    if (t.end - t.begin != bytes) {
      return Error(absl::StrCat(where, ": shape ", ShapeString(t.shape), " of ", dtype_name, " needs ", bytes,
                                " bytes but data_offsets [", t.begin, ", ", t.end, "] hold ", t.end - t.begin));
    }
    tensors_.push_back(std::move(t));
  }

  // Ranges must tile the data section exactly: no overlap, no gap, no tail.
  std::sort(tensors_.begin(), tensors_.end(), [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  const SafetensorsTensor* previous = nullptr;
  for (const SafetensorsTensor& t : tensors_) {
    if (t.begin < expected) {
      return Error(absl::StrCat("tensors \"", previous->name, "\" and \"", t.name, "\" overlap in the data section"));
    }
    if (t.begin > expected) {
      return Error(absl::StrCat("the data section has unused bytes [", expected, ", ", t.begin, ") before tensor \"",
                                t.name, "\""));
    }
    expected = t.end;
    previous = &t;
  }
  if (expected != data_size) {
    return Error(absl::StrCat("the data section has ", data_size - expected, " bytes after the last tensor"));
  }
  for (size_t i = 0; i < tensors_.size(); ++i) by_name_.emplace(tensors_[i].name, i);
  return absl::OkStatus();
}

const SafetensorsTensor* SafetensorsFile::Find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> SafetensorsFile::Data(const SafetensorsTensor& tensor) const {
  return {bytes_.data() + data_offset_ + tensor.begin, static_cast<size_t>(tensor.end - tensor.begin)};
}

absl::Status SafetensorsWriter::Add(std::string name, SafetensorsDtype dtype, std::vector<int64_t> shape,
                                    std::span<const uint8_t> bytes) {
  if (name.empty() || name == "__metadata__") return absl::InvalidArgumentError("safetensors: bad tensor name");
  for (const Entry& e : entries_) {
    if (e.name == name) return absl::InvalidArgumentError(absl::StrCat("safetensors: duplicate tensor ", name));
  }
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return absl::InvalidArgumentError(absl::StrCat("safetensors: negative dimension in ", name));
    n *= d;
  }
  if (static_cast<uint64_t>(n * SafetensorsDtypeSize(dtype)) != bytes.size()) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors: ", name, " has ", bytes.size(),
                                                   " bytes for shape ", ShapeString(shape)));
  }
  entries_.push_back({std::move(name), dtype, std::move(shape), std::vector<uint8_t>(bytes.begin(), bytes.end())});
  return absl::OkStatus();
}

absl::Status SafetensorsWriter::AddF32(std::string name, std::vector<int64_t> shape, std::span<const float> values) {
  return Add(std::move(name), SafetensorsDtype::kF32, std::move(shape),
             {reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(float)});
}

std::vector<uint8_t> SafetensorsWriter::Serialize() const {
  Json header = Json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const Entry& e : entries_) {
    header[e.name] = {{"dtype", SafetensorsDtypeName(e.dtype)},
                      {"shape", e.shape},
                      {"data_offsets", {offset, offset + e.bytes.size()}}};
    offset += e.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned
  std::vector<uint8_t> out(8 + text.size() + offset);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  std::memcpy(out.data() + 8, text.data(), text.size());
  size_t pos = 8 + text.size();
  for (const Entry& e : entries_) {
    if (!e.bytes.empty()) std::memcpy(out.data() + pos, e.bytes.data(), e.bytes.size());
    pos += e.bytes.size();
  }
  return out;
}

absl::Status SafetensorsWriter::WriteFile(const std::string& path) const {
  const std::vector<uint8_t> bytes = Serialize();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat(path, ": cannot write"));
  return absl::OkStatus();
}

}  // namespace tinyrag
