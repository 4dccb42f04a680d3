// `tinyrag ingest PATH... --data-dir DIR --encoder MODEL [--collection C] [--json]`
// (see ../shared/docs/cli.md): files and folders (walked recursively) into a
// collection of the knowledge base in DIR. Unchanged files cost nothing; files
// that cannot be ingested are reported on stderr and skipped, and the exit
// status stays 0 (they are listed in the summary's "failures"). Progress goes
// to stderr when it is a terminal. `--server ADDR` needs the gRPC service,
// which does not exist yet: it is refused with a clear error.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "index/ingest.h"
#include "service/cli/command.h"
#include "service/encoder_embedder.h"
#include "service/cli/knowledge_base.h"

namespace tinyrag::cli {
namespace {

struct IngestArgs {
  std::vector<std::string> paths;
  std::string data_dir;
  std::string encoder;
  std::string collection = kDefaultCollection;
  std::string server;
  bool json = false;
  int threads = 0;
  int64_t chunk_tokens = 200;
  int64_t overlap_tokens = 30;
  int64_t batch = 64;
};

int RunIngest(const IngestArgs& args) {
  if (!args.server.empty()) return ReportError(NoServerYet("ingest"));
  if (args.data_dir.empty() || args.encoder.empty()) {
    return ReportError(absl::InvalidArgumentError("ingest: --data-dir DIR and --encoder MODEL are required"));
  }
  auto kb = OpenWithEncoder(args.data_dir, args.encoder, args.threads, args.collection);
  if (!kb.ok()) return ReportError(kb.status());
  SqliteStore& store = *kb->store;
  EncoderEmbedder& embedder = *kb->embedder;
  VectorIndex& index = *kb->index;
  IngestOptions options;
  options.chunker.target_tokens = args.chunk_tokens;
  options.chunker.overlap_tokens = args.overlap_tokens;
  options.embed_batch_chunks = args.batch;
  auto ingestor = Ingestor::Create(&store, &index, &embedder, args.collection, options);
  if (!ingestor.ok()) return ReportError(ingestor.status());

  absl::StatusOr<IngestSummary> summary;
  {
    ProgressLine progress;
    summary = (*ingestor)->IngestPaths(args.paths, [&](const IngestProgress& p) { progress.Update(p); });
  }
  if (!summary.ok()) return ReportError(summary.status());
  ReportFailures(*summary);
  const IngestSummary& s = *summary;
  if (args.json) {
    std::printf("%s\n", SummaryJson(s, args.collection).dump().c_str());
  } else {
    std::printf("%s: %lld added, %lld updated, %lld unchanged, %lld failed; %lld chunks in %.2f s (%.1f chunks/s)\n",
                args.collection.c_str(), static_cast<long long>(s.documents_added),
                static_cast<long long>(s.documents_updated), static_cast<long long>(s.documents_unchanged),
                static_cast<long long>(s.documents_failed), static_cast<long long>(s.chunks_added), s.seconds,
                s.seconds > 0 ? s.chunks_added / s.seconds : 0.0);
  }
  if (std::fflush(stdout) != 0) return ReportError(absl::InternalError("ingest: cannot write to stdout"));
  return 0;
}

}  // namespace

void AddIngestCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<IngestArgs>();
  CLI::App* cmd = app.add_subcommand(
      "ingest",
      "Add files or folders (walked recursively) to a knowledge base: .txt .md .html .pdf .jsonl; unchanged files "
      "are skipped, unreadable or unsupported ones reported and skipped");
  cmd->add_option("path", args->paths, "Files or folders to ingest")->required();
  cmd->add_option("--data-dir", args->data_dir, "Knowledge base folder (created when missing)");
  cmd->add_option("--encoder", args->encoder, "Encoder: a .gguf file or a sentence-transformers folder");
  cmd->add_option("--collection", args->collection, "Collection to add to")->capture_default_str();
  cmd->add_option("--server", args->server,
                  "Ingest through a running server (needs the gRPC service, which does not exist yet)");
  cmd->add_flag("--json", args->json, "Print the summary as one JSON object");
  cmd->add_option("-t,--threads", args->threads, "Encoder threads (default: all hardware threads)");
  cmd->add_option("--chunk-tokens", args->chunk_tokens, "Target chunk size in encoder tokens")->capture_default_str();
  cmd->add_option("--overlap-tokens", args->overlap_tokens, "Tokens of whole sentences repeated between chunks")
      ->capture_default_str();
  cmd->add_option("--batch", args->batch, "Chunks per embedding batch")->capture_default_str();
  cmd->callback([args, &exit_code] { exit_code = RunIngest(*args); });
}

}  // namespace tinyrag::cli
