// `tinyrag search --data-dir DIR [--collection C] [-k K] [--mode hybrid|dense|lexical] [--json] QUERY`
// (see ../shared/docs/cli.md). Dense and hybrid searches embed the query with
// the collection's own encoder, found at the path recorded when the collection
// was created (or given with --encoder when the file moved; its contents must
// be the same). Lexical searches load no encoder.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "index/retriever.h"
#include "service/cli/command.h"
#include "service/encoder_embedder.h"
#include "service/cli/knowledge_base.h"

namespace tinyrag::cli {
namespace {

struct SearchArgs {
  std::string data_dir;
  std::string collection = kDefaultCollection;
  std::string query;
  std::string mode = "hybrid";
  std::string encoder;
  std::string server;
  std::vector<std::string> filters;
  int k = 5;
  bool json = false;
  int threads = 0;
  RetrieverOptions retriever;
};

// KEY=VALUE: VALUE is read as JSON when it parses (42, true, "x"), else as a string.
absl::StatusOr<MetadataFilter> ParseFilter(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--filter \"", text, "\": expected KEY=VALUE"));
  }
  MetadataFilter f{text.substr(0, eq), nlohmann::json()};
  const std::string value = text.substr(eq + 1);
  f.value = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (f.value.is_discarded() || f.value.is_structured() || f.value.is_null()) f.value = value;
  return f;
}

nlohmann::json OptionalScore(const std::optional<double>& s) { return s ? nlohmann::json(*s) : nlohmann::json(); }

int RunSearch(const SearchArgs& args) {
  if (!args.server.empty()) {
    return ReportError(absl::UnimplementedError(
        "search --server: searching through a server is not in this command; use tinyrag ask --server ADDR, or "
        "search --data-dir DIR (it can run beside an ingest, not beside a server)"));
  }
  if (args.data_dir.empty()) return ReportError(absl::InvalidArgumentError("search: --data-dir DIR is required"));
  auto mode = ParseRetrievalMode(args.mode);
  if (!mode.ok()) return ReportError(mode.status());
  RetrievalRequest request;
  request.query = args.query;
  request.k = args.k;
  request.mode = *mode;
  for (const std::string& f : args.filters) {
    auto filter = ParseFilter(f);
    if (!filter.ok()) return ReportError(filter.status());
    request.metadata.push_back(std::move(*filter));
  }
  // A reader: runs beside a CLI ingest, builds its vector index in memory.
  auto store = OpenDataDir(args.data_dir, DataDirAccess::kRead);
  if (!store.ok()) return ReportError(store.status());
  auto info = (*store)->GetCollection(args.collection);
  if (!info.ok()) {
    return ReportError(absl::NotFoundError(
        absl::StrCat("no collection \"", args.collection, "\" in data dir ", args.data_dir, ": ingest first")));
  }
  std::unique_ptr<EncoderEmbedder> embedder;
  if (*mode != RetrievalMode::kLexical) {
    const std::string path = args.encoder.empty() ? info->encoder.name : args.encoder;
    auto loaded = EncoderEmbedder::Load(path, args.threads, 1);
    if (!loaded.ok()) {
      return ReportError(absl::Status(loaded.status().code(),
                                      absl::StrCat(loaded.status().message(), " (the encoder of collection ",
                                                   args.collection, "; give its new path with --encoder)")));
    }
    if ((*loaded)->identity().file_hash != info->encoder.file_hash || (*loaded)->dim() != info->encoder.dim) {
      return ReportError(absl::FailedPreconditionError(
          absl::StrCat("encoder ", path, " is not the one collection ", args.collection, " was built with (",
                       info->encoder.name, ", hash ", info->encoder.file_hash, ")")));
    }
    embedder = std::move(*loaded);
  }
  auto index = OpenCollectionIndex(**store, args.collection);
  if (!index.ok()) return ReportError(index.status());
  auto retriever = Retriever::Create(store->get(), args.collection, index->get(), embedder.get(), args.retriever);
  if (!retriever.ok()) return ReportError(retriever.status());
  auto results = (*retriever)->Search(request);
  if (!results.ok()) return ReportError(results.status());

  if (args.json) {
    nlohmann::json list = nlohmann::json::array();
    for (size_t i = 0; i < results->size(); ++i) {
      const RetrievalResult& r = (*results)[i];
      list.push_back({{"rank", i + 1},
                      {"document_id", r.document_id},
                      {"external_id", r.external_id},
                      {"chunk_id", r.chunk_id},
                      {"title", r.title},
                      {"source", r.source},
                      {"heading_path", r.heading_path},
                      {"text", r.text},
                      {"score", r.score},
                      {"dense_score", OptionalScore(r.dense_score)},
                      {"lexical_score", OptionalScore(r.lexical_score)}});
    }
    std::printf("%s\n", nlohmann::json{{"results", list}}.dump().c_str());
  } else {
    for (size_t i = 0; i < results->size(); ++i) {
      const RetrievalResult& r = (*results)[i];
      std::string scores = absl::StrCat("score ", r.score);
      if (r.dense_score) absl::StrAppend(&scores, "  dense ", *r.dense_score);
      if (r.lexical_score) absl::StrAppend(&scores, "  lexical ", *r.lexical_score);
      std::printf("%zu. %s (document %lld, %s)  %s\n%s\n\n", i + 1, r.title.c_str(),
                  static_cast<long long>(r.document_id), r.source.c_str(), scores.c_str(), r.text.c_str());
    }
  }
  if (std::fflush(stdout) != 0) return ReportError(absl::InternalError("search: cannot write to stdout"));
  return 0;
}

}  // namespace

void AddSearchCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<SearchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "search", "Search a knowledge base: dense (vector), lexical (BM25, any term) or both fused by reciprocal rank");
  cmd->add_option("query", args->query, "The question or keywords")->required();
  cmd->add_option("--data-dir", args->data_dir, "Knowledge base folder");
  cmd->add_option("--collection", args->collection, "Collection to search")->capture_default_str();
  cmd->add_option("-k", args->k, "Results to return")->capture_default_str();
  cmd->add_option("--mode", args->mode, "hybrid, dense or lexical")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print {\"results\": [...]} as one JSON object");
  cmd->add_option("--filter", args->filters,
                  "KEY=VALUE: only documents whose metadata has KEY equal to VALUE (JSON or a string); repeatable");
  cmd->add_option("--encoder", args->encoder,
                  "The collection's encoder when it is no longer at the path recorded at ingestion");
  cmd->add_option("--server", args->server, "Search through a running server (needs the gRPC service, not built yet)");
  cmd->add_option("--candidates", args->retriever.candidates, "Chunks taken from each list before fusion")
      ->capture_default_str();
  cmd->add_option("--rrf-k", args->retriever.rrf_k, "Reciprocal rank fusion constant")->capture_default_str();
  cmd->add_option("--dense-weight", args->retriever.dense_weight, "Weight of the dense ranking")->capture_default_str();
  cmd->add_option("--lexical-weight", args->retriever.lexical_weight, "Weight of the lexical ranking")
      ->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "Encoder threads (default: all hardware threads)");
  cmd->callback([args, &exit_code] { exit_code = RunSearch(*args); });
}

}  // namespace tinyrag::cli
