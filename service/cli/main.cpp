// The `tinyrag` program: subcommands follow ../shared/docs/cli.md.
//
// Two executables share this file. `tinyrag` holds the model-level commands
// (inspect, tokenize, check-fixtures, mkmodel, run, embed, bench) and links
// only the inference code, so `tinyrag bench` measures the decoder's memory
// and not the service's libraries (gRPC, FAISS, SQLite, poppler, curl:
// `--help` is 6 MB resident here, 29 MB in tinyrag-service). For every other subcommand it runs its sibling
// `tinyrag-service` (built with TINYRAG_SERVICE_PROGRAM), which has them all.
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "service/cli/command.h"

namespace tinyrag::cli {

int ReportError(const absl::Status& status) {
  std::fprintf(stderr, "tinyrag: %s\n", std::string(status.message()).c_str());
  return 1;
}

}  // namespace tinyrag::cli

namespace {

constexpr std::array<std::string_view, 9> kServiceCommands = {
    "ingest", "search", "docs", "eval", "calibrate", "keys", "serve", "ask", "escalations"};

#ifndef TINYRAG_SERVICE_PROGRAM
// Replaces this process with tinyrag-service from the same folder, same arguments.
int RunServiceProgram(char** argv) {
  std::string self(4096, '\0');
  const ssize_t n = readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (n <= 0) {
    std::fprintf(stderr, "tinyrag: cannot locate this program: %s\n", std::strerror(errno));
    return 1;
  }
  self.resize(static_cast<size_t>(n));
  const std::string sibling = self.substr(0, self.rfind('/') + 1) + "tinyrag-service";
  execv(sibling.c_str(), argv);
  std::fprintf(stderr, "tinyrag: cannot run %s (built with tinyrag; reinstall or rebuild both): %s\n",
               sibling.c_str(), std::strerror(errno));
  return 1;
}
#endif

}  // namespace

int main(int argc, char** argv) {
#ifndef TINYRAG_SERVICE_PROGRAM
  if (argc > 1) {
    for (std::string_view c : kServiceCommands) {
      if (c == argv[1]) return RunServiceProgram(argv);
    }
  }
#endif
  CLI::App app{"tinyrag: retrieval-augmented question answering on an ordinary CPU"};
  app.require_subcommand(1);
  int exit_code = 0;
  tinyrag::cli::AddInspectCommand(app, exit_code);
  tinyrag::cli::AddTokenizeCommand(app, exit_code);
  tinyrag::cli::AddCheckFixturesCommand(app, exit_code);
  tinyrag::cli::AddMkmodelCommand(app, exit_code);
  tinyrag::cli::AddRunCommand(app, exit_code);
  tinyrag::cli::AddEmbedCommand(app, exit_code);
  tinyrag::cli::AddBenchCommand(app, exit_code);
#ifdef TINYRAG_SERVICE_PROGRAM
  tinyrag::cli::AddIngestCommand(app, exit_code);
  tinyrag::cli::AddSearchCommand(app, exit_code);
  tinyrag::cli::AddDocsCommand(app, exit_code);
  tinyrag::cli::AddEvalCommand(app, exit_code);
  tinyrag::cli::AddCalibrateCommand(app, exit_code);
  tinyrag::cli::AddKeysCommand(app, exit_code);
  tinyrag::cli::AddServeCommand(app, exit_code);
  tinyrag::cli::AddAskCommand(app, exit_code);
  tinyrag::cli::AddEscalationsCommand(app, exit_code);
#else
  std::string footer = "Knowledge base and service commands (each with --help):";
  for (std::string_view c : kServiceCommands) footer.append(" ").append(c);
  app.footer(footer);
#endif
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
