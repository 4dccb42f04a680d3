#include "model/fixtures.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tinyrag::fixtures {
namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat("error reading ", path.string()));
  return std::move(buffer).str();
}

std::vector<std::string> SplitCases(std::string_view text, std::string_view separator, bool drop_empty_last) {
  std::vector<std::string> cases;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(separator, start);
    if (at == std::string_view::npos) {
      cases.emplace_back(text.substr(start));
      break;
    }
    cases.emplace_back(text.substr(start, at - start));
    start = at + separator.size();
  }
  if (drop_empty_last && cases.size() > 1 && cases.back().empty()) cases.pop_back();
  return cases;
}

namespace {

// Parses the ids in `line` separated by spaces/tabs; `what` names the source in errors.
absl::Status ParseIdList(std::string_view line, std::string_view what, std::vector<TokenId>& ids) {
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && std::strchr(" \t\r\n\v\f", line[pos]) != nullptr) ++pos;
    if (pos == line.size()) break;
    size_t end = pos;
    while (end < line.size() && std::strchr(" \t\r\n\v\f", line[end]) == nullptr) ++end;
    int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(line.data() + pos, line.data() + end, value);
    if (ec != std::errc() || ptr != line.data() + end || value < 0 || value > INT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(what), ": bad token id \"", std::string(line.substr(pos, end - pos)), "\""));
    }
    ids.push_back(static_cast<TokenId>(value));
    pos = end;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::vector<TokenId>>> ParseTokenLines(std::string_view content) {
  std::vector<std::vector<TokenId>> cases;
  if (content.empty()) return cases;
  if (content.back() == '\n') content.remove_suffix(1);
  size_t start = 0;
  for (size_t line_no = 1;; ++line_no) {
    const size_t nl = content.find('\n', start);
    const std::string_view line =
        content.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    std::vector<TokenId> ids;
    if (absl::Status s = ParseIdList(line, absl::StrCat("line ", line_no), ids); !s.ok()) return s;
    cases.push_back(std::move(ids));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return cases;
}

absl::StatusOr<std::vector<TokenId>> ParseIds(std::string_view content) {
  std::vector<TokenId> ids;
  if (absl::Status s = ParseIdList(content, "ids", ids); !s.ok()) return s;
  return ids;
}

absl::StatusOr<std::vector<float>> ReadFloat32File(const fs::path& path, std::optional<size_t> expected_count) {
  auto bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() % sizeof(float) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: size %d is not a multiple of 4", path.string(), bytes->size()));
  }
  const size_t count = bytes->size() / sizeof(float);
  if (expected_count && count != *expected_count) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: holds %d floats, expected %d", path.string(), count, *expected_count));
  }
  std::vector<float> values(count);
  // Fixtures are little-endian, as is every machine this project targets.
  std::memcpy(values.data(), bytes->data(), bytes->size());
  return values;
}

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kTokens: return "tokens";
    case Kind::kLogits: return "logits";
    case Kind::kEmbeddings: return "embeddings";
  }
  return "?";
}

std::optional<Kind> KindFromName(std::string_view name) {
  for (Kind k : {Kind::kTokens, Kind::kLogits, Kind::kEmbeddings}) {
    if (KindName(k) == name) return k;
  }
  return std::nullopt;
}

bool ManifestEntry::Has(Kind kind) const {
  switch (kind) {
    case Kind::kTokens: return !tokenization_file.empty();
    case Kind::kLogits: return !logits.empty();
    case Kind::kEmbeddings: return embeddings.has_value();
  }
  return false;
}

namespace {

using nlohmann::json;

// Typed field access that reports the entry and field instead of throwing.
class FieldReader {
 public:
  FieldReader(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  absl::Status String(const char* key, std::string& out, bool required = false) const {
    const json* v = Get(key);
    if (v == nullptr) return required ? Missing(key) : absl::OkStatus();
    if (!v->is_string()) return Wrong(key, "a string");
    out = v->get<std::string>();
    return absl::OkStatus();
  }
  absl::Status Int(const char* key, int64_t& out) const {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_number_integer()) return Wrong(key, "an integer");
    out = v->get<int64_t>();
    return absl::OkStatus();
  }
  absl::Status Bool(const char* key, bool& out) const {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_boolean()) return Wrong(key, "a boolean");
    out = v->get<bool>();
    return absl::OkStatus();
  }
  absl::Status Strings(const char* key, std::vector<std::string>& out) const {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_array()) return Wrong(key, "an array of strings");
    for (const json& e : *v) {
      if (!e.is_string()) return Wrong(key, "an array of strings");
      out.push_back(e.get<std::string>());
    }
    return absl::OkStatus();
  }
  absl::Status Ints(const char* key, std::vector<int64_t>& out) const {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_array()) return Wrong(key, "an array of integers");
    for (const json& e : *v) {
      if (!e.is_number_integer()) return Wrong(key, "an array of integers");
      out.push_back(e.get<int64_t>());
    }
    return absl::OkStatus();
  }
  const json* Get(const char* key) const {
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  absl::Status Wrong(const char* key, const char* expected) const {
    return absl::InvalidArgumentError(absl::StrCat(where_, ": field \"", key, "\" is not ", expected));
  }
  absl::Status Missing(const char* key) const {
    return absl::InvalidArgumentError(absl::StrCat(where_, ": field \"", key, "\" is missing"));
  }

 private:
  const json& object_;
  std::string where_;
};

#define TINYRAG_RETURN_IF_ERROR(expr)        \
  do {                                       \
    if (absl::Status s_ = (expr); !s_.ok()) { \
      return s_;                             \
    }                                        \
  } while (false)

absl::StatusOr<ManifestEntry> ParseEntry(const std::string& name, const json& value, const std::string& where) {
  if (!value.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, ": not an object"));
  ManifestEntry e;
  e.model_file = name;
  FieldReader r(value, where);
  TINYRAG_RETURN_IF_ERROR(r.String("arch", e.arch));
  TINYRAG_RETURN_IF_ERROR(r.Int("n_vocab", e.n_vocab));
  TINYRAG_RETURN_IF_ERROR(r.Int("n_embd", e.n_embd));
  TINYRAG_RETURN_IF_ERROR(r.Strings("tensor_types", e.tensor_types));
  TINYRAG_RETURN_IF_ERROR(r.Bool("vocab_only", e.vocab_only));
  TINYRAG_RETURN_IF_ERROR(r.String("texts", e.texts_file));
  TINYRAG_RETURN_IF_ERROR(r.String("tokenization", e.tokenization_file));
  if (!e.tokenization_file.empty() && e.texts_file.empty()) return r.Missing("texts");
  if (const json* logits = r.Get("logits")) {
    if (!logits->is_array()) return r.Wrong("logits", "an array");
    for (size_t i = 0; i < logits->size(); ++i) {
      FieldReader c((*logits)[i], absl::StrCat(where, " logits[", i, "]"));
      if (!(*logits)[i].is_object()) return r.Wrong("logits", "an array of objects");
      LogitsCase lc;
      TINYRAG_RETURN_IF_ERROR(c.String("ids", lc.ids_file, true));
      TINYRAG_RETURN_IF_ERROR(c.String("logits", lc.logits_file, true));
      TINYRAG_RETURN_IF_ERROR(c.String("dtype", lc.dtype));
      TINYRAG_RETURN_IF_ERROR(c.Ints("shape", lc.shape));
      e.logits.push_back(std::move(lc));
    }
  }
  if (const json* emb = r.Get("embeddings")) {
    if (!emb->is_object()) return r.Wrong("embeddings", "an object");
    FieldReader c(*emb, absl::StrCat(where, " embeddings"));
    EmbeddingsRef ref;
    TINYRAG_RETURN_IF_ERROR(c.String("embed", ref.embed_file, true));
    TINYRAG_RETURN_IF_ERROR(c.String("ids", ref.ids_file, true));
    TINYRAG_RETURN_IF_ERROR(c.String("dtype", ref.dtype));
    TINYRAG_RETURN_IF_ERROR(c.Ints("shape", ref.shape));
    TINYRAG_RETURN_IF_ERROR(c.Bool("pooled", ref.pooled));
    TINYRAG_RETURN_IF_ERROR(c.Bool("normalized", ref.normalized));
    e.embeddings = std::move(ref);
  }
  return e;
}

#undef TINYRAG_RETURN_IF_ERROR

}  // namespace

absl::StatusOr<std::vector<ManifestEntry>> LoadManifest(const fs::path& dir) {
  const fs::path path = dir / "MANIFEST.json";
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  const json root = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path.string(), ": not valid JSON"));
  if (!root.is_object()) return absl::InvalidArgumentError(absl::StrCat(path.string(), ": not a JSON object"));
  std::vector<ManifestEntry> entries;
  for (auto it = root.begin(); it != root.end(); ++it) {  // nlohmann::json objects iterate in key order
    auto entry = ParseEntry(it.key(), it.value(), absl::StrCat(path.string(), " \"", it.key(), "\""));
    if (!entry.ok()) return entry.status();
    entries.push_back(*std::move(entry));
  }
  return entries;
}

absl::StatusOr<std::vector<VocabTest>> FindVocabTests(const fs::path& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return absl::NotFoundError(absl::StrCat("cannot list ", dir.string(), ": ", ec.message()));
  std::vector<VocabTest> tests;
  for (const fs::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".gguf") continue;
    VocabTest t{name, name + ".inp", name + ".out"};
    if (fs::exists(dir / t.inp_file) && fs::exists(dir / t.out_file)) tests.push_back(std::move(t));
  }
  std::sort(tests.begin(), tests.end(), [](const VocabTest& a, const VocabTest& b) { return a.gguf_file < b.gguf_file; });
  return tests;
}

absl::StatusOr<TokenComparison> CompareTokenization(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                                    const std::vector<std::vector<TokenId>>& expected,
                                                    const EncodeOptions& options) {
  if (texts.size() != expected.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%d text cases but %d expected id lines", texts.size(), expected.size()));
  }
  TokenComparison result;
  result.cases = texts.size();
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<TokenId> got = tokenizer.Encode(texts[i], options);
    if (got == expected[i]) {
      ++result.exact;
    } else if (!result.first_mismatch) {
      result.first_mismatch = TokenComparison::Mismatch{i, texts[i], expected[i], std::move(got)};
    }
  }
  return result;
}

}  // namespace tinyrag::fixtures
