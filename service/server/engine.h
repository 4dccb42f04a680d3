// The service's pipeline without the wire: everything a request needs
// (knowledge base, encoder, decoder behind the batch scheduler, answerer,
// escalation store, webhook) built from a ServerConfig, with blocking
// operations in absl terms. The gRPC services (rag_service.h,
// escalation_service.h) translate requests to these calls and run them on
// work queues, never on gRPC's threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "generate/batch_scheduler.h"
#include "generate/decoder_context.h"
#include "generate/decoder_model.h"
#include "model/thread_pool.h"
#include "service/answerer.h"
#include "service/config.h"
#include "service/escalation_store.h"
#include "service/server/knowledge.h"
#include "service/webhook.h"

namespace tinyrag::server {

struct ModelId {
  std::string name;       // the model's general.name, else its file name
  std::string file_hash;  // XXH3-128 hex of the file
};

struct AskOutcome {
  Answer answer;
  std::string request_id;
  std::optional<int64_t> escalation_id;  // set when escalated
  double queue_seconds = 0;  // from admission to the start of the work (set by the caller)
  bool extractive_fallback = false;  // answered extractively because the generator was full (set by the caller)
};

struct RetrieveInput {
  std::string question;
  std::string collection;
  int top_k = 5;
  RetrievalMode mode = RetrievalMode::kHybrid;
  std::vector<MetadataFilter> filters;
};

struct RetrieveOutcome {
  std::vector<RetrievalResult> results;
  double embed_seconds = 0;
  double retrieve_seconds = 0;
};

class RagEngine {
 public:
  // Loads the models, opens the data dir (which this process then owns), the
  // escalation store and the webhook sender, and starts the batch scheduler.
  // Without a decoder in `config` every answer is extractive.
  // `config` must have passed ValidateServerConfig. Errors: the data dir in
  // use by another process (FailedPrecondition), a model that does not load,
  // an unreadable confidence file.
  static absl::StatusOr<std::unique_ptr<RagEngine>> Create(const ServerConfig& config);
  // Stops the scheduler (generations still running end Cancelled), the
  // webhook sender, and saves the vector indexes.
  ~RagEngine();
  RagEngine(const RagEngine&) = delete;
  RagEngine& operator=(const RagEngine&) = delete;

  // Answers `request` (collection already resolved: never empty), stores an
  // escalation for `request_id` when the answer is escalated, and wakes the
  // webhook. Errors: the answerer's (InvalidArgument for bad requests,
  // Cancelled, retrieval errors), InvalidArgument for an unknown collection, store
  // errors. Blocking; thread-safe.
  absl::StatusOr<AskOutcome> Ask(const AnswerRequest& request, const std::string& request_id);

  // The request checks Ask starts with (cheap: no I/O). Thread-safe.
  absl::Status Validate(const AnswerRequest& request) const { return answerer_->Validate(request); }

  // Retrieval only. InvalidArgument for top_k outside [1, max_top_k] or an
  // empty, over-long or non-UTF-8 question; InvalidArgument for an unknown
  // collection. Blocking; thread-safe.
  absl::StatusOr<RetrieveOutcome> Retrieve(const RetrieveInput& input);

  ServerKnowledgeBase& knowledge() { return *knowledge_; }
  EscalationStore& escalations() { return *escalations_; }
  const ServerConfig& config() const { return config_; }
  // The mode of requests that do not choose: extractive when configured so
  // or when there is no decoder.
  AnswerMode default_mode() const {
    return config_.decoder.empty() || config_.answer_mode == ConfiguredAnswerMode::kExtractive
               ? AnswerMode::kExtractive
               : AnswerMode::kGenerative;
  }
  const ModelId& encoder_id() const { return encoder_id_; }
  const ModelId& decoder_id() const { return decoder_id_; }

 private:
  explicit RagEngine(ServerConfig config) : config_(std::move(config)) {}

  const ServerConfig config_;
  ModelId encoder_id_;
  ModelId decoder_id_;  // empty without a decoder
  std::unique_ptr<ServerKnowledgeBase> knowledge_;
  std::unique_ptr<EscalationStore> escalations_;
  std::unique_ptr<WebhookSender> webhook_;  // null without a webhook url
  std::unique_ptr<DecoderModel> decoder_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<DecoderContext> context_;
  std::unique_ptr<BatchScheduler> scheduler_;
  std::unique_ptr<SchedulerGenerator> generator_;
  std::unique_ptr<Answerer> answerer_;
};

// The confidence weights `config` names, or the built-in defaults (the
// data/confidence_defaults.json this binary was built with).
absl::StatusOr<ConfidenceModel> LoadConfidenceModel(const ServerConfig& config);

}  // namespace tinyrag::server
