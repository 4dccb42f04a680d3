// tinyrag.v1.EscalationService on gRPC's callback API (see
// proto/tinyrag/v1/escalation.proto): the support desk's list of escalated
// questions. Every method needs the admin scope; the store work runs on the
// ServiceContext's read queue.
#pragma once

#include "service/server/call.h"
#include "tinyrag/v1/escalation.grpc.pb.h"

namespace tinyrag::server {

class EscalationServiceImpl final : public v1::EscalationService::CallbackService {
 public:
  // `context`'s pointers must outlive the service.
  explicit EscalationServiceImpl(ServiceContext context) : s_(std::move(context)) {}

  grpc::ServerUnaryReactor* ListEscalations(grpc::CallbackServerContext* ctx, const v1::ListEscalationsRequest* request,
                                            v1::ListEscalationsResponse* response) override;
  grpc::ServerUnaryReactor* GetEscalation(grpc::CallbackServerContext* ctx, const v1::GetEscalationRequest* request,
                                          v1::Escalation* response) override;
  grpc::ServerUnaryReactor* ResolveEscalation(grpc::CallbackServerContext* ctx,
                                              const v1::ResolveEscalationRequest* request,
                                              v1::Escalation* response) override;

 private:
  const ServiceContext s_;
};

}  // namespace tinyrag::server
