// `tinyrag docs list|delete ... --data-dir DIR` (see ../shared/docs/cli.md):
// list a collection's documents, or delete documents by id or by source. A
// deletion also updates the vector index of the collection it touched.
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/cli/command.h"
#include "service/cli/knowledge_base.h"

namespace tinyrag::cli {
namespace {

struct DocsArgs {
  std::string data_dir;
  std::string collection = kDefaultCollection;
  std::string source;
  std::vector<int64_t> ids;
  int64_t offset = 0;
  int64_t limit = 1000;
  bool json = false;
};

nlohmann::json DocumentJson(const DocumentInfo& d) {
  return {{"id", d.id},
          {"collection", d.collection},
          {"external_id", d.external_id},
          {"title", d.title},
          {"source", d.source},
          {"content_hash", d.content_hash},
          {"metadata", d.metadata},
          {"chunks", d.chunk_count},
          {"created_ms", d.created_ms},
          {"updated_ms", d.updated_ms}};
}

int RunList(const DocsArgs& args) {
  if (args.data_dir.empty()) return ReportError(absl::InvalidArgumentError("docs list: --data-dir DIR is required"));
  auto store = OpenDataDir(args.data_dir, DataDirAccess::kRead);
  if (!store.ok()) return ReportError(store.status());
  ListDocumentsOptions options;
  options.offset = args.offset;
  options.limit = args.limit;
  if (!args.source.empty()) options.source = AbsoluteSource(args.source);
  auto docs = (*store)->ListDocuments(args.collection, options);
  if (docs.ok() && docs->empty() && !args.source.empty()) {
    options.source = args.source;  // a URI or a source recorded verbatim
    docs = (*store)->ListDocuments(args.collection, options);
  }
  if (!docs.ok()) {
    if (absl::IsNotFound(docs.status())) {
      return ReportError(absl::NotFoundError(
          absl::StrCat("no collection \"", args.collection, "\" in data dir ", args.data_dir)));
    }
    return ReportError(docs.status());
  }
  if (args.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const DocumentInfo& d : *docs) list.push_back(DocumentJson(d));
    std::printf("%s\n", nlohmann::json{{"documents", list}}.dump().c_str());
  } else {
    for (const DocumentInfo& d : *docs) {
      std::printf("%lld\t%lld chunks\t%s\t%s\n", static_cast<long long>(d.id), static_cast<long long>(d.chunk_count),
                  d.title.c_str(), d.source.c_str());
    }
  }
  if (std::fflush(stdout) != 0) return ReportError(absl::InternalError("docs: cannot write to stdout"));
  return 0;
}

int RunDelete(const DocsArgs& args) {
  if (args.data_dir.empty()) {
    return ReportError(absl::InvalidArgumentError("docs delete: --data-dir DIR is required"));
  }
  if (args.ids.empty() == args.source.empty()) {
    return ReportError(absl::InvalidArgumentError("docs delete: give document ids or --source, not both"));
  }
  auto store = OpenDataDir(args.data_dir);
  if (!store.ok()) return ReportError(store.status());
  int status = 0;
  nlohmann::json deleted = nlohmann::json::array();
  std::set<std::string> touched;
  for (int64_t id : args.ids) {
    auto d = (*store)->DeleteDocument(id);
    if (!d.ok()) {
      status = ReportError(absl::IsNotFound(d.status()) ? absl::NotFoundError(absl::StrCat("no document ", id))
                                                        : d.status());
      continue;
    }
    touched.insert(d->collection);
    deleted.push_back(DocumentJson(*d));
  }
  int64_t by_source = 0;
  if (!args.source.empty()) {
    auto n = (*store)->DeleteBySource(args.collection, AbsoluteSource(args.source));
    if (n.ok() && *n == 0) n = (*store)->DeleteBySource(args.collection, args.source);
    if (!n.ok()) return ReportError(n.status());
    by_source = *n;
    if (by_source > 0) touched.insert(args.collection);
  }
  // The vector indexes catch up now, so the next search loads them directly.
  for (const std::string& c : touched) {
    auto index = OpenCollectionIndex(**store, c);
    if (!index.ok()) return ReportError(index.status());
  }
  const int64_t count = args.source.empty() ? static_cast<int64_t>(deleted.size()) : by_source;
  if (args.json) {
    nlohmann::json out = {{"deleted", count}};
    if (args.source.empty()) out["documents"] = deleted;
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("deleted %lld document%s\n", static_cast<long long>(count), count == 1 ? "" : "s");
  }
  std::fflush(stdout);
  return status;
}

}  // namespace

void AddDocsCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<DocsArgs>();
  CLI::App* docs = app.add_subcommand("docs", "List or delete the documents of a knowledge base");
  docs->require_subcommand(1);

  CLI::App* list = docs->add_subcommand("list", "List a collection's documents: id, chunks, title, source");
  list->add_option("--data-dir", args->data_dir, "Knowledge base folder");
  list->add_option("--collection", args->collection, "Collection")->capture_default_str();
  list->add_option("--source", args->source, "Only documents ingested from this path or URI");
  list->add_option("--offset", args->offset, "Skip this many documents (by id)")->capture_default_str();
  list->add_option("--limit", args->limit, "List at most this many")->capture_default_str();
  list->add_flag("--json", args->json, "Print {\"documents\": [...]} as one JSON object");
  list->callback([args, &exit_code] { exit_code = RunList(*args); });

  CLI::App* del = docs->add_subcommand(
      "delete", "Delete documents by id (from any collection), or every document of a collection from one source");
  del->add_option("id", args->ids, "Document ids (see docs list)");
  del->add_option("--data-dir", args->data_dir, "Knowledge base folder");
  del->add_option("--collection", args->collection, "Collection, with --source")->capture_default_str();
  del->add_option("--source", args->source, "Delete every document ingested from this path or URI");
  del->add_flag("--json", args->json, "Print {\"deleted\": N, ...} as one JSON object");
  del->callback([args, &exit_code] { exit_code = RunDelete(*args); });
}

}  // namespace tinyrag::cli
