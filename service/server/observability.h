// The server's call hooks that feed Prometheus metrics (service/metrics.h) and
// the structured log (service/log.h): one log line and one histogram sample per
// RPC, and per answer its tokens, decode time and escalation.
#pragma once

#include <string_view>

#include <grpcpp/grpcpp.h>

#include "service/metrics.h"
#include "service/server/call.h"

namespace tinyrag::server {

// "OK", "INVALID_ARGUMENT", ... (the google.rpc.Code names). Pure.
std::string_view GrpcCodeName(grpc::StatusCode code);

// Hooks recording into `metrics` (not owned; must outlive every call) and
// logging each call: "rpc" events at info (warn for server-side failures:
// INTERNAL, UNAVAILABLE, DATA_LOSS, UNKNOWN) and "answer" events at info.
ServiceHooks MetricsAndLogHooks(ServerMetrics* metrics);

}  // namespace tinyrag::server
