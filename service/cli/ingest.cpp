// `tinyrag ingest PATH... --data-dir DIR --encoder MODEL [--collection C] [--json]`
// (see ../shared/docs/cli.md): files and folders (walked recursively) into a
// collection of the knowledge base in DIR. Unchanged files cost nothing; files
// that cannot be ingested are reported on stderr and skipped, and the exit
// status stays 0 (they are listed in the summary's "failures"). Progress goes
// to stderr when it is a terminal.
//
// `--server ADDR` (instead of --data-dir/--encoder): the files are extracted
// here and streamed to a running server's Ingest RPC, which chunks, embeds and
// stores them; the summary is built from its per-document results.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "index/extract.h"
#include "index/ingest.h"
#include "service/cli/command.h"
#include "service/cli/grpc_client.h"
#include "service/encoder_embedder.h"
#include "service/cli/knowledge_base.h"
#include "tinyrag/v1/rag.grpc.pb.h"

namespace tinyrag::cli {
namespace {

struct IngestArgs {
  std::vector<std::string> paths;
  std::string data_dir;
  std::string encoder;
  std::string collection = kDefaultCollection;
  // With a server (connection.server set): no deadline by default, a large
  // folder takes long.
  ConnectionOptions connection;
  bool json = false;
  int threads = 0;
  int64_t chunk_tokens = 200;
  int64_t overlap_tokens = 30;
  int64_t batch = 64;
  bool delete_missing = false;  // documents of files gone from a given folder are deleted
};

// The server takes at most 64 MiB of text per document (and refuses a larger
// message outright, ending the stream): larger ones fail here, one by one.
constexpr size_t kMaxDocumentTextBytes = size_t{64} << 20;

// Every file named by `paths`, folders walked recursively in name order
// (entries starting with '.' skipped), each file once, as absolute paths:
// the same files, in the same order, that Ingestor::IngestPaths ingests
// locally. Paths that cannot be listed become failures.
std::vector<std::string> ListInputFiles(const std::vector<std::string>& paths, std::vector<IngestFailure>& failures) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& given : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(given, ec);
    if (ec || !fs::exists(st)) {
      failures.push_back({given, 0, absl::StrCat(given, ": no such file or folder")});
      continue;
    }
    if (!fs::is_directory(st)) {
      files.push_back(AbsoluteSource(given));
      continue;
    }
    std::vector<std::string> found;
    fs::recursive_directory_iterator it(given, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!name.empty() && name[0] == '.') {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec)) found.push_back(AbsoluteSource(it->path().string()));
    }
    if (ec) failures.push_back({given, 0, absl::StrCat(given, ": cannot list the folder: ", ec.message())});
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  absl::flat_hash_set<std::string> seen;
  std::vector<std::string> unique;
  for (std::string& f : files) {
    if (seen.insert(f).second) unique.push_back(std::move(f));
  }
  return unique;
}

// The server extracts a document's text in the format of its source's
// extension when that is Markdown or HTML (plain text otherwise). Such a file
// is sent as it is, so the server finds the same headings, hence the same
// chunks and content hash, as a local ingest of the file; "" when it is not
// such a file or cannot be read again.
std::string RawTextForServer(const std::string& path) {
  auto format = FormatFromPath(path);
  if (!format.ok() || (*format != DocFormat::kMarkdown && *format != DocFormat::kHtml)) return "";
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return in ? bytes.str() : std::string();
}

// One extracted document as a message of the Ingest stream: `raw_text` when
// given (see RawTextForServer), else the sections joined by blank lines.
v1::IngestRequest ToIngestRequest(const Document& doc, const std::string& collection, std::string raw_text) {
  v1::IngestRequest req;
  req.set_collection(collection);
  req.set_external_id(doc.external_id);
  req.set_title(doc.title);
  req.set_source(doc.source);
  std::string text = std::move(raw_text);
  if (text.empty()) {
    for (const Section& section : doc.sections) {
      if (!text.empty()) text += "\n\n";
      text += section.text;
    }
  }
  req.set_text(std::move(text));
  req.set_metadata_json(doc.metadata.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return req;
}

void PrintSummary(const IngestSummary& s, const std::string& collection, bool json) {
  if (json) {
    std::printf("%s\n", SummaryJson(s, collection).dump().c_str());
  } else {
    std::printf("%s: %lld added, %lld updated, %lld unchanged, %lld failed; %lld chunks in %.2f s (%.1f chunks/s)\n",
                collection.c_str(), static_cast<long long>(s.documents_added),
                static_cast<long long>(s.documents_updated), static_cast<long long>(s.documents_unchanged),
                static_cast<long long>(s.documents_failed), static_cast<long long>(s.chunks_added), s.seconds,
                s.seconds > 0 ? s.chunks_added / s.seconds : 0.0);
    if (s.documents_deleted > 0) {
      std::printf("%s: %lld deleted (files no longer in the folder)\n", collection.c_str(),
                  static_cast<long long>(s.documents_deleted));
    }
  }
}

int RunRemoteIngest(const IngestArgs& args) {
  const auto start = std::chrono::steady_clock::now();
  auto conn = ServerConnection::Create(args.connection);
  if (!conn.ok()) return ReportError(conn.status());
  auto stub = v1::RagService::NewStub((*conn)->channel());
  grpc::ClientContext context;
  (*conn)->Prepare(context);
  v1::IngestResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::IngestRequest>> writer = stub->Ingest(&context, &response);

  IngestSummary s;
  const std::vector<std::string> files = ListInputFiles(args.paths, s.failures);
  s.files = static_cast<int64_t>(files.size());
  std::vector<std::string> sent;  // the source of each streamed document, in order
  IngestProgress progress{.files_total = s.files};
  bool stream_open = true;
  {
    ProgressLine line;
    for (size_t i = 0; i < files.size() && stream_open; ++i) {
      auto extracted = ExtractFile(files[i]);
      if (!extracted.ok()) {
        s.failures.push_back({files[i], 0, std::string(extracted.status().message())});
      } else {
        for (const ExtractIssue& issue : extracted->issues) {
          s.failures.push_back({issue.source, issue.line, issue.message});
        }
        // A Markdown or HTML file holds one document.
        const std::string raw = extracted->documents.size() == 1 ? RawTextForServer(files[i]) : "";
        for (const Document& doc : extracted->documents) {
          const v1::IngestRequest req = ToIngestRequest(doc, args.collection, raw);
          if (req.text().size() > kMaxDocumentTextBytes) {
            s.failures.push_back({doc.source, 0,
                                  absl::StrCat("document \"", doc.external_id, "\" has ", req.text().size(),
                                               " bytes of text; a server takes at most ", kMaxDocumentTextBytes)});
            continue;
          }
          // A failed write means the server ended the call; Finish says why.
          if (!writer->Write(req)) {
            stream_open = false;
            break;
          }
          sent.push_back(doc.source);
        }
      }
      progress.files_done = static_cast<int64_t>(i + 1);
      progress.documents_done = static_cast<int64_t>(sent.size() + s.failures.size());
      progress.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      line.Update(progress);
    }
  }
  if (stream_open) writer->WritesDone();
  if (grpc::Status status = writer->Finish(); !status.ok()) {
    absl::Status error = (*conn)->Error(status, "Ingest");
    return ReportError(absl::Status(
        error.code(), absl::StrCat(error.message(), " (", sent.size(),
                                   " documents were sent; rerun the same command: unchanged ones are skipped)")));
  }
  for (int i = 0; i < response.results_size(); ++i) {
    const v1::IngestResult& r = response.results(i);
    switch (r.status()) {
      case v1::DOCUMENT_STATUS_ADDED: ++s.documents_added; s.chunks_added += r.chunks(); break;
      case v1::DOCUMENT_STATUS_UPDATED: ++s.documents_updated; s.chunks_added += r.chunks(); break;
      case v1::DOCUMENT_STATUS_UNCHANGED: ++s.documents_unchanged; break;
      default: {
        const std::string source = static_cast<size_t>(i) < sent.size() ? sent[i] : r.external_id();
        s.failures.push_back({source, 0, r.error().empty() ? "the server did not store it" : r.error()});
        break;
      }
    }
  }
  if (static_cast<size_t>(response.results_size()) != sent.size()) {
    return ReportError(absl::InternalError(absl::StrCat("Ingest: the server answered ", response.results_size(),
                                                        " results for ", sent.size(), " documents")));
  }
  s.documents_failed = static_cast<int64_t>(s.failures.size());
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ReportFailures(s);
  PrintSummary(s, args.collection, args.json);
  if (std::fflush(stdout) != 0) return ReportError(absl::InternalError("ingest: cannot write to stdout"));
  return 0;
}

int RunIngest(const IngestArgs& args) {
  if (!args.connection.server.empty()) return RunRemoteIngest(args);
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
  options.delete_missing = args.delete_missing;
  auto ingestor = Ingestor::Create(&store, &index, &embedder, args.collection, options);
  if (!ingestor.ok()) return ReportError(ingestor.status());

  absl::StatusOr<IngestSummary> summary;
  {
    ProgressLine progress;
    summary = (*ingestor)->IngestPaths(args.paths, [&](const IngestProgress& p) { progress.Update(p); });
  }
  if (!summary.ok()) return ReportError(summary.status());
  ReportFailures(*summary);
  PrintSummary(*summary, args.collection, args.json);
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
  CLI::Option* data_dir =
      cmd->add_option("--data-dir", args->data_dir, "Knowledge base folder (created when missing)");
  CLI::Option* encoder =
      cmd->add_option("--encoder", args->encoder, "Encoder: a .gguf file or a sentence-transformers folder");
  cmd->add_option("--collection", args->collection, "Collection to add to")->capture_default_str();
  // --server, --api-key, --tls, --tls-ca, --timeout (no deadline by default: a large folder takes long).
  AddConnectionOptions(*cmd, args->connection);
  cmd->get_option("--server")
      ->description(
          "Ingest through a running server at HOST:PORT instead of --data-dir/--encoder (admin scope; files are "
          "extracted here and streamed to it)")
      ->excludes(data_dir)
      ->excludes(encoder);
  cmd->add_flag("--json", args->json, "Print the summary as one JSON object");
  cmd->add_option("-t,--threads", args->threads, "Encoder threads (default: all hardware threads)");
  cmd->add_option("--chunk-tokens", args->chunk_tokens, "Target chunk size in encoder tokens")->capture_default_str();
  cmd->add_option("--overlap-tokens", args->overlap_tokens, "Tokens of whole sentences repeated between chunks")
      ->capture_default_str();
  cmd->add_option("--batch", args->batch, "Chunks per embedding batch")->capture_default_str();
  cmd->add_flag("--delete-missing", args->delete_missing,
                "Also delete the collection's documents whose file under a given folder no longer exists, and "
                "those of records no longer in a .jsonl file (unless it has a bad line)")
      ->excludes(cmd->get_option("--server"));
  cmd->callback([args, &exit_code] { exit_code = RunIngest(*args); });
}

}  // namespace tinyrag::cli
