// `tinyrag calibrate --squad FILE --encoder MODEL --decoder MODEL --data-dir DIR [-o FILE] [--json]`
// Fits the confidence model on SQuAD 2.0: every paragraph becomes a document
// of a collection in DIR (ingested like `eval retrieval` does; a rerun
// re-embeds nothing), each question is answered through the whole pipeline
// (hybrid retrieval, the decoder, citations, groundedness), and a logistic
// regression separates answerable (label 1) from unanswerable (label 0)
// questions by the answers' confidence features. The weights are written as
// a confidence model file (service/confidence.h), by default
// DIR/confidence.json.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "generate/chat_template.h"
#include "generate/decoder_context.h"
#include "generate/decoder_model.h"
#include "index/extract.h"
#include "index/ingest.h"
#include "index/retriever.h"
#include "model/thread_pool.h"
#include "service/answerer.h"
#include "service/calibrate.h"
#include "service/cli/command.h"
#include "service/cli/squad.h"
#include "service/encoder_embedder.h"
#include "service/cli/knowledge_base.h"

namespace tinyrag::cli {
namespace {

struct CalibrateArgs {
  std::string squad;
  std::string encoder;
  std::string decoder;
  std::string data_dir;
  std::string out;
  std::string collection = "squad";
  int limit = 400;
  int top_k = 3;
  int max_tokens = 64;
  int64_t n_ctx = 2048;
  double l2 = 1e-3;
  int threads = 0;
  bool json = false;
};

// Up to `limit` questions, alternating answerable and unanswerable ones while
// both last, so a small limit still sees both classes.
std::vector<SquadQuestion> Balanced(const std::vector<SquadQuestion>& all, int limit) {
  std::vector<SquadQuestion> yes, no, out;
  for (const SquadQuestion& q : all) (q.answerable ? yes : no).push_back(q);
  for (size_t i = 0; static_cast<int>(out.size()) < limit && (i < yes.size() || i < no.size()); ++i) {
    if (i < yes.size()) out.push_back(yes[i]);
    if (i < no.size() && static_cast<int>(out.size()) < limit) out.push_back(no[i]);
  }
  return out;
}

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

int RunCalibrate(const CalibrateArgs& args) {
  auto squad = ReadSquad(args.squad);
  if (!squad.ok()) return ReportError(squad.status());
  const std::vector<SquadQuestion> questions = Balanced(squad->questions, args.limit);
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
  auto retriever = Retriever::Create(&store, args.collection, &index, &embedder);
  if (!retriever.ok()) return ReportError(retriever.status());

  auto model = DecoderModel::Load(args.decoder);
  if (!model.ok()) return ReportError(model.status());
  const int threads = args.threads > 0 ? args.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadPool pool(threads);
  const int64_t n_ctx = std::min<int64_t>(args.n_ctx, (*model)->config().n_ctx_train);
  auto ctx = DecoderContext::Create(**model, {.n_ctx = n_ctx}, &pool);
  if (!ctx.ok()) return ReportError(ctx.status());
  DecoderGenerator generator(**ctx);
  const std::string chat_template = (*model)->file().GetString("tokenizer.chat_template").value_or("");
  auto prompt = PromptBuilder::Create((*model)->tokenizer(), DetectChatFormat(chat_template), {.n_ctx = n_ctx});
  if (!prompt.ok()) return ReportError(prompt.status());

  const Retriever& search = **retriever;
  RetrieveFn retrieve =
      RetrieveWith(embedder, [&search](const std::string&, const RetrievalRequest& r) { return search.Search(r); });
  EmbedTextsFn embed_texts = EmbedTextsWith(embedder);
  // The answerer's own confidence is not used here: only its features are.
  AnswererOptions answerer_options;
  answerer_options.default_top_k = args.top_k;
  answerer_options.max_top_k = std::max(args.top_k, 1);
  answerer_options.default_max_tokens = args.max_tokens;
  answerer_options.max_max_tokens = args.max_tokens;
  auto answerer = Answerer::Create(*prompt, retrieve, generator.AsFunction(), ConfidenceModel{}, embed_texts,
                                   answerer_options);
  if (!answerer.ok()) return ReportError(answerer.status());

  std::vector<ConfidenceFeatures> features;
  std::vector<int> labels;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < questions.size(); ++i) {
    AnswerRequest request;
    request.question = questions[i].text;
    auto a = (*answerer)->Ask(request);
    if (!a.ok()) {
      std::fprintf(stderr, "tinyrag: skipped question %zu: %s\n", i, std::string(a.status().message()).c_str());
      continue;
    }
    features.push_back(a->features);
    labels.push_back(questions[i].answerable ? 1 : 0);
    if ((i + 1) % 20 == 0) std::fprintf(stderr, "calibrate: %zu/%zu questions answered\n", i + 1, questions.size());
  }
  auto fitted = CalibrateConfidence(features, labels, {.l2 = args.l2});
  if (!fitted.ok()) return ReportError(fitted.status());
  fitted->note = absl::StrCat(fitted->note, "; SQuAD ", args.squad, ", decoder ", args.decoder, ", encoder ",
                              args.encoder);

  // The same questions answered extractively (no decoder: quick) fit the
  // second weight set; its generation features are always 0 and keep weight 0.
  ConfidenceModel features_only;
  features_only.extractive = ConfidenceWeights{};
  AnswererOptions extractive_options;
  extractive_options.default_top_k = args.top_k;
  extractive_options.max_top_k = std::max(args.top_k, 1);
  auto extractive = Answerer::CreateExtractive(retrieve, features_only, embed_texts, extractive_options);
  if (!extractive.ok()) return ReportError(extractive.status());
  std::vector<ConfidenceFeatures> extractive_features;
  std::vector<int> extractive_labels;
  for (size_t i = 0; i < questions.size(); ++i) {
    AnswerRequest request;
    request.question = questions[i].text;
    auto a = (*extractive)->Ask(request);
    if (!a.ok()) {
      std::fprintf(stderr, "tinyrag: skipped question %zu (extractive): %s\n", i, std::string(a.status().message()).c_str());
      continue;
    }
    extractive_features.push_back(a->features);
    extractive_labels.push_back(questions[i].answerable ? 1 : 0);
  }
  auto fitted_extractive = CalibrateConfidence(extractive_features, extractive_labels, {.l2 = args.l2});
  if (!fitted_extractive.ok()) {
    return ReportError(absl::Status(fitted_extractive.status().code(),
                                    absl::StrCat("extractive: ", fitted_extractive.status().message())));
  }
  fitted->extractive = static_cast<const ConfidenceWeights&>(*fitted_extractive);
  fitted->extractive->note = absl::StrCat(fitted_extractive->note, "; extractive answers; SQuAD ", args.squad,
                                          ", encoder ", args.encoder);
  const std::string out = args.out.empty() ? args.data_dir + "/confidence.json" : args.out;
  if (absl::Status s = fitted->Save(out); !s.ok()) return ReportError(s);

  nlohmann::json report = {{"questions", labels.size()},
                           {"answerable", std::count(labels.begin(), labels.end(), 1)},
                           {"seconds", Since(start)},
                           {"out", out},
                           {"bias", fitted->bias},
                           {"note", fitted->note}};
  report["extractive"] = {{"questions", extractive_labels.size()}, {"bias", fitted->extractive->bias}};
  for (size_t j = 0; j < kConfidenceFeatureNames.size(); ++j) {
    report["weights"][std::string(kConfidenceFeatureNames[j])] = fitted->weights[j];
    report["extractive"]["weights"][std::string(kConfidenceFeatureNames[j])] = fitted->extractive->weights[j];
  }
  if (args.json) {
    std::printf("%s\n", report.dump().c_str());
  } else {
    std::printf("calibrated on %zu questions (%lld answerable); weights written to %s\n", labels.size(),
                static_cast<long long>(report["answerable"].get<int64_t>()), out.c_str());
    std::printf("  %-18s %10s %10s\n", "", "generative", "extractive");
    std::printf("  %-18s %10.4f %10.4f\n", "bias", fitted->bias, fitted->extractive->bias);
    for (size_t j = 0; j < kConfidenceFeatureNames.size(); ++j) {
      std::printf("  %-18s %10.4f %10.4f\n", std::string(kConfidenceFeatureNames[j]).c_str(), fitted->weights[j],
                  fitted->extractive->weights[j]);
    }
  }
  if (std::fflush(stdout) != 0) return ReportError(absl::InternalError("calibrate: cannot write to stdout"));
  return 0;
}

}  // namespace

void AddCalibrateCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<CalibrateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate",
      "Fit the answer-confidence model on SQuAD 2.0: answer its questions through retrieval and the decoder, then "
      "separate answerable from unanswerable ones by logistic regression on the confidence features");
  cmd->add_option("--squad", args->squad, "SQuAD 2.0 JSON file (with is_impossible questions)")->required();
  cmd->add_option("--encoder", args->encoder, "Encoder: a .gguf file or a sentence-transformers folder")->required();
  cmd->add_option("--decoder", args->decoder, "Decoder: a .gguf file")->required();
  cmd->add_option("--data-dir", args->data_dir, "Knowledge base folder (created when missing)")->required();
  cmd->add_option("-o,--out", args->out, "Where to write the model (default: DATA_DIR/confidence.json)");
  cmd->add_option("--collection", args->collection, "Collection for the paragraphs (default: squad)");
  cmd->add_option("--limit", args->limit, "Most questions to answer, alternating the two classes (default: 400)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-k,--top-k", args->top_k, "Passages per question (default: 3)")->check(CLI::Range(1, 50));
  cmd->add_option("-n,--max-tokens", args->max_tokens, "Most answer tokens (default: 64)")->check(CLI::PositiveNumber);
  cmd->add_option("--ctx", args->n_ctx, "Decoder context (default: 2048, capped at the model's)")->check(CLI::PositiveNumber);
  cmd->add_option("--l2", args->l2, "L2 penalty on standardized weights (default: 0.001)")->check(CLI::NonNegativeNumber);
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all hardware threads)");
  cmd->add_flag("--json", args->json, "Print the result as one JSON object");
  cmd->callback([args, &exit_code] { exit_code = RunCalibrate(*args); });
}

}  // namespace tinyrag::cli
