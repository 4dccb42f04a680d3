#include "service/webhook.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr char kSecret[] = "s3cret-key";

struct Reply {
  Reply(int s = 200, std::string b = "", std::vector<std::pair<std::string, std::string>> h = {})
      : status(s), body(std::move(b)), headers(std::move(h)) {}
  int status;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Received {
  std::string body;
  std::string signature;
  std::string delivery;
  std::string event;
  std::string content_type;
};

// A real HTTP server on a loopback port: records each POST to /hook and
// answers with the scripted replies in order, then 200.
class HookServer {
 public:
  HookServer() {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      Reply reply;
      {
        absl::MutexLock lock(&mu_);
        ++started_;
        // A blocked server holds the request until released (or 10 s).
        auto released = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !blocked_; };
        mu_.AwaitWithTimeout(absl::Condition(&released), absl::Seconds(10));
        received_.push_back({req.body, req.get_header_value("X-Tinyrag-Signature"),
                             req.get_header_value("X-Tinyrag-Delivery"), req.get_header_value("X-Tinyrag-Event"),
                             req.get_header_value("Content-Type")});
        if (!script_.empty()) {
          reply = script_.front();
          script_.pop_front();
        }
      }
      res.status = reply.status;
      for (const auto& [name, value] : reply.headers) res.set_header(name, value);
      res.set_content(reply.body, "text/plain");
    });
    server_.Post("/elsewhere", [this](const httplib::Request&, httplib::Response& res) {
      absl::MutexLock lock(&mu_);
      ++elsewhere_;
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(milliseconds(1));
  }
  ~HookServer() {
    Release();
    server_.stop();
    thread_.join();
  }

  std::string Url(const char* path = "/hook") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  void Script(std::vector<Reply> replies) {
    absl::MutexLock lock(&mu_);
    script_.assign(replies.begin(), replies.end());
  }
  void Block() {
    absl::MutexLock lock(&mu_);
    blocked_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    blocked_ = false;
  }
  std::vector<Received> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }
  int started() {
    absl::MutexLock lock(&mu_);
    return started_;
  }
  int elsewhere() {
    absl::MutexLock lock(&mu_);
    return elsewhere_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  absl::Mutex mu_;
  std::deque<Reply> script_ ABSL_GUARDED_BY(mu_);
  std::vector<Received> received_ ABSL_GUARDED_BY(mu_);
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  int elsewhere_ ABSL_GUARDED_BY(mu_) = 0;
  bool blocked_ ABSL_GUARDED_BY(mu_) = false;
};

// Recomputed here with OpenSSL directly, as a receiver would.
std::string ExpectedSignature(const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret, static_cast<int>(sizeof(kSecret) - 1),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  std::string hex = "sha256=";
  char byte[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(byte, sizeof(byte), "%02x", mac[i]);
    hex += byte;
  }
  return hex;
}

// A loopback port nothing listens on: one the kernel picked, then closed.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "no loopback port";
  }
  close(fd);
  return ntohs(addr.sin_port);
}

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "webhook-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Opens the store at the fake clock (or the system clock when `real_clock`).
  std::unique_ptr<EscalationStore> OpenStore(bool webhook, bool real_clock = false) {
    EscalationStoreOptions options;
    options.enqueue_webhook = webhook;
    if (!real_clock) options.now_ms = [this] { return now_.load(); };
    absl::StatusOr<std::unique_ptr<EscalationStore>> store =
        EscalationStore::Open((dir_ / kEscalationsDbName).string(), std::move(options));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  WebhookConfig Config() const {
    WebhookConfig c;
    c.url = server_.Url();
    c.secret = kSecret;
    c.link_prefix = "https://desk.example.com/escalations/";
    c.timeout = milliseconds(2000);
    c.connect_timeout = milliseconds(1000);
    c.base_backoff = milliseconds(1000);
    c.max_backoff = milliseconds(60'000);
    c.jitter = 0.2;
    c.jitter_seed = 7;
    return c;
  }

  // A sender driven by the test (no thread) on the fake clock.
  std::unique_ptr<WebhookSender> ManualSender(EscalationStore* store, WebhookConfig config) {
    absl::StatusOr<std::unique_ptr<WebhookSender>> s =
        WebhookSender::Create(std::move(config), store, {.start_thread = false, .now_ms = nullptr});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  static NewEscalation Sample(std::string request_id) {
    NewEscalation in;
    in.request_id = std::move(request_id);
    in.question = "Why does the nightly backup fail?";
    in.draft_answer = "The disk may be full [1].";
    in.confidence = 0.34;
    in.confidence_components = {{"retrieval", 0.5}, {"groundedness", 0.2}};
    in.passages = {{.document_id = 3,
                    .external_id = "backup.md",
                    .title = "Backups",
                    .source = "docs/backup.md",
                    .text = "Backups need 20 GB free.",
                    .score = 0.03,
                    .dense_score = 0.8,
                    .lexical_score = 2.0}};
    in.collection = "ops";
    in.reason = "low_confidence";
    return in;
  }

  // Waits up to `limit` for `done`.
  template <typename F>
  static bool Eventually(F done, milliseconds limit = milliseconds(5000)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (done()) return true;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return done();
  }

  HookServer server_;
  fs::path dir_;
  std::atomic<int64_t> now_{1'763'800'000'000};  // 2025-11-22T08:26:40Z
};

TEST(WebhookSignatureTest, MatchesRfc4231TestCase2) {
  EXPECT_EQ(WebhookSignature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_F(WebhookTest, RejectsBadConfiguration) {
  std::unique_ptr<EscalationStore> store = OpenStore(true);
  ASSERT_NE(store, nullptr);
  auto create = [&](WebhookConfig c) { return WebhookSender::Create(std::move(c), store.get(), {}).status(); };
  WebhookConfig c = Config();
  c.url = "ftp://127.0.0.1/hook";
  EXPECT_TRUE(absl::IsInvalidArgument(create(c)));
  c = Config();
  c.secret.clear();
  EXPECT_TRUE(absl::IsInvalidArgument(create(c)));
  c = Config();
  c.max_backoff = milliseconds(10);
  EXPECT_TRUE(absl::IsInvalidArgument(create(c)));
  c = Config();
  c.jitter = 1.0;
  EXPECT_TRUE(absl::IsInvalidArgument(create(c)));
  EXPECT_TRUE(absl::IsInvalidArgument(WebhookSender::Create(Config(), nullptr, {}).status()));
}

TEST_F(WebhookTest, DeliversASignedTicketPayload) {
  std::unique_ptr<EscalationStore> store = OpenStore(true);
  ASSERT_NE(store, nullptr);
  const Escalation e = store->Create(Sample("req-1"))->escalation;
  std::unique_ptr<WebhookSender> sender = ManualSender(store.get(), Config());
  ASSERT_NE(sender, nullptr);

  absl::StatusOr<int> sent = sender->DeliverDue();
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, 1);
  const std::vector<Received> got = server_.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].signature, ExpectedSignature(got[0].body));
  EXPECT_EQ(got[0].content_type, "application/json");
  EXPECT_EQ(got[0].event, "escalation.created");
  const OutboxEntry row = *store->GetOutbox(e.id);
  EXPECT_EQ(got[0].delivery, std::to_string(row.id));

  const nlohmann::json body = nlohmann::json::parse(got[0].body);
  EXPECT_EQ(body["event"], "escalation.created");
  EXPECT_EQ(body["id"], e.id);
  EXPECT_EQ(body["request_id"], "req-1");
  EXPECT_EQ(body["link"], "https://desk.example.com/escalations/" + std::to_string(e.id));
  EXPECT_EQ(body["question"], "Why does the nightly backup fail?");
  EXPECT_EQ(body["draft_answer"], "The disk may be full [1].");
  EXPECT_DOUBLE_EQ(body["confidence"].get<double>(), 0.34);
  EXPECT_DOUBLE_EQ(body["confidence_components"]["groundedness"].get<double>(), 0.2);
  EXPECT_EQ(body["reason"], "low_confidence");
  EXPECT_EQ(body["collection"], "ops");
  EXPECT_EQ(body["status"], "open");
  EXPECT_EQ(body["created_at"], "2025-11-22T08:26:40.000Z");
  EXPECT_EQ(body["created_ms"], now_.load());
  ASSERT_EQ(body["passages"].size(), 1u);
  EXPECT_EQ(body["passages"][0]["number"], 1);
  EXPECT_EQ(body["passages"][0]["title"], "Backups");
  EXPECT_EQ(body["passages"][0]["source"], "docs/backup.md");
  EXPECT_EQ(body["passages"][0]["document_id"], 3);
  EXPECT_FALSE(body["passages"][0].contains("text"));

  EXPECT_EQ(row.state, OutboxState::kDone);
  EXPECT_EQ(row.attempts, 1);
  EXPECT_EQ(row.delivered_ms, now_.load());
  // Done rows are never sent again.
  EXPECT_EQ(*sender->DeliverDue(), 0);
  EXPECT_EQ(server_.received().size(), 1u);
}

TEST_F(WebhookTest, RetriesServerErrorsWithGrowingJitteredBackoff) {
  std::unique_ptr<EscalationStore> store = OpenStore(true);
  ASSERT_NE(store, nullptr);
  const int64_t id = store->Create(Sample("req-1"))->escalation.id;
  server_.Script({{500, "boom"}, {502}, {503}, {500}});
  std::unique_ptr<WebhookSender> sender = ManualSender(store.get(), Config());
  ASSERT_NE(sender, nullptr);

  std::vector<int64_t> delays;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    ASSERT_EQ(*sender->DeliverDue(), 1) << "attempt " << attempt;
    const OutboxEntry row = *store->GetOutbox(id);
    EXPECT_EQ(row.state, OutboxState::kPending);
    EXPECT_EQ(row.attempts, attempt);
    EXPECT_NE(row.last_error.find("HTTP 5"), std::string::npos) << row.last_error;
    delays.push_back(row.next_attempt_ms - now_.load());
    // Not due before its time.
    now_ = row.next_attempt_ms - 1;
    EXPECT_EQ(*sender->DeliverDue(), 0);
    now_ = row.next_attempt_ms;
  }
  EXPECT_NE(store->GetOutbox(id)->last_error.find("HTTP 500"), std::string::npos);
  // Delay n is base * 2^(n-1), shortened by at most 20 %.
  for (size_t n = 0; n < delays.size(); ++n) {
    const int64_t full = 1000 << n;
    EXPECT_LE(delays[n], full) << n;
    EXPECT_GE(delays[n], full * 8 / 10) << n;
  }
  EXPECT_EQ(*sender->DeliverDue(), 1);
  const OutboxEntry done = *store->GetOutbox(id);
  EXPECT_EQ(done.state, OutboxState::kDone);
  EXPECT_EQ(done.attempts, 5);
  EXPECT_EQ(done.last_error, "");
  // Every attempt carried the same body and delivery id.
  const std::vector<Received> got = server_.received();
  ASSERT_EQ(got.size(), 5u);
  for (const Received& r : got) {
    EXPECT_EQ(r.body, got[0].body);
    EXPECT_EQ(r.delivery, got[0].delivery);
    EXPECT_EQ(r.signature, ExpectedSignature(r.body));
  }
}

TEST_F(WebhookTest, BackoffIsCappedAndRetryableFailuresGiveUpAtMaxAttempts) {
  std::unique_ptr<EscalationStore> store = OpenStore(true);
  ASSERT_NE(store, nullptr);
  const int64_t id = store->Create(Sample("req-1"))->escalation.id;
  server_.Script({{500}, {500}, {500}, {500}});
  WebhookConfig c = Config();
  c.max_backoff = milliseconds(2500);
  c.jitter = 0;
  c.max_attempts = 4;
  std::unique_ptr<WebhookSender> sender = ManualSender(store.get(), c);
  ASSERT_NE(sender, nullptr);
  std::vector<int64_t> delays;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_EQ(*sender->DeliverDue(), 1);
    const OutboxEntry row = *store->GetOutbox(id);
    delays.push_back(row.next_attempt_ms - now_.load());
    now_ = row.next_attempt_ms;
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{1000, 2000, 2500}));
  ASSERT_EQ(*sender->DeliverDue(), 1);
  const OutboxEntry row = *store->GetOutbox(id);
  EXPECT_EQ(row.state, OutboxState::kFailed);
  EXPECT_EQ(row.attempts, 4);
  EXPECT_NE(row.last_error.find("gave up after 4 attempts"), std::string::npos) << row.last_error;
  now_ += 3'600'000;
  EXPECT_EQ(*sender->DeliverDue(), 0);
  EXPECT_EQ(server_.received().size(), 4u);
}

TEST_F(WebhookTest, RetryAfterLengthensTheWait) {
  std::unique_ptr<EscalationStore> store = OpenStore(true);
  ASSERT_NE(store, nullptr);
  const int64_t id = store->Create(Sample("req-1"))->escalation.id;
  server_.Script({{429, "slow down", {{"Retry-After", "7"}}}});
  std::unique_ptr<WebhookSender> sender = ManualSender(store.get(), Config());
  ASSERT_NE(sender, nullptr);
  ASSERT_EQ(*sender->DeliverDue(), 1);
  const OutboxEntry row = *store->GetOutbox(id);
  EXPECT_EQ(row.state, OutboxState::kPending);
  EXPECT_EQ(row.next_attempt_ms - now_.load(), 7000);
  EXPECT_NE(row.last_error.find("HTTP 429"), std::string::npos) << row.last_error;
  EXPECT_NE(row.last_error.find("slow down"), std::string::npos) << row.last_error;
}

TEST_F(WebhookTest, ClientErrorsGiveUpAfterMaxRejectedAttempts) {
  std::unique_ptr<EscalationStore> store = OpenStore(true);
  ASSERT_NE(store, nullptr);
  const int64_t id = store->Create(Sample("req-1"))->escalation.id;
  server_.Script({{404, "no such hook"}, {400, "bad payload \x01"}});
  WebhookConfig c = Config();
  c.max_rejected_attempts = 2;
  std::unique_ptr<WebhookSender> sender = ManualSender(store.get(), c);
  ASSERT_NE(sender, nullptr);
  ASSERT_EQ(*sender->DeliverDue(), 1);
  OutboxEntry row = *store->GetOutbox(id);
  EXPECT_EQ(row.state, OutboxState::kPending);
  EXPECT_NE(row.last_error.find("HTTP 404"), std::string::npos) << row.last_error;
  EXPECT_NE(row.last_error.find("no such hook"), std::string::npos) << row.last_error;
  now_ = row.next_attempt_ms;
  ASSERT_EQ(*sender->DeliverDue(), 1);
  row = *store->GetOutbox(id);
  EXPECT_EQ(row.state, OutboxState::kFailed);
  EXPECT_EQ(row.attempts, 2);
  // The response's control characters are escaped in the record.
  EXPECT_NE(row.last_error.find("bad payload \\x01"), std::string::npos) << row.last_error;
}

TEST_F(WebhookTest, RedirectsAreNotFollowed) {
  std::unique_ptr<EscalationStore> store = OpenStore(true);
  ASSERT_NE(store, nullptr);
  const int64_t id = store->Create(Sample("req-1"))->escalation.id;
  server_.Script({{307, "", {{"Location", server_.Url("/elsewhere")}}}});
  std::unique_ptr<WebhookSender> sender = ManualSender(store.get(), Config());
  ASSERT_NE(sender, nullptr);
  ASSERT_EQ(*sender->DeliverDue(), 1);
  const OutboxEntry row = *store->GetOutbox(id);
  EXPECT_EQ(row.state, OutboxState::kPending);
  EXPECT_NE(row.last_error.find("HTTP 307"), std::string::npos) << row.last_error;
  EXPECT_NE(row.last_error.find("/elsewhere"), std::string::npos) << row.last_error;
  EXPECT_EQ(server_.elsewhere(), 0);
}

TEST_F(WebhookTest, ConnectionRefusedIsRetried) {
  std::unique_ptr<EscalationStore> store = OpenStore(true);
  ASSERT_NE(store, nullptr);
  const int64_t id = store->Create(Sample("req-1"))->escalation.id;
  WebhookConfig c = Config();
  c.url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/hook";
  std::unique_ptr<WebhookSender> sender = ManualSender(store.get(), c);
  ASSERT_NE(sender, nullptr);
  ASSERT_EQ(*sender->DeliverDue(), 1);
  const OutboxEntry row = *store->GetOutbox(id);
  EXPECT_EQ(row.state, OutboxState::kPending);
  EXPECT_EQ(row.attempts, 1);
  EXPECT_NE(row.last_error.find("POST http://127.0.0.1:"), std::string::npos) << row.last_error;
  EXPECT_GT(row.next_attempt_ms, now_.load());
}

TEST_F(WebhookTest, SlowReceiverTimesOutAndIsRetried) {
  std::unique_ptr<EscalationStore> store = OpenStore(true);
  ASSERT_NE(store, nullptr);
  const int64_t id = store->Create(Sample("req-1"))->escalation.id;
  WebhookConfig c = Config();
  c.timeout = milliseconds(200);
  std::unique_ptr<WebhookSender> sender = ManualSender(store.get(), c);
  ASSERT_NE(sender, nullptr);
  server_.Block();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(*sender->DeliverDue(), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(3000));
  server_.Release();
  const OutboxEntry row = *store->GetOutbox(id);
  EXPECT_EQ(row.state, OutboxState::kPending);
  EXPECT_NE(row.last_error.find("timed out"), std::string::npos) << row.last_error;
}

TEST_F(WebhookTest, NothingIsSentForEscalationsCreatedWithoutAWebhook) {
  int64_t id = 0;
  {
    std::unique_ptr<EscalationStore> store = OpenStore(false);
    ASSERT_NE(store, nullptr);
    id = store->Create(Sample("req-1"))->escalation.id;
  }
  // Configuring a webhook later does not flood the desk with old escalations.
  std::unique_ptr<EscalationStore> store = OpenStore(true);
  ASSERT_NE(store, nullptr);
  std::unique_ptr<WebhookSender> sender = ManualSender(store.get(), Config());
  ASSERT_NE(sender, nullptr);
  EXPECT_EQ(*sender->DeliverDue(), 0);
  EXPECT_TRUE(absl::IsNotFound(store->GetOutbox(id).status()));
  EXPECT_TRUE(server_.received().empty());
}

TEST_F(WebhookTest, ThreadDeliversPendingRowsAfterARestart) {
  int64_t id = 0;
  {
    std::unique_ptr<EscalationStore> store = OpenStore(true, /*real_clock=*/true);
    ASSERT_NE(store, nullptr);
    id = store->Create(Sample("req-1"))->escalation.id;
    server_.Script({{503}});
    std::unique_ptr<WebhookSender> sender = ManualSender(store.get(), Config());
    ASSERT_NE(sender, nullptr);
    ASSERT_EQ(*sender->DeliverDue(), 1);
    ASSERT_EQ(store->GetOutbox(id)->state, OutboxState::kPending);
  }  // the "process" ends with the row pending
  std::unique_ptr<EscalationStore> store = OpenStore(true, /*real_clock=*/true);
  ASSERT_NE(store, nullptr);
  const int64_t id2 = store->Create(Sample("req-2"))->escalation.id;
  WebhookConfig c = Config();
  c.poll_interval = milliseconds(60'000);  // only due times and Wake() move the thread
  absl::StatusOr<std::unique_ptr<WebhookSender>> sender = WebhookSender::Create(c, store.get(), {});
  ASSERT_TRUE(sender.ok()) << sender.status();
  // id2 goes out at once; id after its backoff of at most 1 s.
  EXPECT_TRUE(Eventually([&] { return store->GetOutbox(id)->state == OutboxState::kDone; }));
  EXPECT_EQ(store->GetOutbox(id2)->state, OutboxState::kDone);

  // A new escalation is sent as soon as the thread is woken.
  const int64_t id3 = store->Create(Sample("req-3"))->escalation.id;
  (*sender)->Wake();
  EXPECT_TRUE(Eventually([&] { return store->GetOutbox(id3)->state == OutboxState::kDone; }));
  EXPECT_EQ(server_.received().size(), 4u);
}

TEST_F(WebhookTest, ShutdownAbortsARequestInFlightAndKeepsItsRow) {
  std::unique_ptr<EscalationStore> store = OpenStore(true, /*real_clock=*/true);
  ASSERT_NE(store, nullptr);
  const int64_t id = store->Create(Sample("req-1"))->escalation.id;
  server_.Block();
  WebhookConfig c = Config();
  c.timeout = milliseconds(30'000);
  absl::StatusOr<std::unique_ptr<WebhookSender>> sender = WebhookSender::Create(c, store.get(), {});
  ASSERT_TRUE(sender.ok()) << sender.status();
  ASSERT_TRUE(Eventually([&] { return server_.started() == 1; }));
  const auto start = std::chrono::steady_clock::now();
  sender->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(3000));
  server_.Release();
  const OutboxEntry row = *store->GetOutbox(id);
  EXPECT_EQ(row.state, OutboxState::kPending);
  EXPECT_EQ(row.attempts, 0);
}

}  // namespace
}  // namespace tinyrag
