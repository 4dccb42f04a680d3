// `tinyrag ask [--server ADDR] [--api-key KEY] [--collection C] [--stream] [--json] QUESTION`
// (see ../shared/docs/cli.md): one question to a running server's Ask (or,
// with --stream, AskStream) RPC. Without --json it prints the answer, the
// passages it cites, the confidence and, when the question was escalated to
// the support desk, why and under which id. With --json, one object (see
// AskResponseToJson in grpc_client.h).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/cli/command.h"
#include "service/cli/grpc_client.h"
#include "tinyrag/v1/rag.grpc.pb.h"

namespace tinyrag::cli {
namespace {

// Generation on a CPU takes a while; the server's own deadline is usually shorter.
constexpr double kDefaultAskTimeoutSeconds = 300;

ConnectionOptions DefaultConnection() {
  ConnectionOptions c;
  c.timeout_seconds = kDefaultAskTimeoutSeconds;
  return c;
}

struct AskArgs {
  ConnectionOptions connection = DefaultConnection();
  std::string question;
  std::string collection;
  int top_k = 0;
  int max_tokens = 0;
  float temperature = 0;
  float threshold = 0;
  std::string mode;
  std::string request_id;
  std::vector<std::string> filters;
  bool stream = false;
  bool json = false;
  // Set after parsing: whether the optional fields were given.
  bool has_top_k = false;
  bool has_max_tokens = false;
  bool has_temperature = false;
  bool has_threshold = false;
};

// The request, or InvalidArgument for a bad --filter.
absl::StatusOr<v1::AskRequest> BuildRequest(const AskArgs& args) {
  v1::AskRequest req;
  req.set_question(args.question);
  req.set_collection(args.collection);
  if (args.has_top_k) req.set_top_k(args.top_k);
  if (args.has_max_tokens) req.set_max_tokens(args.max_tokens);
  if (args.has_temperature) req.set_temperature(args.temperature);
  if (args.has_threshold) req.set_confidence_threshold(args.threshold);
  req.set_request_id(args.request_id);
  if (args.mode == "generative") req.set_answer_mode(v1::ANSWER_MODE_GENERATIVE);
  if (args.mode == "extractive") req.set_answer_mode(v1::ANSWER_MODE_EXTRACTIVE);
  for (const std::string& f : args.filters) {
    auto filter = ParseFilterFlag(f);
    if (!filter.ok()) return filter.status();
    *req.add_filters() = *std::move(filter);
  }
  return req;
}

// Everything after the answer text: the cited passages, the confidence and
// the escalation, if any.
void PrintDetails(const v1::AskResponse& r) {
  bool any = false;
  for (int rank : r.cited_ranks()) {
    for (const v1::Passage& p : r.passages()) {
      if (p.rank() != rank) continue;
      if (!any) std::printf("\n");
      any = true;
      std::printf("[%d] %s — %s\n", rank, p.title().c_str(), p.source().c_str());
      break;
    }
  }
  std::printf("\nconfidence: %.2f\n", r.confidence());
  if (r.extractive_fallback()) std::printf("answered extractively: the generator was busy\n");
  if (r.escalated()) {
    std::printf("escalated: %s (%s)\n", EscalationReasonName(r.escalation_reason()).c_str(),
                r.escalation_id().c_str());
  }
}

absl::StatusOr<v1::AskResponse> AskUnary(const ServerConnection& conn, const v1::AskRequest& req) {
  auto stub = v1::RagService::NewStub(conn.channel());
  grpc::ClientContext context;
  conn.Prepare(context);
  v1::AskResponse response;
  grpc::Status status = stub->Ask(&context, req, &response);
  if (!status.ok()) return conn.Error(status, "Ask");
  return response;
}

// Prints the deltas as they arrive (unless `quiet`) and returns the final
// message. `printed` tells whether any answer text reached stdout.
absl::StatusOr<v1::AskResponse> AskStreaming(const ServerConnection& conn, const v1::AskRequest& req, bool quiet,
                                             bool& printed) {
  auto stub = v1::RagService::NewStub(conn.channel());
  grpc::ClientContext context;
  conn.Prepare(context);
  std::unique_ptr<grpc::ClientReader<v1::AskStreamResponse>> reader = stub->AskStream(&context, req);
  v1::AskStreamResponse msg;
  v1::AskResponse final_response;
  bool has_final = false;
  while (reader->Read(&msg)) {
    if (msg.has_final()) {
      final_response = std::move(*msg.mutable_final());
      has_final = true;
    } else if (!quiet && !msg.delta().empty()) {
      std::fwrite(msg.delta().data(), 1, msg.delta().size(), stdout);
      std::fflush(stdout);
      printed = true;
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return conn.Error(status, "AskStream");
  if (!has_final) return absl::InternalError("AskStream: the server ended the stream without the final answer");
  return final_response;
}

int RunAsk(const AskArgs& args) {
  auto req = BuildRequest(args);
  if (!req.ok()) {
    ReportError(req.status());
    return 2;
  }
  auto conn = ServerConnection::Create(args.connection);
  if (!conn.ok()) return ReportError(conn.status());

  bool printed = false;
  auto response = args.stream ? AskStreaming(**conn, *req, args.json, printed) : AskUnary(**conn, *req);
  if (!response.ok()) {
    if (printed) std::printf("\n");  // end the partial answer before the error
    std::fflush(stdout);
    return ReportError(response.status());
  }
  if (args.json) {
    if (absl::Status s = PrintJsonLine(AskResponseToJson(*response)); !s.ok()) return ReportError(s);
    return 0;
  }
  // Streamed text is already out; the final message's answer is the same text.
  if (!printed) std::fputs(response->answer().c_str(), stdout);
  std::printf("\n");
  PrintDetails(*response);
  if (std::fflush(stdout) != 0) return ReportError(absl::InternalError("ask: cannot write to stdout"));
  return 0;
}

}  // namespace

void AddAskCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<AskArgs>();
  CLI::App* cmd = app.add_subcommand(
      "ask",
      "Ask a running server (`tinyrag serve`) a question: prints the answer, the passages it cites, the "
      "confidence and, when the question was escalated to the support desk, the reason and escalation id");
  cmd->add_option("question", args->question, "The question")->required();
  AddConnectionOptions(*cmd, args->connection);
  cmd->add_option("--collection", args->collection, "Collection to search (default: the server's default)");
  CLI::Option* top_k = cmd->add_option("-k,--top-k", args->top_k, "Passages given to the model (default: the server's)")
      ->check(CLI::Range(1, 1000000));
  CLI::Option* max_tokens = cmd->add_option("--max-tokens", args->max_tokens, "Longest answer in tokens (default: the server's)")
      ->check(CLI::Range(1, 1000000));
  CLI::Option* temperature =
      cmd->add_option("--temperature", args->temperature, "Sampling temperature; 0 is greedy (default: the server's)")
          ->check(CLI::NonNegativeNumber);
  CLI::Option* threshold = cmd->add_option(
      "--threshold", args->threshold,
      "Confidence in [0,1] below which the question is escalated (default: the server's)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--mode", args->mode, "Answer mode (default: the server's)")
      ->check(CLI::IsMember({"generative", "extractive"}));
  cmd->add_option("--request-id", args->request_id,
                  "Idempotency key: a question is escalated at most once per request id (default: the server "
                  "assigns one)");
  cmd->add_option("--filter", args->filters,
                  "KEY=VALUE: only documents whose metadata KEY equals VALUE (JSON: 3, true, \"x\"; a bare word is "
                  "a string); repeat for more, all must match");
  cmd->add_flag("--stream", args->stream, "Print the answer as it is generated (AskStream)");
  cmd->add_flag("--json", args->json, "Print the response as one JSON object");
  cmd->callback([args, top_k, max_tokens, temperature, threshold, &exit_code] {
    args->has_top_k = top_k->count() > 0;
    args->has_max_tokens = max_tokens->count() > 0;
    args->has_temperature = temperature->count() > 0;
    args->has_threshold = threshold->count() > 0;
    exit_code = RunAsk(*args);
  });
}

}  // namespace tinyrag::cli
