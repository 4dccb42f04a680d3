// tinyrag.v1.RagService on gRPC's callback API (see proto/tinyrag/v1/rag.proto
// for the contract of every method). Handlers authenticate and validate on
// gRPC's thread, then post the blocking work (embedding, retrieval, waiting
// for the batch scheduler, SQLite writes) to the ServiceContext's work
// queues; a full queue is RESOURCE_EXHAUSTED. A client that cancels, or a
// deadline that expires, stops the work between tokens.
#pragma once

#include "service/server/call.h"
#include "tinyrag/v1/rag.grpc.pb.h"

namespace tinyrag::server {

// Ask, AskStream and Retrieve take their requests as raw bytes and parse them
// here: a question that is not valid UTF-8 then gets INVALID_ARGUMENT with a
// message, where gRPC's own parsing would answer UNIMPLEMENTED without one.
using RagServiceBase = v1::RagService::WithRawCallbackMethod_Ask<v1::RagService::WithRawCallbackMethod_AskStream<
    v1::RagService::WithRawCallbackMethod_Retrieve<v1::RagService::WithCallbackMethod_Ingest<
        v1::RagService::WithCallbackMethod_DeleteDocuments<v1::RagService::WithCallbackMethod_ListDocuments<
            v1::RagService::Service>>>>>>;

class RagServiceImpl final : public RagServiceBase {
 public:
  // `context`'s pointers must outlive the service.
  explicit RagServiceImpl(ServiceContext context) : s_(std::move(context)) {}

  grpc::ServerUnaryReactor* Ask(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                grpc::ByteBuffer* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* AskStream(grpc::CallbackServerContext* ctx,
                                                        const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* Retrieve(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerReadReactor<v1::IngestRequest>* Ingest(grpc::CallbackServerContext* ctx,
                                                     v1::IngestResponse* response) override;
  grpc::ServerUnaryReactor* DeleteDocuments(grpc::CallbackServerContext* ctx,
                                            const v1::DeleteDocumentsRequest* request,
                                            v1::DeleteDocumentsResponse* response) override;
  grpc::ServerUnaryReactor* ListDocuments(grpc::CallbackServerContext* ctx, const v1::ListDocumentsRequest* request,
                                          v1::ListDocumentsResponse* response) override;

 private:
  const ServiceContext s_;
};

}  // namespace tinyrag::server
