// `tinyrag keys hash [KEY]` and `tinyrag keys new [--name N] [--collections a,b] [--admin]`:
// API keys for the server's configuration, which stores only their SHA-256
// digests (see service/auth.h and docs/configuration.md).
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "service/auth.h"
#include "service/cli/command.h"

namespace tinyrag::cli {
namespace {

struct KeysHashArgs {
  std::string key;
};

struct KeysNewArgs {
  std::string name;
  std::vector<std::string> collections;
  bool admin = false;
};

int RunKeysHash(const KeysHashArgs& args) {
  std::string key = args.key;
  if (key.empty()) {
    // From stdin, so the key stays out of the shell history and `ps`.
    key.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  }
  if (key.empty()) return ReportError(absl::InvalidArgumentError("keys hash: the key is empty"));
  std::printf("%s\n", HashApiKey(key).c_str());
  return 0;
}

int RunKeysNew(const KeysNewArgs& args) {
  absl::StatusOr<std::string> key = GenerateApiKey();
  if (!key.ok()) return ReportError(key.status());
  ApiKeyConfig config;
  config.sha256 = HashApiKey(*key);
  config.name = args.name.empty() ? "key-" + config.sha256.substr(0, 8) : args.name;
  config.collections = args.collections.empty() ? std::vector<std::string>{"*"} : args.collections;
  config.admin = args.admin;
  if (absl::Status s = ValidateApiKeyConfigs({config}); !s.ok()) return ReportError(s);
  std::printf("%s\n\n# Give the key above to the client (it is shown only once). Add this entry under\n"
              "# auth.api_keys in the server's configuration (it holds only the key's SHA-256):\n%s",
              key->c_str(), ApiKeyYamlSnippet(config).c_str());
  return 0;
}

}  // namespace

void AddKeysCommand(CLI::App& app, int& exit_code) {
  CLI::App* keys = app.add_subcommand("keys", "Create and hash API keys for `tinyrag serve`");
  keys->require_subcommand(1);

  auto hash_args = std::make_shared<KeysHashArgs>();
  CLI::App* hash = keys->add_subcommand("hash", "Print the SHA-256 (hex) of KEY, as auth.api_keys[].sha256 wants it");
  hash->add_option("key", hash_args->key, "The key (default: read from stdin, trailing newline dropped)");
  hash->callback([hash_args, &exit_code] { exit_code = RunKeysHash(*hash_args); });

  auto new_args = std::make_shared<KeysNewArgs>();
  CLI::App* create = keys->add_subcommand(
      "new", "Print a new random key (tr_ + 32 random bytes, base64url) and its configuration entry");
  create->add_option("--name", new_args->name, "Name shown in logs (default: key- + the digest's first 8 digits)");
  create->add_option("--collections", new_args->collections, "Collections the key may use (default: * = all)")
      ->delimiter(',');
  create->add_flag("--admin", new_args->admin, "Allow ingest, delete and escalations");
  create->callback([new_args, &exit_code] { exit_code = RunKeysNew(*new_args); });
}

}  // namespace tinyrag::cli
