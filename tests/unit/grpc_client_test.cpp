// The client side of the gRPC service: pure conversions (responses to the
// CLI's JSON, gRPC statuses to messages, flag parsing), and the `ask` and
// `escalations` commands driven through CLI11 against an in-process fake
// RagService / EscalationService on a loopback port.
#include "service/cli/grpc_client.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "service/cli/command.h"
#include "tinyrag/v1/escalation.grpc.pb.h"
#include "tinyrag/v1/rag.grpc.pb.h"

// The program's error reporter lives in main.cpp, which this test does not
// link; the commands under test call it.
namespace tinyrag::cli {
int ReportError(const absl::Status& status) {
  std::fprintf(stderr, "tinyrag: %s\n", std::string(status.message()).c_str());
  return 1;
}
}  // namespace tinyrag::cli

namespace tinyrag::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::Passage MakePassage(int rank, int64_t doc, const std::string& title) {
  v1::Passage p;
  p.set_rank(rank);
  p.set_document_id(doc);
  p.set_chunk_id(doc * 10);
  p.set_title(title);
  p.set_source("/docs/" + title + ".md");
  p.set_text("text of " + title);
  p.set_score(1.0 / rank);
  return p;
}

v1::AskResponse MakeResponse() {
  v1::AskResponse r;
  r.set_answer("Reset it from the settings page [2], then log in [1].");
  *r.add_passages() = MakePassage(1, 11, "login");
  *r.add_passages() = MakePassage(2, 22, "reset");
  *r.add_passages() = MakePassage(3, 33, "billing");
  r.mutable_passages(1)->set_dense_score(0.8);
  r.add_cited_ranks(2);
  r.add_cited_ranks(1);
  r.add_cited_ranks(7);  // no such passage: left out of the citations
  r.set_confidence(0.25);
  auto* c = r.add_confidence_components();
  c->set_name("mean_logprob");
  c->set_value(-1.5);
  c->set_contribution(-0.75);
  r.set_escalated(true);
  r.set_escalation_reason(v1::ESCALATION_REASON_LOW_CONFIDENCE);
  r.set_escalation_id("esc-1");
  r.set_request_id("req-1");
  r.mutable_timings()->set_embed_ms(1);
  r.mutable_timings()->set_retrieve_ms(2);
  r.mutable_timings()->set_queue_ms(3);
  r.mutable_timings()->set_prefill_ms(4);
  r.mutable_timings()->set_decode_ms(5);
  r.mutable_timings()->set_total_ms(15);
  r.mutable_tokens()->set_prompt_tokens(120);
  r.mutable_tokens()->set_answer_tokens(14);
  r.set_answer_mode(v1::ANSWER_MODE_GENERATIVE);
  r.mutable_encoder()->set_name("minilm");
  r.mutable_decoder()->set_name("qwen");
  r.mutable_decoder()->set_file_hash("abc");
  return r;
}

TEST(AskResponseToJson, CitationsFollowCitedOrderAndSkipUnknownRanks) {
  const nlohmann::json j = AskResponseToJson(MakeResponse());
  ASSERT_EQ(j["citations"].size(), 2u);
  EXPECT_EQ(j["citations"][0]["index"], 2);
  EXPECT_EQ(j["citations"][0]["document_id"], 22);
  EXPECT_EQ(j["citations"][0]["title"], "reset");
  EXPECT_EQ(j["citations"][0]["source"], "/docs/reset.md");
  EXPECT_EQ(j["citations"][0]["text"], "text of reset");
  EXPECT_DOUBLE_EQ(j["citations"][0]["score"].get<double>(), 0.5);
  EXPECT_EQ(j["citations"][1]["index"], 1);
  EXPECT_EQ(j["cited_ranks"], nlohmann::json({2, 1, 7}));
  EXPECT_EQ(j["passages"].size(), 3u);
  EXPECT_DOUBLE_EQ(j["passages"][1]["dense_score"].get<double>(), 0.8);
  EXPECT_FALSE(j["passages"][0].contains("dense_score"));
  EXPECT_FALSE(j["passages"][0].contains("lexical_score"));
}

TEST(AskResponseToJson, HasTheContractFields) {
  const nlohmann::json j = AskResponseToJson(MakeResponse());
  EXPECT_EQ(j["answer"], "Reset it from the settings page [2], then log in [1].");
  EXPECT_DOUBLE_EQ(j["confidence"].get<double>(), 0.25);
  EXPECT_EQ(j["escalated"], true);
  EXPECT_EQ(j["escalation_reason"], "low_confidence");
  EXPECT_EQ(j["escalation_id"], "esc-1");
  EXPECT_EQ(j["request_id"], "req-1");
  EXPECT_EQ(j["timings_ms"],
            nlohmann::json({{"embed", 1.0}, {"retrieve", 2.0}, {"queue", 3.0}, {"prefill", 4.0}, {"decode", 5.0},
                            {"total", 15.0}}));
  EXPECT_EQ(j["tokens"], nlohmann::json({{"prompt", 120}, {"answer", 14}}));
  EXPECT_EQ(j["confidence_components"][0]["name"], "mean_logprob");
  EXPECT_DOUBLE_EQ(j["confidence_components"][0]["contribution"].get<double>(), -0.75);
  EXPECT_EQ(j["answer_mode"], "generative");
  EXPECT_EQ(j["encoder"]["name"], "minilm");
  EXPECT_EQ(j["decoder"]["file_hash"], "abc");
}

TEST(AskResponseToJson, NotEscalatedHasEmptyReason) {
  v1::AskResponse r;
  r.set_answer("fine");
  const nlohmann::json j = AskResponseToJson(r);
  EXPECT_EQ(j["escalated"], false);
  EXPECT_EQ(j["escalation_reason"], "");
  EXPECT_TRUE(j["citations"].is_array());
  EXPECT_TRUE(j["citations"].empty());
}

TEST(Names, EnumsHaveStableLowerCaseNames) {
  EXPECT_EQ(EscalationReasonName(v1::ESCALATION_REASON_I_DONT_KNOW), "i_dont_know");
  EXPECT_EQ(EscalationReasonName(v1::ESCALATION_REASON_GENERATION_FAILED), "generation_failed");
  EXPECT_EQ(EscalationReasonName(v1::ESCALATION_REASON_TIMED_OUT), "timed_out");
  EXPECT_EQ(EscalationReasonName(static_cast<v1::EscalationReason>(42)), "unknown_42");
  EXPECT_EQ(AnswerModeName(v1::ANSWER_MODE_EXTRACTIVE), "extractive");
  EXPECT_EQ(AnswerModeName(v1::ANSWER_MODE_UNSPECIFIED), "");
  EXPECT_EQ(EscalationStatusName(v1::ESCALATION_STATUS_OPEN), "open");
  EXPECT_EQ(EscalationStatusName(v1::ESCALATION_STATUS_RESOLVED), "resolved");
}

TEST(EscalationToJson, StatusReasonAndTimes) {
  v1::Escalation e;
  e.set_id("e1");
  e.set_status(v1::ESCALATION_STATUS_RESOLVED);
  e.set_reason(v1::ESCALATION_REASON_I_DONT_KNOW);
  e.set_created_at_ms(1700000000123);
  e.set_resolution_note("answered by phone");
  *e.add_passages() = MakePassage(1, 5, "faq");
  const nlohmann::json j = EscalationToJson(e);
  EXPECT_EQ(j["id"], "e1");
  EXPECT_EQ(j["status"], "resolved");
  EXPECT_EQ(j["reason"], "i_dont_know");
  EXPECT_EQ(j["created_at"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j["created_at_ms"], 1700000000123);
  EXPECT_EQ(j["updated_at"], "");
  EXPECT_EQ(j["resolution_note"], "answered by phone");
  EXPECT_EQ(j["passages"][0]["document_id"], 5);
}

TEST(StatusFromGrpc, UnavailableNamesTheAddressAndTheServeCommand) {
  const absl::Status s =
      StatusFromGrpc(grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect"), "Ask", "10.0.0.1:9", 30);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("cannot reach the server at 10.0.0.1:9 (is `tinyrag serve` running?)"));
}

TEST(StatusFromGrpc, EachCodeSaysWhatToDo) {
  auto msg = [](grpc::StatusCode code, const std::string& text, double timeout) {
    return std::string(StatusFromGrpc(grpc::Status(code, text), "Ask", "h:1", timeout).message());
  };
  EXPECT_THAT(msg(grpc::StatusCode::UNAUTHENTICATED, "no key", 0), HasSubstr("--api-key"));
  EXPECT_THAT(msg(grpc::StatusCode::UNAUTHENTICATED, "no key", 0), HasSubstr("TINYRAG_API_KEY"));
  EXPECT_THAT(msg(grpc::StatusCode::DEADLINE_EXCEEDED, "", 2.5), HasSubstr("no response within 2.5 s"));
  EXPECT_THAT(msg(grpc::StatusCode::DEADLINE_EXCEEDED, "", 2.5), HasSubstr("--timeout"));
  EXPECT_THAT(msg(grpc::StatusCode::RESOURCE_EXHAUSTED, "queue full", 0), HasSubstr("busy"));
  EXPECT_THAT(msg(grpc::StatusCode::PERMISSION_DENIED, "collection hr", 0), HasSubstr("collection hr"));
  EXPECT_EQ(msg(grpc::StatusCode::INVALID_ARGUMENT, "top_k must be in [1, 50]", 0), "top_k must be in [1, 50]");
  EXPECT_THAT(msg(grpc::StatusCode::INTERNAL, "boom", 0), HasSubstr("boom"));
  EXPECT_EQ(StatusFromGrpc(grpc::Status(grpc::StatusCode::NOT_FOUND, "x"), "Ask", "h:1", 0).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(StatusFromGrpc(grpc::Status::OK, "Ask", "h:1", 0).ok());
}

TEST(ParseTimeFlag, UnixMillisecondsAndRfc3339) {
  EXPECT_EQ(*ParseTimeFlag("1700000000123", "--since"), 1700000000123);
  EXPECT_EQ(*ParseTimeFlag("2023-11-14T22:13:20Z", "--since"), 1700000000000);
  EXPECT_EQ(*ParseTimeFlag("2023-11-14T23:13:20.5+01:00", "--since"), 1700000000500);
  const auto bad = ParseTimeFlag("yesterday", "--until");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("--until"));
}

TEST(ParseFilterFlag, JsonValuesKeptBareWordsQuoted) {
  EXPECT_EQ(ParseFilterFlag("team=billing")->value_json(), "\"billing\"");
  EXPECT_EQ(ParseFilterFlag("n=3")->value_json(), "3");
  EXPECT_EQ(ParseFilterFlag("ok=true")->value_json(), "true");
  EXPECT_EQ(ParseFilterFlag("s=\"a=b\"")->value_json(), "\"a=b\"");
  EXPECT_EQ(ParseFilterFlag("eq=a=b")->key(), "eq");
  EXPECT_EQ(ParseFilterFlag("eq=a=b")->value_json(), "\"a=b\"");
  EXPECT_FALSE(ParseFilterFlag("novalue").ok());
  EXPECT_FALSE(ParseFilterFlag("=3").ok());
}

TEST(Resolve, FlagThenEnvironmentThenDefault) {
  unsetenv("TINYRAG_SERVER");
  unsetenv("TINYRAG_API_KEY");
  EXPECT_EQ(ResolveServerAddress(""), "127.0.0.1:50051");
  EXPECT_EQ(ResolveApiKey(""), "");
  setenv("TINYRAG_SERVER", "example:1", 1);
  setenv("TINYRAG_API_KEY", "envkey", 1);
  EXPECT_EQ(ResolveServerAddress(""), "example:1");
  EXPECT_EQ(ResolveServerAddress("flag:2"), "flag:2");
  EXPECT_EQ(ResolveApiKey(""), "envkey");
  EXPECT_EQ(ResolveApiKey("flagkey"), "flagkey");
  unsetenv("TINYRAG_SERVER");
  unsetenv("TINYRAG_API_KEY");
}

TEST(ServerConnection, RejectsBadKeysAndTlsFiles) {
  ConnectionOptions bad_key;
  bad_key.server = "h:1";
  bad_key.api_key = "bad\nkey";
  EXPECT_EQ(ServerConnection::Create(bad_key).status().code(), absl::StatusCode::kInvalidArgument);
  ConnectionOptions bad_ca;
  bad_ca.server = "h:1";
  bad_ca.tls_ca = "/nonexistent/ca.pem";
  EXPECT_EQ(ServerConnection::Create(bad_ca).status().code(), absl::StatusCode::kInvalidArgument);
  ConnectionOptions plain;
  plain.server = "h:1";
  plain.api_key = "good-key";
  EXPECT_TRUE(ServerConnection::Create(plain).ok());
}

// A RagService and EscalationService that record what they receive and
// answer from canned messages.
class FakeService final : public v1::RagService::Service, public v1::EscalationService::Service {
 public:
  grpc::Status Ask(grpc::ServerContext* context, const v1::AskRequest* request, v1::AskResponse* response) override {
    Record(context, *request);
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    *response = MakeResponse();
    return grpc::Status::OK;
  }

  grpc::Status AskStream(grpc::ServerContext* context, const v1::AskRequest* request,
                         grpc::ServerWriter<v1::AskStreamResponse>* writer) override {
    Record(context, *request);
    for (const char* piece : {"Reset it ", "from the settings page [2], ", "then log in [1]."}) {
      v1::AskStreamResponse msg;
      msg.set_delta(piece);
      writer->Write(msg);
    }
    v1::AskStreamResponse last;
    *last.mutable_final() = MakeResponse();
    writer->Write(last);
    return grpc::Status::OK;
  }

  grpc::Status ListEscalations(grpc::ServerContext* context, const v1::ListEscalationsRequest* request,
                               v1::ListEscalationsResponse* response) override {
    {
      absl::MutexLock lock(&mu_);
      authorization_ = Authorization(context);
      list_request_ = *request;
    }
    v1::Escalation* e = response->add_escalations();
    e->set_id("esc-1");
    e->set_status(v1::ESCALATION_STATUS_OPEN);
    e->set_question("How do I reset my password?");
    response->set_next_page_token("page-2");
    return grpc::Status::OK;
  }

  grpc::Status ResolveEscalation(grpc::ServerContext* context, const v1::ResolveEscalationRequest* request,
                                 v1::Escalation* response) override {
    absl::MutexLock lock(&mu_);
    authorization_ = Authorization(context);
    if (request->id() != "esc-1") return grpc::Status(grpc::StatusCode::NOT_FOUND, "no escalation " + request->id());
    response->set_id(request->id());
    response->set_status(v1::ESCALATION_STATUS_RESOLVED);
    response->set_resolution_note(request->note());
    return grpc::Status::OK;
  }

  std::string authorization() {
    absl::MutexLock lock(&mu_);
    return authorization_;
  }
  v1::AskRequest ask_request() {
    absl::MutexLock lock(&mu_);
    return ask_request_;
  }
  v1::ListEscalationsRequest list_request() {
    absl::MutexLock lock(&mu_);
    return list_request_;
  }
  void set_delay_ms(int ms) { delay_ms_ = ms; }

 private:
  static std::string Authorization(grpc::ServerContext* context) {
    auto it = context->client_metadata().find("authorization");
    return it == context->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
  }
  void Record(grpc::ServerContext* context, const v1::AskRequest& request) {
    absl::MutexLock lock(&mu_);
    authorization_ = Authorization(context);
    ask_request_ = request;
  }

  absl::Mutex mu_;
  std::string authorization_ ABSL_GUARDED_BY(mu_);
  v1::AskRequest ask_request_ ABSL_GUARDED_BY(mu_);
  v1::ListEscalationsRequest list_request_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> delay_ms_{0};
};

class CommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("TINYRAG_SERVER");
    unsetenv("TINYRAG_API_KEY");
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(static_cast<v1::RagService::Service*>(&service_));
    builder.RegisterService(static_cast<v1::EscalationService::Service*>(&service_));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  // Runs `tinyrag ARGS...` (only the commands under test registered);
  // returns the exit status and fills `out` / `err` with what was printed.
  int Run(std::vector<std::string> args, std::string* out, std::string* err = nullptr) {
    CLI::App app{"tinyrag"};
    app.require_subcommand(1);
    int exit_code = 0;
    AddAskCommand(app, exit_code);
    AddEscalationsCommand(app, exit_code);
    std::vector<const char*> argv = {"tinyrag"};
    for (const std::string& a : args) argv.push_back(a.c_str());
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    try {
      app.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
    } catch (const CLI::ParseError& e) {
      exit_code = app.exit(e);
    }
    std::fflush(stdout);
    std::fflush(stderr);
    *out = testing::internal::GetCapturedStdout();
    std::string captured_err = testing::internal::GetCapturedStderr();
    if (err != nullptr) *err = captured_err;
    return exit_code;
  }

  FakeService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(CommandTest, AskJsonSendsKeyAndRequestFields) {
  std::string out;
  ASSERT_EQ(Run({"ask", "--server", address_, "--api-key", "k-123", "--collection", "support", "-k", "4",
                 "--max-tokens", "64", "--temperature", "0.5", "--threshold", "0.3", "--mode", "extractive",
                 "--request-id", "r-9", "--filter", "team=billing", "--filter", "tier=2", "--json",
                 "How do I reset my password?"},
                &out),
            0);
  EXPECT_EQ(service_.authorization(), "Bearer k-123");
  const v1::AskRequest req = service_.ask_request();
  EXPECT_EQ(req.question(), "How do I reset my password?");
  EXPECT_EQ(req.collection(), "support");
  ASSERT_TRUE(req.has_top_k());
  EXPECT_EQ(req.top_k(), 4);
  ASSERT_TRUE(req.has_max_tokens());
  EXPECT_EQ(req.max_tokens(), 64);
  ASSERT_TRUE(req.has_temperature());
  EXPECT_FLOAT_EQ(req.temperature(), 0.5f);
  ASSERT_TRUE(req.has_confidence_threshold());
  EXPECT_FLOAT_EQ(req.confidence_threshold(), 0.3f);
  EXPECT_EQ(req.answer_mode(), v1::ANSWER_MODE_EXTRACTIVE);
  EXPECT_EQ(req.request_id(), "r-9");
  ASSERT_EQ(req.filters_size(), 2);
  EXPECT_EQ(req.filters(0).key(), "team");
  EXPECT_EQ(req.filters(0).value_json(), "\"billing\"");
  EXPECT_EQ(req.filters(1).value_json(), "2");

  const nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["escalation_reason"], "low_confidence");
  EXPECT_EQ(j["citations"].size(), 2u);
}

TEST_F(CommandTest, AskUnsetOptionsStayUnsetAndKeyComesFromEnvironment) {
  setenv("TINYRAG_API_KEY", "from-env", 1);
  setenv("TINYRAG_SERVER", address_.c_str(), 1);
  std::string out;
  ASSERT_EQ(Run({"ask", "--json", "what?"}, &out), 0);
  unsetenv("TINYRAG_API_KEY");
  unsetenv("TINYRAG_SERVER");
  EXPECT_EQ(service_.authorization(), "Bearer from-env");
  const v1::AskRequest req = service_.ask_request();
  EXPECT_FALSE(req.has_temperature());
  EXPECT_FALSE(req.has_confidence_threshold());
  EXPECT_FALSE(req.has_top_k());
  EXPECT_FALSE(req.has_max_tokens());
  EXPECT_EQ(req.answer_mode(), v1::ANSWER_MODE_UNSPECIFIED);
}

TEST_F(CommandTest, AskWithoutKeySendsNoAuthorization) {
  std::string out;
  ASSERT_EQ(Run({"ask", "--server", address_, "q"}, &out), 0);
  EXPECT_EQ(service_.authorization(), "");
}

TEST_F(CommandTest, AskHumanOutputListsCitationsConfidenceAndEscalation) {
  std::string out;
  ASSERT_EQ(Run({"ask", "--server", address_, "q"}, &out), 0);
  EXPECT_EQ(out,
            "Reset it from the settings page [2], then log in [1].\n\n"
            "[2] reset — /docs/reset.md\n"
            "[1] login — /docs/login.md\n\n"
            "confidence: 0.25\n"
            "escalated: low_confidence (esc-1)\n");
}

TEST_F(CommandTest, AskStreamPrintsDeltasThenTheRest) {
  std::string out;
  ASSERT_EQ(Run({"ask", "--server", address_, "--stream", "q"}, &out), 0);
  EXPECT_EQ(out,
            "Reset it from the settings page [2], then log in [1].\n\n"
            "[2] reset — /docs/reset.md\n"
            "[1] login — /docs/login.md\n\n"
            "confidence: 0.25\n"
            "escalated: low_confidence (esc-1)\n");
  std::string json;
  ASSERT_EQ(Run({"ask", "--server", address_, "--stream", "--json", "q"}, &json), 0);
  EXPECT_EQ(nlohmann::json::parse(json)["answer"], "Reset it from the settings page [2], then log in [1].");
}

TEST_F(CommandTest, AskTimeoutIsADeadline) {
  service_.set_delay_ms(600);
  std::string out, err;
  EXPECT_EQ(Run({"ask", "--server", address_, "--timeout", "0.1", "q"}, &out, &err), 1);
  EXPECT_EQ(out, "");
  EXPECT_THAT(err, HasSubstr("tinyrag: Ask: no response within 0.1 s"));
}

TEST_F(CommandTest, AskBadFilterIsAUsageError) {
  std::string out, err;
  EXPECT_EQ(Run({"ask", "--server", address_, "--filter", "nokey", "q"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("--filter"));
}

TEST_F(CommandTest, UnreachableServerSaysSo) {
  // The fake server's port, just closed: nothing listens there.
  server_->Shutdown(std::chrono::system_clock::now());
  server_.reset();
  std::string out, err;
  EXPECT_EQ(Run({"ask", "--server", address_, "q"}, &out, &err), 1);
  EXPECT_EQ(out, "");
  EXPECT_THAT(err, HasSubstr("tinyrag: cannot reach the server at " + address_ + " (is `tinyrag serve` running?)"));
}

TEST_F(CommandTest, EscalationsListSendsFiltersAndPrintsJson) {
  std::string out;
  ASSERT_EQ(Run({"escalations", "list", "--server", address_, "--api-key", "admin", "--status", "open", "--since",
                 "2023-11-14T22:13:20Z", "--until", "1700000100000", "--limit", "7", "--page-token", "p1", "--json"},
                &out),
            0);
  EXPECT_EQ(service_.authorization(), "Bearer admin");
  const v1::ListEscalationsRequest req = service_.list_request();
  EXPECT_EQ(req.status(), v1::ESCALATION_STATUS_OPEN);
  EXPECT_EQ(req.created_after_ms(), 1700000000000);
  EXPECT_EQ(req.created_before_ms(), 1700000100000);
  EXPECT_EQ(req.page_size(), 7);
  EXPECT_EQ(req.page_token(), "p1");
  const nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["next_page_token"], "page-2");
  ASSERT_EQ(j["escalations"].size(), 1u);
  EXPECT_EQ(j["escalations"][0]["id"], "esc-1");
  EXPECT_EQ(j["escalations"][0]["status"], "open");
}

TEST_F(CommandTest, EscalationsListTable) {
  std::string out;
  ASSERT_EQ(Run({"escalations", "list", "--server", address_}, &out), 0);
  EXPECT_EQ(service_.list_request().status(), v1::ESCALATION_STATUS_UNSPECIFIED);
  EXPECT_THAT(out, HasSubstr("esc-1"));
  EXPECT_THAT(out, HasSubstr("How do I reset my password?"));
  EXPECT_THAT(out, HasSubstr("more: --page-token page-2"));
}

TEST_F(CommandTest, EscalationsResolveAndNotFound) {
  std::string out, err;
  ASSERT_EQ(Run({"escalations", "resolve", "--server", address_, "esc-1", "--note", "called back", "--json"}, &out),
            0);
  const nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["status"], "resolved");
  EXPECT_EQ(j["resolution_note"], "called back");
  EXPECT_EQ(Run({"escalations", "resolve", "--server", address_, "esc-404"}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("tinyrag: no escalation esc-404"));
}

}  // namespace
}  // namespace tinyrag::cli
