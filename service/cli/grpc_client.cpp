#include "service/cli/grpc_client.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace tinyrag::cli {
namespace {

std::string EnvOr(const char* name, const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

// HTTP/2 header values: visible ASCII and spaces only.
bool ValidMetadataValue(absl::string_view v) {
  for (char c : v) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--tls-ca: cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("--tls-ca: ", path, " holds no PEM certificate"));
  }
  return text.str();
}

std::string TimeoutText(double seconds) { return absl::StrCat(seconds, " s"); }

}  // namespace

void AddConnectionOptions(CLI::App& cmd, ConnectionOptions& options) {
  cmd.add_option("--server", options.server,
                 absl::StrCat("Server address HOST:PORT (default: $TINYRAG_SERVER, else ", kDefaultServerAddress, ")"));
  cmd.add_option("--api-key", options.api_key,
                 "API key, sent as `authorization: Bearer KEY` (default: $TINYRAG_API_KEY)");
  cmd.add_flag("--tls", options.tls, "Connect with TLS, trusting the system's root certificates");
  cmd.add_option("--tls-ca", options.tls_ca, "Connect with TLS, trusting the root certificates in this PEM file")
      ->check(CLI::ExistingFile);
  cmd.add_option("--timeout", options.timeout_seconds, "Deadline of each call in seconds (0: none)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

std::string ResolveServerAddress(const std::string& flag) {
  std::string address = EnvOr("TINYRAG_SERVER", flag);
  return address.empty() ? std::string(kDefaultServerAddress) : address;
}

std::string ResolveApiKey(const std::string& flag) { return EnvOr("TINYRAG_API_KEY", flag); }

absl::StatusOr<std::unique_ptr<ServerConnection>> ServerConnection::Create(const ConnectionOptions& options) {
  const std::string address = ResolveServerAddress(options.server);
  const std::string api_key = ResolveApiKey(options.api_key);
  if (!ValidMetadataValue(api_key)) {
    return absl::InvalidArgumentError("the API key holds characters that cannot be sent (only printable ASCII)");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (!options.tls_ca.empty()) {
    auto roots = ReadPemFile(options.tls_ca);
    if (!roots.ok()) return roots.status();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *std::move(roots);
    credentials = grpc::SslCredentials(ssl);
  } else if (options.tls) {
    credentials = grpc::SslCredentials(grpc::SslCredentialsOptions());
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  // Answers carry whole passages; leave room above the 4 MiB default.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(address, credentials, args);
  return std::unique_ptr<ServerConnection>(
      new ServerConnection(std::move(channel), address, api_key, options.timeout_seconds));
}

void ServerConnection::Prepare(grpc::ClientContext& context) const {
  if (!api_key_.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", api_key_));
  if (timeout_seconds_ > 0) {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::duration_cast<std::chrono::system_clock::duration>(
                             std::chrono::duration<double>(timeout_seconds_)));
  }
}

absl::Status ServerConnection::Error(const grpc::Status& status, absl::string_view rpc) const {
  return StatusFromGrpc(status, rpc, address_, timeout_seconds_);
}

absl::Status StatusFromGrpc(const grpc::Status& status, absl::string_view rpc, absl::string_view address,
                            double timeout_seconds) {
  if (status.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  const std::string& msg = status.error_message();
  std::string text;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      text = absl::StrCat("cannot reach the server at ", address, " (is `tinyrag serve` running?)",
                          msg.empty() ? "" : absl::StrCat(": ", msg));
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
      text = absl::StrCat("the server at ", address, " did not accept the API key",
                          msg.empty() ? "" : absl::StrCat(" (", msg, ")"),
                          "; pass --api-key KEY or set TINYRAG_API_KEY");
      break;
    case grpc::StatusCode::PERMISSION_DENIED:
      text = absl::StrCat("permission denied (", rpc, "): ",
                          msg.empty() ? "the API key lacks the collection or scope" : msg);
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      text = timeout_seconds > 0
                 ? absl::StrCat(rpc, ": no response within ", TimeoutText(timeout_seconds),
                                " (raise --timeout, 0 for none)")
                 : absl::StrCat(rpc, ": the server's deadline expired", msg.empty() ? "" : absl::StrCat(": ", msg));
      break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      text = absl::StrCat("the server is busy (", rpc, "): ", msg.empty() ? "resource exhausted" : msg,
                          "; retry later");
      break;
    case grpc::StatusCode::UNIMPLEMENTED:
      text = absl::StrCat("the server at ", address, " does not implement ", rpc,
                          msg.empty() ? "" : absl::StrCat(": ", msg));
      break;
    case grpc::StatusCode::CANCELLED:
      text = absl::StrCat(rpc, " was cancelled", msg.empty() ? "" : absl::StrCat(": ", msg));
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::OUT_OF_RANGE:
      // The server's message is written for the caller already.
      text = msg.empty() ? absl::StrCat(rpc, " failed (", absl::StatusCodeToString(code), ")") : msg;
      break;
    default:
      text = absl::StrCat(rpc, " failed (", absl::StatusCodeToString(code), ")",
                          msg.empty() ? "" : absl::StrCat(": ", msg));
      break;
  }
  return absl::Status(code, text);
}

std::string EscalationReasonName(v1::EscalationReason reason) {
  switch (reason) {
    case v1::ESCALATION_REASON_UNSPECIFIED: return "";
    case v1::ESCALATION_REASON_LOW_CONFIDENCE: return "low_confidence";
    case v1::ESCALATION_REASON_I_DONT_KNOW: return "i_dont_know";
    case v1::ESCALATION_REASON_GENERATION_FAILED: return "generation_failed";
    case v1::ESCALATION_REASON_TIMED_OUT: return "timed_out";
    default: return absl::StrCat("unknown_", static_cast<int>(reason));
  }
}

std::string AnswerModeName(v1::AnswerMode mode) {
  switch (mode) {
    case v1::ANSWER_MODE_UNSPECIFIED: return "";
    case v1::ANSWER_MODE_GENERATIVE: return "generative";
    case v1::ANSWER_MODE_EXTRACTIVE: return "extractive";
    default: return absl::StrCat("unknown_", static_cast<int>(mode));
  }
}

std::string EscalationStatusName(v1::EscalationStatus status) {
  switch (status) {
    case v1::ESCALATION_STATUS_UNSPECIFIED: return "";
    case v1::ESCALATION_STATUS_OPEN: return "open";
    case v1::ESCALATION_STATUS_RESOLVED: return "resolved";
    default: return absl::StrCat("unknown_", static_cast<int>(status));
  }
}

std::string FormatUnixMs(int64_t ms) {
  if (ms == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

absl::StatusOr<int64_t> ParseTimeFlag(absl::string_view text, absl::string_view flag) {
  const std::string t(absl::StripAsciiWhitespace(text));
  int64_t ms = 0;
  if (!t.empty() && absl::ascii_isdigit(static_cast<unsigned char>(t[0])) && absl::SimpleAtoi(t, &ms)) return ms;
  absl::Time time;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, t, &time, &err)) return absl::ToUnixMillis(time);
  return absl::InvalidArgumentError(absl::StrCat(flag, ": \"", t,
                                                 "\" is neither Unix milliseconds nor an RFC 3339 time "
                                                 "(2026-11-22T08:00:00Z)"));
}

absl::StatusOr<v1::MetadataFilter> ParseFilterFlag(absl::string_view text) {
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("--filter \"", text, "\": expected KEY=VALUE (VALUE as JSON)"));
  }
  const absl::string_view key = text.substr(0, eq);
  const absl::string_view value = text.substr(eq + 1);
  if (key.empty()) return absl::InvalidArgumentError(absl::StrCat("--filter \"", text, "\": empty key"));
  v1::MetadataFilter f;
  f.set_key(std::string(key));
  const bool is_json = nlohmann::json::accept(std::string(value));
  f.set_value_json(is_json ? std::string(value) : nlohmann::json(std::string(value)).dump());
  return f;
}

nlohmann::json PassageToJson(const v1::Passage& p) {
  nlohmann::json j = {{"rank", p.rank()},     {"document_id", p.document_id()}, {"chunk_id", p.chunk_id()},
                      {"title", p.title()},   {"source", p.source()},           {"text", p.text()},
                      {"score", p.score()}};
  if (p.has_dense_score()) j["dense_score"] = p.dense_score();
  if (p.has_lexical_score()) j["lexical_score"] = p.lexical_score();
  return j;
}

namespace {

nlohmann::json ComponentsToJson(const google::protobuf::RepeatedPtrField<v1::ConfidenceComponent>& components) {
  nlohmann::json out = nlohmann::json::array();
  for (const v1::ConfidenceComponent& c : components) {
    out.push_back({{"name", c.name()}, {"value", c.value()}, {"contribution", c.contribution()}});
  }
  return out;
}

nlohmann::json PassagesToJson(const google::protobuf::RepeatedPtrField<v1::Passage>& passages) {
  nlohmann::json out = nlohmann::json::array();
  for (const v1::Passage& p : passages) out.push_back(PassageToJson(p));
  return out;
}

nlohmann::json ModelToJson(const v1::ModelIdentity& m) { return {{"name", m.name()}, {"file_hash", m.file_hash()}}; }

}  // namespace

nlohmann::json AskResponseToJson(const v1::AskResponse& r) {
  nlohmann::json citations = nlohmann::json::array();
  nlohmann::json cited_ranks = nlohmann::json::array();
  for (int rank : r.cited_ranks()) {
    cited_ranks.push_back(rank);
    for (const v1::Passage& p : r.passages()) {
      if (p.rank() != rank) continue;
      citations.push_back({{"index", rank},
                           {"document_id", p.document_id()},
                           {"title", p.title()},
                           {"source", p.source()},
                           {"text", p.text()},
                           {"score", p.score()}});
      break;
    }
  }
  const v1::Timings& t = r.timings();
  return {{"answer", r.answer()},
          {"confidence", r.confidence()},
          {"escalated", r.escalated()},
          {"escalation_reason", EscalationReasonName(r.escalation_reason())},
          {"escalation_id", r.escalation_id()},
          {"request_id", r.request_id()},
          {"citations", std::move(citations)},
          {"cited_ranks", std::move(cited_ranks)},
          {"timings_ms",
           {{"embed", t.embed_ms()},
            {"retrieve", t.retrieve_ms()},
            {"queue", t.queue_ms()},
            {"prefill", t.prefill_ms()},
            {"decode", t.decode_ms()},
            {"total", t.total_ms()}}},
          {"confidence_components", ComponentsToJson(r.confidence_components())},
          {"passages", PassagesToJson(r.passages())},
          {"tokens", {{"prompt", r.tokens().prompt_tokens()}, {"answer", r.tokens().answer_tokens()}}},
          {"answer_mode", AnswerModeName(r.answer_mode())},
          {"extractive_fallback", r.extractive_fallback()},
          {"encoder", ModelToJson(r.encoder())},
          {"decoder", ModelToJson(r.decoder())}};
}

nlohmann::json EscalationToJson(const v1::Escalation& e) {
  return {{"id", e.id()},
          {"request_id", e.request_id()},
          {"status", EscalationStatusName(e.status())},
          {"reason", EscalationReasonName(e.reason())},
          {"question", e.question()},
          {"draft_answer", e.draft_answer()},
          {"confidence", e.confidence()},
          {"confidence_components", ComponentsToJson(e.confidence_components())},
          {"passages", PassagesToJson(e.passages())},
          {"collection", e.collection()},
          {"created_at", FormatUnixMs(e.created_at_ms())},
          {"created_at_ms", e.created_at_ms()},
          {"updated_at", FormatUnixMs(e.updated_at_ms())},
          {"updated_at_ms", e.updated_at_ms()},
          {"resolution_note", e.resolution_note()},
          {"resolved_by", e.resolved_by()}};
}

absl::Status PrintJsonLine(const nlohmann::json& j) {
  const std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (std::fprintf(stdout, "%s\n", text.c_str()) < 0 || std::fflush(stdout) != 0) {
    return absl::InternalError("cannot write to stdout");
  }
  return absl::OkStatus();
}

}  // namespace tinyrag::cli
