#include "service/escalation_store.h"

#include <chrono>
#include <cmath>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "index/sqlite_store_schema.h"
#include "nlohmann/json.hpp"

namespace tinyrag {
namespace {

using sqlite::Statement;
using sqlite::Transaction;

constexpr size_t kMaxRequestIdBytes = 256;
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

// Version 1. Notes on choices:
// - request_id is UNIQUE: the idempotency of Create is the database's, not a
//   check-then-insert race.
// - AUTOINCREMENT: an escalation id is handed to a helpdesk and must never
//   name a different escalation later.
// - Components and passages are JSON (validated): they are read back whole,
//   never queried, and their shape follows the answerer's.
// - One outbox row per escalation (UNIQUE), deleted with it.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE escalations (
  id                    INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id            TEXT NOT NULL UNIQUE,
  question              TEXT NOT NULL,
  draft_answer          TEXT NOT NULL,
  confidence            REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
  confidence_components TEXT NOT NULL CHECK (json_valid(confidence_components)),
  passages              TEXT NOT NULL CHECK (json_valid(passages)),
  collection            TEXT NOT NULL,
  reason                TEXT NOT NULL,
  status                TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
  resolution_note       TEXT NOT NULL DEFAULT '',
  resolved_by           TEXT NOT NULL DEFAULT '',
  created_ms            INTEGER NOT NULL,
  updated_ms            INTEGER NOT NULL,
  resolved_ms           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX escalations_by_created ON escalations(created_ms, id);
CREATE INDEX escalations_by_status ON escalations(status, created_ms, id);
CREATE TABLE webhook_outbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  escalation_id   INTEGER NOT NULL UNIQUE REFERENCES escalations(id) ON DELETE CASCADE,
  state           TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  last_error      TEXT NOT NULL DEFAULT '',
  created_ms      INTEGER NOT NULL,
  updated_ms      INTEGER NOT NULL,
  delivered_ms    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(state, next_attempt_ms);
)sql";

constexpr sqlite::Migration kMigrations[] = {
    {"escalations and their webhook outbox", kSchemaV1},
};

constexpr char kEscalationColumns[] =
    "id, request_id, question, draft_answer, confidence, confidence_components, passages, collection, reason, "
    "status, resolution_note, resolved_by, created_ms, updated_ms, resolved_ms";
constexpr char kOutboxColumns[] =
    "id, escalation_id, state, attempts, next_attempt_ms, last_error, created_ms, updated_ms, delivered_ms";

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Invalid UTF-8 in a question or passage is replaced, not an exception.
std::string Dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

nlohmann::json OptionalNumber(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

std::string PassagesJson(const std::vector<EscalationPassage>& passages) {
  nlohmann::json out = nlohmann::json::array();
  for (const EscalationPassage& p : passages) {
    out.push_back({{"document_id", p.document_id},
                   {"external_id", p.external_id},
                   {"title", p.title},
                   {"source", p.source},
                   {"text", p.text},
                   {"score", p.score},
                   {"dense_score", OptionalNumber(p.dense_score)},
                   {"lexical_score", OptionalNumber(p.lexical_score)}});
  }
  return Dump(out);
}

std::optional<double> ReadOptionalNumber(const nlohmann::json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<double>();
}

// The JSON columns were written by this file; a row that does not parse was
// damaged outside it.
absl::Status ParseJsonColumns(const std::string& components, const std::string& passages, Escalation* e) {
  try {
    const nlohmann::json parsed_components = nlohmann::json::parse(components);
    const nlohmann::json parsed_passages = nlohmann::json::parse(passages);
    for (const auto& [name, value] : parsed_components.items()) {
      e->confidence_components[name] = value.get<double>();
    }
    for (const nlohmann::json& p : parsed_passages) {
      e->passages.push_back({.document_id = p.at("document_id").get<int64_t>(),
                             .external_id = p.at("external_id").get<std::string>(),
                             .title = p.at("title").get<std::string>(),
                             .source = p.at("source").get<std::string>(),
                             .text = p.at("text").get<std::string>(),
                             .score = p.at("score").get<double>(),
                             .dense_score = ReadOptionalNumber(p.at("dense_score")),
                             .lexical_score = ReadOptionalNumber(p.at("lexical_score"))});
    }
  } catch (const nlohmann::json::exception& ex) {
    return absl::DataLossError(absl::StrCat("escalation ", e->id, " has damaged JSON columns: ", ex.what()));
  }
  return absl::OkStatus();
}

// Reads a row selected with kEscalationColumns.
absl::StatusOr<Escalation> ReadEscalation(const Statement& st) {
  Escalation e;
  e.id = st.Int(0);
  e.request_id = st.Text(1);
  e.question = st.Text(2);
  e.draft_answer = st.Text(3);
  e.confidence = st.Double(4);
  e.collection = st.Text(7);
  e.reason = st.Text(8);
  absl::StatusOr<EscalationStatus> status = ParseEscalationStatus(st.Text(9));
  if (!status.ok()) return absl::DataLossError(absl::StrCat("escalation ", e.id, ": ", status.status().message()));
  e.status = *status;
  e.resolution_note = st.Text(10);
  e.resolved_by = st.Text(11);
  e.created_ms = st.Int(12);
  e.updated_ms = st.Int(13);
  e.resolved_ms = st.Int(14);
  if (absl::Status s = ParseJsonColumns(st.Text(5), st.Text(6), &e); !s.ok()) return s;
  return e;
}

absl::StatusOr<OutboxState> ParseOutboxState(std::string_view name) {
  for (OutboxState s : {OutboxState::kPending, OutboxState::kDone, OutboxState::kFailed}) {
    if (OutboxStateName(s) == name) return s;
  }
  return absl::DataLossError(absl::StrCat("unknown outbox state \"", std::string(name), "\""));
}

// Reads a row selected with kOutboxColumns.
absl::StatusOr<OutboxEntry> ReadOutbox(const Statement& st) {
  OutboxEntry o;
  o.id = st.Int(0);
  o.escalation_id = st.Int(1);
  absl::StatusOr<OutboxState> state = ParseOutboxState(st.Text(2));
  if (!state.ok()) return state.status();
  o.state = *state;
  o.attempts = static_cast<int>(st.Int(3));
  o.next_attempt_ms = st.Int(4);
  o.last_error = st.Text(5);
  o.created_ms = st.Int(6);
  o.updated_ms = st.Int(7);
  o.delivered_ms = st.Int(8);
  return o;
}

absl::Status ValidateNew(const NewEscalation& in) {
  if (in.request_id.empty()) return absl::InvalidArgumentError("escalation: the request id is empty");
  if (in.request_id.size() > kMaxRequestIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("escalation: the request id is ", in.request_id.size(),
                                                   " bytes, more than the ", kMaxRequestIdBytes, " allowed"));
  }
  if (in.question.empty()) return absl::InvalidArgumentError("escalation: the question is empty");
  if (!(in.confidence >= 0 && in.confidence <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("escalation: confidence ", in.confidence, " is not in [0, 1]"));
  }
  for (const auto& [name, value] : in.confidence_components) {
    if (!std::isfinite(value)) {
      return absl::InvalidArgumentError(absl::StrCat("escalation: confidence component ", name, " is not finite"));
    }
  }
  for (size_t i = 0; i < in.passages.size(); ++i) {
    const EscalationPassage& p = in.passages[i];
    if (!std::isfinite(p.score) || (p.dense_score && !std::isfinite(*p.dense_score)) ||
        (p.lexical_score && !std::isfinite(*p.lexical_score))) {
      return absl::InvalidArgumentError(absl::StrCat("escalation: passage ", i + 1, " has a non-finite score"));
    }
  }
  return absl::OkStatus();
}

// A default-constructed string_view would bind as SQL NULL.
std::string_view NotNull(std::string_view s) { return s.data() != nullptr ? s : std::string_view(""); }

// Page tokens are opaque to clients: web-safe base64 of "created_ms:id" of
// the last row returned.
std::string EncodePageToken(int64_t created_ms, int64_t id) {
  return absl::WebSafeBase64Escape(absl::StrCat(created_ms, ":", id));
}

absl::Status DecodePageToken(std::string_view token, int64_t* created_ms, int64_t* id) {
  std::string raw;
  const absl::Status bad = absl::InvalidArgumentError(absl::StrCat("invalid page token \"", std::string(token), "\""));
  if (!absl::WebSafeBase64Unescape(std::string(token), &raw)) return bad;
  std::vector<std::string> parts = absl::StrSplit(raw, ':');
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], created_ms) || !absl::SimpleAtoi(parts[1], id)) return bad;
  return absl::OkStatus();
}

}  // namespace

std::string_view EscalationStatusName(EscalationStatus status) {
  return status == EscalationStatus::kOpen ? "open" : "resolved";
}

absl::StatusOr<EscalationStatus> ParseEscalationStatus(std::string_view name) {
  if (name == "open") return EscalationStatus::kOpen;
  if (name == "resolved") return EscalationStatus::kResolved;
  return absl::InvalidArgumentError(absl::StrCat("unknown escalation status \"", std::string(name), "\" (open, resolved)"));
}

std::string_view OutboxStateName(OutboxState state) {
  switch (state) {
    case OutboxState::kPending:
      return "pending";
    case OutboxState::kDone:
      return "done";
    case OutboxState::kFailed:
      return "failed";
  }
  return "pending";
}

EscalationStore::EscalationStore(sqlite::Connection db, EscalationStoreOptions options)
    : enqueue_webhook_(options.enqueue_webhook),
      now_ms_(options.now_ms ? std::move(options.now_ms) : std::function<int64_t()>(SystemNowMs)),
      db_(std::move(db)) {}

absl::StatusOr<std::unique_ptr<EscalationStore>> EscalationStore::Open(const std::string& path,
                                                                       EscalationStoreOptions options) {
  absl::StatusOr<sqlite::Connection> db = sqlite::Open(path, /*read_only=*/false);
  if (!db.ok()) return db.status();
  if (absl::Status s = sqlite::Migrate(db->get(), path, kMigrations); !s.ok()) return s;
  return std::unique_ptr<EscalationStore>(new EscalationStore(std::move(*db), std::move(options)));
}

absl::StatusOr<std::optional<Escalation>> EscalationStore::FindByRequestId(std::string_view request_id) {
  absl::StatusOr<Statement> st =
      Statement::Prepare(db_.get(), absl::StrCat("SELECT ", kEscalationColumns, " FROM escalations WHERE request_id = ?"));
  if (!st.ok()) return st.status();
  st->Bind(1, request_id);
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Escalation>();
  absl::StatusOr<Escalation> e = ReadEscalation(*st);
  if (!e.ok()) return e.status();
  return std::optional<Escalation>(std::move(*e));
}

absl::StatusOr<std::optional<Escalation>> EscalationStore::FindById(int64_t id) {
  absl::StatusOr<Statement> st =
      Statement::Prepare(db_.get(), absl::StrCat("SELECT ", kEscalationColumns, " FROM escalations WHERE id = ?"));
  if (!st.ok()) return st.status();
  st->Bind(1, id);
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Escalation>();
  absl::StatusOr<Escalation> e = ReadEscalation(*st);
  if (!e.ok()) return e.status();
  return std::optional<Escalation>(std::move(*e));
}

absl::StatusOr<CreateEscalationResult> EscalationStore::Create(const NewEscalation& in) {
  if (absl::Status s = ValidateNew(in); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Transaction> txn = Transaction::Begin(db_.get(), /*immediate=*/true);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<std::optional<Escalation>> existing = FindByRequestId(in.request_id);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) return CreateEscalationResult{.escalation = std::move(**existing), .created = false};

  const int64_t now = now_ms_();
  absl::StatusOr<Statement> insert = Statement::Prepare(
      db_.get(), absl::StrCat("INSERT INTO escalations (request_id, question, draft_answer, confidence, "
                              "confidence_components, passages, collection, reason, status, created_ms, updated_ms) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?) RETURNING ",
                              kEscalationColumns));
  if (!insert.ok()) return insert.status();
  insert->Bind(1, in.request_id)
      .Bind(2, in.question)
      .Bind(3, in.draft_answer)
      .Bind(4, in.confidence)
      .Bind(5, Dump(nlohmann::json(in.confidence_components)))
      .Bind(6, PassagesJson(in.passages))
      .Bind(7, in.collection)
      .Bind(8, in.reason)
      .Bind(9, now)
      .Bind(10, now);
  absl::StatusOr<bool> row = insert->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::InternalError("escalation insert returned no row");
  absl::StatusOr<Escalation> created = ReadEscalation(*insert);
  if (!created.ok()) return created.status();
  insert->Reset();  // finishes the statement before COMMIT

  if (enqueue_webhook_) {
    absl::StatusOr<Statement> outbox = Statement::Prepare(
        db_.get(),
        "INSERT INTO webhook_outbox (escalation_id, state, next_attempt_ms, created_ms, updated_ms) "
        "VALUES (?, 'pending', ?, ?, ?)");
    if (!outbox.ok()) return outbox.status();
    outbox->Bind(1, created->id).Bind(2, now).Bind(3, now).Bind(4, now);
    if (absl::Status s = outbox->Run(); !s.ok()) return s;
  }
  if (absl::Status s = txn->Commit(); !s.ok()) return s;
  return CreateEscalationResult{.escalation = std::move(*created), .created = true};
}

absl::StatusOr<Escalation> EscalationStore::Get(int64_t id) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::optional<Escalation>> e = FindById(id);
  if (!e.ok()) return e.status();
  if (!e->has_value()) return absl::NotFoundError(absl::StrCat("no escalation with id ", id));
  return std::move(**e);
}

absl::StatusOr<EscalationPage> EscalationStore::List(const EscalationQuery& query) {
  if (query.page_size < 0) {
    return absl::InvalidArgumentError(absl::StrCat("page size ", query.page_size, " is negative"));
  }
  if (query.created_from_ms >= query.created_to_ms) {
    return absl::InvalidArgumentError(absl::StrCat("empty time range: from ", query.created_from_ms,
                                                   " is not before to ", query.created_to_ms));
  }
  const int page_size = query.page_size == 0 ? kDefaultPageSize : std::min(query.page_size, kMaxPageSize);
  int64_t after_created = INT64_MAX;
  int64_t after_id = INT64_MAX;
  if (!query.page_token.empty()) {
    if (absl::Status s = DecodePageToken(query.page_token, &after_created, &after_id); !s.ok()) return s;
  }

  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> st = Statement::Prepare(
      db_.get(), absl::StrCat("SELECT ", kEscalationColumns,
                              " FROM escalations WHERE (?1 = '' OR status = ?1) AND created_ms >= ?2 AND "
                              "created_ms < ?3 AND (created_ms < ?4 OR (created_ms = ?4 AND id < ?5)) "
                              "ORDER BY created_ms DESC, id DESC LIMIT ?6"));
  if (!st.ok()) return st.status();
  st->Bind(1, query.status ? EscalationStatusName(*query.status) : std::string_view(""))
      .Bind(2, query.created_from_ms)
      .Bind(3, query.created_to_ms)
      .Bind(4, after_created)
      .Bind(5, after_id)
      .Bind(6, static_cast<int64_t>(page_size) + 1);  // one more tells whether a next page exists
  EscalationPage page;
  for (;;) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (page.escalations.size() == static_cast<size_t>(page_size)) {
      const Escalation& last = page.escalations.back();
      page.next_page_token = EncodePageToken(last.created_ms, last.id);
      break;
    }
    absl::StatusOr<Escalation> e = ReadEscalation(*st);
    if (!e.ok()) return e.status();
    page.escalations.push_back(std::move(*e));
  }
  return page;
}

absl::StatusOr<Escalation> EscalationStore::Resolve(int64_t id, std::string_view resolved_by, std::string_view note) {
  if (resolved_by.empty()) return absl::InvalidArgumentError("resolving an escalation needs the resolver's name");
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Transaction> txn = Transaction::Begin(db_.get(), /*immediate=*/true);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<std::optional<Escalation>> current = FindById(id);
  if (!current.ok()) return current.status();
  if (!current->has_value()) return absl::NotFoundError(absl::StrCat("no escalation with id ", id));
  const Escalation& e = **current;
  if (e.status == EscalationStatus::kResolved) {
    return absl::FailedPreconditionError(absl::StrCat("escalation ", id, " is already resolved (by ", e.resolved_by,
                                                      " at ", e.resolved_ms, " ms)"));
  }
  const int64_t now = now_ms_();
  absl::StatusOr<Statement> st = Statement::Prepare(
      db_.get(), absl::StrCat("UPDATE escalations SET status = 'resolved', resolved_by = ?, resolution_note = ?, "
                              "resolved_ms = ?, updated_ms = ? WHERE id = ? RETURNING ",
                              kEscalationColumns));
  if (!st.ok()) return st.status();
  st->Bind(1, resolved_by).Bind(2, NotNull(note)).Bind(3, now).Bind(4, now).Bind(5, id);
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::InternalError(absl::StrCat("escalation ", id, " vanished while resolving it"));
  absl::StatusOr<Escalation> resolved = ReadEscalation(*st);
  if (!resolved.ok()) return resolved.status();
  st->Reset();
  if (absl::Status s = txn->Commit(); !s.ok()) return s;
  return resolved;
}

absl::StatusOr<std::vector<OutboxEntry>> EscalationStore::DueOutbox(int64_t now_ms, int limit) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> st = Statement::Prepare(
      db_.get(), absl::StrCat("SELECT ", kOutboxColumns,
                              " FROM webhook_outbox WHERE state = 'pending' AND next_attempt_ms <= ? "
                              "ORDER BY next_attempt_ms, id LIMIT ?"));
  if (!st.ok()) return st.status();
  st->Bind(1, now_ms).Bind(2, static_cast<int64_t>(limit));
  std::vector<OutboxEntry> out;
  for (;;) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    absl::StatusOr<OutboxEntry> o = ReadOutbox(*st);
    if (!o.ok()) return o.status();
    out.push_back(std::move(*o));
  }
  return out;
}

absl::StatusOr<std::optional<int64_t>> EscalationStore::NextOutboxAttemptMs() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> st = Statement::Prepare(
      db_.get(), "SELECT next_attempt_ms FROM webhook_outbox WHERE state = 'pending' ORDER BY next_attempt_ms LIMIT 1");
  if (!st.ok()) return st.status();
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<int64_t>();
  return std::optional<int64_t>(st->Int(0));
}

absl::StatusOr<OutboxEntry> EscalationStore::GetOutbox(int64_t escalation_id) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> st = Statement::Prepare(
      db_.get(), absl::StrCat("SELECT ", kOutboxColumns, " FROM webhook_outbox WHERE escalation_id = ?"));
  if (!st.ok()) return st.status();
  st->Bind(1, escalation_id);
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat("escalation ", escalation_id, " has no webhook outbox row"));
  return ReadOutbox(*st);
}

absl::Status EscalationStore::RecordOutboxAttempt(int64_t outbox_id, int64_t now_ms, OutboxState state,
                                                  std::string_view error, int64_t next_attempt_ms) {
  const bool done = state == OutboxState::kDone;
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> st = Statement::Prepare(
      db_.get(),
      "UPDATE webhook_outbox SET attempts = attempts + 1, state = ?, last_error = ?, next_attempt_ms = ?, "
      "updated_ms = ?, delivered_ms = ? WHERE id = ? AND state = 'pending' RETURNING id");
  if (!st.ok()) return st.status();
  st->Bind(1, OutboxStateName(state))
      .Bind(2, done ? std::string_view("") : NotNull(error))
      .Bind(3, next_attempt_ms)
      .Bind(4, now_ms)
      .Bind(5, done ? now_ms : int64_t{0})
      .Bind(6, outbox_id);
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat("no pending webhook outbox row with id ", outbox_id));
  st->Reset();
  return absl::OkStatus();
}

}  // namespace tinyrag
