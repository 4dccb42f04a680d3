// Escalations: answers the service was not sure of, kept for a human support
// desk, plus the webhook outbox that tells the desk about them.
//
// Storage: one SQLite database of its own (DATA_DIR/escalations.db, WAL,
// foreign keys, schema version with migrations as in index/sqlite_store_schema.h),
// so escalations never contend with ingestion for the knowledge base's write
// lock and survive a rebuilt knowledge base.
//
// An escalation is stored once per request id: a retried request with the
// same id gets the existing record back. When the store is opened with the
// webhook enabled, the transaction that creates an escalation also enqueues
// its outbox row, so a crash can never leave an escalation the webhook will
// not hear about (delivery is at least once; see service/webhook.h).
//
// Thread safety: every method may be called from any thread; calls are
// serialized on one connection (escalations are rare next to questions).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "index/sqlite_store_db.h"

namespace tinyrag {

// The file name of the escalation database inside a data directory.
inline constexpr char kEscalationsDbName[] = "escalations.db";

enum class EscalationStatus { kOpen, kResolved };

// "open", "resolved".
std::string_view EscalationStatusName(EscalationStatus status);
// The status named `name`; InvalidArgument otherwise.
absl::StatusOr<EscalationStatus> ParseEscalationStatus(std::string_view name);

// A passage the draft answer was generated from, as shown to the model.
struct EscalationPassage {
  int64_t document_id = 0;
  std::string external_id;
  std::string title;
  std::string source;
  std::string text;
  double score = 0;                     // the ranking score (fused in hybrid mode)
  std::optional<double> dense_score;    // when the chunk was in the dense list
  std::optional<double> lexical_score;  // when the chunk was in the lexical list
};

// What the answerer knows when it escalates.
struct NewEscalation {
  std::string request_id;  // idempotency key: non-empty, at most 256 bytes
  std::string question;    // non-empty
  std::string draft_answer;
  double confidence = 0;   // in [0, 1]
  std::map<std::string, double> confidence_components;  // finite values
  std::vector<EscalationPassage> passages;               // finite scores
  std::string collection;
  std::string reason;  // why it was escalated, e.g. "low_confidence"
};

struct Escalation {
  int64_t id = 0;  // assigned by the store, never reused
  std::string request_id;
  std::string question;
  std::string draft_answer;
  double confidence = 0;
  std::map<std::string, double> confidence_components;
  std::vector<EscalationPassage> passages;
  std::string collection;
  std::string reason;
  EscalationStatus status = EscalationStatus::kOpen;
  std::string resolution_note;  // empty while open
  std::string resolved_by;      // empty while open
  int64_t created_ms = 0;       // Unix epoch milliseconds
  int64_t updated_ms = 0;
  int64_t resolved_ms = 0;  // 0 while open
};

struct CreateEscalationResult {
  Escalation escalation;
  bool created = false;  // false: the request id was already escalated and this is that record
};

struct EscalationQuery {
  std::optional<EscalationStatus> status;  // any status when unset
  int64_t created_from_ms = 0;             // inclusive
  int64_t created_to_ms = INT64_MAX;       // exclusive
  int page_size = 50;                      // 0: 50; larger than 1000: 1000
  std::string page_token;                  // empty: the first page
};

struct EscalationPage {
  std::vector<Escalation> escalations;  // newest first (created time, then id)
  std::string next_page_token;          // empty on the last page
};

enum class OutboxState { kPending, kDone, kFailed };

// "pending", "done", "failed".
std::string_view OutboxStateName(OutboxState state);

// One webhook delivery of one escalation.
struct OutboxEntry {
  int64_t id = 0;
  int64_t escalation_id = 0;
  OutboxState state = OutboxState::kPending;
  int attempts = 0;
  int64_t next_attempt_ms = 0;  // when a pending row is due
  std::string last_error;       // empty until an attempt failed
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t delivered_ms = 0;  // 0 until done
};

struct EscalationStoreOptions {
  // Enqueue a webhook outbox row with every new escalation (a webhook is
  // configured). Rows already pending stay pending either way.
  bool enqueue_webhook = false;
  // Milliseconds since the Unix epoch for created/updated times; the system
  // clock when unset. Tests inject a fake one.
  std::function<int64_t()> now_ms;
};

class EscalationStore {
 public:
  // Opens or creates the database at `path` and migrates it to this build's
  // schema. FailedPrecondition when the file has a newer schema (untouched);
  // Internal when it cannot be opened or is not a database.
  static absl::StatusOr<std::unique_ptr<EscalationStore>> Open(const std::string& path,
                                                               EscalationStoreOptions options);

  // Stores `in` unless its request id is already stored; either way returns the
  // stored record (`created` tells which). InvalidArgument for an empty or
  // overlong request id, an empty question, a confidence outside [0, 1] or a
  // non-finite component or score.
  absl::StatusOr<CreateEscalationResult> Create(const NewEscalation& in);

  // The escalation with id `id`; NotFound when there is none.
  absl::StatusOr<Escalation> Get(int64_t id);

  // One page of the escalations matching `query`, newest first. The page
  // token continues after the last row of the previous page whatever was
  // created or resolved meanwhile (keyset paging, so no row is skipped or
  // repeated); pass it with the same filter. InvalidArgument for a negative
  // page size, an empty or inverted time range, or a malformed token.
  absl::StatusOr<EscalationPage> List(const EscalationQuery& query);

  // Marks an open escalation resolved by `resolved_by` (non-empty) with
  // `note`, and returns it. NotFound for an unknown id; FailedPrecondition
  // when it was already resolved (the first resolution is kept);
  // InvalidArgument for an empty resolver.
  absl::StatusOr<Escalation> Resolve(int64_t id, std::string_view resolved_by, std::string_view note);

  // --- Outbox, for the webhook sender (one sender per store). ---

  // Pending rows due at `now_ms` (next attempt not later), oldest due first,
  // at most `limit`.
  absl::StatusOr<std::vector<OutboxEntry>> DueOutbox(int64_t now_ms, int limit);
  // The earliest next attempt time of any pending row; nullopt when none is pending.
  absl::StatusOr<std::optional<int64_t>> NextOutboxAttemptMs();
  // The outbox row of escalation `escalation_id`; NotFound when it has none
  // (created while no webhook was configured).
  absl::StatusOr<OutboxEntry> GetOutbox(int64_t escalation_id);
  // Records one delivery attempt of pending row `outbox_id` at `now_ms`:
  // attempts + 1, the new state (done: delivered; pending: retry at
  // `next_attempt_ms`; failed: given up) and `error` (ignored when done).
  // NotFound when no pending row has that id.
  absl::Status RecordOutboxAttempt(int64_t outbox_id, int64_t now_ms, OutboxState state, std::string_view error,
                                   int64_t next_attempt_ms);

  // The store's clock (milliseconds since the Unix epoch).
  int64_t NowMs() const { return now_ms_(); }

 private:
  EscalationStore(sqlite::Connection db, EscalationStoreOptions options);

  absl::StatusOr<std::optional<Escalation>> FindByRequestId(std::string_view request_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<Escalation>> FindById(int64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const bool enqueue_webhook_;
  const std::function<int64_t()> now_ms_;
  absl::Mutex mu_;
  sqlite::Connection db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tinyrag
