// `tinyrag eval retrieval --squad FILE --encoder MODEL --data-dir DIR [--json]`
// (see ../shared/docs/cli.md). Every paragraph of the SQuAD file becomes a
// document (id "ARTICLE/N") of a collection in DIR, ingested like any other
// (a rerun re-embeds nothing). Each answerable question is then searched in
// the lexical, dense and hybrid modes; documents are ranked by their best
// chunk, and the rank of the question's own paragraph gives recall@1/5/10
// and MRR@10 (a rank past 10 counts 0).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "index/extract.h"
#include "index/ingest.h"
#include "index/retriever.h"
#include "service/cli/command.h"
#include "service/encoder_embedder.h"
#include "service/cli/knowledge_base.h"
#include "service/cli/squad.h"

namespace tinyrag::cli {
namespace {

struct EvalArgs {
  std::string squad;
  std::string encoder;
  std::string data_dir;
  std::string collection = "squad";
  bool json = false;
  int threads = 0;
  RetrieverOptions retriever{.candidates = 100};
};

struct Metrics {
  double recall1 = 0, recall5 = 0, recall10 = 0, mrr10 = 0;
};

// The 1-based rank of document `gold` among the documents of `results`
// (each ranked by its best chunk); 0 when absent.
int GoldRank(const std::vector<RetrievalResult>& results, const std::string& gold) {
  absl::flat_hash_set<int64_t> seen;
  for (const RetrievalResult& r : results) {
    if (!seen.insert(r.document_id).second) continue;
    if (r.external_id == gold) return static_cast<int>(seen.size());
  }
  return 0;
}

absl::StatusOr<Metrics> Evaluate(const Retriever& retriever, RetrievalMode mode,
                                 const std::vector<SquadQuestion>& questions,
                                 const std::vector<float>& question_vectors, int64_t dim) {
  Metrics m;
  for (size_t i = 0; i < questions.size(); ++i) {
    RetrievalRequest request;
    request.query = questions[i].text;
    request.k = retriever.options().candidates;
    request.mode = mode;
    if (mode != RetrievalMode::kLexical) {
      request.query_vector.assign(question_vectors.begin() + i * dim, question_vectors.begin() + (i + 1) * dim);
    }
    auto results = retriever.Search(request);
    if (!results.ok()) return results.status();
    const int rank = GoldRank(*results, questions[i].paragraph_id);
    if (rank == 0) continue;
    m.recall1 += rank <= 1;
    m.recall5 += rank <= 5;
    m.recall10 += rank <= 10;
    if (rank <= 10) m.mrr10 += 1.0 / rank;
  }
  const double n = static_cast<double>(questions.size());
  if (n > 0) {
    m.recall1 /= n;
    m.recall5 /= n;
    m.recall10 /= n;
    m.mrr10 /= n;
  }
  return m;
}

int RunEval(const EvalArgs& args) {
  auto squad = ReadSquad(args.squad);
  if (!squad.ok()) return ReportError(squad.status());
  auto kb = OpenWithEncoder(args.data_dir, args.encoder, args.threads, args.collection);
  if (!kb.ok()) return ReportError(kb.status());
  SqliteStore& store = *kb->store;
  EncoderEmbedder& embedder = *kb->embedder;
  VectorIndex& index = *kb->index;
  auto ingestor = Ingestor::Create(&store, &index, &embedder, args.collection);
  if (!ingestor.ok()) return ReportError(ingestor.status());
  absl::StatusOr<IngestSummary> summary;
  {
    ProgressLine progress;
    summary = (*ingestor)->IngestDocuments(squad->paragraphs, [&](const IngestProgress& p) { progress.Update(p); });
  }
  if (!summary.ok()) return ReportError(summary.status());
  ReportFailures(*summary);

  std::vector<SquadQuestion> questions;  // the answerable ones: they have a gold paragraph
  std::vector<std::string> texts;
  for (const SquadQuestion& q : squad->questions) {
    if (!q.answerable) continue;
    questions.push_back(q);
    texts.push_back(q.text);
  }
  auto vectors = embedder.Embed(texts);
  if (!vectors.ok()) return ReportError(vectors.status());
  auto retriever = Retriever::Create(&store, args.collection, &index, &embedder, args.retriever);
  if (!retriever.ok()) return ReportError(retriever.status());

  nlohmann::json out = {{"questions", questions.size()},
                        {"documents", squad->paragraphs.size()},
                        {"chunks", index.size()},
                        {"ingest", SummaryJson(*summary, args.collection)}};
  for (RetrievalMode mode : {RetrievalMode::kLexical, RetrievalMode::kDense, RetrievalMode::kHybrid}) {
    auto m = Evaluate(**retriever, mode, questions, *vectors, embedder.dim());
    if (!m.ok()) return ReportError(m.status());
    out[std::string(RetrievalModeName(mode))] = {
        {"recall@1", m->recall1}, {"recall@5", m->recall5}, {"recall@10", m->recall10}, {"mrr@10", m->mrr10}};
  }
  if (args.json) {
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("%zu questions over %zu paragraphs (%lld chunks)\n", questions.size(),
                squad->paragraphs.size(), static_cast<long long>(index.size()));
    std::printf("%-8s %9s %9s %9s %9s\n", "mode", "recall@1", "recall@5", "recall@10", "mrr@10");
    for (const char* mode : {"lexical", "dense", "hybrid"}) {
      const nlohmann::json& m = out[mode];
      std::printf("%-8s %9.3f %9.3f %9.3f %9.3f\n", mode, m["recall@1"].get<double>(), m["recall@5"].get<double>(),
                  m["recall@10"].get<double>(), m["mrr@10"].get<double>());
    }
  }
  if (std::fflush(stdout) != 0) return ReportError(absl::InternalError("eval: cannot write to stdout"));
  return 0;
}

}  // namespace

void AddEvalCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* eval = app.add_subcommand("eval", "Measure retrieval quality");
  eval->require_subcommand(1);
  CLI::App* cmd = eval->add_subcommand(
      "retrieval",
      "Ingest every paragraph of a SQuAD file as a document, then report recall@1/5/10 and MRR@10 of each answerable "
      "question's paragraph for lexical, dense and hybrid search");
  cmd->add_option("--squad", args->squad, "SQuAD JSON file (v1.1 or v2.0)")->required();
  cmd->add_option("--encoder", args->encoder, "Encoder: a .gguf file or a sentence-transformers folder")->required();
  cmd->add_option("--data-dir", args->data_dir, "Knowledge base folder (created when missing)")->required();
  cmd->add_option("--collection", args->collection, "Collection for the paragraphs")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print the metrics as one JSON object");
  cmd->add_option("-t,--threads", args->threads, "Encoder threads (default: all hardware threads)");
  cmd->add_option("--candidates", args->retriever.candidates, "Chunks searched per list and mode")
      ->capture_default_str();
  cmd->add_option("--rrf-k", args->retriever.rrf_k, "Reciprocal rank fusion constant")->capture_default_str();
  cmd->callback([args, &exit_code] { exit_code = RunEval(*args); });
}

}  // namespace tinyrag::cli
