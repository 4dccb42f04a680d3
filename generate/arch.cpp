#include "generate/arch.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tinyrag {

std::span<const ArchSpec* const> SupportedArchs() {
  static const std::array<const ArchSpec*, 3> kArchs = {&LlamaArch(), &Qwen2Arch(), &Qwen3Arch()};
  return kArchs;
}

absl::StatusOr<const ArchSpec*> FindArch(std::string_view name) {
  for (const ArchSpec* spec : SupportedArchs()) {
    if (spec->name == name) return spec;
  }
  std::vector<std::string> names;
  for (const ArchSpec* spec : SupportedArchs()) names.emplace_back(spec->name);
  return absl::InvalidArgumentError(absl::StrCat("unsupported decoder architecture \"", std::string(name),
                                                 "\" (supported: ", absl::StrJoin(names, ", "), ")"));
}

std::string FillName(std::string_view pattern, std::string_view value) {
  const size_t at = pattern.find("{}");
  if (at == std::string_view::npos) return std::string(pattern);
  std::string out(pattern.substr(0, at));
  out += value;
  out += pattern.substr(at + 2);
  return out;
}

}  // namespace tinyrag
