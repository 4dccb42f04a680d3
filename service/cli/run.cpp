// `tinyrag run -m MODEL -p PROMPT [-n N] [--temp T] [--seed S] [--chat] [--system S]`
// (../shared/docs/cli.md): generates a continuation of PROMPT. stdout carries
// only the generated text, streamed as it comes; speeds go to stderr.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "generate/chat_template.h"
#include "generate/decoder_context.h"
#include "generate/decoder_model.h"
#include "generate/generator.h"
#include "service/cli/command.h"

namespace tinyrag::cli {
namespace {

struct RunArgs {
  std::string model;
  std::string prompt;
  int n_predict = 256;
  float temperature = 0.8f;
  uint64_t seed = 0;
  bool chat = false;
  std::string system;
  int threads = 0;
  int64_t n_ctx = 0;
};

int Run(const RunArgs& args) {
  auto model = DecoderModel::Load(args.model);
  if (!model.ok()) return ReportError(model.status());
  const Tokenizer& tokenizer = (*model)->tokenizer();

  std::string text = args.prompt;
  if (args.chat) {
    std::string chat_template;
    if ((*model)->file().Find("tokenizer.chat_template") != nullptr) {
      chat_template = (*model)->file().GetString("tokenizer.chat_template").value_or("");
    }
    const ChatFormat format = DetectChatFormat(chat_template);
    if (format == ChatFormat::kPlain) {
      std::fprintf(stderr, "tinyrag: %s chat template; using plain \"Role: text\" lines\n",
                   chat_template.empty() ? "no" : "unrecognized");
    }
    std::vector<ChatMessage> messages;
    if (!args.system.empty()) messages.push_back({"system", args.system});
    messages.push_back({"user", args.prompt});
    text = ApplyChatFormat(format, messages);
  }
  // BOS as the metadata says; special-token text (chat markers) becomes ids.
  const std::vector<TokenId> prompt = tokenizer.Encode(text, {.add_special = true, .parse_special = true});
  if (prompt.empty()) return ReportError(absl::InvalidArgumentError("run: the prompt gives no tokens"));

  const int threads = args.threads > 0 ? args.threads : std::max(1u, std::thread::hardware_concurrency());
  ThreadPool pool(threads);
  DecoderContextOptions ctx_options;
  ctx_options.n_ctx = args.n_ctx;
  if (ctx_options.n_ctx == 0) {
    // Enough for prompt and answer, within what the model was trained for.
    ctx_options.n_ctx = std::min<int64_t>((*model)->config().n_ctx_train,
                                          std::max<int64_t>(512, static_cast<int64_t>(prompt.size()) + args.n_predict));
  }
  auto ctx = DecoderContext::Create(**model, ctx_options, &pool);
  if (!ctx.ok()) return ReportError(ctx.status());

  GenerateOptions options;
  options.max_tokens = args.n_predict;
  options.sampler.temperature = args.temperature;
  options.sampler.seed = args.seed;
  options.on_text = [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  };
  auto result = Generate(**ctx, 0, prompt, options);
  if (!result.ok()) return ReportError(result.status());
  const double pp = result->prefill_seconds > 0 ? result->prompt_tokens / result->prefill_seconds : 0;
  const double tg = result->decode_seconds > 0 ? result->tokens.size() / result->decode_seconds : 0;
  std::fprintf(stderr, "\nprompt: %lld tokens, %.1f tokens/s; generated: %zu tokens, %.1f tokens/s; stop: %s\n",
               static_cast<long long>(result->prompt_tokens), pp, result->tokens.size(), tg,
               std::string(StopReasonName(result->stop)).c_str());
  return 0;
}

}  // namespace

void AddRunCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text with a decoder model");
  cmd->add_option("-m,--model", args->model, "GGUF decoder model")->required();
  cmd->add_option("-p,--prompt", args->prompt, "Prompt text")->required();
  cmd->add_option("-n,--n-predict", args->n_predict, "Most tokens to generate")->check(CLI::NonNegativeNumber);
  cmd->add_option("--temp", args->temperature, "Sampling temperature (0: greedy)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", args->seed, "Random seed of the sampler");
  cmd->add_flag("--chat", args->chat, "Wrap the prompt in the model's chat template");
  cmd->add_option("--system", args->system, "System message (with --chat)");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all hardware threads)");
  cmd->add_option("-c,--ctx-size", args->n_ctx, "Context length (default: prompt + n, at least 512)");
  cmd->callback([args, &exit_code] { exit_code = Run(*args); });
}

}  // namespace tinyrag::cli
