// Reading conformance fixtures (../shared/fixtures/README.md): folders with a
// MANIFEST.json (model files, texts, expected token ids, reference logits and
// embeddings) and llama.cpp vocabulary-test folders (*.gguf + .inp + .out).
// Used by `tinyrag check-fixtures` and by tests. Pure parsing: every function
// is thread-safe and returns an error value naming the file on bad input.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tokenizer.h"

namespace tinyrag::fixtures {

// Separator between cases in a texts file (none after the last case).
inline constexpr std::string_view kCaseSeparator = "\n__case__\n";
// Terminator after EACH case of a llama.cpp vocabulary test (.inp).
inline constexpr std::string_view kVocabTestSeparator = "\n__ggml_vocab_test__\n";

// The whole file, byte for byte. NotFound / Internal naming the path.
absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path);

// Splits `text` on `separator`. With `drop_empty_last`, an empty final piece
// (text ending with the separator) is dropped. Empty text gives one empty case.
std::vector<std::string> SplitCases(std::string_view text, std::string_view separator, bool drop_empty_last);

// A .tok / .out / .embed.ids file: one line per case, ids separated by spaces
// (a line may start with a space; an empty line is an empty case). A final
// newline does not start another case. InvalidArgument names the bad line.
absl::StatusOr<std::vector<std::vector<TokenId>>> ParseTokenLines(std::string_view content);
// A caseK.ids file: one sequence of ids separated by any white space.
absl::StatusOr<std::vector<TokenId>> ParseIds(std::string_view content);

// A little-endian float32 file. When `expected_count` is given, a file of
// another size is an InvalidArgument error naming both counts.
absl::StatusOr<std::vector<float>> ReadFloat32File(const std::filesystem::path& path,
                                                   std::optional<size_t> expected_count = std::nullopt);

enum class Kind { kTokens, kLogits, kEmbeddings };
std::string_view KindName(Kind kind);
// "tokens" | "logits" | "embeddings"; nullopt for anything else.
std::optional<Kind> KindFromName(std::string_view name);

struct LogitsCase {
  std::string ids_file;     // relative to the fixtures folder
  std::string logits_file;  // float32 [shape[0]][shape[1]]
  std::string dtype;
  std::vector<int64_t> shape;
};

struct EmbeddingsRef {
  std::string embed_file;  // float32 [shape[0] cases][shape[1]]
  std::string ids_file;    // ids used per case, .tok format
  std::string dtype;
  std::vector<int64_t> shape;
  bool pooled = true;
  bool normalized = false;
};

// One model file of a MANIFEST.json. Absent optional parts are empty.
struct ManifestEntry {
  std::string model_file;  // relative to the fixtures folder
  std::string arch;
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  std::vector<std::string> tensor_types;
  bool vocab_only = false;
  std::string texts_file;         // "" when absent
  std::string tokenization_file;  // "" when absent
  std::vector<LogitsCase> logits;
  std::optional<EmbeddingsRef> embeddings;

  bool Has(Kind kind) const;
};

// Parses DIR/MANIFEST.json; entries sorted by model file name. NotFound when
// there is no manifest; InvalidArgument naming the entry and field when a
// field has the wrong type.
absl::StatusOr<std::vector<ManifestEntry>> LoadManifest(const std::filesystem::path& dir);

// A llama.cpp vocabulary test: NAME.gguf with NAME.gguf.inp and NAME.gguf.out.
struct VocabTest {
  std::string gguf_file;  // file names relative to the folder
  std::string inp_file;
  std::string out_file;
};
// The vocabulary tests of `dir`, sorted by name (*.gguf without .inp/.out are left out).
absl::StatusOr<std::vector<VocabTest>> FindVocabTests(const std::filesystem::path& dir);

// Result of comparing a tokenizer's output with expected ids, case by case.
struct TokenComparison {
  size_t cases = 0;
  size_t exact = 0;
  // The first case that differs (when exact < cases).
  struct Mismatch {
    size_t index = 0;
    std::string text;
    std::vector<TokenId> expected;
    std::vector<TokenId> got;
  };
  std::optional<Mismatch> first_mismatch;
};

// Tokenizes every text with `options` and compares with `expected`
// (InvalidArgument when the counts differ).
absl::StatusOr<TokenComparison> CompareTokenization(const Tokenizer& tokenizer,
                                                    const std::vector<std::string>& texts,
                                                    const std::vector<std::vector<TokenId>>& expected,
                                                    const EncodeOptions& options);

}  // namespace tinyrag::fixtures
