// `tinyrag check-fixtures DIR [--only tokens|logits|embeddings]`: checks this
// engine against a conformance fixtures folder (../shared/docs/cli.md).
// Prints one PASS/FAIL/SKIP line per (file, kind) checked, then
// `SUMMARY pass=N fail=M skip=K`; exit status 0 only when M = 0 and N > 0.
// Details of a failure (first mismatching case, load errors) go to stderr.
//
// Each kind has one checker function below; later issues replace the SKIP of
// `logits` and `embeddings` in CheckManifestKind with real checkers.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "embed/embeddings_check.h"
#include "generate/logits_check.h"
#include "model/fixtures.h"
#include "model/tokenizer.h"
#include "service/cli/command.h"

namespace tinyrag::cli {
namespace {
namespace fs = std::filesystem;
using fixtures::Kind;

struct Outcome {
  enum class Status { kPass, kFail, kSkip };
  Status status = Status::kFail;
  std::string details;  // "key=value ..." for PASS/FAIL, the reason for SKIP
};

Outcome Fail(std::string details) { return {Outcome::Status::kFail, std::move(details)}; }
Outcome Skip(std::string reason) { return {Outcome::Status::kSkip, std::move(reason)}; }

// A failure to even run the check: FAIL with the message on stderr.
Outcome Error(const std::string& file, Kind kind, const absl::Status& status) {
  std::fprintf(stderr, "%s %s: %s\n", file.c_str(), std::string(fixtures::KindName(kind)).c_str(),
               std::string(status.message()).c_str());
  return Fail("error=1");
}

std::string JoinIds(const std::vector<TokenId>& ids) { return absl::StrJoin(ids, " "); }

// Escapes a case's text so that it stays on one stderr line.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\\': out += "\\\\"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Compares every case; on a mismatch reports the first differing case on stderr.
Outcome CheckTokenCases(const std::string& file, const fs::path& model_path, const std::vector<std::string>& texts,
                        std::string_view expected_content, const EncodeOptions& options) {
  auto tokenizer = Tokenizer::FromGgufPath(model_path.string());
  if (!tokenizer.ok()) return Error(file, Kind::kTokens, tokenizer.status());
  auto expected = fixtures::ParseTokenLines(expected_content);
  if (!expected.ok()) return Error(file, Kind::kTokens, expected.status());
  auto cmp = fixtures::CompareTokenization(**tokenizer, texts, *expected, options);
  if (!cmp.ok()) return Error(file, Kind::kTokens, cmp.status());
  std::string details = absl::StrCat("cases=", cmp->cases, " exact=", cmp->exact);
  if (cmp->exact == cmp->cases && cmp->cases > 0) return {Outcome::Status::kPass, details};
  if (cmp->first_mismatch) {
    const auto& m = *cmp->first_mismatch;
    std::fprintf(stderr,
                 "%s tokens: first mismatch in case %zu\n  text:     \"%s\"\n  expected: %s\n  got:      %s\n",
                 file.c_str(), m.index, Printable(m.text).c_str(), JoinIds(m.expected).c_str(),
                 JoinIds(m.got).c_str());
  }
  return Fail(details);
}

// Fixtures format: texts tokenized WITH special tokens added and parsed.
Outcome CheckManifestTokens(const fs::path& dir, const fixtures::ManifestEntry& e) {
  auto texts = fixtures::ReadFile(dir / e.texts_file);
  if (!texts.ok()) return Error(e.model_file, Kind::kTokens, texts.status());
  auto expected = fixtures::ReadFile(dir / e.tokenization_file);
  if (!expected.ok()) return Error(e.model_file, Kind::kTokens, expected.status());
  return CheckTokenCases(e.model_file, dir / e.model_file,
                         fixtures::SplitCases(*texts, fixtures::kCaseSeparator, /*drop_empty_last=*/false),
                         *expected, EncodeOptions{.add_special = true, .parse_special = true});
}

// Decoder logits against the reference, within the README's tolerances per file.
Outcome CheckManifestLogits(const fs::path& dir, const fixtures::ManifestEntry& e) {
  ThreadPool pool(2);
  auto r = CheckLogitsFixture(dir, e, &pool);
  if (!r.ok()) return Error(e.model_file, Kind::kLogits, r.status());
  std::string details = absl::StrFormat("cases=%d mean_kl=%.3g top1=%.4f", r->cases, r->agreement.mean_kl(),
                                        r->agreement.top1());
  if (r->pass()) return {Outcome::Status::kPass, details};
  std::fprintf(stderr, "%s logits: need mean_kl <= %g and top1 >= %g\n", e.model_file.c_str(),
               r->tolerance.max_mean_kl, r->tolerance.min_top1);
  return Fail(details);
}

// Token ids must equal .embed.ids; cosine with the reference per case.
Outcome CheckManifestEmbeddings(const fs::path& dir, const fixtures::ManifestEntry& e) {
  auto r = embed::CheckEmbeddingsFixture(dir, e, /*threads=*/2);
  if (!r.ok()) return Error(e.model_file, Kind::kEmbeddings, r.status());
  std::string details = absl::StrFormat("cases=%d ids_exact=%d min_cos=%.7f", r->cases, r->ids_exact, r->min_cos);
  if (r->pass()) return {Outcome::Status::kPass, details};
  if (r->first_id_mismatch) {
    std::fprintf(stderr, "%s embeddings: token ids differ from .embed.ids first in case %d\n", e.model_file.c_str(),
                 *r->first_id_mismatch);
  }
  std::fprintf(stderr, "%s embeddings: need min_cos >= %g (worst case %d)\n", e.model_file.c_str(),
               r->min_cos_required, r->worst_case);
  return Fail(details);
}

Outcome CheckManifestKind(Kind kind, const fs::path& dir, const fixtures::ManifestEntry& e) {
  switch (kind) {
    case Kind::kTokens:
      return CheckManifestTokens(dir, e);
    case Kind::kLogits:
      return CheckManifestLogits(dir, e);
    case Kind::kEmbeddings:
      return CheckManifestEmbeddings(dir, e);
  }
  return Skip("unknown kind");
}

// llama.cpp vocabulary tests: WITHOUT special tokens, special text not parsed.
Outcome CheckVocabTest(const fs::path& dir, const fixtures::VocabTest& t) {
  auto inp = fixtures::ReadFile(dir / t.inp_file);
  if (!inp.ok()) return Error(t.gguf_file, Kind::kTokens, inp.status());
  auto out = fixtures::ReadFile(dir / t.out_file);
  if (!out.ok()) return Error(t.gguf_file, Kind::kTokens, out.status());
  return CheckTokenCases(t.gguf_file, dir / t.gguf_file,
                         fixtures::SplitCases(*inp, fixtures::kVocabTestSeparator, /*drop_empty_last=*/true), *out,
                         EncodeOptions{});
}

struct Tally {
  int pass = 0, fail = 0, skip = 0;

  void Print(const std::string& file, Kind kind, const Outcome& o) {
    const char* word = "FAIL";
    switch (o.status) {
      case Outcome::Status::kPass: word = "PASS"; ++pass; break;
      case Outcome::Status::kFail: word = "FAIL"; ++fail; break;
      case Outcome::Status::kSkip: word = "SKIP"; ++skip; break;
    }
    std::printf("%s %s %s %s\n", word, file.c_str(), std::string(fixtures::KindName(kind)).c_str(),
                o.details.c_str());
    std::fflush(stdout);
  }
};

int RunCheckFixtures(const std::string& dir_arg, const std::optional<Kind>& only) {
  const fs::path dir(dir_arg);
  Tally tally;
  auto wanted = [&](Kind k) { return !only || *only == k; };
  std::error_code ec;
  int status = 0;
  if (!fs::is_directory(dir, ec)) {
    status = ReportError(absl::NotFoundError(absl::StrCat("check-fixtures: ", dir_arg, " is not a directory")));
  } else if (fs::exists(dir / "MANIFEST.json", ec)) {
    auto entries = fixtures::LoadManifest(dir);
    if (!entries.ok()) {
      status = ReportError(entries.status());
    } else {
      for (const fixtures::ManifestEntry& e : *entries) {
        for (Kind k : {Kind::kTokens, Kind::kLogits, Kind::kEmbeddings}) {
          if (wanted(k) && e.Has(k)) tally.Print(e.model_file, k, CheckManifestKind(k, dir, e));
        }
      }
    }
  } else {
    auto tests = fixtures::FindVocabTests(dir);
    if (!tests.ok()) {
      status = ReportError(tests.status());
    } else if (tests->empty()) {
      status = ReportError(absl::NotFoundError(absl::StrCat(
          "check-fixtures: ", dir_arg, " has neither a MANIFEST.json nor vocabulary tests (*.gguf + .inp + .out)")));
    } else if (wanted(Kind::kTokens)) {
      for (const fixtures::VocabTest& t : *tests) tally.Print(t.gguf_file, Kind::kTokens, CheckVocabTest(dir, t));
    }
  }
  std::printf("SUMMARY pass=%d fail=%d skip=%d\n", tally.pass, tally.fail, tally.skip);
  std::fflush(stdout);
  if (status != 0) return status;
  return tally.fail == 0 && tally.pass > 0 ? 0 : 1;
}

}  // namespace

void AddCheckFixturesCommand(CLI::App& app, int& exit_code) {
  struct Args {
    std::string dir;
    std::string only;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("check-fixtures", "Check the engine against a conformance fixtures folder");
  cmd->add_option("dir", args->dir, "Fixtures folder (with MANIFEST.json) or llama.cpp vocabulary tests")->required();
  cmd->add_option("--only", args->only, "Check only this kind")
      ->check(CLI::IsMember({"tokens", "logits", "embeddings"}));
  cmd->callback([args, &exit_code] {
    exit_code = RunCheckFixtures(args->dir, args->only.empty() ? std::nullopt : fixtures::KindFromName(args->only));
  });
}

}  // namespace tinyrag::cli
