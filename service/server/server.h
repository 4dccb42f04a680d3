// The running service: the engine (models, knowledge base, escalations)
// behind RagService, EscalationService, the standard grpc.health.v1 health
// service and server reflection, on one listening address.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "service/auth.h"
#include "service/config.h"
#include "service/server/call.h"
#include "service/server/engine.h"
#include "service/server/escalation_service.h"
#include "service/server/rag_service.h"
#include "service/server/work_queue.h"

namespace tinyrag::server {

class RagServer {
 public:
  // Builds the engine from `config` (which must have passed
  // ValidateServerConfig), binds the listen address and starts serving; the
  // health service says SERVING when this returns. `hooks` observe calls
  // (metrics, logs). Errors: the engine's, Unavailable when the address
  // cannot be bound, InvalidArgument for unreadable TLS files.
  static absl::StatusOr<std::unique_ptr<RagServer>> Start(const ServerConfig& config, ServiceHooks hooks = {});

  // Shuts down with no drain time if Shutdown was not called.
  ~RagServer();
  RagServer(const RagServer&) = delete;
  RagServer& operator=(const RagServer&) = delete;

  // Stops taking calls (health: NOT_SERVING), lets calls in flight finish
  // for up to `drain`, then cancels the rest, and saves the vector indexes.
  // Idempotent; thread-safe.
  void Shutdown(std::chrono::milliseconds drain);

  // The address actually listened on (the port resolved when 0 was asked).
  const std::string& address() const { return address_; }
  int port() const { return port_; }

  // Requests running and waiting in the Ask queue (for metrics).
  int asks_running() const { return ask_queue_->running(); }
  int asks_waiting() const { return ask_queue_->waiting(); }

  RagEngine& engine() { return *engine_; }

 private:
  RagServer() = default;

  std::unique_ptr<RagEngine> engine_;
  std::unique_ptr<ApiKeyAuthenticator> auth_;
  std::unique_ptr<WorkQueue> ask_queue_;
  std::unique_ptr<WorkQueue> extractive_queue_;
  std::unique_ptr<WorkQueue> admin_queue_;
  std::unique_ptr<WorkQueue> read_queue_;
  std::unique_ptr<RagServiceImpl> rag_service_;
  std::unique_ptr<EscalationServiceImpl> escalation_service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  int port_ = 0;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace tinyrag::server
