// absl::Status (what every module returns) to grpc::Status (what the wire
// carries): the one place the service translates between the two.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace tinyrag::server {

// The gRPC status with the same code and message. Codes map one to one (both
// follow google.rpc.Code). Pure.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace tinyrag::server
