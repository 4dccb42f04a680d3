// The client side of the gRPC service for the `tinyrag` subcommands that talk
// to a running server (ask, escalations, ingest --server) and for the load
// generator: connection flags, channel creation (plaintext or TLS), the API
// key as `authorization: Bearer KEY` metadata, per-call deadlines, turning a
// grpc::Status into a message a user can act on, and the responses as the
// snake_case JSON the CLI prints (see ../shared/docs/cli.md).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "tinyrag/v1/common.pb.h"
#include "tinyrag/v1/escalation.pb.h"
#include "tinyrag/v1/rag.pb.h"

namespace CLI {
class App;
}  // namespace CLI

namespace tinyrag::cli {

// The address used when neither --server nor TINYRAG_SERVER is given.
inline constexpr char kDefaultServerAddress[] = "127.0.0.1:50051";

// How to reach the server. Empty strings fall back to the environment
// (TINYRAG_SERVER, TINYRAG_API_KEY) and then to the defaults.
struct ConnectionOptions {
  std::string server;
  std::string api_key;
  // A PEM file of trusted roots: TLS verified against it.
  std::string tls_ca;
  // TLS against the system's trusted roots (ignored when tls_ca is set).
  bool tls = false;
  // The deadline of each call; <= 0: none.
  double timeout_seconds = 0;
};

// Registers --server, --api-key, --tls, --tls-ca and --timeout on `cmd`,
// writing into `*options` (which must outlive the parse). The timeout's
// default is `options->timeout_seconds` as set by the caller.
void AddConnectionOptions(CLI::App& cmd, ConnectionOptions& options);

// `flag` when not empty, else $TINYRAG_SERVER when set and not empty, else
// kDefaultServerAddress.
std::string ResolveServerAddress(const std::string& flag);

// `flag` when not empty, else $TINYRAG_API_KEY, else "" (no key is sent).
std::string ResolveApiKey(const std::string& flag);

// A channel to one server plus what every call on it needs. Thread-safe after
// Create: contexts may be prepared from many threads at once.
class ServerConnection {
 public:
  // Creates the channel (lazily connecting: an unreachable server shows up as
  // UNAVAILABLE on the first call). InvalidArgument when the TLS root file
  // cannot be read or holds no PEM certificate, or when the API key holds
  // characters that cannot be sent as metadata.
  static absl::StatusOr<std::unique_ptr<ServerConnection>> Create(const ConnectionOptions& options);

  // Sets the bearer metadata (when a key is known) and the deadline (when a
  // timeout is set) on a fresh context.
  void Prepare(grpc::ClientContext& context) const;

  // The error for a failed call of `rpc` ("Ask", ...); see StatusFromGrpc.
  absl::Status Error(const grpc::Status& status, absl::string_view rpc) const;

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  const std::string& address() const { return address_; }
  double timeout_seconds() const { return timeout_seconds_; }

 private:
  ServerConnection(std::shared_ptr<grpc::Channel> channel, std::string address, std::string api_key,
                   double timeout_seconds)
      : channel_(std::move(channel)),
        address_(std::move(address)),
        api_key_(std::move(api_key)),
        timeout_seconds_(timeout_seconds) {}

  const std::shared_ptr<grpc::Channel> channel_;
  const std::string address_;
  const std::string api_key_;
  const double timeout_seconds_;
};

// A failed call as an error value with the same code and a message that says
// what to do: UNAVAILABLE names `address` and asks whether `tinyrag serve` is
// running; UNAUTHENTICATED points at --api-key / TINYRAG_API_KEY;
// DEADLINE_EXCEEDED at --timeout; the others carry the server's message.
// `timeout_seconds` (<= 0: none) is quoted in the deadline message. OK for an
// OK status. Pure.
absl::Status StatusFromGrpc(const grpc::Status& status, absl::string_view rpc, absl::string_view address,
                            double timeout_seconds);

// Lower-case names: "low_confidence", "i_dont_know", "generation_failed",
// "timed_out"; "" for unspecified (not escalated). Unknown values (from a
// newer server) are "unknown_N".
std::string EscalationReasonName(v1::EscalationReason reason);
// "generative", "extractive"; "" for unspecified; "unknown_N" otherwise.
std::string AnswerModeName(v1::AnswerMode mode);
// "open", "resolved"; "" for unspecified; "unknown_N" otherwise.
std::string EscalationStatusName(v1::EscalationStatus status);

// Unix milliseconds as RFC 3339 UTC with milliseconds ("2026-11-22T08:10:26.123Z");
// "" for 0 (unset).
std::string FormatUnixMs(int64_t ms);

// A time given on the command line: a whole number of Unix milliseconds, or
// RFC 3339 ("2026-11-22T08:00:00Z", offsets and fractions allowed).
// InvalidArgument naming `flag` otherwise.
absl::StatusOr<int64_t> ParseTimeFlag(absl::string_view text, absl::string_view flag);

// "KEY=JSON" (split at the first '='): the value stays JSON text for the
// server to check, except that a bare word that is not JSON (billing) is taken
// as the string "billing". InvalidArgument for a missing '=' or empty key.
absl::StatusOr<v1::MetadataFilter> ParseFilterFlag(absl::string_view text);

// {rank, document_id, chunk_id, title, source, text, score} plus dense_score
// and lexical_score when present.
nlohmann::json PassageToJson(const v1::Passage& p);

// The `ask --json` object: answer, confidence, escalated, escalation_reason,
// escalation_id, request_id, citations (the passages whose rank is in
// cited_ranks, in cited order, as {index, document_id, title, source, text,
// score}; a cited rank with no passage is left out), cited_ranks,
// timings_ms {embed, retrieve, queue, prefill, decode, total},
// confidence_components [{name, value, contribution}], passages (all, as
// PassageToJson), tokens {prompt, answer}, answer_mode, encoder and decoder
// {name, file_hash}.
nlohmann::json AskResponseToJson(const v1::AskResponse& r);

// {id, request_id, status, reason, question, draft_answer, confidence,
// confidence_components, passages, collection, created_at, created_at_ms,
// updated_at, updated_at_ms, resolution_note, resolved_by}; times as
// FormatUnixMs.
nlohmann::json EscalationToJson(const v1::Escalation& e);

// Prints `j` as one line on stdout (invalid UTF-8 from the server replaced,
// never thrown) and flushes. Internal error when stdout cannot be written.
absl::Status PrintJsonLine(const nlohmann::json& j);

}  // namespace tinyrag::cli
