// The gRPC service end to end: a real server on a loopback port, called
// through the generated C++ client (issue 6's acceptance).
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <grpcpp/generic/generic_stub.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <httplib.h>

#include "service/escalation_store.h"
#include "service/log.h"
#include "service/metrics.h"
#include "service/server/observability.h"
#include "tests/integration/server_harness.h"

namespace tinyrag::testing {
namespace {

const std::vector<std::vector<std::string>> kDefaultDocs = {
    {"refunds", "Refund policy",
     "Refunds are issued within 14 days of purchase. Contact billing to request a refund for an annual plan."},
    {"vpn-error-809", "VPN error 809",
     "Error 809 means the firewall blocks the tunnel. Open UDP ports 500 and 4500 on the router and retry."},
    {"password", "Resetting a password",
     "To reset your password, open Settings, choose Security, then press Reset password. A link arrives by email."},
};
const std::vector<std::vector<std::string>> kSecretDocs = {
    {"salaries", "Salary bands", "The confidential zebracorn salary bands are reviewed every March."},
};

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_dir_ = new fs::path(fs::temp_directory_path() / ("tinyrag_server_test_" + std::to_string(::getpid())));
    fs::remove_all(*data_dir_);
    auto server = server::RagServer::Start(TestConfig(*data_dir_));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    client_ = new Client(server_->address());
    v1::IngestResponse r;
    ASSERT_TRUE(IngestDocs(*client_, kAdminKey, "", kDefaultDocs, &r).ok());
    ASSERT_TRUE(IngestDocs(*client_, kAdminKey, "secret", kSecretDocs, &r).ok());
  }
  static void TearDownTestSuite() {
    delete client_;
    delete server_;
    fs::remove_all(*data_dir_);
    delete data_dir_;
  }

  static v1::AskRequest Question(const std::string& q) {
    v1::AskRequest r;
    r.set_question(q);
    return r;
  }

  // Saved vector index files in the server's data dir.
  static int IndexFiles() {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(*data_dir_)) n += e.path().extension() == ".faiss";
    return n;
  }

  static fs::path* data_dir_;
  static server::RagServer* server_;
  static Client* client_;
};
fs::path* ServerTest::data_dir_ = nullptr;
server::RagServer* ServerTest::server_ = nullptr;
Client* ServerTest::client_ = nullptr;

TEST_F(ServerTest, IngestReportsEachDocumentAndIsIdempotent) {
  v1::IngestResponse r;
  ASSERT_TRUE(IngestDocs(*client_, kAdminKey, "default",
                         {kDefaultDocs[0], {"", "no id", "text"}, {"new-doc", "New", "Brand new text about printers."}},
                         &r)
                  .ok());
  ASSERT_EQ(r.results_size(), 3);
  EXPECT_EQ(r.results(0).status(), v1::DOCUMENT_STATUS_UNCHANGED);
  EXPECT_GT(r.results(0).document_id(), 0);
  EXPECT_EQ(r.results(1).status(), v1::DOCUMENT_STATUS_FAILED);
  EXPECT_NE(r.results(1).error().find("external_id"), std::string::npos) << r.results(1).error();
  EXPECT_EQ(r.results(2).status(), v1::DOCUMENT_STATUS_ADDED);
  EXPECT_GE(r.results(2).chunks(), 1);

  // Delete it again, by id; it no longer lists.
  v1::DeleteDocumentsRequest del;
  del.add_document_ids(r.results(2).document_id());
  v1::DeleteDocumentsResponse deleted;
  ASSERT_TRUE(client_->rag->DeleteDocuments(Context(kAdminKey).get(), del, &deleted).ok());
  EXPECT_EQ(deleted.deleted(), 1);
  v1::ListDocumentsRequest list;
  v1::ListDocumentsResponse docs;
  ASSERT_TRUE(client_->rag->ListDocuments(Context(kReaderKey).get(), list, &docs).ok());
  EXPECT_EQ(docs.documents_size(), static_cast<int>(kDefaultDocs.size()));
  for (const auto& d : docs.documents()) EXPECT_NE(d.external_id(), "new-doc");
}

TEST_F(ServerTest, RetrieveFindsThePassageLexically) {
  v1::RetrieveRequest r;
  r.set_question("What does error 809 mean?");
  r.set_mode(v1::RETRIEVAL_MODE_LEXICAL);
  r.set_top_k(2);
  v1::RetrieveResponse out;
  ASSERT_TRUE(client_->rag->Retrieve(Context(kReaderKey).get(), r, &out).ok());
  ASSERT_GE(out.passages_size(), 1);
  EXPECT_EQ(out.passages(0).rank(), 1);
  EXPECT_EQ(out.passages(0).title(), "VPN error 809");
  EXPECT_EQ(out.passages(0).source(), "test://vpn-error-809");
  EXPECT_TRUE(out.passages(0).has_lexical_score());
}

TEST_F(ServerTest, AskAnswersWithPassagesCitationsAndEscalation) {
  v1::AskRequest q = Question("How do I fix VPN error 809?");
  q.set_request_id("ask-1");
  q.set_top_k(3);
  v1::AskResponse a;
  grpc::Status s = client_->rag->Ask(Context(kReaderKey).get(), q, &a);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(a.request_id(), "ask-1");
  ASSERT_GE(a.passages_size(), 1);
  ASSERT_LE(a.passages_size(), 3);
  bool found = false;
  for (const auto& p : a.passages()) found |= p.title() == "VPN error 809";
  EXPECT_TRUE(found);
  for (int rank : a.cited_ranks()) {
    EXPECT_GE(rank, 1);
    EXPECT_LE(rank, a.passages_size());
  }
  EXPECT_GE(a.confidence(), 0.0);
  EXPECT_LE(a.confidence(), 1.0);
  EXPECT_EQ(a.confidence_components_size(), 9);
  EXPECT_GT(a.tokens().prompt_tokens(), 0);
  EXPECT_LE(a.tokens().answer_tokens(), 16);
  EXPECT_GT(a.timings().total_ms(), 0);
  EXPECT_FALSE(a.decoder().file_hash().empty());
  EXPECT_FALSE(a.encoder().file_hash().empty());
  if (!a.escalated()) GTEST_SKIP() << "the random model's answer was confident; escalation not exercised";

  // Escalated: stored once per request id, visible to the desk, resolvable once.
  EXPECT_NE(a.escalation_reason(), v1::ESCALATION_REASON_UNSPECIFIED);
  ASSERT_FALSE(a.escalation_id().empty());
  v1::AskResponse again;
  ASSERT_TRUE(client_->rag->Ask(Context(kReaderKey).get(), q, &again).ok());
  EXPECT_EQ(again.escalation_id(), a.escalation_id());

  v1::GetEscalationRequest get;
  get.set_id(a.escalation_id());
  v1::Escalation e;
  ASSERT_TRUE(client_->escalations->GetEscalation(Context(kAdminKey).get(), get, &e).ok());
  EXPECT_EQ(e.question(), q.question());
  EXPECT_EQ(e.request_id(), "ask-1");
  EXPECT_EQ(e.status(), v1::ESCALATION_STATUS_OPEN);
  EXPECT_EQ(e.passages_size(), a.passages_size());

  v1::ListEscalationsRequest list;
  list.set_status(v1::ESCALATION_STATUS_OPEN);
  v1::ListEscalationsResponse open;
  ASSERT_TRUE(client_->escalations->ListEscalations(Context(kAdminKey).get(), list, &open).ok());
  bool listed = false;
  for (const auto& x : open.escalations()) listed |= x.id() == a.escalation_id();
  EXPECT_TRUE(listed);

  v1::ResolveEscalationRequest resolve;
  resolve.set_id(a.escalation_id());
  resolve.set_note("answered by phone");
  v1::Escalation resolved;
  ASSERT_TRUE(client_->escalations->ResolveEscalation(Context(kAdminKey).get(), resolve, &resolved).ok());
  EXPECT_EQ(resolved.status(), v1::ESCALATION_STATUS_RESOLVED);
  EXPECT_EQ(resolved.resolved_by(), "admin");
  EXPECT_EQ(resolved.resolution_note(), "answered by phone");
  EXPECT_EQ(client_->escalations->ResolveEscalation(Context(kAdminKey).get(), resolve, &resolved).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(ServerTest, AskStreamDeltasAddUpToTheFinalAnswer) {
  auto ctx = Context(kReaderKey);
  auto reader = client_->rag->AskStream(ctx.get(), Question("How can I reset my password?"));
  v1::AskStreamResponse m;
  std::string streamed;
  int finals = 0;
  v1::AskResponse final;
  while (reader->Read(&m)) {
    if (m.has_final()) {
      ++finals;
      final = m.final();
    } else {
      EXPECT_EQ(finals, 0) << "a delta after the final message";
      streamed += m.delta();
    }
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(finals, 1);
  EXPECT_EQ(streamed, final.answer());
  EXPECT_GE(final.passages_size(), 1);
}

TEST_F(ServerTest, ExtractiveModeQuotesTheBestPassageSentence) {
  v1::AskRequest q = Question("Which ports must be opened for VPN error 809?");
  q.set_answer_mode(v1::ANSWER_MODE_EXTRACTIVE);
  v1::AskResponse a;
  ASSERT_TRUE(client_->rag->Ask(Context(kReaderKey).get(), q, &a).ok());
  EXPECT_EQ(a.answer_mode(), v1::ANSWER_MODE_EXTRACTIVE);
  EXPECT_NE(a.answer().find("UDP ports 500 and 4500"), std::string::npos) << a.answer();
  ASSERT_EQ(a.cited_ranks_size(), 1);
  EXPECT_EQ(a.passages(a.cited_ranks(0) - 1).title(), "VPN error 809");
  EXPECT_NE(a.answer().find("[" + std::to_string(a.cited_ranks(0)) + "]"), std::string::npos);
  EXPECT_TRUE(a.decoder().name().empty());
  EXPECT_EQ(a.tokens().answer_tokens(), 0);
}

TEST_F(ServerTest, AuthenticationAndCollectionsAreEnforced) {
  v1::AskResponse a;
  EXPECT_EQ(client_->rag->Ask(Context("").get(), Question("refund?"), &a).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(client_->rag->Ask(Context("tr_wrong").get(), Question("refund?"), &a).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // The reader may not see "secret": nothing of it comes back, whatever the call.
  v1::AskRequest q = Question("What about the zebracorn salary bands?");
  q.set_collection("secret");
  grpc::Status s = client_->rag->Ask(Context(kReaderKey).get(), q, &a);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message().find("zebracorn"), std::string::npos);
  EXPECT_EQ(a.passages_size(), 0);
  v1::RetrieveRequest r;
  r.set_question("zebracorn");
  r.set_collection("secret");
  v1::RetrieveResponse got;
  EXPECT_EQ(client_->rag->Retrieve(Context(kReaderKey).get(), r, &got).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(got.passages_size(), 0);
  v1::ListDocumentsRequest list;
  list.set_collection("secret");
  v1::ListDocumentsResponse docs;
  EXPECT_EQ(client_->rag->ListDocuments(Context(kReaderKey).get(), list, &docs).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // And its own collection never holds the other's documents.
  r.set_collection("");
  r.set_mode(v1::RETRIEVAL_MODE_LEXICAL);
  ASSERT_TRUE(client_->rag->Retrieve(Context(kReaderKey).get(), r, &got).ok());
  for (const auto& p : got.passages()) EXPECT_EQ(p.text().find("zebracorn"), std::string::npos);

  // Admin scope: ingest, delete and escalations.
  v1::IngestResponse ir;
  EXPECT_EQ(IngestDocs(*client_, kReaderKey, "", {{"x", "x", "x"}}, &ir).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::DeleteDocumentsRequest del;
  del.add_sources("test://refunds");
  v1::DeleteDocumentsResponse deleted;
  EXPECT_EQ(client_->rag->DeleteDocuments(Context(kReaderKey).get(), del, &deleted).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ListEscalationsResponse escalations;
  EXPECT_EQ(client_->escalations->ListEscalations(Context(kReaderKey).get(), {}, &escalations).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ServerTest, BadInputsAreInvalidArgumentAndTheServerKeepsServing) {
  std::vector<std::pair<std::string, v1::AskRequest>> bad;
  bad.push_back({"empty question", Question("")});
  bad.push_back({"1 MB question", Question(std::string(1 << 20, 'a'))});
  v1::AskRequest q = Question("refund?");
  q.set_top_k(0);
  bad.push_back({"top_k 0", q});
  q.set_top_k(100000);
  bad.push_back({"top_k 100000", q});
  q = Question("refund?");
  q.set_collection("no-such-collection");
  bad.push_back({"unknown collection", q});
  q = Question("refund?");
  q.add_filters()->set_key("category");  // value_json "" is not JSON
  bad.push_back({"bad filter", q});
  q = Question("refund?");
  q.set_max_tokens(-3);
  bad.push_back({"negative max_tokens", q});
  for (const auto& [what, request] : bad) {
    v1::AskResponse a;
    grpc::Status s = client_->rag->Ask(Context(kAdminKey).get(), request, &a);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << what << ": " << s.error_message();
    EXPECT_FALSE(s.error_message().empty()) << what;
  }
  v1::AskResponse a;
  EXPECT_TRUE(client_->rag->Ask(Context(kAdminKey).get(), Question("refund?"), &a).ok());
}

TEST_F(ServerTest, InvalidUtf8QuestionIsInvalidArgument) {
  // The question travels as proto3 `string`; a client library that sends
  // invalid UTF-8 anyway must get a clear error, not a crash.
  v1::AskRequest q = Question(std::string("refund \xff\xfe policy"));
  v1::AskResponse a;
  grpc::Status s = client_->rag->Ask(Context(kAdminKey).get(), q, &a);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_TRUE(client_->rag->Ask(Context(kAdminKey).get(), Question("refund?"), &a).ok());
  EXPECT_NE(s.error_message().find("UTF-8"), std::string::npos) << s.error_message();
}

TEST_F(ServerTest, DeadlineStopsTheGeneration) {
  v1::AskRequest q = Question("Tell me everything about refunds.");
  q.set_max_tokens(1000);  // about 2.4 s of decoding with the test's tiny model
  q.set_request_id("deadline-1");
  v1::AskResponse a;
  grpc::Status s = client_->rag->Ask(Context(kAdminKey, 0.5).get(), q, &a);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  // The work stopped with the deadline: it was recorded as a timed-out
  // draft (the desk sees it), and the server answers the next question.
  bool recorded = false;
  for (int i = 0; i < 50 && !recorded; ++i) {
    v1::ListEscalationsResponse list;
    ASSERT_TRUE(client_->escalations->ListEscalations(Context(kAdminKey).get(), {}, &list).ok());
    for (const auto& e : list.escalations()) {
      if (e.request_id() == "deadline-1") {
        recorded = true;
        EXPECT_EQ(e.reason(), v1::ESCALATION_REASON_TIMED_OUT);
      }
    }
    if (!recorded) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(recorded);
  EXPECT_TRUE(client_->rag->Ask(Context(kAdminKey).get(), Question("refund?"), &a).ok());
}

TEST_F(ServerTest, SixteenConcurrentClientsAllGetAnswers) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      Client c(server_->address());
      v1::AskRequest q = Question(i % 2 == 0 ? "How do I get a refund?" : "What is VPN error 809?");
      v1::AskResponse a;
      grpc::Status s = c.rag->Ask(Context(kReaderKey, 300).get(), q, &a);
      EXPECT_TRUE(s.ok()) << s.error_message();
      const std::string want = i % 2 == 0 ? "Refund policy" : "VPN error 809";
      bool found = false;
      for (const auto& p : a.passages()) found |= p.title() == want;
      EXPECT_TRUE(found) << "client " << i;
      if (s.ok() && found) ok.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16);
}

TEST_F(ServerTest, HealthServiceSaysServing) {
  // grpc.health.v1.Health/Check with an empty request; the response's field 1
  // (status) is SERVING = 1, i.e. the bytes 08 01.
  grpc::GenericStub stub(client_->channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1), response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", {}, &request, &response, [&](grpc::Status s) {
    std::lock_guard lock(mu);
    status = s;
    done = true;
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

// A server whose single worker slot and empty queue fill at once: questions
// that leave the mode to the server are answered extractively (with
// citations) instead of refused; generative ones are refused with
// RESOURCE_EXHAUSTED, as everything is once the fallback is off.
TEST(ServerQueueTest, FullQueueFallsBackToExtractiveOrIsResourceExhausted) {
  const fs::path dir = fs::temp_directory_path() / ("tinyrag_server_queue_" + std::to_string(::getpid()));
  for (const bool fallback : {true, false}) {
    SCOPED_TRACE(fallback ? "extractive_fallback on" : "extractive_fallback off");
    fs::remove_all(dir);
    ServerConfig config = TestConfig(dir);
    config.generation.max_batch = 1;
    config.generation.queue_capacity = 0;  // 3 workers (slot + 2), nothing waits
    config.generation.extractive_fallback = fallback;
    auto server = server::RagServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    Client client((*server)->address());
    v1::IngestResponse ir;
    ASSERT_TRUE(IngestDocs(client, kAdminKey, "", kDefaultDocs, &ir).ok());

    // Eight questions at once; counts of answers, fallbacks and refusals.
    auto burst = [&](v1::AnswerMode mode, int* ok, int* fallbacks, int* exhausted) {
      constexpr int kCalls = 8;
      std::vector<std::thread> threads;
      std::atomic<int> n_ok{0}, n_fallback{0}, n_exhausted{0};
      for (int i = 0; i < kCalls; ++i) {
        threads.emplace_back([&] {
          v1::AskRequest q;
          q.set_question("Tell me about refunds.");
          q.set_max_tokens(200);
          q.set_answer_mode(mode);
          v1::AskResponse a;
          grpc::Status s = client.rag->Ask(Context(kAdminKey, 300).get(), q, &a);
          if (s.ok()) {
            n_ok.fetch_add(1);
            if (a.extractive_fallback()) {
              n_fallback.fetch_add(1);
              EXPECT_EQ(a.answer_mode(), v1::ANSWER_MODE_EXTRACTIVE);
              EXPECT_GE(a.passages_size(), 1);
              EXPECT_GE(a.cited_ranks_size(), 1) << a.answer();
            }
          }
          if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
            n_exhausted.fetch_add(1);
            EXPECT_NE(s.error_message().find("busy"), std::string::npos);
          }
        });
      }
      for (auto& t : threads) t.join();
      *ok = n_ok.load();
      *fallbacks = n_fallback.load();
      *exhausted = n_exhausted.load();
      EXPECT_EQ(*ok + *exhausted, kCalls);
    };
    int ok = 0, fallbacks = 0, exhausted = 0;
    burst(v1::ANSWER_MODE_UNSPECIFIED, &ok, &fallbacks, &exhausted);
    if (fallback) {
      EXPECT_EQ(ok, 8);
      EXPECT_GE(fallbacks, 1);
    } else {
      EXPECT_GE(ok, 1);
      EXPECT_EQ(fallbacks, 0);
      EXPECT_GE(exhausted, 1);
    }
    // A question that asks for generation is never answered otherwise.
    burst(v1::ANSWER_MODE_GENERATIVE, &ok, &fallbacks, &exhausted);
    EXPECT_GE(ok, 1);
    EXPECT_EQ(fallbacks, 0);
    EXPECT_GE(exhausted, 1);
    server->reset();
  }
  fs::remove_all(dir);
}

TEST_F(ServerTest, IngestRunsWhileQuestionsAreAnswered) {
  const int index_files_before = IndexFiles();
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::thread asker([&] {
    Client c(server_->address());
    while (!stop.load()) {
      v1::RetrieveRequest r;
      r.set_question("What does error 809 mean?");
      r.set_mode(v1::RETRIEVAL_MODE_LEXICAL);
      v1::RetrieveResponse out;
      grpc::Status s = c.rag->Retrieve(Context(kReaderKey).get(), r, &out);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ASSERT_GE(out.passages_size(), 1);
      EXPECT_EQ(out.passages(0).title(), "VPN error 809");
      answered.fetch_add(1);
    }
  });
  std::vector<std::vector<std::string>> docs;
  for (int i = 0; i < 40; ++i) {
    docs.push_back({"bulk-" + std::to_string(i), "Bulk " + std::to_string(i),
                    "Printer model " + std::to_string(i) + " needs toner cartridge type " + std::to_string(i % 7) + "."});
  }
  v1::IngestResponse r;
  ASSERT_TRUE(IngestDocs(*client_, kAdminKey, "bulk", docs, &r).ok());
  stop.store(true);
  asker.join();
  ASSERT_EQ(r.results_size(), 40);
  for (const auto& x : r.results()) EXPECT_EQ(x.status(), v1::DOCUMENT_STATUS_ADDED) << x.error();
  EXPECT_GE(answered.load(), 1);
  // The stream's end saved the new collection's index: one more file. (A
  // save per batch would write the same file; this checks the end's save.)
  EXPECT_EQ(IndexFiles(), index_files_before + 1);
}

// Shutdown lets a generation in flight finish within the drain time.
TEST(ServerShutdownTest, DrainsCallsInFlight) {
  const fs::path dir = fs::temp_directory_path() / ("tinyrag_server_drain_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto server = server::RagServer::Start(TestConfig(dir));
  ASSERT_TRUE(server.ok()) << server.status();
  Client client((*server)->address());
  v1::IngestResponse ir;
  ASSERT_TRUE(IngestDocs(client, kAdminKey, "", kDefaultDocs, &ir).ok());
  grpc::Status status;
  v1::AskResponse a;
  std::thread asker([&] {
    v1::AskRequest q;
    q.set_question("Tell me about refunds.");
    q.set_max_tokens(1000);  // seconds of decoding: still running at shutdown
    status = client.rag->Ask(Context(kAdminKey).get(), q, &a);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto shutdown_start = std::chrono::steady_clock::now();
  (*server)->Shutdown(std::chrono::seconds(30));
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - shutdown_start).count();
  asker.join();
  EXPECT_GT(waited, 0.1) << "the call had finished before the shutdown: nothing was drained";
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(a.tokens().answer_tokens(), 1000);
  // After shutdown nothing is served.
  v1::AskResponse b;
  v1::AskRequest q;
  q.set_question("refund?");
  EXPECT_EQ(client.rag->Ask(Context(kAdminKey, 5).get(), q, &b).error_code(), grpc::StatusCode::UNAVAILABLE);
  server->reset();
  fs::remove_all(dir);
}

// Without a decoder the server still answers, extractively.
TEST(ServerExtractiveOnlyTest, AnswersWithoutADecoder) {
  const fs::path dir = fs::temp_directory_path() / ("tinyrag_server_extractive_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ServerConfig config = TestConfig(dir);
  config.decoder.clear();
  auto server = server::RagServer::Start(config);
  ASSERT_TRUE(server.ok()) << server.status();
  Client client((*server)->address());
  v1::IngestResponse ir;
  ASSERT_TRUE(IngestDocs(client, kAdminKey, "", kDefaultDocs, &ir).ok());
  v1::AskResponse a;
  ASSERT_TRUE(client.rag->Ask(Context(kAdminKey).get(), []{ v1::AskRequest q; q.set_question("Within how many days after purchase are refunds issued?"); return q; }(), &a).ok());
  EXPECT_EQ(a.answer_mode(), v1::ANSWER_MODE_EXTRACTIVE);
  EXPECT_NE(a.answer().find("14 days"), std::string::npos) << a.answer();
  // An unanswerable question is refused and escalated.
  v1::AskRequest q;
  q.set_question("Do you ship hardware to Antarctica by drone?");
  ASSERT_TRUE(client.rag->Ask(Context(kAdminKey).get(), q, &a).ok());
  EXPECT_TRUE(a.escalated()) << a.answer();
  server->reset();
  fs::remove_all(dir);
}

// Every call shows in the Prometheus endpoint and the structured log.
TEST(ServerObservabilityTest, CallsReachMetricsAndLogs) {
  const fs::path dir = fs::temp_directory_path() / ("tinyrag_server_metrics_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::ostringstream log;
  SetLogOutputForTest(&log);
  ASSERT_TRUE(InitLogging("info", "json").ok());
  ServerMetrics metrics;
  auto server = server::RagServer::Start(TestConfig(dir), server::MetricsAndLogHooks(&metrics));
  ASSERT_TRUE(server.ok()) << server.status();
  auto http = MetricsHttpServer::Start(&metrics, "127.0.0.1:0");
  ASSERT_TRUE(http.ok()) << http.status();
  Client client((*server)->address());
  v1::IngestResponse ir;
  ASSERT_TRUE(IngestDocs(client, kAdminKey, "", kDefaultDocs, &ir).ok());
  v1::AskRequest q;
  q.set_question("How do I get a refund?");
  q.set_request_id("metrics-1");
  v1::AskResponse a;
  ASSERT_TRUE(client.rag->Ask(Context(kAdminKey).get(), q, &a).ok());
  v1::AskResponse denied;
  EXPECT_FALSE(client.rag->Ask(Context("").get(), q, &denied).ok());

  httplib::Client get("127.0.0.1", (*http)->port());
  auto res = get.Get("/metrics");
  ASSERT_TRUE(res) << "no response from the metrics endpoint";
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("tinyrag_requests_total{method=\"Ask\",code=\"OK\"} 1"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("tinyrag_requests_total{method=\"Ask\",code=\"UNAUTHENTICATED\"} 1"), std::string::npos);
  EXPECT_NE(res->body.find("tinyrag_ingested_documents_total{status=\"added\"} 3"), std::string::npos);
  EXPECT_NE(res->body.find("tinyrag_generated_tokens_total " + std::to_string(a.tokens().answer_tokens())),
            std::string::npos);
  server->reset();
  http->reset();
  SetLogOutputForTest(nullptr);
  const std::string lines = log.str();
  EXPECT_NE(lines.find("\"event\":\"answer\""), std::string::npos) << lines;
  EXPECT_NE(lines.find("\"request_id\":\"metrics-1\""), std::string::npos) << lines;
  EXPECT_NE(lines.find("\"code\":\"UNAUTHENTICATED\""), std::string::npos) << lines;
  fs::remove_all(dir);
}

// With a certificate and key configured the server speaks TLS only.
TEST(ServerTlsTest, ServesOverTlsWithTheConfiguredCertificate) {
  const fs::path dir = fs::temp_directory_path() / ("tinyrag_server_tls_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string key = (dir / "key.pem").string(), cert = (dir / "cert.pem").string();
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                          "-addext subjectAltName=DNS:localhost -keyout " + key + " -out " + cert + " 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "the openssl program is needed to make a test certificate";
  ServerConfig config = TestConfig(dir / "data");
  config.tls.cert_file = cert;
  config.tls.key_file = key;
  auto server = server::RagServer::Start(config);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = "localhost:" + std::to_string((*server)->port());

  std::ifstream in(cert);
  std::stringstream pem;
  pem << in.rdbuf();
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = pem.str();
  auto channel = grpc::CreateChannel(address, grpc::SslCredentials(tls));
  auto stub = v1::RagService::NewStub(channel);
  v1::ListDocumentsRequest list;
  v1::ListDocumentsResponse docs;
  grpc::Status s = stub->ListDocuments(Context(kAdminKey).get(), list, &docs);
  // The default collection does not exist yet: a well-formed refusal over TLS.
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  // A plaintext client gets nowhere.
  auto plain = v1::RagService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  EXPECT_EQ(plain->ListDocuments(Context(kAdminKey, 5).get(), list, &docs).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  server->reset();
  fs::remove_all(dir);
}

// Escalations and the webhook outbox live in the data dir: a restarted server has them.
TEST(ServerRestartTest, EscalationsAndOutboxSurviveARestart) {
  const fs::path dir = fs::temp_directory_path() / ("tinyrag_server_restart_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ServerConfig config = TestConfig(dir);
  config.answer.confidence_threshold = 1.0;  // everything escalates
  config.webhook.url = "http://127.0.0.1:9/hook";  // nothing listens: delivery stays pending
  config.webhook.secret = "s3cret";
  std::string escalation_id;
  {
    auto server = server::RagServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    Client client((*server)->address());
    v1::IngestResponse ir;
    ASSERT_TRUE(IngestDocs(client, kAdminKey, "", kDefaultDocs, &ir).ok());
    v1::AskRequest q;
    q.set_question("How do I get a refund?");
    q.set_request_id("restart-1");
    v1::AskResponse a;
    ASSERT_TRUE(client.rag->Ask(Context(kAdminKey).get(), q, &a).ok());
    ASSERT_TRUE(a.escalated());
    escalation_id = a.escalation_id();
  }
  {
    auto server = server::RagServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    Client client((*server)->address());
    v1::GetEscalationRequest get;
    get.set_id(escalation_id);
    v1::Escalation e;
    ASSERT_TRUE(client.escalations->GetEscalation(Context(kAdminKey).get(), get, &e).ok());
    EXPECT_EQ(e.request_id(), "restart-1");
  }
  auto store = EscalationStore::Open((dir / kEscalationsDbName).string(), {});
  ASSERT_TRUE(store.ok()) << store.status();
  int64_t id = std::stoll(escalation_id);
  auto outbox = (*store)->GetOutbox(id);
  ASSERT_TRUE(outbox.ok()) << outbox.status();
  EXPECT_EQ(outbox->state, OutboxState::kPending);
  store->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tinyrag::testing
