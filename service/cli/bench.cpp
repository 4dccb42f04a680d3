// `tinyrag bench -m MODEL [--embed] [-p N] [-n N] [-b N] [-t THREADS] [-r REPS] [--json]`
// (see ../shared/docs/cli.md). Parses the options and dispatches to a mode:
// --embed measures the encoder (bench_embed.cpp); otherwise the decoder's
// prefill and generation speed (bench_decode.cpp).
#include <memory>

#include "service/cli/bench.h"
#include "service/cli/command.h"

namespace tinyrag::cli {
namespace {

int RunBench(const BenchArgs& args) {
  if (args.embed) return RunEmbedBench(args);
  return RunDecodeBench(args);
}

}  // namespace

void AddBenchCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure model speed (encoder with --embed)");
  cmd->add_option("-m,--model", args->model, "Model: .gguf file (or sentence-transformers folder with --embed)")
      ->required();
  cmd->add_flag("--embed", args->embed, "Benchmark the encoder: p-token inputs in batches of b");
  cmd->add_option("-p,--n-prompt", args->n_prompt, "Tokens per input (encoder default 128, decoder 512)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-n,--n-gen", args->n_gen, "Generated tokens (decoder)")->check(CLI::PositiveNumber);
  cmd->add_option("-b,--batch", args->batch, "Texts per forward pass (encoder)")->check(CLI::PositiveNumber);
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all hardware threads)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-r,--reps", args->reps, "Timed repetitions (after one warm-up)")->check(CLI::PositiveNumber);
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args, &exit_code] { exit_code = RunBench(*args); });
}

}  // namespace tinyrag::cli
