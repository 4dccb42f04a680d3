// `tinyrag inspect MODEL`: a human-readable summary of a GGUF file — the file,
// architecture, hyperparameters, tokenizer and the tensor table.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/gguf.h"
#include "service/cli/command.h"

namespace tinyrag::cli {
namespace {

constexpr size_t kMaxShownString = 96;  // longer strings are cut, with their size shown

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Quoted, with control bytes escaped so every value stays on one line.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  const size_t shown = std::min(s.size(), kMaxShownString);
  for (size_t i = 0; i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += absl::StrFormat("\\x%02x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  if (shown < s.size()) absl::StrAppend(&out, "... (", s.size(), " bytes)");
  return out;
}

// Shortest text that reads back as the same float32/float64; whole numbers such
// as a RoPE base of 1000000 are written out rather than as 1e+06.
std::string FormatFloat(double v, GgufValueType type) {
  char buf[64];
  const auto fmt = std::trunc(v) == v && std::fabs(v) < 1e16 ? std::chars_format::fixed : std::chars_format::general;
  const auto r = type == GgufValueType::kFloat32 ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v), fmt)
                                                 : std::to_chars(buf, buf + sizeof buf, v, fmt);
  return std::string(buf, r.ptr);
}

std::string TypeLabel(const GgufValue& v) {
  if (v.type != GgufValueType::kArray) return std::string(GgufValueTypeName(v.type));
  const GgufArray& a = std::get<GgufArray>(v.data);
  return absl::StrCat(std::string(GgufValueTypeName(a.type)), "[", a.size(), "]");
}

// Scalars in full; arrays are summarized by their type label alone.
std::string FormatValue(const GgufValue& v) {
  if (const uint64_t* u = std::get_if<uint64_t>(&v.data)) return absl::StrCat(*u);
  if (const int64_t* i = std::get_if<int64_t>(&v.data)) return absl::StrCat(*i);
  if (const double* d = std::get_if<double>(&v.data)) return FormatFloat(*d, v.type);
  if (const bool* b = std::get_if<bool>(&v.data)) return *b ? "true" : "false";
  if (const std::string* s = std::get_if<std::string>(&v.data)) return Quote(*s);
  return "";
}

// llama.cpp's names for general.file_type (enum llama_ftype).
std::string_view FileTypeName(int64_t ftype) {
  static const std::map<int64_t, std::string_view> kNames = {
      {0, "ALL_F32"},   {1, "MOSTLY_F16"},     {2, "MOSTLY_Q4_0"},    {3, "MOSTLY_Q4_1"},
      {7, "MOSTLY_Q8_0"},  {8, "MOSTLY_Q5_0"},   {9, "MOSTLY_Q5_1"},    {10, "MOSTLY_Q2_K"},
      {11, "MOSTLY_Q3_K_S"}, {12, "MOSTLY_Q3_K_M"}, {13, "MOSTLY_Q3_K_L"}, {14, "MOSTLY_Q4_K_S"},
      {15, "MOSTLY_Q4_K_M"}, {16, "MOSTLY_Q5_K_S"}, {17, "MOSTLY_Q5_K_M"}, {18, "MOSTLY_Q6_K"},
      {19, "MOSTLY_IQ2_XXS"}, {20, "MOSTLY_IQ2_XS"}, {21, "MOSTLY_Q2_K_S"}, {22, "MOSTLY_IQ3_XS"},
      {23, "MOSTLY_IQ3_XXS"}, {24, "MOSTLY_IQ1_S"}, {25, "MOSTLY_IQ4_NL"}, {26, "MOSTLY_IQ3_S"},
      {27, "MOSTLY_IQ3_M"}, {28, "MOSTLY_IQ2_S"},  {29, "MOSTLY_IQ2_M"},  {30, "MOSTLY_IQ4_XS"},
      {31, "MOSTLY_IQ1_M"}, {32, "MOSTLY_BF16"},   {36, "MOSTLY_TQ1_0"},  {37, "MOSTLY_TQ2_0"},
  };
  auto it = kNames.find(ftype);
  return it == kNames.end() ? "unknown" : it->second;
}

// 1234567 -> "1,234,567".
std::string Grouped(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string Shape(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) absl::StrAppend(&out, i ? ", " : "", shape[i]);
  return out + "]";
}

// Rows of "key  type  value" with the key and type columns aligned.
void AppendKeyTable(std::string& out, const std::vector<const GgufKeyValue*>& rows, int indent = 2) {
  size_t key_w = 0, type_w = 0;
  for (const GgufKeyValue* kv : rows) {
    key_w = std::max(key_w, kv->key.size());
    type_w = std::max(type_w, TypeLabel(kv->value).size());
  }
  for (const GgufKeyValue* kv : rows) {
    std::string line = absl::StrFormat("%*s%-*s  %-*s  %s", indent, "", static_cast<int>(key_w), kv->key,
                                       static_cast<int>(type_w), TypeLabel(kv->value), FormatValue(kv->value));
    if (kv->key == "general.file_type") {
      if (const uint64_t* u = std::get_if<uint64_t>(&kv->value.data)) {
        absl::StrAppend(&line, " (", std::string(FileTypeName(static_cast<int64_t>(*u))), ")");
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
}

void AppendFileSection(std::string& out, const GgufFile& f) {
  uint64_t params = 0;
  std::map<std::string, int> type_counts;
  for (const GgufTensorInfo& t : f.tensors()) {
    params += static_cast<uint64_t>(t.num_elements());
    ++type_counts[std::string(TypeName(t.type))];
  }
  std::string types;
  for (const auto& [name, count] : type_counts) absl::StrAppend(&types, types.empty() ? "" : ", ", name, " x", count);
  const std::string arch = f.architecture();
  absl::StrAppend(&out, "file:          ", f.path(), "\n");
  absl::StrAppend(&out, "version:       GGUF v", f.version(), "\n");
  absl::StrAppend(&out, "size:          ", Grouped(f.file_size()), " bytes (",
                  absl::StrFormat("%.2f", f.file_size() / (1024.0 * 1024.0)), " MiB)\n");
  absl::StrAppend(&out, "alignment:     ", f.alignment(), "\n");
  absl::StrAppend(&out, "data offset:   ", f.data_offset(), "\n");
  absl::StrAppend(&out, "tensors:       ", f.tensors().size(), "\n");
  absl::StrAppend(&out, "parameters:    ", Grouped(params), "\n");
  absl::StrAppend(&out, "tensor types:  ", types.empty() ? "(none)" : types, "\n");
  absl::StrAppend(&out, "architecture:  ", arch.empty() ? "(none)" : arch, "\n");
}

// Special tokens are the `tokenizer.ggml.*_token_id` keys, shown with their text.
void AppendTokenizerSection(std::string& out, const GgufFile& f, const std::vector<const GgufKeyValue*>& keys) {
  const GgufArray* tokens = nullptr;
  if (auto a = f.GetArray("tokenizer.ggml.tokens"); a.ok() && (*a)->type == GgufValueType::kString) tokens = *a;
  auto str = [&](std::string_view key) {
    auto v = f.GetString(key);
    return v.ok() ? *v : std::string("(absent)");
  };
  auto array_size = [&](std::string_view key) -> std::string {
    auto a = f.GetArray(key);
    return a.ok() ? absl::StrCat((*a)->size()) : "(absent)";
  };
  auto flag = [&](std::string_view key) -> std::string {
    auto b = f.GetBool(key);
    return b.ok() ? (*b ? "true" : "false") : "(absent)";
  };
  absl::StrAppend(&out, "\ntokenizer:\n");
  if (f.Find("tokenizer.ggml.model") == nullptr && tokens == nullptr) {
    absl::StrAppend(&out, "  (none)\n");
    return;
  }
  absl::StrAppend(&out, "  model:          ", str("tokenizer.ggml.model"), "\n");
  absl::StrAppend(&out, "  pre-tokenizer:  ", str("tokenizer.ggml.pre"), "\n");
  absl::StrAppend(&out, "  vocabulary:     ", array_size("tokenizer.ggml.tokens"), "\n");
  absl::StrAppend(&out, "  merges:         ", array_size("tokenizer.ggml.merges"), "\n");
  absl::StrAppend(&out, "  add_bos_token:  ", flag("tokenizer.ggml.add_bos_token"), "\n");
  absl::StrAppend(&out, "  add_eos_token:  ", flag("tokenizer.ggml.add_eos_token"), "\n");
  const GgufValue* tmpl = f.Find("tokenizer.chat_template");
  if (tmpl != nullptr && tmpl->type == GgufValueType::kString) {
    absl::StrAppend(&out, "  chat template:  present (", std::get<std::string>(tmpl->data).size(), " bytes)\n");
  } else {
    absl::StrAppend(&out, "  chat template:  absent\n");
  }
  bool any_special = false;
  for (const GgufKeyValue* kv : keys) {
    if (!StartsWith(kv->key, "tokenizer.ggml.") || !EndsWith(kv->key, "_token_id")) continue;
    if (!any_special) absl::StrAppend(&out, "  special tokens:\n");
    any_special = true;
    const std::string name(kv->key.substr(15, kv->key.size() - 15 - 9));
    auto id = f.GetInt(kv->key);
    std::string text;
    if (!id.ok()) {
      text = absl::StrCat(TypeLabel(kv->value), " ", FormatValue(kv->value));
    } else if (*id == -1 || *id == 0xFFFFFFFF) {  // llama.cpp's "no such token" (-1, often stored as uint32)
      text = absl::StrCat(*id, " (none)");
    } else if (tokens != nullptr && *id >= 0 && static_cast<uint64_t>(*id) < tokens->strings.size()) {
      text = absl::StrCat(*id, " ", Quote(tokens->strings[*id]));
    } else {
      text = absl::StrCat(*id, " (no such token)");
    }
    absl::StrAppend(&out, absl::StrFormat("    %-12s %s\n", name, text));
  }
}

void AppendTensorTable(std::string& out, const GgufFile& f) {
  absl::StrAppend(&out, "\ntensors (", f.tensors().size(), "):\n");
  if (f.tensors().empty()) {
    absl::StrAppend(&out, "  (none)\n");
    return;
  }
  size_t name_w = 4, type_w = 4, shape_w = 5;
  for (const GgufTensorInfo& t : f.tensors()) {
    name_w = std::max(name_w, t.name.size());
    type_w = std::max(type_w, TypeName(t.type).size());
    shape_w = std::max(shape_w, Shape(t.shape).size());
  }
  auto row = [&](std::string_view name, std::string_view type, std::string_view shape, std::string_view bytes) {
    absl::StrAppend(&out, absl::StrFormat("  %-*s  %-*s  %-*s  %s\n", static_cast<int>(name_w), std::string(name),
                                          static_cast<int>(type_w), std::string(type), static_cast<int>(shape_w),
                                          std::string(shape), std::string(bytes)));
  };
  row("name", "type", "shape", "bytes");
  for (const GgufTensorInfo& t : f.tensors()) row(t.name, TypeName(t.type), Shape(t.shape), Grouped(t.nbytes));
}

int RunInspect(const std::string& path) {
  absl::StatusOr<std::unique_ptr<GgufFile>> opened = GgufFile::Open(path);
  if (!opened.ok()) return ReportError(opened.status());
  const GgufFile& f = **opened;
  const std::string arch = f.architecture();

  // Sort keys into the sections; nothing in the file goes unlisted.
  std::vector<const GgufKeyValue*> general, hyper, tokenizer, other;
  for (const GgufKeyValue& kv : f.metadata()) {
    if (StartsWith(kv.key, "general.")) {
      general.push_back(&kv);
    } else if (!arch.empty() && StartsWith(kv.key, arch + ".")) {
      hyper.push_back(&kv);
    } else if (StartsWith(kv.key, "tokenizer.")) {
      tokenizer.push_back(&kv);
    } else {
      other.push_back(&kv);
    }
  }

  std::string out;
  AppendFileSection(out, f);
  absl::StrAppend(&out, "\ngeneral:\n");
  AppendKeyTable(out, general);
  absl::StrAppend(&out, "\nhyperparameters:\n");
  if (hyper.empty()) absl::StrAppend(&out, "  (none)\n");
  AppendKeyTable(out, hyper);
  AppendTokenizerSection(out, f, tokenizer);
  if (!tokenizer.empty()) {
    absl::StrAppend(&out, "  keys:\n");
    AppendKeyTable(out, tokenizer, 4);
  }
  if (!other.empty()) {
    absl::StrAppend(&out, "\nother metadata:\n");
    AppendKeyTable(out, other);
  }
  AppendTensorTable(out, f);

  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    return ReportError(absl::InternalError("inspect: cannot write to stdout"));
  }
  return 0;
}

}  // namespace

void AddInspectCommand(CLI::App& app, int& exit_code) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("inspect", "Summarize a GGUF file: architecture, hyperparameters, "
                                                "tokenizer and tensors");
  cmd->add_option("model", *path, "GGUF model or vocabulary-only file")->required();
  cmd->callback([path, &exit_code] { exit_code = RunInspect(*path); });
}

}  // namespace tinyrag::cli
