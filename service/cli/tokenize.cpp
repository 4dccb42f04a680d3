// `tinyrag tokenize -m MODEL [--add-special] [--parse-special] (TEXT | --file F)`:
// prints the token ids of exactly one text on one line (see ../shared/docs/cli.md).
#include <charconv>
#include <cstdio>
#include <memory>
#include <string>

#include "model/fixtures.h"
#include "model/tokenizer.h"
#include "service/cli/command.h"

namespace tinyrag::cli {
namespace {

struct TokenizeArgs {
  std::string model;
  std::string text;
  std::string file;
  bool add_special = false;
  bool parse_special = false;
};

int RunTokenize(const TokenizeArgs& args, bool have_text, bool have_file) {
  if (have_text == have_file) {
    return ReportError(absl::InvalidArgumentError("tokenize: give exactly one of TEXT or --file F"));
  }
  std::string input = args.text;
  if (have_file) {
    auto content = fixtures::ReadFile(args.file);
    if (!content.ok()) return ReportError(content.status());
    input = *std::move(content);
  }
  auto tokenizer = Tokenizer::FromGgufPath(args.model);
  if (!tokenizer.ok()) return ReportError(tokenizer.status());
  const std::vector<TokenId> ids =
      (*tokenizer)->Encode(input, EncodeOptions{.add_special = args.add_special, .parse_special = args.parse_special});

  std::string line;
  line.reserve(ids.size() * 6 + 1);
  char buf[16];
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line.push_back(' ');
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), ids[i]);
    line.append(buf, end);
  }
  line.push_back('\n');
  if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fflush(stdout) != 0) {
    return ReportError(absl::InternalError("tokenize: cannot write to stdout"));
  }
  return 0;
}

}  // namespace

void AddTokenizeCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text with a model's tokenizer");
  cmd->add_option("-m,--model", args->model, "GGUF model or vocabulary-only file")->required();
  cmd->add_flag("--add-special", args->add_special, "Add the model's special tokens (BOS/EOS, [CLS]/[SEP])");
  cmd->add_flag("--parse-special", args->parse_special,
                "Recognize special-token text such as <|im_start|> or [MASK] in the input");
  CLI::Option* file = cmd->add_option("--file", args->file, "Tokenize this file's bytes instead of TEXT");
  CLI::Option* text =
      cmd->add_option("text", args->text, "The text (use -- before a text that starts with '-')");
  cmd->callback([args, file, text, &exit_code] {
    exit_code = RunTokenize(*args, text->count() > 0, file->count() > 0);
  });
}

}  // namespace tinyrag::cli
