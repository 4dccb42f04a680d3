// `tinyrag escalations list|show|resolve ... [--server ADDR] [--json]` (see
// ../shared/docs/cli.md): the support desk's view of the questions a running
// server escalated, through its EscalationService (admin scope).
//   list [--status open|resolved|all] [--since T] [--until T] [--limit N] [--page-token P]
//   show ID
//   resolve ID [--note TEXT]
// Times are RFC 3339 or Unix milliseconds. Without --json, list prints a
// table (and the token of the next page when there is one), show and resolve
// the escalation's fields.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "service/cli/command.h"
#include "service/cli/grpc_client.h"
#include "tinyrag/v1/escalation.grpc.pb.h"

namespace tinyrag::cli {
namespace {

constexpr double kDefaultEscalationsTimeoutSeconds = 30;

ConnectionOptions DefaultConnection() {
  ConnectionOptions c;
  c.timeout_seconds = kDefaultEscalationsTimeoutSeconds;
  return c;
}

struct EscalationsArgs {
  ConnectionOptions connection = DefaultConnection();
  bool json = false;
  // list
  std::string status = "all";
  std::string since;
  std::string until;
  int limit = 50;
  std::string page_token;
  // show, resolve
  std::string id;
  std::string note;
};

// At most `max_chars` UTF-8 characters of `text` on one line, with "…" when cut.
std::string OneLine(const std::string& text, size_t max_chars) {
  std::string out;
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool starts_char = (c & 0xC0) != 0x80;
    if (starts_char && ++chars > max_chars) {
      out += "…";
      break;
    }
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : text[i];
  }
  return out;
}

void PrintEscalation(const v1::Escalation& e) {
  std::printf("id:          %s\n", e.id().c_str());
  std::printf("status:      %s\n", EscalationStatusName(e.status()).c_str());
  std::printf("reason:      %s\n", EscalationReasonName(e.reason()).c_str());
  std::printf("confidence:  %.3f\n", e.confidence());
  std::printf("collection:  %s\n", e.collection().c_str());
  std::printf("request id:  %s\n", e.request_id().c_str());
  std::printf("created:     %s\n", FormatUnixMs(e.created_at_ms()).c_str());
  std::printf("updated:     %s\n", FormatUnixMs(e.updated_at_ms()).c_str());
  if (e.status() == v1::ESCALATION_STATUS_RESOLVED) {
    std::printf("resolved by: %s\n", e.resolved_by().c_str());
    std::printf("note:        %s\n", e.resolution_note().c_str());
  }
  std::printf("\nquestion:\n%s\n\ndraft answer:\n%s\n", e.question().c_str(), e.draft_answer().c_str());
  if (e.confidence_components_size() > 0) {
    std::printf("\nconfidence components:\n");
    for (const v1::ConfidenceComponent& c : e.confidence_components()) {
      std::printf("  %-28s value %9.4f  contribution %+8.4f\n", c.name().c_str(), c.value(), c.contribution());
    }
  }
  if (e.passages_size() > 0) {
    std::printf("\npassages:\n");
    for (const v1::Passage& p : e.passages()) {
      std::printf("  [%d] %s — %s (score %.4f)\n", p.rank(), p.title().c_str(), p.source().c_str(), p.score());
    }
  }
}

absl::StatusOr<v1::ListEscalationsRequest> BuildListRequest(const EscalationsArgs& args) {
  v1::ListEscalationsRequest req;
  if (args.status == "open") req.set_status(v1::ESCALATION_STATUS_OPEN);
  if (args.status == "resolved") req.set_status(v1::ESCALATION_STATUS_RESOLVED);
  if (!args.since.empty()) {
    auto ms = ParseTimeFlag(args.since, "--since");
    if (!ms.ok()) return ms.status();
    req.set_created_after_ms(*ms);
  }
  if (!args.until.empty()) {
    auto ms = ParseTimeFlag(args.until, "--until");
    if (!ms.ok()) return ms.status();
    req.set_created_before_ms(*ms);
  }
  req.set_page_size(args.limit);
  req.set_page_token(args.page_token);
  return req;
}

int RunList(const EscalationsArgs& args) {
  auto req = BuildListRequest(args);
  if (!req.ok()) {
    ReportError(req.status());
    return 2;
  }
  auto conn = ServerConnection::Create(args.connection);
  if (!conn.ok()) return ReportError(conn.status());
  auto stub = v1::EscalationService::NewStub((*conn)->channel());
  grpc::ClientContext context;
  (*conn)->Prepare(context);
  v1::ListEscalationsResponse response;
  if (grpc::Status s = stub->ListEscalations(&context, *req, &response); !s.ok()) {
    return ReportError((*conn)->Error(s, "ListEscalations"));
  }
  if (args.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const v1::Escalation& e : response.escalations()) list.push_back(EscalationToJson(e));
    nlohmann::json out = {{"escalations", std::move(list)}, {"next_page_token", response.next_page_token()}};
    if (absl::Status s = PrintJsonLine(out); !s.ok()) return ReportError(s);
    return 0;
  }
  if (response.escalations_size() == 0) {
    std::printf("no escalations\n");
  } else {
    std::printf("%-34s %-9s %-18s %6s  %-24s %-12s %s\n", "ID", "STATUS", "REASON", "CONF", "CREATED", "COLLECTION",
                "QUESTION");
    for (const v1::Escalation& e : response.escalations()) {
      std::printf("%-34s %-9s %-18s %6.3f  %-24s %-12s %s\n", e.id().c_str(), EscalationStatusName(e.status()).c_str(),
                  EscalationReasonName(e.reason()).c_str(), e.confidence(), FormatUnixMs(e.created_at_ms()).c_str(),
                  e.collection().c_str(), OneLine(e.question(), 60).c_str());
    }
  }
  if (!response.next_page_token().empty()) {
    std::printf("more: --page-token %s\n", response.next_page_token().c_str());
  }
  if (std::fflush(stdout) != 0) return ReportError(absl::InternalError("escalations: cannot write to stdout"));
  return 0;
}

// show (resolve = false) or resolve.
int RunOne(const EscalationsArgs& args, bool resolve) {
  auto conn = ServerConnection::Create(args.connection);
  if (!conn.ok()) return ReportError(conn.status());
  auto stub = v1::EscalationService::NewStub((*conn)->channel());
  grpc::ClientContext context;
  (*conn)->Prepare(context);
  v1::Escalation escalation;
  grpc::Status status;
  if (resolve) {
    v1::ResolveEscalationRequest req;
    req.set_id(args.id);
    req.set_note(args.note);
    status = stub->ResolveEscalation(&context, req, &escalation);
  } else {
    v1::GetEscalationRequest req;
    req.set_id(args.id);
    status = stub->GetEscalation(&context, req, &escalation);
  }
  if (!status.ok()) return ReportError((*conn)->Error(status, resolve ? "ResolveEscalation" : "GetEscalation"));
  if (args.json) {
    if (absl::Status s = PrintJsonLine(EscalationToJson(escalation)); !s.ok()) return ReportError(s);
    return 0;
  }
  PrintEscalation(escalation);
  if (std::fflush(stdout) != 0) return ReportError(absl::InternalError("escalations: cannot write to stdout"));
  return 0;
}

}  // namespace

void AddEscalationsCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<EscalationsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "escalations", "The questions a running server escalated to the support desk: list, show, resolve (admin "
                     "scope)");
  cmd->require_subcommand(1);

  CLI::App* list = cmd->add_subcommand("list", "Escalations, newest first, one page at a time");
  list->add_option("--status", args->status, "Which escalations")
      ->check(CLI::IsMember({"open", "resolved", "all"}))
      ->capture_default_str();
  list->add_option("--since", args->since, "Created at or after this time (RFC 3339 or Unix milliseconds)");
  list->add_option("--until", args->until, "Created before this time (RFC 3339 or Unix milliseconds)");
  list->add_option("--limit", args->limit, "Escalations per page (the server allows at most 500)")
      ->check(CLI::Range(1, 500))
      ->capture_default_str();
  list->add_option("--page-token", args->page_token, "Continue after a previous page (its next_page_token)");
  list->add_flag("--json", args->json, "Print {\"escalations\": [...], \"next_page_token\": ...}");
  AddConnectionOptions(*list, args->connection);
  list->callback([args, &exit_code] { exit_code = RunList(*args); });

  CLI::App* show = cmd->add_subcommand("show", "One escalation with its question, draft answer and passages");
  show->add_option("id", args->id, "Escalation id")->required();
  show->add_flag("--json", args->json, "Print the escalation as one JSON object");
  AddConnectionOptions(*show, args->connection);
  show->callback([args, &exit_code] { exit_code = RunOne(*args, /*resolve=*/false); });

  CLI::App* resolve = cmd->add_subcommand("resolve", "Mark an open escalation resolved");
  resolve->add_option("id", args->id, "Escalation id")->required();
  resolve->add_option("--note", args->note, "What was done (kept with the escalation)");
  resolve->add_flag("--json", args->json, "Print the resolved escalation as one JSON object");
  AddConnectionOptions(*resolve, args->connection);
  resolve->callback([args, &exit_code] { exit_code = RunOne(*args, /*resolve=*/true); });
}

}  // namespace tinyrag::cli
