#include "service/server/proto_convert.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "service/answerer.h"

namespace tinyrag::server {
namespace {

constexpr size_t kMaxNameBytes = 256;

v1::Passage* SetPassage(const Passage& p, int rank, v1::Passage& out) {
  out.set_rank(rank);
  out.set_document_id(p.document_id);
  out.set_chunk_id(p.chunk_id);
  out.set_title(p.title);
  out.set_source(p.source);
  out.set_text(p.text);
  out.set_score(p.score);
  if (p.dense_score) out.set_dense_score(*p.dense_score);
  if (p.lexical_score) out.set_lexical_score(*p.lexical_score);
  return &out;
}

}  // namespace

absl::StatusOr<std::vector<MetadataFilter>> FiltersFromProto(
    const google::protobuf::RepeatedPtrField<v1::MetadataFilter>& filters) {
  if (filters.size() > kMaxFilters) {
    return absl::InvalidArgumentError(
        absl::StrCat(filters.size(), " metadata filters; at most ", kMaxFilters, " are accepted"));
  }
  std::vector<MetadataFilter> out;
  for (int i = 0; i < filters.size(); ++i) {
    const v1::MetadataFilter& f = filters[i];
    if (f.key().empty()) return absl::InvalidArgumentError(absl::StrCat("filter ", i, ": empty key"));
    if (absl::Status s = CheckUtf8(f.key(), absl::StrCat("filter ", i, " key")); !s.ok()) return s;
    nlohmann::json value = nlohmann::json::parse(f.value_json(), nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
      return absl::InvalidArgumentError(absl::StrCat("filter \"", f.key(), "\": value_json is not valid JSON (a ",
                                                     "string value needs quotes: \"\\\"billing\\\"\")"));
    }
    if (value.is_array() || value.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "filter \"", f.key(), "\": arrays and objects are not supported as values; use a string, number, "
          "boolean or null"));
    }
    out.push_back({f.key(), std::move(value)});
  }
  return out;
}

absl::StatusOr<std::string> ResolveCollection(const std::string& name, const std::string& default_collection) {
  if (name.empty()) return default_collection;
  if (name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("collection name is ", name.size(), " bytes; at most ",
                                                   kMaxNameBytes, " are accepted"));
  }
  if (absl::Status s = CheckUtf8(name, "collection"); !s.ok()) return s;
  return name;
}

absl::StatusOr<std::string> ResolveRequestId(const std::string& id) {
  if (!id.empty()) {
    if (id.size() > kMaxNameBytes) {
      return absl::InvalidArgumentError(absl::StrCat("request_id is ", id.size(), " bytes; at most ",
                                                     kMaxNameBytes, " are accepted"));
    }
    if (absl::Status s = CheckUtf8(id, "request_id"); !s.ok()) return s;
    return id;
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return absl::StrFormat("%016x%016x", rng(), rng());
}

RetrievalMode RetrievalModeFromProto(v1::RetrievalMode mode) {
  switch (mode) {
    case v1::RETRIEVAL_MODE_DENSE:
      return RetrievalMode::kDense;
    case v1::RETRIEVAL_MODE_LEXICAL:
      return RetrievalMode::kLexical;
    default:
      return RetrievalMode::kHybrid;
  }
}

v1::EscalationReason EscalationReasonToProto(EscalationReason reason) {
  switch (reason) {
    case EscalationReason::kLowConfidence:
      return v1::ESCALATION_REASON_LOW_CONFIDENCE;
    case EscalationReason::kNoAnswer:
      return v1::ESCALATION_REASON_I_DONT_KNOW;
    case EscalationReason::kGenerationFailed:
      return v1::ESCALATION_REASON_GENERATION_FAILED;
    case EscalationReason::kGenerationTimedOut:
      return v1::ESCALATION_REASON_TIMED_OUT;
    case EscalationReason::kNone:
      break;
  }
  return v1::ESCALATION_REASON_UNSPECIFIED;
}

v1::EscalationReason EscalationReasonToProto(std::string_view reason_name) {
  for (EscalationReason r : {EscalationReason::kLowConfidence, EscalationReason::kNoAnswer,
                             EscalationReason::kGenerationFailed, EscalationReason::kGenerationTimedOut}) {
    if (EscalationReasonName(r) == reason_name) return EscalationReasonToProto(r);
  }
  return v1::ESCALATION_REASON_UNSPECIFIED;
}

void AskResponseFromOutcome(const AskOutcome& outcome, const ModelId& encoder, const ModelId& decoder,
                            v1::AskResponse& out) {
  const Answer& a = outcome.answer;
  out.set_answer(a.answer);
  for (size_t i = 0; i < a.passages.size(); ++i) SetPassage(a.passages[i], static_cast<int>(i) + 1, *out.add_passages());
  for (const Citation& c : a.citations) out.add_cited_ranks(c.number);
  out.set_confidence(a.confidence);
  const auto values = a.features.ToArray();
  for (size_t i = 0; i < values.size(); ++i) {
    v1::ConfidenceComponent* c = out.add_confidence_components();
    c->set_name(std::string(kConfidenceFeatureNames[i]));
    c->set_value(values[i]);
    c->set_contribution(a.score.contributions[i]);
  }
  out.set_escalated(a.escalate);
  out.set_escalation_reason(a.escalate ? EscalationReasonToProto(a.reason) : v1::ESCALATION_REASON_UNSPECIFIED);
  if (outcome.escalation_id) out.set_escalation_id(absl::StrCat(*outcome.escalation_id));
  v1::Timings* t = out.mutable_timings();
  t->set_embed_ms(a.timings.embed * 1e3);
  t->set_retrieve_ms(a.timings.retrieve * 1e3);
  t->set_prefill_ms(a.timings.prefill * 1e3);
  t->set_decode_ms(a.timings.decode * 1e3);
  t->set_decode_step_ms(a.timings.decode_steps * 1e3);
  t->set_total_ms((a.timings.total + outcome.queue_seconds) * 1e3);
  t->set_queue_ms(outcome.queue_seconds * 1e3);
  out.mutable_tokens()->set_prompt_tokens(static_cast<int32_t>(a.tokens.prompt));
  out.mutable_tokens()->set_answer_tokens(static_cast<int32_t>(a.tokens.answer));
  out.mutable_encoder()->set_name(encoder.name);
  out.mutable_encoder()->set_file_hash(encoder.file_hash);
  if (a.mode == AnswerMode::kGenerative) {  // an extractive answer involves no decoder
    out.mutable_decoder()->set_name(decoder.name);
    out.mutable_decoder()->set_file_hash(decoder.file_hash);
  }
  out.set_request_id(outcome.request_id);
  out.set_answer_mode(a.mode == AnswerMode::kExtractive ? v1::ANSWER_MODE_EXTRACTIVE : v1::ANSWER_MODE_GENERATIVE);
  out.set_extractive_fallback(outcome.extractive_fallback);
}

void PassageFromResult(const RetrievalResult& r, int rank, v1::Passage& out) {
  SetPassage({r.document_id, r.chunk_id, r.title, r.source, r.text, r.score, r.dense_score, r.lexical_score}, rank,
             out);
}

void DocumentInfoToProto(const DocumentInfo& d, v1::DocumentInfo& out) {
  out.set_document_id(d.id);
  out.set_external_id(d.external_id);
  out.set_title(d.title);
  out.set_source(d.source);
  out.set_content_hash(d.content_hash);
  out.set_chunks(static_cast<int32_t>(d.chunk_count));
  out.set_metadata_json(d.metadata.dump());
  out.set_created_at_ms(d.created_ms);
  out.set_updated_at_ms(d.updated_ms);
}

void EscalationToProto(const Escalation& e, v1::Escalation& out) {
  out.set_id(absl::StrCat(e.id));
  out.set_request_id(e.request_id);
  out.set_question(e.question);
  out.set_draft_answer(e.draft_answer);
  out.set_confidence(e.confidence);
  for (const auto& [name, value] : e.confidence_components) {
    v1::ConfidenceComponent* c = out.add_confidence_components();
    c->set_name(name);
    c->set_value(value);
  }
  out.set_reason(EscalationReasonToProto(e.reason));
  for (size_t i = 0; i < e.passages.size(); ++i) {
    const EscalationPassage& p = e.passages[i];
    SetPassage({p.document_id, 0, p.title, p.source, p.text, p.score, p.dense_score, p.lexical_score},
               static_cast<int>(i) + 1, *out.add_passages());
  }
  out.set_collection(e.collection);
  out.set_status(e.status == EscalationStatus::kOpen ? v1::ESCALATION_STATUS_OPEN : v1::ESCALATION_STATUS_RESOLVED);
  out.set_created_at_ms(e.created_ms);
  out.set_updated_at_ms(e.updated_ms);
  out.set_resolution_note(e.resolution_note);
  out.set_resolved_by(e.resolved_by);
}

}  // namespace tinyrag::server
