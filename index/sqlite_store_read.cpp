// SqliteStore's read side: chunks, embeddings, the change log and lexical
// search. Every method reads one snapshot through a pooled read-only
// connection, so it never waits for (or blocks) ingestion.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "index/sqlite_store.h"
#include "index/sqlite_store_fts.h"

namespace tinyrag {
namespace {

using sqlite::Statement;
using sqlite::Transaction;
using BindValue = std::variant<int64_t, double, std::string>;

// SQL conditions (each starting with " AND ") on the documents row `d` for
// the metadata filters, with the values to bind from parameter `first` on.
// Comparison is type-aware through json_each's `type` column, so a string
// "1" never matches the number 1.
absl::StatusOr<std::string> MetadataConditions(const std::vector<MetadataFilter>& filters, int first,
                                               std::vector<BindValue>* binds) {
  std::string sql;
  int p = first;
  for (const MetadataFilter& f : filters) {
    absl::StrAppend(&sql, " AND EXISTS (SELECT 1 FROM json_each(d.metadata) j WHERE j.key = ?", p++);
    binds->push_back(f.key);
    const nlohmann::json& v = f.value;
    if (v.is_string()) {
      absl::StrAppend(&sql, " AND j.type = 'text' AND j.value = ?", p++, ")");
      binds->push_back(v.get<std::string>());
    } else if (v.is_boolean()) {
      absl::StrAppend(&sql, " AND j.type = '", v.get<bool>() ? "true" : "false", "')");
    } else if (v.is_null()) {
      absl::StrAppend(&sql, " AND j.type = 'null')");
    } else if (v.is_number_integer() && (v.is_number_unsigned() ? v.get<uint64_t>() <= INT64_MAX : true)) {
      absl::StrAppend(&sql, " AND j.type IN ('integer', 'real') AND j.value = ?", p++, ")");
      binds->push_back(v.get<int64_t>());
    } else if (v.is_number()) {
      absl::StrAppend(&sql, " AND j.type IN ('integer', 'real') AND j.value = ?", p++, ")");
      binds->push_back(v.get<double>());
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata filter '", f.key, "': only strings, numbers, booleans and null can be matched"));
    }
  }
  return sql;
}

void BindAll(Statement& st, int first, const std::vector<BindValue>& binds) {
  int p = first;
  for (const BindValue& b : binds) {
    std::visit([&](const auto& v) { st.Bind(p, v); }, b);
    ++p;
  }
}

// A JSON array of ids, bound as one parameter and expanded by json_each:
// any number of ids without building SQL text.
std::string IdArray(std::span<const int64_t> ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) absl::StrAppend(&out, i == 0 ? "" : ",", ids[i]);
  out += "]";
  return out;
}

}  // namespace

absl::StatusOr<std::vector<ChunkRecord>> SqliteStore::GetChunks(std::span<const int64_t> ids,
                                                               const SearchFilter* filter) {
  if (ids.empty()) return std::vector<ChunkRecord>();
  absl::StatusOr<sqlite::ReaderPool::Lease> db = readers_.Acquire();
  if (!db.ok()) return db.status();
  absl::StatusOr<Transaction> txn = Transaction::Begin(db->get(), /*immediate=*/false);
  if (!txn.ok()) return txn.status();
  std::string sql =
      "SELECT c.id, c.document_id, c.position, c.text, c.token_count, c.heading_path, d.external_id, d.title, "
      "d.source FROM chunks c JOIN documents d ON d.id = c.document_id "
      "WHERE c.id IN (SELECT value FROM json_each(?1))";
  std::vector<BindValue> binds;
  int64_t collection_id = 0;
  if (filter != nullptr) {
    absl::StatusOr<CollectionInfo> coll = LoadCollection(db->get(), filter->collection);
    if (!coll.ok()) return coll.status();
    collection_id = coll->id;
    absl::StrAppend(&sql, " AND c.collection_id = ?2");
    absl::StatusOr<std::string> cond = MetadataConditions(filter->metadata, 3, &binds);
    if (!cond.ok()) return cond.status();
    sql += *cond;
  }
  absl::StatusOr<Statement> st = Statement::Prepare(db->get(), sql);
  if (!st.ok()) return st.status();
  st->Bind(1, IdArray(ids));
  if (filter != nullptr) st->Bind(2, collection_id);
  BindAll(*st, 3, binds);
  absl::flat_hash_map<int64_t, ChunkRecord> by_id;
  for (;;) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    ChunkRecord r;
    r.id = st->Int(0);
    r.document_id = st->Int(1);
    r.position = static_cast<int32_t>(st->Int(2));
    r.text = st->Text(3);
    r.token_count = static_cast<int32_t>(st->Int(4));
    r.heading_path = st->Text(5);
    r.external_id = st->Text(6);
    r.title = st->Text(7);
    r.source = st->Text(8);
    by_id.emplace(r.id, std::move(r));
  }
  std::vector<ChunkRecord> out;
  out.reserve(by_id.size());
  for (int64_t id : ids) {
    auto it = by_id.find(id);
    if (it == by_id.end()) continue;
    out.push_back(std::move(it->second));
    by_id.erase(it);  // an id asked for twice is returned once
  }
  return out;
}

absl::StatusOr<int64_t> SqliteStore::ForEachEmbedding(
    std::string_view collection, int64_t batch_size,
    const std::function<absl::Status(std::span<const int64_t>, std::span<const float>)>& fn) {
  batch_size = std::max<int64_t>(batch_size, 1);
  absl::StatusOr<sqlite::ReaderPool::Lease> db = readers_.Acquire();
  if (!db.ok()) return db.status();
  absl::StatusOr<Transaction> txn = Transaction::Begin(db->get(), /*immediate=*/false);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<CollectionInfo> coll = LoadCollection(db->get(), collection);
  if (!coll.ok()) return coll.status();
  absl::StatusOr<int64_t> change = LastChangeOf(db->get(), coll->id);
  if (!change.ok()) return change.status();

  absl::StatusOr<Statement> st = Statement::Prepare(
      db->get(),
      "SELECT e.chunk_id, e.vector FROM chunks c JOIN embeddings e ON e.chunk_id = c.id "
      "WHERE c.collection_id = ? ORDER BY c.id");
  if (!st.ok()) return st.status();
  st->Bind(1, coll->id);
  const size_t dim = static_cast<size_t>(coll->encoder.dim);
  std::vector<int64_t> ids;
  std::vector<float> vectors;
  ids.reserve(static_cast<size_t>(batch_size));
  vectors.reserve(static_cast<size_t>(batch_size) * dim);
  for (;;) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (*row) {
      if (!st->AppendFloats(1, dim, &vectors)) {
        return absl::DataLossError(absl::StrCat(db_path_, ": embedding of chunk ", st->Int(0),
                                                " does not have collection '", coll->name, "''s dimension ", dim));
      }
      ids.push_back(st->Int(0));
    }
    if (!ids.empty() && (!*row || static_cast<int64_t>(ids.size()) == batch_size)) {
      if (absl::Status s = fn(ids, vectors); !s.ok()) return s;
      ids.clear();
      vectors.clear();
    }
    if (!*row) break;
  }
  return *change;
}

absl::StatusOr<ChangeBatch> SqliteStore::ReadChanges(std::string_view collection, int64_t after_change,
                                                     int64_t max_changes) {
  absl::StatusOr<sqlite::ReaderPool::Lease> db = readers_.Acquire();
  if (!db.ok()) return db.status();
  absl::StatusOr<Transaction> txn = Transaction::Begin(db->get(), /*immediate=*/false);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<CollectionInfo> coll = LoadCollection(db->get(), collection);
  if (!coll.ok()) return coll.status();
  absl::StatusOr<Statement> pruned =
      Statement::Prepare(db->get(), "SELECT changes_pruned_through FROM collections WHERE id = ?");
  if (!pruned.ok()) return pruned.status();
  pruned->Bind(1, coll->id);
  if (absl::StatusOr<bool> row = pruned->Step(); !row.ok()) return row.status();
  if (after_change < pruned->Int(0)) {
    return absl::OutOfRangeError(absl::StrCat("changes of collection '", coll->name, "' through ", pruned->Int(0),
                                              " were pruned; cannot catch up from ", after_change));
  }
  absl::StatusOr<Statement> st = Statement::Prepare(
      db->get(), "SELECT seq, chunk_id, op FROM changes WHERE collection_id = ? AND seq > ? ORDER BY seq LIMIT ?");
  if (!st.ok()) return st.status();
  st->Bind(1, coll->id).Bind(2, after_change).Bind(3, std::max<int64_t>(max_changes, 1));

  // Chunk ids are never reused, so an id is added at most once and removed at
  // most once after that: a removal cancels an add from the same batch, and
  // the order of the remaining adds and removals does not matter.
  ChangeBatch batch;
  batch.first_change = batch.last_change = after_change;
  std::vector<int64_t> added_in_order;
  absl::flat_hash_set<int64_t> added;
  for (;;) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    batch.last_change = st->Int(0);
    const int64_t id = st->Int(1);
    if (st->Int(2) == 1) {
      added_in_order.push_back(id);
      added.insert(id);
    } else if (added.erase(id) == 0) {
      batch.removed.push_back(id);
    }
  }
  std::vector<int64_t> wanted;
  for (int64_t id : added_in_order) {
    if (added.contains(id)) wanted.push_back(id);
  }
  if (wanted.empty()) return batch;

  // An add whose chunk a later change (past this batch) already removed has
  // no embedding in this snapshot: it is skipped, and that removal, read in
  // a later batch, finds nothing to remove.
  absl::StatusOr<Statement> vec = Statement::Prepare(
      db->get(), "SELECT chunk_id, vector FROM embeddings WHERE chunk_id IN (SELECT value FROM json_each(?))");
  if (!vec.ok()) return vec.status();
  vec->Bind(1, IdArray(wanted));
  const size_t dim = static_cast<size_t>(coll->encoder.dim);
  absl::flat_hash_map<int64_t, std::vector<float>> vectors;
  for (;;) {
    absl::StatusOr<bool> row = vec->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::vector<float> v;
    if (!vec->AppendFloats(1, dim, &v)) {
      return absl::DataLossError(absl::StrCat(db_path_, ": embedding of chunk ", vec->Int(0),
                                              " does not have collection '", coll->name, "''s dimension ", dim));
    }
    vectors.emplace(vec->Int(0), std::move(v));
  }
  for (int64_t id : wanted) {
    auto it = vectors.find(id);
    if (it == vectors.end()) continue;
    batch.added.push_back(id);
    batch.added_vectors.insert(batch.added_vectors.end(), it->second.begin(), it->second.end());
  }
  return batch;
}

absl::StatusOr<int64_t> SqliteStore::LastChangeOf(sqlite3* db, int64_t collection_id) {
  absl::StatusOr<Statement> st = Statement::Prepare(
      db,
      "SELECT MAX(COALESCE((SELECT MAX(seq) FROM changes WHERE collection_id = ?1), 0), changes_pruned_through) "
      "FROM collections WHERE id = ?1");
  if (!st.ok()) return st.status();
  st->Bind(1, collection_id);
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat("no collection with id ", collection_id));
  return st->Int(0);
}

absl::StatusOr<int64_t> SqliteStore::LastChange(std::string_view collection) {
  absl::StatusOr<sqlite::ReaderPool::Lease> db = readers_.Acquire();
  if (!db.ok()) return db.status();
  absl::StatusOr<Transaction> txn = Transaction::Begin(db->get(), /*immediate=*/false);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<CollectionInfo> coll = LoadCollection(db->get(), collection);
  if (!coll.ok()) return coll.status();
  return LastChangeOf(db->get(), coll->id);
}

absl::StatusOr<int64_t> SqliteStore::CountChunks(std::string_view collection) {
  absl::StatusOr<sqlite::ReaderPool::Lease> db = readers_.Acquire();
  if (!db.ok()) return db.status();
  absl::StatusOr<Transaction> txn = Transaction::Begin(db->get(), /*immediate=*/false);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<CollectionInfo> coll = LoadCollection(db->get(), collection);
  if (!coll.ok()) return coll.status();
  absl::StatusOr<Statement> st = Statement::Prepare(db->get(), "SELECT COUNT(*) FROM chunks WHERE collection_id = ?");
  if (!st.ok()) return st.status();
  st->Bind(1, coll->id);
  if (absl::StatusOr<bool> row = st->Step(); !row.ok()) return row.status();
  return st->Int(0);
}

absl::StatusOr<std::vector<LexicalHit>> SqliteStore::LexicalSearch(const SearchFilter& filter,
                                                                  std::string_view question, int k) {
  absl::StatusOr<sqlite::ReaderPool::Lease> db = readers_.Acquire();
  if (!db.ok()) return db.status();
  absl::StatusOr<Transaction> txn = Transaction::Begin(db->get(), /*immediate=*/false);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<CollectionInfo> coll = LoadCollection(db->get(), filter.collection);
  if (!coll.ok()) return coll.status();
  std::vector<BindValue> binds;
  absl::StatusOr<std::string> cond = MetadataConditions(filter.metadata, 4, &binds);
  if (!cond.ok()) return cond.status();
  const std::string match = sqlite::FtsMatchExpression(question);
  std::vector<LexicalHit> hits;
  if (match.empty() || k <= 0) return hits;

  absl::StatusOr<Statement> st = Statement::Prepare(
      db->get(), absl::StrCat("SELECT c.id, c.document_id, bm25(chunks_fts) AS s FROM chunks_fts"
                              " JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id"
                              " WHERE chunks_fts MATCH ?1 AND c.collection_id = ?2",
                              *cond, " ORDER BY s LIMIT ?3"));
  if (!st.ok()) return st.status();
  st->Bind(1, match).Bind(2, coll->id).Bind(3, static_cast<int64_t>(k));
  BindAll(*st, 4, binds);
  for (;;) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    hits.push_back({st->Int(0), st->Int(1), -st->Double(2)});
  }
  return hits;
}

}  // namespace tinyrag
