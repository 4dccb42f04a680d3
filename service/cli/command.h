// Shared plumbing for the `tinyrag` subcommands (one file per subcommand).
#pragma once

#include <CLI/CLI.hpp>

#include "absl/status/status.h"

namespace tinyrag::cli {

// Each Add*Command registers one subcommand on `app`. When the subcommand runs,
// its exit status (0 on success) is written to `exit_code`. Errors go to stderr;
// stdout carries only the command's result.
void AddInspectCommand(CLI::App& app, int& exit_code);
void AddTokenizeCommand(CLI::App& app, int& exit_code);
void AddCheckFixturesCommand(CLI::App& app, int& exit_code);
void AddMkmodelCommand(CLI::App& app, int& exit_code);
void AddRunCommand(CLI::App& app, int& exit_code);
void AddEmbedCommand(CLI::App& app, int& exit_code);
void AddBenchCommand(CLI::App& app, int& exit_code);
void AddIngestCommand(CLI::App& app, int& exit_code);
void AddSearchCommand(CLI::App& app, int& exit_code);
void AddDocsCommand(CLI::App& app, int& exit_code);
void AddEvalCommand(CLI::App& app, int& exit_code);
void AddCalibrateCommand(CLI::App& app, int& exit_code);
void AddKeysCommand(CLI::App& app, int& exit_code);
void AddServeCommand(CLI::App& app, int& exit_code);
void AddAskCommand(CLI::App& app, int& exit_code);
void AddEscalationsCommand(CLI::App& app, int& exit_code);

// Prints "tinyrag: <status message>" to stderr and returns the exit status 1.
int ReportError(const absl::Status& status);

}  // namespace tinyrag::cli
