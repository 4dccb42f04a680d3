// The `tinyrag` program: subcommands follow ../shared/docs/cli.md.
#include <cstdio>

#include "service/cli/command.h"

namespace tinyrag::cli {

int ReportError(const absl::Status& status) {
  std::fprintf(stderr, "tinyrag: %s\n", std::string(status.message()).c_str());
  return 1;
}

}  // namespace tinyrag::cli

int main(int argc, char** argv) {
  CLI::App app{"tinyrag: retrieval-augmented question answering on an ordinary CPU"};
  app.require_subcommand(1);
  int exit_code = 0;
  // Subcommands register here as they are implemented.
  tinyrag::cli::AddInspectCommand(app, exit_code);
  tinyrag::cli::AddTokenizeCommand(app, exit_code);
  tinyrag::cli::AddCheckFixturesCommand(app, exit_code);
  tinyrag::cli::AddMkmodelCommand(app, exit_code);
  tinyrag::cli::AddRunCommand(app, exit_code);
  tinyrag::cli::AddEmbedCommand(app, exit_code);
  tinyrag::cli::AddBenchCommand(app, exit_code);
  tinyrag::cli::AddIngestCommand(app, exit_code);
  tinyrag::cli::AddSearchCommand(app, exit_code);
  tinyrag::cli::AddDocsCommand(app, exit_code);
  tinyrag::cli::AddEvalCommand(app, exit_code);
  tinyrag::cli::AddCalibrateCommand(app, exit_code);
  tinyrag::cli::AddKeysCommand(app, exit_code);
  tinyrag::cli::AddServeCommand(app, exit_code);
  tinyrag::cli::AddAskCommand(app, exit_code);
  tinyrag::cli::AddEscalationsCommand(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
