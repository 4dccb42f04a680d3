// Conversions between the API's messages (proto/tinyrag/v1) and the
// service's own types. Pure functions; errors are InvalidArgument with a
// message a client can act on.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/retriever.h"
#include "index/store.h"
#include "service/escalation_store.h"
#include "service/server/engine.h"
#include "tinyrag/v1/common.pb.h"
#include "tinyrag/v1/escalation.pb.h"
#include "tinyrag/v1/rag.pb.h"

namespace tinyrag::server {

// At most this many metadata filters per request.
inline constexpr int kMaxFilters = 16;

// The filters of a request: each key non-empty and each value a JSON string,
// number, boolean or null. InvalidArgument naming the bad filter otherwise.
absl::StatusOr<std::vector<MetadataFilter>> FiltersFromProto(
    const google::protobuf::RepeatedPtrField<v1::MetadataFilter>& filters);

// The collection a request names: `name`, or `default_collection` when
// empty. InvalidArgument for a name that is not UTF-8 or longer than 256 bytes.
absl::StatusOr<std::string> ResolveCollection(const std::string& name, const std::string& default_collection);

// The request id of an Ask: `id` when set (at most 256 bytes of UTF-8), else
// a new random one (32 hex digits).
absl::StatusOr<std::string> ResolveRequestId(const std::string& id);

// The mode a RetrieveRequest asks for (unspecified: hybrid).
RetrievalMode RetrievalModeFromProto(v1::RetrievalMode mode);

v1::EscalationReason EscalationReasonToProto(EscalationReason reason);
// The store records reasons by name (EscalationReasonName).
v1::EscalationReason EscalationReasonToProto(std::string_view reason_name);

// The response for an answered question.
void AskResponseFromOutcome(const AskOutcome& outcome, const ModelId& encoder, const ModelId& decoder,
                            v1::AskResponse& out);

// One retrieved chunk at 1-based `rank`.
void PassageFromResult(const RetrievalResult& r, int rank, v1::Passage& out);

void DocumentInfoToProto(const DocumentInfo& d, v1::DocumentInfo& out);
void EscalationToProto(const Escalation& e, v1::Escalation& out);

}  // namespace tinyrag::server
