// What every RPC handler shares: who is calling (API-key auth from the
// `authorization` metadata), the work queues that keep blocking work off
// gRPC's threads, and the hooks that turn finished calls into metrics and
// log lines.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "service/auth.h"
#include "service/server/engine.h"
#include "service/server/work_queue.h"

namespace tinyrag::server {

// One finished RPC.
struct CallRecord {
  std::string_view method;  // e.g. "Ask"
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string_view message;  // the status message ("" when OK)
  double seconds = 0;
  std::string_view key_name;    // "" when unauthenticated
  std::string_view request_id;  // Ask/AskStream only
  std::string_view collection;
};

struct ServiceHooks {
  // Every finished call (called on the thread that finishes it; keep it cheap).
  std::function<void(const CallRecord&)> on_call;
  // Every answered question (before the response is sent).
  std::function<void(const AskOutcome&)> on_answer;
  // Every ingested document ("added", "updated", "unchanged", "failed").
  std::function<void(std::string_view status)> on_ingest;
};

struct ServiceContext {
  RagEngine* engine = nullptr;
  const ApiKeyAuthenticator* auth = nullptr;
  WorkQueue* ask_queue = nullptr;         // generative Ask and AskStream, Retrieve
  WorkQueue* extractive_queue = nullptr;  // extractive Ask and AskStream (no decoder: fast)
  WorkQueue* admin_queue = nullptr;  // Ingest, DeleteDocuments (one writer at a time)
  WorkQueue* read_queue = nullptr;   // ListDocuments and the escalation calls
  ServiceHooks hooks;
};

// The caller's principal from `ctx`'s `authorization` metadata.
// Unauthenticated as ApiKeyAuthenticator::Authenticate.
absl::StatusOr<Principal> Authenticate(const ServiceContext& service, const grpc::CallbackServerContext& ctx);

// PermissionDenied unless `principal` may access `collection`; the message
// names the key and the collection (which the caller already knows).
absl::Status CheckCollectionAccess(const Principal& principal, std::string_view collection);
// PermissionDenied unless `principal` has the admin scope.
absl::Status CheckAdmin(const Principal& principal, std::string_view method);

// The deadline of `ctx`, or now + default_timeout when the client set none.
std::chrono::steady_clock::time_point CallDeadline(const grpc::CallbackServerContext& ctx,
                                                   std::chrono::milliseconds default_timeout);

// Times a call and reports it to the hooks when it finishes.
class CallTimer {
 public:
  CallTimer(const ServiceHooks& hooks, std::string_view method)
      : hooks_(hooks), method_(method), start_(std::chrono::steady_clock::now()) {}
  // Reports the call with `status`; returns it for Finish.
  grpc::Status Done(grpc::Status status);
  std::string key_name;
  std::string request_id;
  std::string collection;

 private:
  const ServiceHooks& hooks_;
  const std::string_view method_;
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace tinyrag::server
