#include "service/server/call.h"

#include "absl/strings/str_cat.h"
#include "service/server/grpc_status.h"

namespace tinyrag::server {

absl::StatusOr<Principal> Authenticate(const ServiceContext& service, const grpc::CallbackServerContext& ctx) {
  const auto& metadata = ctx.client_metadata();
  std::optional<std::string_view> header;
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    header = std::string_view(it->second.data(), it->second.size());
  }
  return service.auth->Authenticate(header);
}

absl::Status CheckCollectionAccess(const Principal& principal, std::string_view collection) {
  if (principal.CanAccess(collection)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("API key \"", principal.key_name, "\" may not access collection \"", std::string(collection), "\""));
}

absl::Status CheckAdmin(const Principal& principal, std::string_view method) {
  if (principal.admin) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(std::string(method), " needs the admin scope; API key \"", principal.key_name, "\" does not have it"));
}

std::chrono::steady_clock::time_point CallDeadline(const grpc::CallbackServerContext& ctx,
                                                   std::chrono::milliseconds default_timeout) {
  const auto now_system = std::chrono::system_clock::now();
  const auto now = std::chrono::steady_clock::now();
  const std::chrono::system_clock::time_point deadline = ctx.deadline();
  // "No deadline" is a time point centuries away; so is anything past the default.
  if (deadline - now_system > default_timeout) return now + default_timeout;
  return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(deadline - now_system);
}

grpc::Status CallTimer::Done(grpc::Status status) {
  if (hooks_.on_call) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    hooks_.on_call({.method = method_,
                    .code = status.error_code(),
                    .message = status.error_message(),
                    .seconds = seconds,
                    .key_name = key_name,
                    .request_id = request_id,
                    .collection = collection});
  }
  return status;
}

}  // namespace tinyrag::server
