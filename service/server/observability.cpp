#include "service/server/observability.h"

#include <string>

#include "nlohmann/json.hpp"
#include "service/log.h"

namespace tinyrag::server {

std::string_view GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

ServiceHooks MetricsAndLogHooks(ServerMetrics* metrics) {
  ServiceHooks hooks;
  hooks.on_call = [metrics](const CallRecord& r) {
    const std::string_view code = GrpcCodeName(r.code);
    metrics->RecordRequest(r.method, code, r.seconds);
    const bool server_fault = r.code == grpc::StatusCode::INTERNAL || r.code == grpc::StatusCode::UNAVAILABLE ||
                              r.code == grpc::StatusCode::DATA_LOSS || r.code == grpc::StatusCode::UNKNOWN;
    const LogLevel level = server_fault ? LogLevel::kWarn : LogLevel::kInfo;
    if (!LogEnabled(level)) return;
    nlohmann::json fields = {{"method", r.method}, {"code", code}, {"ms", r.seconds * 1e3}};
    if (!r.request_id.empty()) fields["request_id"] = r.request_id;
    if (!r.key_name.empty()) fields["key"] = r.key_name;
    if (!r.collection.empty()) fields["collection"] = r.collection;
    if (!r.message.empty()) fields["error"] = r.message;
    LogEvent(level, "rpc", fields);
  };
  hooks.on_answer = [metrics](const AskOutcome& o) {
    const Answer& a = o.answer;
    if (a.mode == AnswerMode::kGenerative) metrics->AddGeneration(a.tokens.answer, a.timings.decode);
    metrics->RecordAnswer(a.escalate, a.escalate ? EscalationReasonName(a.reason) : "");
    if (o.extractive_fallback) metrics->RecordExtractiveFallback();
    if (!LogEnabled(LogLevel::kInfo)) return;
    nlohmann::json fields = {{"request_id", o.request_id},
                             {"mode", AnswerModeName(a.mode)},
                             {"extractive_fallback", o.extractive_fallback},
                             {"confidence", a.confidence},
                             {"escalated", a.escalate},
                             {"passages", a.passages.size()},
                             {"cited", a.citations.size()},
                             {"prompt_tokens", a.tokens.prompt},
                             {"answer_tokens", a.tokens.answer},
                             {"queue_ms", o.queue_seconds * 1e3},
                             {"prefill_ms", a.timings.prefill * 1e3},
                             {"decode_ms", a.timings.decode * 1e3}};
    if (a.escalate) {
      fields["reason"] = EscalationReasonName(a.reason);
      if (o.escalation_id) fields["escalation_id"] = *o.escalation_id;
    }
    for (const std::string& w : a.warnings) fields["warnings"].push_back(w);
    LogEvent(LogLevel::kInfo, "answer", fields);
  };
  hooks.on_ingest = [metrics](std::string_view status) { metrics->RecordIngest(status); };
  return hooks;
}

}  // namespace tinyrag::server
