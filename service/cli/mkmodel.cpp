// `tinyrag mkmodel --preset NAME --type TYPE -o FILE [--seed S]`: writes a
// random-weight GGUF with a real model's shapes and metadata (../shared/docs/cli.md).
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "model/mkmodel.h"
#include "model/model_presets.h"
#include "service/cli/command.h"

namespace tinyrag::cli {
namespace {

struct MkmodelArgs {
  std::string preset;
  std::string type;
  std::string output;
  uint64_t seed = 0;
};

std::string JoinNames(const std::vector<std::string>& names) { return absl::StrJoin(names, ", "); }

int RunMkmodel(const MkmodelArgs& args) {
  const ModelPreset* preset = FindPreset(args.preset);
  if (preset == nullptr) {
    std::vector<std::string> names;
    for (const ModelPreset& p : AllPresets()) names.emplace_back(p.name);
    return ReportError(absl::InvalidArgumentError(absl::StrFormat(
        "mkmodel: unknown preset '%s' (valid: %s)", args.preset, JoinNames(names))));
  }
  const std::optional<MkmodelType> type = ParseMkmodelType(args.type);
  if (!type.has_value()) {
    std::vector<std::string> names;
    for (std::string_view n : MkmodelTypeNames()) names.emplace_back(n);
    return ReportError(absl::InvalidArgumentError(absl::StrFormat(
        "mkmodel: unknown type '%s' (valid: %s)", args.type, JoinNames(names))));
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<ModelPlan> plan = PlanModel(*preset, *type, args.seed);
  if (!plan.ok()) return ReportError(plan.status());
  if (absl::Status written = WriteModel(*plan, args.output); !written.ok()) {
    return ReportError(written);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "mkmodel: wrote %s (%s, %s, %zu tensors) in %.1f s\n", args.output.c_str(),
               std::string(preset->name).c_str(), std::string(args.type).c_str(),
               plan->tensors.size(), seconds);
  return 0;
}

}  // namespace

void AddMkmodelCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<MkmodelArgs>();
  CLI::App* cmd = app.add_subcommand(
      "mkmodel", "Write a random-weight GGUF model with the shapes and metadata of a real one");
  cmd->add_option("--preset", args->preset,
                  "qwen2.5-0.5b, smollm2-135m, smollm2-360m, tinyllama-1.1b, llama3.2-1b, "
                  "qwen3-0.6b or minilm-l6")
      ->required();
  cmd->add_option("--type", args->type, "f32, f16, q8_0, q4_0, q4_k_m, q5_k_m or q6_k")->required();
  cmd->add_option("-o,--output", args->output, "Output GGUF file")->required();
  cmd->add_option("--seed", args->seed, "Random seed (same seed, same bytes)");
  cmd->callback([args, &exit_code] { exit_code = RunMkmodel(*args); });
}

}  // namespace tinyrag::cli
