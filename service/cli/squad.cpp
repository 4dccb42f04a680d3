#include "service/cli/squad.h"

#include <fstream>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "service/cli/knowledge_base.h"

namespace tinyrag::cli {
namespace {

// `j[key]` when `j` is an object holding a value of type T (for T = json:
// an array, the only json-valued fields read here), else `fallback`
// (json::value would throw on a mistyped field).
template <typename T>
T Field(const nlohmann::json& j, const char* key, T fallback) {
  if (!j.is_object() || !j.contains(key)) return fallback;
  const nlohmann::json& v = j[key];
  if constexpr (std::is_same_v<T, bool>) {
    return v.is_boolean() ? v.get<bool>() : fallback;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return v.is_string() ? v.get<std::string>() : fallback;
  } else {
    return v.is_array() ? v : fallback;
  }
}

}  // namespace

absl::StatusOr<SquadFile> ReadSquad(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream buf;
  buf << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("data") || !j["data"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a SQuAD file (no \"data\" array)"));
  }
  SquadFile squad;
  const std::string source = AbsoluteSource(path);
  for (const nlohmann::json& article : j["data"]) {
    const std::string title = Field<std::string>(article, "title", "");
    const nlohmann::json paragraphs = Field<nlohmann::json>(article, "paragraphs", nlohmann::json());
    if (title.empty() || !paragraphs.is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": an article without a title or paragraphs"));
    }
    for (size_t p = 0; p < paragraphs.size(); ++p) {
      const nlohmann::json& para = paragraphs[p];
      if (Field<std::string>(para, "context", "").empty()) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": paragraph ", p, " of ", title, " has no context"));
      }
      Document d;
      d.external_id = absl::StrCat(title, "/", p);
      d.source = absl::StrCat(source, "#", d.external_id);
      d.title = title;
      d.sections.push_back({{}, NormalizeText(para["context"].get<std::string>())});
      d.metadata = {{"format", "squad"}, {"article", title}};
      d.content_hash = ContentHash(d);
      for (const nlohmann::json& qa : Field<nlohmann::json>(para, "qas", nlohmann::json::array())) {
        std::string question = Field<std::string>(qa, "question", "");
        if (question.empty()) continue;
        squad.questions.push_back({std::move(question), d.external_id, !Field(qa, "is_impossible", false)});
      }
      squad.paragraphs.push_back(std::move(d));
    }
  }
  if (squad.paragraphs.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no paragraphs"));
  return squad;
}

}  // namespace tinyrag::cli
