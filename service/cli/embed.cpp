// `tinyrag embed -m MODEL [--no-normalize] TEXT...`: one JSON array of floats
// per line, one line per TEXT (see ../shared/docs/cli.md). MODEL is a .gguf
// file or a sentence-transformers folder. A text cut to the model's maximum
// sequence length is reported on stderr.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "embed/encoder.h"
#include "nlohmann/json.hpp"
#include "service/cli/command.h"

namespace tinyrag::cli {
namespace {

struct EmbedArgs {
  std::string model;
  std::vector<std::string> texts;
  bool no_normalize = false;
  int threads = 0;
};

int RunEmbed(const EmbedArgs& args) {
  auto encoder = Encoder::Load(args.model, EncoderLoadOptions{.threads = args.threads});
  if (!encoder.ok()) return ReportError(encoder.status());
  auto emb = (*encoder)->Embed(args.texts, EmbedOptions{.normalize = !args.no_normalize});
  if (!emb.ok()) return ReportError(emb.status());
  for (int64_t i = 0; i < emb->n; ++i) {
    if (emb->truncated[i]) {
      std::fprintf(stderr, "tinyrag: embed: text %lld truncated to %d tokens\n", static_cast<long long>(i + 1),
                   emb->n_tokens[i]);
    }
    const auto row = emb->row(i);
    std::string line = nlohmann::json(std::vector<float>(row.begin(), row.end())).dump();
    line.push_back('\n');
    if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size()) {
      return ReportError(absl::InternalError("embed: cannot write to stdout"));
    }
  }
  if (std::fflush(stdout) != 0) return ReportError(absl::InternalError("embed: cannot write to stdout"));
  return 0;
}

}  // namespace

void AddEmbedCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<EmbedArgs>();
  CLI::App* cmd = app.add_subcommand("embed", "Print the sentence embedding of each TEXT as a JSON array");
  cmd->add_option("-m,--model", args->model, "Encoder: a .gguf file or a sentence-transformers folder")->required();
  cmd->add_flag("--no-normalize", args->no_normalize, "Print the pooled embedding without L2 normalization");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all hardware threads)");
  cmd->add_option("text", args->texts, "Texts to embed (use -- before a text that starts with '-')")->required();
  cmd->callback([args, &exit_code] { exit_code = RunEmbed(*args); });
}

}  // namespace tinyrag::cli
