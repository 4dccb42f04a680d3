#include "service/escalation_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace tinyrag {
namespace {

namespace fs = std::filesystem;

EscalationQuery Query(std::optional<EscalationStatus> status, int64_t from_ms = 0, int64_t to_ms = INT64_MAX) {
  EscalationQuery q;
  q.status = status;
  q.created_from_ms = from_ms;
  q.created_to_ms = to_ms;
  return q;
}

EscalationQuery Page(int size, std::string token) {
  EscalationQuery q;
  q.page_size = size;
  q.page_token = std::move(token);
  return q;
}

class EscalationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "escalations-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / kEscalationsDbName).string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<EscalationStore> OpenStore(bool webhook) {
    absl::StatusOr<std::unique_ptr<EscalationStore>> store =
        EscalationStore::Open(path_, {.enqueue_webhook = webhook, .now_ms = [this] { return now_.load(); }});
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  static NewEscalation Sample(std::string request_id) {
    NewEscalation in;
    in.request_id = std::move(request_id);
    in.question = "How do I rotate the API keys?";
    in.draft_answer = "I don't know.";
    in.confidence = 0.21;
    in.confidence_components = {{"retrieval", 0.4}, {"generation", -1.25}, {"groundedness", 0.1}};
    in.passages = {{.document_id = 7,
                    .external_id = "keys.md",
                    .title = "Key management",
                    .source = "docs/keys.md",
                    .text = "Keys are rotated with the admin tool.",
                    .score = 0.032,
                    .dense_score = 0.71,
                    .lexical_score = std::nullopt},
                   {.document_id = 9,
                    .external_id = "faq",
                    .title = "FAQ",
                    .source = "https://example.com/faq",
                    .text = "Ask the operator.",
                    .score = 0.016,
                    .dense_score = std::nullopt,
                    .lexical_score = 3.5}};
    in.collection = "support";
    in.reason = "low_confidence";
    return in;
  }

  fs::path dir_;
  std::string path_;
  std::atomic<int64_t> now_{1'700'000'000'000};
};

TEST_F(EscalationStoreTest, CreateStoresEverythingOncePerRequestId) {
  std::unique_ptr<EscalationStore> store = OpenStore(false);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<CreateEscalationResult> first = store->Create(Sample("req-1"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->created);
  const Escalation& e = first->escalation;
  EXPECT_GT(e.id, 0);
  EXPECT_EQ(e.request_id, "req-1");
  EXPECT_EQ(e.question, "How do I rotate the API keys?");
  EXPECT_EQ(e.draft_answer, "I don't know.");
  EXPECT_DOUBLE_EQ(e.confidence, 0.21);
  EXPECT_EQ(e.confidence_components, Sample("x").confidence_components);
  ASSERT_EQ(e.passages.size(), 2u);
  EXPECT_EQ(e.passages[0].document_id, 7);
  EXPECT_EQ(e.passages[0].external_id, "keys.md");
  EXPECT_EQ(e.passages[0].title, "Key management");
  EXPECT_EQ(e.passages[0].source, "docs/keys.md");
  EXPECT_EQ(e.passages[0].text, "Keys are rotated with the admin tool.");
  EXPECT_DOUBLE_EQ(e.passages[0].score, 0.032);
  EXPECT_EQ(e.passages[0].dense_score, 0.71);
  EXPECT_FALSE(e.passages[0].lexical_score.has_value());
  EXPECT_FALSE(e.passages[1].dense_score.has_value());
  EXPECT_EQ(e.passages[1].lexical_score, 3.5);
  EXPECT_EQ(e.collection, "support");
  EXPECT_EQ(e.reason, "low_confidence");
  EXPECT_EQ(e.status, EscalationStatus::kOpen);
  EXPECT_EQ(e.created_ms, now_.load());
  EXPECT_EQ(e.updated_ms, now_.load());
  EXPECT_EQ(e.resolved_ms, 0);

  // A retry of the same request, later and with another draft: the first record.
  now_ += 5000;
  NewEscalation retry = Sample("req-1");
  retry.draft_answer = "Something else.";
  absl::StatusOr<CreateEscalationResult> again = store->Create(retry);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->escalation.id, e.id);
  EXPECT_EQ(again->escalation.draft_answer, "I don't know.");
  EXPECT_EQ(again->escalation.created_ms, e.created_ms);

  absl::StatusOr<CreateEscalationResult> other = store->Create(Sample("req-2"));
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_TRUE(other->created);
  EXPECT_NE(other->escalation.id, e.id);

  absl::StatusOr<Escalation> got = store->Get(e.id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->request_id, "req-1");
  EXPECT_EQ(got->passages.size(), 2u);
  EXPECT_EQ(store->List({})->escalations.size(), 2u);
}

TEST_F(EscalationStoreTest, ConcurrentRetriesCreateOneRecordPerRequestId) {
  std::unique_ptr<EscalationStore> store = OpenStore(true);
  ASSERT_NE(store, nullptr);
  std::atomic<int> created{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        absl::StatusOr<CreateEscalationResult> r = store->Create(Sample("req-" + std::to_string(i)));
        if (!r.ok()) ++failed;
        if (r.ok() && r->created) ++created;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(created.load(), 10);
  EXPECT_EQ(store->List({})->escalations.size(), 10u);
  EXPECT_EQ(store->DueOutbox(now_.load(), 100)->size(), 10u);
}

TEST_F(EscalationStoreTest, CreateRejectsBadInput) {
  std::unique_ptr<EscalationStore> store = OpenStore(false);
  ASSERT_NE(store, nullptr);
  auto expect_invalid = [&](NewEscalation in, const char* what) {
    absl::StatusOr<CreateEscalationResult> r = store->Create(in);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << what << ": " << r.status();
  };
  NewEscalation in = Sample("");
  expect_invalid(in, "empty request id");
  in = Sample(std::string(257, 'r'));
  expect_invalid(in, "long request id");
  in = Sample("r");
  in.question.clear();
  expect_invalid(in, "empty question");
  in = Sample("r");
  in.confidence = 1.5;
  expect_invalid(in, "confidence above 1");
  in.confidence = std::nan("");
  expect_invalid(in, "NaN confidence");
  in = Sample("r");
  in.confidence_components["x"] = INFINITY;
  expect_invalid(in, "infinite component");
  in = Sample("r");
  in.passages[1].lexical_score = std::nan("");
  expect_invalid(in, "NaN passage score");
  EXPECT_TRUE(store->List({})->escalations.empty());
  // Not valid UTF-8: stored with replacement characters, not an error.
  in = Sample("r");
  in.passages[0].text = "bad \xff byte";
  absl::StatusOr<CreateEscalationResult> r = store->Create(in);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->escalation.passages[0].text, "bad \xEF\xBF\xBD byte");
}

TEST_F(EscalationStoreTest, GetAndResolveUnknownIdsAreNotFound) {
  std::unique_ptr<EscalationStore> store = OpenStore(false);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(absl::IsNotFound(store->Get(42).status()));
  EXPECT_TRUE(absl::IsNotFound(store->Resolve(42, "alice", "done").status()));
}

TEST_F(EscalationStoreTest, ResolveOnceThenFailedPrecondition) {
  std::unique_ptr<EscalationStore> store = OpenStore(false);
  ASSERT_NE(store, nullptr);
  const int64_t id = store->Create(Sample("req-1"))->escalation.id;
  EXPECT_TRUE(absl::IsInvalidArgument(store->Resolve(id, "", "note").status()));

  now_ += 60'000;
  absl::StatusOr<Escalation> resolved = store->Resolve(id, "alice", "Answered by phone.");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->status, EscalationStatus::kResolved);
  EXPECT_EQ(resolved->resolved_by, "alice");
  EXPECT_EQ(resolved->resolution_note, "Answered by phone.");
  EXPECT_EQ(resolved->resolved_ms, now_.load());
  EXPECT_EQ(resolved->updated_ms, now_.load());
  EXPECT_LT(resolved->created_ms, resolved->updated_ms);

  now_ += 1000;
  absl::StatusOr<Escalation> twice = store->Resolve(id, "bob", "Me too.");
  EXPECT_TRUE(absl::IsFailedPrecondition(twice.status())) << twice.status();
  EXPECT_NE(twice.status().message().find("alice"), std::string_view::npos) << twice.status();
  absl::StatusOr<Escalation> kept = store->Get(id);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->resolved_by, "alice");
  EXPECT_EQ(kept->resolution_note, "Answered by phone.");

  // A resolution note may be empty.
  const int64_t id2 = store->Create(Sample("req-2"))->escalation.id;
  absl::StatusOr<Escalation> bare = store->Resolve(id2, "carol", std::string_view());
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->resolution_note, "");
}

TEST_F(EscalationStoreTest, ListFiltersByStatusAndTimeNewestFirst) {
  std::unique_ptr<EscalationStore> store = OpenStore(false);
  ASSERT_NE(store, nullptr);
  std::vector<int64_t> ids;
  const int64_t t0 = now_.load();
  for (int i = 0; i < 6; ++i) {
    now_ = t0 + i * 1000;
    ids.push_back(store->Create(Sample("req-" + std::to_string(i)))->escalation.id);
  }
  ASSERT_TRUE(store->Resolve(ids[1], "alice", "").ok());
  ASSERT_TRUE(store->Resolve(ids[4], "alice", "").ok());

  auto list_ids = [&](EscalationQuery q) {
    absl::StatusOr<EscalationPage> page = store->List(q);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<int64_t> out;
    if (page.ok()) {
      for (const Escalation& e : page->escalations) out.push_back(e.id);
      EXPECT_TRUE(page->next_page_token.empty());
    }
    return out;
  };
  EXPECT_EQ(list_ids({}), (std::vector<int64_t>{ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}));
  EXPECT_EQ(list_ids(Query(EscalationStatus::kOpen)), (std::vector<int64_t>{ids[5], ids[3], ids[2], ids[0]}));
  EXPECT_EQ(list_ids(Query(EscalationStatus::kResolved)), (std::vector<int64_t>{ids[4], ids[1]}));
  // [t0 + 1000, t0 + 4000): created at 1000, 2000, 3000.
  EXPECT_EQ(list_ids(Query(std::nullopt, t0 + 1000, t0 + 4000)), (std::vector<int64_t>{ids[3], ids[2], ids[1]}));
  EXPECT_EQ(list_ids(Query(EscalationStatus::kOpen, t0 + 1000, t0 + 4000)), (std::vector<int64_t>{ids[3], ids[2]}));
  EXPECT_TRUE(list_ids(Query(std::nullopt, t0 + 10'000)).empty());
}

TEST_F(EscalationStoreTest, PagingIsStableWhileEscalationsArrive) {
  std::unique_ptr<EscalationStore> store = OpenStore(false);
  ASSERT_NE(store, nullptr);
  // Three share one timestamp: the id breaks the tie.
  const std::vector<int64_t> times = {100, 200, 200, 200, 300, 400, 500};
  std::vector<int64_t> ids;
  for (size_t i = 0; i < times.size(); ++i) {
    now_ = times[i];
    ids.push_back(store->Create(Sample("req-" + std::to_string(i)))->escalation.id);
  }
  std::vector<int64_t> seen;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<EscalationPage> page = store->List(Page(3, token));
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_LE(page->escalations.size(), 3u);
    for (const Escalation& e : page->escalations) seen.push_back(e.id);
    token = page->next_page_token;
    ++pages;
    // Arrivals and resolutions between pages neither show up later nor shift the pages.
    now_ = 1000 + pages;
    ASSERT_TRUE(store->Create(Sample("late-" + std::to_string(pages))).ok());
    if (pages == 1) {
      ASSERT_TRUE(store->Resolve(ids[0], "alice", "").ok());
    }
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<int64_t>{ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}));

  // Exactly a page's worth: no token pointing at an empty page.
  absl::StatusOr<EscalationPage> all = store->List(Page(10, ""));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->escalations.size(), 10u);
  EXPECT_TRUE(all->next_page_token.empty());
}

TEST_F(EscalationStoreTest, ListRejectsBadQueries) {
  std::unique_ptr<EscalationStore> store = OpenStore(false);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(absl::IsInvalidArgument(store->List(Page(-1, "")).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store->List(Query(std::nullopt, 10, 10)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store->List(Query(std::nullopt, 10, 9)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store->List(Page(0, "not a token!")).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store->List(Page(0, "MTIz")).status()));  // "123": no id
  // A page size above the maximum is clamped, not refused.
  EXPECT_TRUE(store->List(Page(1'000'000, "")).ok());
}

TEST_F(EscalationStoreTest, NoOutboxRowsWithoutAWebhook) {
  std::unique_ptr<EscalationStore> store = OpenStore(false);
  ASSERT_NE(store, nullptr);
  const int64_t id = store->Create(Sample("req-1"))->escalation.id;
  EXPECT_TRUE(absl::IsNotFound(store->GetOutbox(id).status()));
  EXPECT_TRUE(store->DueOutbox(now_.load() + 1'000'000, 10)->empty());
  EXPECT_FALSE(store->NextOutboxAttemptMs()->has_value());
}

TEST_F(EscalationStoreTest, OutboxRowsFollowTheirAttempts) {
  std::unique_ptr<EscalationStore> store = OpenStore(true);
  ASSERT_NE(store, nullptr);
  const int64_t t0 = now_.load();
  const int64_t a = store->Create(Sample("req-a"))->escalation.id;
  now_ += 10;
  const int64_t b = store->Create(Sample("req-b"))->escalation.id;
  // A retried request enqueues nothing more.
  ASSERT_FALSE(store->Create(Sample("req-a"))->created);

  absl::StatusOr<std::vector<OutboxEntry>> due = store->DueOutbox(now_.load(), 10);
  ASSERT_TRUE(due.ok()) << due.status();
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].escalation_id, a);
  EXPECT_EQ((*due)[1].escalation_id, b);
  EXPECT_EQ((*due)[0].state, OutboxState::kPending);
  EXPECT_EQ((*due)[0].attempts, 0);
  EXPECT_EQ((*due)[0].next_attempt_ms, t0);
  EXPECT_EQ(store->DueOutbox(t0, 10)->size(), 1u);  // b is not due before it was created
  EXPECT_EQ(store->DueOutbox(now_.load(), 1)->size(), 1u);

  const OutboxEntry row_a = (*due)[0];
  ASSERT_TRUE(store->RecordOutboxAttempt(row_a.id, t0 + 20, OutboxState::kPending, "HTTP 500", t0 + 5000).ok());
  absl::StatusOr<OutboxEntry> after = store->GetOutbox(a);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->attempts, 1);
  EXPECT_EQ(after->last_error, "HTTP 500");
  EXPECT_EQ(after->next_attempt_ms, t0 + 5000);
  EXPECT_EQ(after->updated_ms, t0 + 20);
  EXPECT_EQ(**store->NextOutboxAttemptMs(), t0 + 10);  // b's

  ASSERT_TRUE(store->RecordOutboxAttempt((*due)[1].id, t0 + 30, OutboxState::kDone, "ignored", 0).ok());
  absl::StatusOr<OutboxEntry> done = store->GetOutbox(b);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, OutboxState::kDone);
  EXPECT_EQ(done->delivered_ms, t0 + 30);
  EXPECT_EQ(done->last_error, "");
  EXPECT_EQ(**store->NextOutboxAttemptMs(), t0 + 5000);
  // Only pending rows take attempts.
  EXPECT_TRUE(absl::IsNotFound(store->RecordOutboxAttempt((*due)[1].id, t0, OutboxState::kPending, "x", 0)));

  ASSERT_TRUE(store->RecordOutboxAttempt(row_a.id, t0 + 40, OutboxState::kFailed, "gave up", t0 + 5000).ok());
  EXPECT_EQ(store->GetOutbox(a)->state, OutboxState::kFailed);
  EXPECT_EQ(store->GetOutbox(a)->attempts, 2);
  EXPECT_FALSE(store->NextOutboxAttemptMs()->has_value());
  EXPECT_TRUE(store->DueOutbox(INT64_MAX, 10)->empty());
}

TEST_F(EscalationStoreTest, RestartKeepsEscalationsAndPendingOutboxRows) {
  int64_t open_id = 0;
  int64_t resolved_id = 0;
  {
    std::unique_ptr<EscalationStore> store = OpenStore(true);
    ASSERT_NE(store, nullptr);
    open_id = store->Create(Sample("req-open"))->escalation.id;
    resolved_id = store->Create(Sample("req-resolved"))->escalation.id;
    ASSERT_TRUE(store->Resolve(resolved_id, "alice", "fixed the docs").ok());
    const OutboxEntry row = store->DueOutbox(now_.load(), 10)->front();
    ASSERT_TRUE(store->RecordOutboxAttempt(row.id, now_.load(), OutboxState::kPending, "connection refused",
                                           now_.load() + 2000)
                    .ok());
  }
  std::unique_ptr<EscalationStore> store = OpenStore(false);  // the webhook since unconfigured
  ASSERT_NE(store, nullptr);
  absl::StatusOr<Escalation> open = store->Get(open_id);
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_EQ(open->request_id, "req-open");
  EXPECT_EQ(open->passages.size(), 2u);
  absl::StatusOr<Escalation> resolved = store->Get(resolved_id);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->status, EscalationStatus::kResolved);
  EXPECT_EQ(resolved->resolution_note, "fixed the docs");
  EXPECT_FALSE(store->Create(Sample("req-open"))->created);

  absl::StatusOr<OutboxEntry> row = store->GetOutbox(open_id);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->state, OutboxState::kPending);
  EXPECT_EQ(row->attempts, 1);
  EXPECT_EQ(row->last_error, "connection refused");
  EXPECT_EQ(row->next_attempt_ms, now_.load() + 2000);
  EXPECT_EQ(store->DueOutbox(now_.load() + 2000, 10)->size(), 2u);
}

TEST_F(EscalationStoreTest, RefusesNewerSchemaAndNonDatabases) {
  { ASSERT_NE(OpenStore(false), nullptr); }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  absl::StatusOr<std::unique_ptr<EscalationStore>> newer = EscalationStore::Open(path_, {});
  EXPECT_TRUE(absl::IsFailedPrecondition(newer.status())) << newer.status();

  const std::string junk = (dir_ / "junk.db").string();
  std::ofstream(junk) << std::string(4096, 'x');
  absl::StatusOr<std::unique_ptr<EscalationStore>> bad = EscalationStore::Open(junk, {});
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("junk.db"), std::string_view::npos) << bad.status();
}

}  // namespace
}  // namespace tinyrag
