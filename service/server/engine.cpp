#include "service/server/engine.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "generate/chat_template.h"
#include "service/encoder_embedder.h"
#include "service/server/default_confidence.h"

namespace tinyrag::server {
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::vector<EscalationPassage> EscalationPassages(const std::vector<Passage>& passages) {
  std::vector<EscalationPassage> out;
  for (const Passage& p : passages) {
    out.push_back({.document_id = p.document_id,
                   .external_id = {},
                   .title = p.title,
                   .source = p.source,
                   .text = p.text,
                   .score = p.score,
                   .dense_score = p.dense_score,
                   .lexical_score = p.lexical_score});
  }
  return out;
}

}  // namespace

absl::StatusOr<ConfidenceModel> LoadConfidenceModel(const ServerConfig& config) {
  auto built_in = ConfidenceModel::FromJson(BuiltInConfidenceJson());
  if (!built_in.ok()) return built_in.status();
  std::string path = config.confidence_file;
  if (path.empty()) {
    const std::string calibrated = (std::filesystem::path(config.data_dir) / "confidence.json").string();
    std::error_code ec;
    if (!std::filesystem::exists(calibrated, ec)) return built_in;
    path = calibrated;
  }
  auto model = ConfidenceModel::Load(path);
  if (!model.ok()) return model.status();
  // A calibration of the generative weights leaves the extractive ones at their defaults.
  if (!model->extractive) model->extractive = built_in->extractive;
  return model;
}

absl::StatusOr<std::unique_ptr<RagEngine>> RagEngine::Create(const ServerConfig& config) {
  std::unique_ptr<RagEngine> e(new RagEngine(config));
  const int threads =
      config.threads > 0 ? config.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  auto store = SqliteStore::Open(config.data_dir);
  if (!store.ok()) return store.status();
  auto embedder = EncoderEmbedder::Load(config.encoder, threads);
  if (!embedder.ok()) return embedder.status();
  e->encoder_id_ = {std::filesystem::path(config.encoder).filename().string(), (*embedder)->identity().file_hash};
  e->knowledge_ = std::make_unique<ServerKnowledgeBase>(
      std::move(*store), std::move(*embedder),
      KnowledgeOptions{.vector_index = config.vector_index, .retrieval = config.retrieval, .chunker = config.chunker});

  auto escalations = EscalationStore::Open(
      (std::filesystem::path(config.data_dir) / kEscalationsDbName).string(),
      {.enqueue_webhook = !config.webhook.url.empty(), .now_ms = {}});
  if (!escalations.ok()) return escalations.status();
  e->escalations_ = std::move(*escalations);
  if (!config.webhook.url.empty()) {
    auto sender = WebhookSender::Create(config.webhook, e->escalations_.get(), {});
    if (!sender.ok()) return sender.status();
    e->webhook_ = std::move(*sender);
  }

  auto confidence = LoadConfidenceModel(config);
  if (!confidence.ok()) return confidence.status();

  ServerKnowledgeBase* knowledge = e->knowledge_.get();
  RetrieveFn retrieve = RetrieveWith(knowledge->embedder(), [knowledge](const std::string& collection,
                                                                         const RetrievalRequest& r) {
    return knowledge->Search(collection, r);
  });
  EmbedTextsFn embed_texts = EmbedTextsWith(knowledge->embedder());
  AnswererOptions answer_options = config.answer;
  answer_options.default_mode =
      config.answer_mode == ConfiguredAnswerMode::kExtractive ? AnswerMode::kExtractive : AnswerMode::kGenerative;
  if (config.decoder.empty()) {
    auto answerer = Answerer::CreateExtractive(std::move(retrieve), *confidence, std::move(embed_texts), answer_options);
    if (!answerer.ok()) return answerer.status();
    e->answerer_ = std::move(*answerer);
    return e;
  }

  auto decoder = DecoderModel::Load(config.decoder);
  if (!decoder.ok()) return decoder.status();
  e->decoder_ = std::move(*decoder);
  auto decoder_hash = EncoderEmbedder::HashModel(config.decoder);
  if (!decoder_hash.ok()) return decoder_hash.status();
  e->decoder_id_ = {e->decoder_->file().GetString("general.name")
                        .value_or(std::filesystem::path(config.decoder).filename().string()),
                    *decoder_hash};
  e->pool_ = std::make_unique<ThreadPool>(threads);
  const int64_t n_ctx = std::min<int64_t>(config.generation.context_length, e->decoder_->config().n_ctx_train);
  auto ctx = DecoderContext::Create(
      *e->decoder_,
      {.n_ctx = n_ctx,
       .n_seq = config.generation.max_batch,
       // A decode step holds one token per sequence.
       .max_batch = std::max(config.generation.prefill_chunk, config.generation.max_batch)},
      e->pool_.get());
  if (!ctx.ok()) return ctx.status();
  e->context_ = std::move(*ctx);
  auto scheduler = BatchScheduler::Start(*e->context_);
  if (!scheduler.ok()) return scheduler.status();
  e->scheduler_ = std::move(*scheduler);
  e->generator_ = std::make_unique<SchedulerGenerator>(*e->scheduler_);

  const std::string chat_template = e->decoder_->file().GetString("tokenizer.chat_template").value_or("");
  auto prompt = PromptBuilder::Create(e->decoder_->tokenizer(), DetectChatFormat(chat_template), {.n_ctx = n_ctx});
  if (!prompt.ok()) return prompt.status();

  auto answerer = Answerer::Create(*prompt, std::move(retrieve), e->generator_->AsFunction(), *confidence,
                                   std::move(embed_texts), answer_options);
  if (!answerer.ok()) return answerer.status();
  e->answerer_ = std::move(*answerer);
  return e;
}

RagEngine::~RagEngine() {
  // The answerer calls into the scheduler; the scheduler into the context.
  answerer_.reset();
  generator_.reset();
  scheduler_.reset();
  webhook_.reset();
}

absl::StatusOr<AskOutcome> RagEngine::Ask(const AnswerRequest& request, const std::string& request_id) {
  AskOutcome out;
  out.request_id = request_id;
  auto answer = answerer_->Ask(request);
  if (!answer.ok()) return answer.status();
  out.answer = std::move(*answer);
  if (!out.answer.escalate) return out;

  NewEscalation esc;
  esc.request_id = request_id;
  esc.question = request.question;
  esc.draft_answer = out.answer.answer;
  esc.confidence = out.answer.confidence;
  const auto values = out.answer.features.ToArray();
  for (size_t i = 0; i < values.size(); ++i) esc.confidence_components[std::string(kConfidenceFeatureNames[i])] = values[i];
  esc.passages = EscalationPassages(out.answer.passages);
  esc.collection = request.collection;
  esc.reason = std::string(EscalationReasonName(out.answer.reason));
  auto created = escalations_->Create(esc);
  if (!created.ok()) return created.status();
  out.escalation_id = created->escalation.id;
  if (created->created && webhook_ != nullptr) webhook_->Wake();
  return out;
}

absl::StatusOr<RetrieveOutcome> RagEngine::Retrieve(const RetrieveInput& input) {
  const AnswererOptions& o = config_.answer;
  if (input.question.empty()) return absl::InvalidArgumentError("question is empty");
  if (input.question.size() > o.max_question_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("question is ", input.question.size(), " bytes; at most ",
                                                   o.max_question_bytes, " are accepted"));
  }
  if (absl::Status s = CheckUtf8(input.question, "question"); !s.ok()) return s;
  if (input.top_k < 1 || input.top_k > o.max_top_k) {
    return absl::InvalidArgumentError(absl::StrCat("top_k must be in [1, ", o.max_top_k, "], got ", input.top_k));
  }
  RetrieveOutcome out;
  std::vector<float> vector;
  if (input.mode != RetrievalMode::kLexical) {
    const auto t = std::chrono::steady_clock::now();
    auto v = knowledge_->embedder().Embed(std::vector<std::string>{input.question});
    if (!v.ok()) return v.status();
    vector = std::move(*v);
    out.embed_seconds = Since(t);
  }
  const auto t = std::chrono::steady_clock::now();
  auto results = knowledge_->Search(input.collection, {.query = input.question,
                                                       .k = input.top_k,
                                                       .mode = input.mode,
                                                       .metadata = input.filters,
                                                       .query_vector = std::move(vector)});
  if (!results.ok()) return results.status();
  out.retrieve_seconds = Since(t);
  out.results = std::move(*results);
  return out;
}

}  // namespace tinyrag::server
