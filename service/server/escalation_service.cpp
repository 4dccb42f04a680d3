#include "service/server/escalation_service.h"

#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "service/server/grpc_status.h"
#include "service/server/proto_convert.h"

namespace tinyrag::server {
namespace {

// Authenticates, checks the admin scope, and runs `work` on the read queue.
template <typename Work>
grpc::ServerUnaryReactor* RunAdmin(const ServiceContext& s, grpc::CallbackServerContext* ctx,
                                   std::string_view method, Work work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto timer = std::make_shared<CallTimer>(s.hooks, method);
  auto principal = Authenticate(s, *ctx);
  absl::Status allowed = principal.status();
  if (allowed.ok()) {
    timer->key_name = principal->key_name;
    allowed = CheckAdmin(*principal, method);
  }
  if (!allowed.ok()) {
    reactor->Finish(timer->Done(ToGrpcStatus(allowed)));
    return reactor;
  }
  if (!s.read_queue->TrySubmit([reactor, timer, key = principal->key_name, work = std::move(work)]() mutable {
        reactor->Finish(timer->Done(ToGrpcStatus(work(key))));
      })) {
    reactor->Finish(timer->Done(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "the server is busy; retry later")));
  }
  return reactor;
}

absl::StatusOr<int64_t> ParseId(const std::string& id) {
  int64_t n = 0;
  if (id.empty() || !absl::SimpleAtoi(id, &n) || n <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("\"", id, "\" is not an escalation id"));
  }
  return n;
}

}  // namespace

grpc::ServerUnaryReactor* EscalationServiceImpl::ListEscalations(grpc::CallbackServerContext* ctx,
                                                                 const v1::ListEscalationsRequest* request,
                                                                 v1::ListEscalationsResponse* response) {
  return RunAdmin(s_, ctx, "ListEscalations", [this, request, response](const std::string&) -> absl::Status {
    EscalationQuery q;
    if (request->status() == v1::ESCALATION_STATUS_OPEN) q.status = EscalationStatus::kOpen;
    if (request->status() == v1::ESCALATION_STATUS_RESOLVED) q.status = EscalationStatus::kResolved;
    if (request->created_after_ms() != 0) q.created_from_ms = request->created_after_ms();
    if (request->created_before_ms() != 0) q.created_to_ms = request->created_before_ms();
    if (request->page_size() < 0 || request->page_size() > 500) {
      return absl::InvalidArgumentError(absl::StrCat("page_size must be in [0, 500], got ", request->page_size()));
    }
    q.page_size = request->page_size() == 0 ? 50 : request->page_size();
    q.page_token = request->page_token();
    auto page = s_.engine->escalations().List(q);
    if (!page.ok()) return page.status();
    for (const Escalation& e : page->escalations) EscalationToProto(e, *response->add_escalations());
    response->set_next_page_token(page->next_page_token);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* EscalationServiceImpl::GetEscalation(grpc::CallbackServerContext* ctx,
                                                               const v1::GetEscalationRequest* request,
                                                               v1::Escalation* response) {
  return RunAdmin(s_, ctx, "GetEscalation", [this, request, response](const std::string&) -> absl::Status {
    auto id = ParseId(request->id());
    if (!id.ok()) return id.status();
    auto e = s_.engine->escalations().Get(*id);
    if (!e.ok()) return e.status();
    EscalationToProto(*e, *response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* EscalationServiceImpl::ResolveEscalation(grpc::CallbackServerContext* ctx,
                                                                   const v1::ResolveEscalationRequest* request,
                                                                   v1::Escalation* response) {
  return RunAdmin(s_, ctx, "ResolveEscalation", [this, request, response](const std::string& key) -> absl::Status {
    auto id = ParseId(request->id());
    if (!id.ok()) return id.status();
    auto e = s_.engine->escalations().Resolve(*id, key, request->note());
    if (!e.ok()) return e.status();
    EscalationToProto(*e, *response);
    return absl::OkStatus();
  });
}

}  // namespace tinyrag::server
