#include "index/sqlite_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/sqlite_store_fts.h"
#include "index/sqlite_store_schema.h"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr int64_t kDim = 8;
const EncoderIdentity kEncoder{"minilm-test", kDim, "hash-a"};

class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(fs::temp_directory_path() / absl::StrCat("tinyrag_store_", name, "_", getpid())) {
    fs::remove_all(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str() const { return path_.string(); }
  fs::path db() const { return path_ / SqliteStore::kDatabaseFile; }

 private:
  fs::path path_;
};

std::vector<float> Vec(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(kDim);
  for (float& x : v) x = nd(rng);
  return v;
}

DocumentInput Doc(const std::string& id, const std::string& source, const std::vector<std::string>& texts,
                  const std::string& hash, nlohmann::json metadata = nlohmann::json::object()) {
  DocumentInput d;
  d.external_id = id;
  d.source = source;
  d.title = "Title of " + id;
  d.content_hash = hash;
  d.metadata = std::move(metadata);
  uint32_t seed = static_cast<uint32_t>(std::hash<std::string>()(id + hash));
  for (const std::string& t : texts) d.chunks.push_back({t, static_cast<int32_t>(t.size() / 4), "H1 > H2", Vec(seed++)});
  return d;
}

std::unique_ptr<SqliteStore> OpenOk(const TempDir& dir) {
  auto store = SqliteStore::Open(dir.str());
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

// Raw SQL on the store's file from a second connection (schema surgery the
// store itself never offers).
void RawExec(const fs::path& db, const std::string& sql) {
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.string().c_str(), &raw), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(raw);
}

int64_t RawInt(const fs::path& db, const std::string& sql) {
  sqlite3* raw = nullptr;
  EXPECT_EQ(sqlite3_open(db.string().c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(raw, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(raw);
  return v;
}

std::vector<int64_t> ChunkIdsOf(SqliteStore& store, int64_t doc_id) {
  std::vector<int64_t> ids;
  auto st = store.ForEachEmbedding("c", 1000, [&](std::span<const int64_t> batch, std::span<const float>) {
    ids.insert(ids.end(), batch.begin(), batch.end());
    return absl::OkStatus();
  });
  EXPECT_TRUE(st.ok()) << st.status();
  auto chunks = store.GetChunks(ids);
  EXPECT_TRUE(chunks.ok());
  std::vector<int64_t> out;
  for (const ChunkRecord& c : *chunks) {
    if (c.document_id == doc_id) out.push_back(c.id);
  }
  return out;
}

std::vector<std::string> HitTexts(SqliteStore& store, const std::string& question, int k = 10,
                                  std::vector<MetadataFilter> filters = {}) {
  auto hits = store.LexicalSearch({"c", std::move(filters)}, question, k);
  EXPECT_TRUE(hits.ok()) << hits.status() << " for question: " << question;
  if (!hits.ok()) return {};
  std::vector<int64_t> ids;
  for (const LexicalHit& h : *hits) ids.push_back(h.chunk_id);
  auto chunks = store.GetChunks(ids);
  EXPECT_TRUE(chunks.ok());
  std::vector<std::string> texts;
  for (const ChunkRecord& c : *chunks) texts.push_back(c.text);
  return texts;
}

TEST(SqliteStoreSchema, FreshStoreIsAtCurrentVersionAndReopens) {
  TempDir dir("fresh");
  { ASSERT_NE(OpenOk(dir), nullptr); }
  const int64_t current = static_cast<int64_t>(sqlite::StoreMigrations().size());
  EXPECT_EQ(RawInt(dir.db(), "PRAGMA user_version"), current);
  {
    auto store = OpenOk(dir);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->EnsureCollection("c", kEncoder).ok());
  }
  EXPECT_EQ(RawInt(dir.db(), "PRAGMA user_version"), current);
  EXPECT_EQ(RawInt(dir.db(), "SELECT COUNT(*) FROM collections"), 1);
}

TEST(SqliteStoreSchema, UsesWalJournal) {
  TempDir dir("wal");
  auto store = OpenOk(dir);
  ASSERT_NE(store, nullptr);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(dir.db().string().c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(raw);
}

TEST(SqliteStoreSchema, NewerSchemaIsRefusedAndLeftAlone) {
  TempDir dir("newer");
  { ASSERT_NE(OpenOk(dir), nullptr); }
  RawExec(dir.db(), "PRAGMA user_version = 99");
  auto store = SqliteStore::Open(dir.str());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("schema version 99"));
  EXPECT_THAT(store.status().message(), HasSubstr("newer tinyrag"));
  EXPECT_EQ(RawInt(dir.db(), "PRAGMA user_version"), 99);
}

TEST(SqliteStoreSchema, FailedMigrationKeepsPreviousVersion) {
  TempDir dir("migrate");
  fs::create_directories(dir.str());
  auto conn = sqlite::Open(dir.db().string(), /*read_only=*/false);
  ASSERT_TRUE(conn.ok()) << conn.status();
  const sqlite::Migration good[] = {{"a", "CREATE TABLE a(x)"}, {"b", "CREATE TABLE b(x); INSERT INTO b VALUES (1)"}};
  const sqlite::Migration bad[] = {good[0], {"b", "CREATE TABLE b(x); INSERT INTO nowhere VALUES (1)"}};
  absl::Status s = sqlite::Migrate(conn->get(), "test.db", bad);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("migration to schema version 2 (b) failed"));
  EXPECT_EQ(RawInt(dir.db(), "PRAGMA user_version"), 1);
  // The failed step's first statement was rolled back with it.
  EXPECT_EQ(RawInt(dir.db(), "SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'"), 0);
  EXPECT_EQ(RawInt(dir.db(), "SELECT COUNT(*) FROM sqlite_master WHERE name = 'a'"), 1);
  ASSERT_TRUE(sqlite::Migrate(conn->get(), "test.db", good).ok());
  EXPECT_EQ(RawInt(dir.db(), "PRAGMA user_version"), 2);
  EXPECT_EQ(RawInt(dir.db(), "SELECT x FROM b"), 1);
}

TEST(SqliteStoreSchema, Version1DatabaseIsMigratedKeepingItsData) {
  TempDir dir("v1");
  fs::create_directories(dir.str());
  {
    auto conn = sqlite::Open(dir.db().string(), /*read_only=*/false);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE(sqlite::Migrate(conn->get(), "v1", sqlite::StoreMigrations().first(1)).ok());
    ASSERT_TRUE(sqlite::Exec(conn->get(),
                             "INSERT INTO collections(name, encoder_name, encoder_dim, encoder_hash, created_ms) "
                             "VALUES ('c', 'minilm-test', 8, 'hash-a', 1)")
                    .ok());
  }
  EXPECT_EQ(RawInt(dir.db(), "PRAGMA user_version"), 1);
  auto store = OpenOk(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawInt(dir.db(), "PRAGMA user_version"), 2);
  auto coll = store->EnsureCollection("c", kEncoder);
  ASSERT_TRUE(coll.ok()) << coll.status();
  EXPECT_EQ(coll->created_ms, 1);
  EXPECT_EQ(*store->LastChange("c"), 0);
}

TEST(SqliteStoreSchema, NotADatabaseIsAClearError) {
  TempDir dir("garbage");
  fs::create_directories(dir.str());
  {
    std::ofstream out(dir.db());
    out << std::string(4096, 'x');
  }
  auto store = SqliteStore::Open(dir.str());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("not a database"));
  EXPECT_THAT(store.status().message(), HasSubstr(dir.db().string()));
}

TEST(SqliteStore, SecondOpenOfDataDirIsRefused) {
  TempDir dir("lock");
  auto first = OpenOk(dir);
  ASSERT_NE(first, nullptr);
  auto second = SqliteStore::Open(dir.str());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr(absl::StrCat("is owned by a running server (pid ", getpid())));
  EXPECT_TRUE(DataDirLock::OwnedByServer(second.status()));
  first.reset();
  EXPECT_TRUE(SqliteStore::Open(dir.str()).ok());
}

TEST(SqliteStore, ReaderOpensBesideAWriterAndRefusesToWrite) {
  TempDir dir("reader");
  auto none = SqliteStore::Open(dir.str(), DataDirAccess::kRead);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  fs::create_directories(dir.str());
  none = SqliteStore::Open(dir.str(), DataDirAccess::kRead);
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.status().message(), HasSubstr("holds no knowledge base"));
  EXPECT_FALSE(fs::exists(dir.db()));

  auto writer = SqliteStore::Open(dir.str(), DataDirAccess::kWrite);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->EnsureCollection("c", kEncoder).ok());
  ASSERT_TRUE((*writer)->UpsertDocument("c", Doc("doc1", "a.md", {"alpha"}, "h1")).ok());
  auto reader = SqliteStore::Open(dir.str(), DataDirAccess::kRead);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->access(), DataDirAccess::kRead);
  EXPECT_FALSE(SqliteStore::Open(dir.str(), DataDirAccess::kWrite).ok());
  EXPECT_FALSE(SqliteStore::Open(dir.str()).ok());

  // It sees what the writer commits, also after it opened.
  EXPECT_TRUE((*reader)->FindDocument("c", "doc1")->has_value());
  ASSERT_TRUE((*writer)->UpsertDocument("c", Doc("doc2", "b.md", {"beta"}, "h2")).ok());
  EXPECT_EQ(*(*reader)->CountChunks("c"), 2);

  for (const absl::Status& s :
       {(*reader)->EnsureCollection("d", kEncoder).status(),
        (*reader)->UpsertDocument("c", Doc("doc3", "c.md", {"gamma"}, "h3")).status(),
        (*reader)->DeleteDocument(1).status(), (*reader)->DeleteBySource("c", "a.md").status(),
        (*reader)->PruneChanges("c", 1)}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(s.message(), HasSubstr("was opened for reading"));
  }
  EXPECT_EQ(*(*writer)->CountChunks("c"), 2);
}

TEST(SqliteStore, CollectionRefusesAnotherEncoder) {
  TempDir dir("encoder");
  auto store = OpenOk(dir);
  ASSERT_NE(store, nullptr);
  auto created = store->EnsureCollection("c", kEncoder);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->encoder, kEncoder);
  auto again = store->EnsureCollection("c", kEncoder);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, created->id);

  auto other_hash = store->EnsureCollection("c", {"minilm-test", kDim, "hash-b"});
  ASSERT_FALSE(other_hash.ok());
  EXPECT_EQ(other_hash.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other_hash.status().message(), HasSubstr("hash-a"));
  EXPECT_THAT(other_hash.status().message(), HasSubstr("hash-b"));
  EXPECT_FALSE(store->EnsureCollection("c", {"minilm-test", 16, "hash-a"}).ok());
  EXPECT_FALSE(store->EnsureCollection("c", {"other", kDim, "hash-a"}).ok());
  EXPECT_EQ(store->EnsureCollection("", kEncoder).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->EnsureCollection("d", {"x", 0, ""}).status().code(), absl::StatusCode::kInvalidArgument);
  // Another collection may use another encoder.
  EXPECT_TRUE(store->EnsureCollection("d", {"other", 16, "hash-b"}).ok());
  auto all = store->ListCollections();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "c");
  EXPECT_EQ(store->GetCollection("zzz").status().code(), absl::StatusCode::kNotFound);
}

TEST(SqliteStore, UpsertIsIdempotentAndReplacesChunks) {
  TempDir dir("upsert");
  auto store = OpenOk(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->EnsureCollection("c", kEncoder).ok());

  auto added = store->UpsertDocument("c", Doc("doc1", "a.md", {"alpha zebra", "beta"}, "h1", {{"lang", "en"}}));
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->outcome, UpsertOutcome::kAdded);
  EXPECT_EQ(added->chunks_added, 2);
  const int64_t change_after_add = *store->LastChange("c");
  EXPECT_EQ(change_after_add, 2);  // one change per chunk
  std::vector<int64_t> old_ids = ChunkIdsOf(*store, added->document_id);
  ASSERT_EQ(old_ids.size(), 2u);

  auto same = store->UpsertDocument("c", Doc("doc1", "a.md", {"other text entirely"}, "h1", {{"lang", "en"}}));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->outcome, UpsertOutcome::kUnchanged);
  EXPECT_EQ(same->document_id, added->document_id);
  EXPECT_EQ(same->chunks_added, 0);
  EXPECT_EQ(*store->LastChange("c"), change_after_add);
  EXPECT_THAT(HitTexts(*store, "entirely"), ElementsAre());

  auto found = store->FindDocument("c", "doc1");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->content_hash, "h1");
  EXPECT_EQ((*found)->chunk_count, 2);
  EXPECT_EQ((*found)->metadata, nlohmann::json({{"lang", "en"}}));
  EXPECT_EQ((*found)->title, "Title of doc1");
  EXPECT_FALSE(store->FindDocument("c", "nope")->has_value());
  EXPECT_EQ(store->FindDocument("zz", "doc1").status().code(), absl::StatusCode::kNotFound);
  auto by_id = store->GetDocument(added->document_id);
  ASSERT_TRUE(by_id.ok() && by_id->has_value());
  EXPECT_EQ((*by_id)->collection, "c");
  EXPECT_EQ((*by_id)->external_id, "doc1");
  EXPECT_FALSE(store->GetDocument(added->document_id + 1000)->has_value());

  // Same content hash, other metadata and source: those fields are updated,
  // the chunks and the change log are not touched.
  SearchFilter french{.collection = "c", .metadata = {{"lang", "fr"}}};
  EXPECT_TRUE(store->LexicalSearch(french, "zebra", 5)->empty());
  auto relabeled = store->UpsertDocument("c", Doc("doc1", "b.md", {}, "h1", {{"lang", "fr"}}));
  ASSERT_TRUE(relabeled.ok()) << relabeled.status();
  EXPECT_EQ(relabeled->outcome, UpsertOutcome::kUpdated);
  EXPECT_EQ(relabeled->document_id, added->document_id);
  EXPECT_EQ(relabeled->chunks_added, 0);
  EXPECT_EQ(relabeled->chunks_removed, 0);
  EXPECT_EQ(*store->LastChange("c"), change_after_add);
  EXPECT_EQ(ChunkIdsOf(*store, added->document_id), old_ids);
  found = store->FindDocument("c", "doc1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->metadata, nlohmann::json({{"lang", "fr"}}));
  EXPECT_EQ((*found)->source, "b.md");
  EXPECT_EQ((*found)->chunk_count, 2);
  EXPECT_EQ(store->LexicalSearch(french, "zebra", 5)->size(), 1u);
  EXPECT_EQ((*store->GetChunks(old_ids))[0].source, "b.md");

  auto updated = store->UpsertDocument("c", Doc("doc1", "a.md", {"gamma giraffe", "delta", "epsilon"}, "h2"));
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->outcome, UpsertOutcome::kUpdated);
  EXPECT_EQ(updated->document_id, added->document_id);
  EXPECT_EQ(updated->chunks_removed, 2);
  EXPECT_EQ(updated->chunks_added, 3);
  EXPECT_TRUE(store->GetChunks(old_ids)->empty());
  std::vector<int64_t> new_ids = ChunkIdsOf(*store, added->document_id);
  ASSERT_EQ(new_ids.size(), 3u);
  EXPECT_GT(new_ids[0], old_ids[1]);  // ids are never reused
  auto chunks = store->GetChunks(new_ids);
  ASSERT_TRUE(chunks.ok());
  EXPECT_EQ((*chunks)[0].text, "gamma giraffe");
  EXPECT_EQ((*chunks)[2].position, 2);
  EXPECT_EQ((*chunks)[0].heading_path, "H1 > H2");
  EXPECT_EQ((*chunks)[0].source, "a.md");
  EXPECT_THAT(HitTexts(*store, "zebra"), ElementsAre());
  EXPECT_THAT(HitTexts(*store, "giraffe"), ElementsAre("gamma giraffe"));
  EXPECT_EQ(*store->CountChunks("c"), 3);

  // The change log nets out to exactly the current chunks.
  auto changes = store->ReadChanges("c", 0, 1000);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->last_change, 2 + 2 + 3);
  EXPECT_EQ(changes->added, new_ids);
  EXPECT_TRUE(changes->removed.empty());
  EXPECT_EQ(changes->added_vectors.size(), 3 * kDim);
  auto since_add = store->ReadChanges("c", change_after_add, 1000);
  ASSERT_TRUE(since_add.ok());
  EXPECT_EQ(since_add->removed, old_ids);
  EXPECT_EQ(since_add->added, new_ids);
  auto nothing = store->ReadChanges("c", changes->last_change, 1000);
  ASSERT_TRUE(nothing.ok());
  EXPECT_EQ(nothing->last_change, changes->last_change);
  EXPECT_TRUE(nothing->added.empty() && nothing->removed.empty());
}

TEST(SqliteStore, UpsertValidatesInput) {
  TempDir dir("validate");
  auto store = OpenOk(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->EnsureCollection("c", kEncoder).ok());
  EXPECT_EQ(store->UpsertDocument("nope", Doc("d", "s", {"x"}, "h")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->UpsertDocument("c", Doc("", "s", {"x"}, "h")).status().code(), absl::StatusCode::kInvalidArgument);
  DocumentInput wrong_dim = Doc("d", "s", {"x", "y"}, "h");
  wrong_dim.chunks[1].embedding.push_back(1.0f);
  auto s = store->UpsertDocument("c", wrong_dim);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("dimension 8"));
  DocumentInput nan = Doc("d", "s", {"x"}, "h");
  nan.chunks[0].embedding[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(store->UpsertDocument("c", nan).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->UpsertDocument("c", Doc("d", "s", {"x"}, "h", nlohmann::json::array())).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*store->CountChunks("c"), 0);
  EXPECT_EQ(*store->LastChange("c"), 0);
}

TEST(SqliteStore, FailedReplaceLeavesOldVersionWhole) {
  TempDir dir("atomic");
  auto store = OpenOk(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->EnsureCollection("c", kEncoder).ok());
  auto v1 = store->UpsertDocument("c", Doc("doc", "s", {"original one", "original two"}, "v1"));
  ASSERT_TRUE(v1.ok());
  const int64_t change = *store->LastChange("c");
  // Make the database reject the replacement's second chunk, after the old
  // chunks were deleted and the first new one written in the transaction.
  RawExec(dir.db(),
          "CREATE TRIGGER fail_boom BEFORE INSERT ON chunks WHEN new.text = 'boom' "
          "BEGIN SELECT RAISE(ABORT, 'boom refused'); END");
  auto v2 = store->UpsertDocument("c", Doc("doc", "s", {"replacement", "boom"}, "v2"));
  ASSERT_FALSE(v2.ok());
  EXPECT_THAT(v2.status().message(), HasSubstr("boom refused"));
  auto doc = store->FindDocument("c", "doc");
  ASSERT_TRUE(doc.ok() && doc->has_value());
  EXPECT_EQ((*doc)->content_hash, "v1");
  EXPECT_EQ((*doc)->chunk_count, 2);
  EXPECT_EQ(*store->LastChange("c"), change);
  EXPECT_THAT(HitTexts(*store, "original"), UnorderedElementsAre("original one", "original two"));
  EXPECT_THAT(HitTexts(*store, "replacement"), ElementsAre());
  EXPECT_EQ(RawInt(dir.db(), "SELECT COUNT(*) FROM embeddings"), 2);
  // The store stays usable after the rollback.
  RawExec(dir.db(), "DROP TRIGGER fail_boom");
  auto v3 = store->UpsertDocument("c", Doc("doc", "s", {"replacement", "boom"}, "v2"));
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(v3->outcome, UpsertOutcome::kUpdated);
}

TEST(SqliteStore, DeleteByIdAndBySource) {
  TempDir dir("delete");
  auto store = OpenOk(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->EnsureCollection("c", kEncoder).ok());
  auto a = store->UpsertDocument("c", Doc("a", "file1.jsonl", {"apple one"}, "h"));
  auto b = store->UpsertDocument("c", Doc("b", "file1.jsonl", {"apple two", "banana"}, "h"));
  auto c = store->UpsertDocument("c", Doc("c", "file2.md", {"apple three"}, "h"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());

  auto listed = store->ListDocuments("c");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[1].chunk_count, 2);
  EXPECT_EQ(store->ListDocuments("c", {.offset = 0, .limit = 10, .source = "file1.jsonl"})->size(), 2u);
  EXPECT_EQ(store->ListDocuments("c", {.offset = 1, .limit = 1, .source = ""})->at(0).external_id, "b");

  auto deleted = store->DeleteDocument(c->document_id);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->external_id, "c");
  EXPECT_EQ(deleted->chunk_count, 1);
  EXPECT_EQ(store->DeleteDocument(c->document_id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(HitTexts(*store, "apple"), UnorderedElementsAre("apple one", "apple two"));

  auto n = store->DeleteBySource("c", "file1.jsonl");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(*store->DeleteBySource("c", "file1.jsonl"), 0);
  EXPECT_EQ(store->DeleteBySource("zz", "x").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->ListDocuments("c")->empty());
  EXPECT_THAT(HitTexts(*store, "apple"), ElementsAre());
  EXPECT_EQ(RawInt(dir.db(), "SELECT COUNT(*) FROM embeddings"), 0);
  auto changes = store->ReadChanges("c", 0, 1000);
  ASSERT_TRUE(changes.ok());
  EXPECT_TRUE(changes->added.empty());
  EXPECT_TRUE(changes->removed.empty());  // every add was cancelled by its removal
  EXPECT_EQ(changes->last_change, 8);
}

TEST(SqliteStore, PrunedChangesCannotBeCaughtUpFrom) {
  TempDir dir("prune");
  auto store = OpenOk(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->EnsureCollection("c", kEncoder).ok());
  ASSERT_TRUE(store->UpsertDocument("c", Doc("a", "s", {"1", "2"}, "h")).ok());
  ASSERT_TRUE(store->UpsertDocument("c", Doc("b", "s", {"3"}, "h")).ok());
  ASSERT_TRUE(store->PruneChanges("c", 2).ok());
  EXPECT_EQ(RawInt(dir.db(), "SELECT COUNT(*) FROM changes"), 1);
  auto old = store->ReadChanges("c", 1, 100);
  EXPECT_EQ(old.status().code(), absl::StatusCode::kOutOfRange);
  auto rest = store->ReadChanges("c", 2, 100);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->added.size(), 1u);
  // Pruning everything keeps the change number; pruning past it is capped.
  ASSERT_TRUE(store->PruneChanges("c", 1000).ok());
  ASSERT_TRUE(store->PruneChanges("c", 1).ok());  // less than before: no-op
  EXPECT_EQ(*store->LastChange("c"), 3);
  EXPECT_EQ(RawInt(dir.db(), "SELECT changes_pruned_through FROM collections"), 3);
  auto none = store->ReadChanges("c", 3, 100);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->last_change, 3);
  ASSERT_TRUE(store->UpsertDocument("c", Doc("d", "s", {"4"}, "h")).ok());
  EXPECT_EQ(*store->LastChange("c"), 4);
  EXPECT_EQ(store->ReadChanges("c", 3, 100)->added.size(), 1u);
  EXPECT_EQ(store->PruneChanges("zz", 1).code(), absl::StatusCode::kNotFound);
}

TEST(SqliteStore, EmbeddingsAndChangesInBatches) {
  TempDir dir("batches");
  auto store = OpenOk(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->EnsureCollection("c", kEncoder).ok());
  ASSERT_TRUE(store->EnsureCollection("other", kEncoder).ok());
  DocumentInput d = Doc("d", "s", {"1", "2", "3", "4", "5", "6", "7"}, "h");
  ASSERT_TRUE(store->UpsertDocument("c", d).ok());
  ASSERT_TRUE(store->UpsertDocument("other", Doc("x", "s", {"9"}, "h")).ok());
  std::vector<size_t> sizes;
  std::vector<float> all;
  auto change = store->ForEachEmbedding("c", 3, [&](std::span<const int64_t> ids, std::span<const float> v) {
    sizes.push_back(ids.size());
    EXPECT_EQ(v.size(), ids.size() * kDim);
    all.insert(all.end(), v.begin(), v.end());
    return absl::OkStatus();
  });
  ASSERT_TRUE(change.ok());
  EXPECT_EQ(*change, *store->LastChange("c"));
  EXPECT_THAT(sizes, ElementsAre(3, 3, 1));
  ASSERT_EQ(all.size(), 7 * kDim);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(std::vector<float>(all.begin() + i * kDim, all.begin() + (i + 1) * kDim), d.chunks[i].embedding);
  }
  auto stopped = store->ForEachEmbedding("c", 3, [](std::span<const int64_t>, std::span<const float>) {
    return absl::CancelledError("enough");
  });
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kCancelled);

  // Paging through the log: 7 changes of "c" in pages of 3.
  int64_t after = 0;
  std::vector<int64_t> added;
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 10);
    auto batch = store->ReadChanges("c", after, 3);
    ASSERT_TRUE(batch.ok());
    if (batch->last_change == after) break;
    EXPECT_LE(batch->added.size(), 3u);
    added.insert(added.end(), batch->added.begin(), batch->added.end());
    after = batch->last_change;
  }
  EXPECT_EQ(added.size(), 7u);
  EXPECT_EQ(after, *store->LastChange("c"));
}

TEST(SqliteStore, DamagedEmbeddingIsDataLoss) {
  TempDir dir("dataloss");
  auto store = OpenOk(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->EnsureCollection("c", kEncoder).ok());
  ASSERT_TRUE(store->UpsertDocument("c", Doc("d", "s", {"a", "b"}, "h")).ok());
  RawExec(dir.db(), "UPDATE embeddings SET vector = x'0000803f' WHERE chunk_id = 2");
  auto all = store->ForEachEmbedding("c", 10, [](std::span<const int64_t>, std::span<const float>) {
    return absl::OkStatus();
  });
  EXPECT_EQ(all.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(all.status().message(), HasSubstr("chunk 2"));
  EXPECT_EQ(store->ReadChanges("c", 0, 100).status().code(), absl::StatusCode::kDataLoss);
}

TEST(SqliteStoreLexical, MatchesAnyTermRankedByBm25) {
  TempDir dir("any");
  auto store = OpenOk(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->EnsureCollection("c", kEncoder).ok());
  ASSERT_TRUE(store->UpsertDocument("c", Doc("1", "s", {"the zebra runs in the savanna"}, "h")).ok());
  ASSERT_TRUE(store->UpsertDocument("c", Doc("2", "s", {"a giraffe eats leaves"}, "h")).ok());
  ASSERT_TRUE(store->UpsertDocument("c", Doc("3", "s", {"zebra and giraffe together"}, "h")).ok());
  ASSERT_TRUE(store->UpsertDocument("c", Doc("4", "s", {"nothing relevant here"}, "h")).ok());
  std::vector<std::string> texts = HitTexts(*store, "Where does the zebra meet a giraffe?");
  ASSERT_EQ(texts.size(), 3u);
  EXPECT_EQ(texts[0], "zebra and giraffe together");
  auto hits = store->LexicalSearch({"c", {}}, "zebra giraffe", 10);
  ASSERT_TRUE(hits.ok());
  for (size_t i = 1; i < hits->size(); ++i) EXPECT_GE((*hits)[i - 1].score, (*hits)[i].score);
  EXPECT_GT((*hits)[0].score, 0);
  EXPECT_EQ(HitTexts(*store, "zebra giraffe", 1).size(), 1u);
  // Stop words alone still search rather than returning nothing.
  EXPECT_THAT(HitTexts(*store, "the"), ElementsAre("the zebra runs in the savanna"));
  // Case and diacritics are folded on both sides.
  EXPECT_EQ(HitTexts(*store, "ZÉBRA").size(), 2u);
  EXPECT_EQ(store->LexicalSearch({"zz", {}}, "zebra", 5).status().code(), absl::StatusCode::kNotFound);
}

TEST(SqliteStoreLexical, HostileQueriesAreNeverSyntaxErrors) {
  TempDir dir("hostile");
  auto store = OpenOk(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->EnsureCollection("c", kEncoder).ok());
  ASSERT_TRUE(store->UpsertDocument("c", Doc("1", "s", {"near the zebra crossing", "or and not"}, "h")).ok());
  const std::vector<std::string> hostile = {
      "",           " ",        "\"",           "\"\"",          "a\"b",          "zebra\"",
      "NEAR(zebra", "NEAR(zebra crossing, 2)",  "*",             "zebra*",        "(",
      ")",          "((zebra)", "AND",          "OR NOT",        "-zebra",        "^zebra",
      "text:zebra", "{text}: zebra",            "zebra + crossing", "'; DROP TABLE chunks; --",
      "\xff\xfe\x80", std::string("zeb\0ra", 7), std::string(5000, '('), "zebra NOT crossing",
      "— « » ¿?",   "日本語 zebra"};
  for (const std::string& q : hostile) {
    auto hits = store->LexicalSearch({"c", {}}, q, 5);
    EXPECT_TRUE(hits.ok()) << hits.status() << " for " << q;
  }
  EXPECT_EQ(HitTexts(*store, "NEAR(zebra").size(), 1u);
  EXPECT_EQ(HitTexts(*store, "zebra\"").size(), 1u);
  // FTS5 keywords are searched as words.
  EXPECT_THAT(HitTexts(*store, "OR NOT"), ElementsAre("or and not"));
  EXPECT_TRUE(HitTexts(*store, "\"\"").empty());
  EXPECT_TRUE(HitTexts(*store, "").empty());
  EXPECT_EQ(RawInt(dir.db(), "SELECT COUNT(*) FROM chunks"), 2);
}

TEST(SqliteStoreLexical, QuestionTerms) {
  using sqlite::QuestionTerms;
  EXPECT_THAT(QuestionTerms("What is the capital of France?"), ElementsAre("capital", "france"));
  EXPECT_THAT(QuestionTerms("to be or not to be"), ElementsAre("to", "be", "or", "not"));
  EXPECT_THAT(QuestionTerms("Über café, ÜBER!"), ElementsAre("über", "café"));
  EXPECT_THAT(QuestionTerms("x86-64 \"quoted\" (paren) a*b"), ElementsAre("x86", "64", "quoted", "paren", "b"));
  EXPECT_THAT(QuestionTerms("... ?!"), ElementsAre());
  EXPECT_EQ(sqlite::FtsMatchExpression("capital France"), "\"capital\" OR \"france\"");
  EXPECT_EQ(sqlite::FtsMatchExpression("?"), "");
}

TEST(SqliteStoreLexical, MetadataFilters) {
  TempDir dir("filters");
  auto store = OpenOk(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->EnsureCollection("c", kEncoder).ok());
  ASSERT_TRUE(store->EnsureCollection("d", kEncoder).ok());
  ASSERT_TRUE(store->UpsertDocument("c", Doc("en", "s", {"apple en"}, "h",
                                             {{"lang", "en"}, {"year", 2020}, {"public", true}, {"x", nullptr}}))
                  .ok());
  ASSERT_TRUE(
      store->UpsertDocument("c", Doc("fr", "s", {"apple fr"}, "h", {{"lang", "fr"}, {"year", 2021.0}, {"public", false}}))
          .ok());
  ASSERT_TRUE(store->UpsertDocument("c", Doc("num", "s", {"apple num"}, "h", {{"lang", 1}, {"year", "2020"}})).ok());
  ASSERT_TRUE(store->UpsertDocument("d", Doc("other", "s", {"apple other"}, "h", {{"lang", "en"}})).ok());

  EXPECT_THAT(HitTexts(*store, "apple", 10, {{"lang", "en"}}), ElementsAre("apple en"));
  EXPECT_THAT(HitTexts(*store, "apple", 10, {{"lang", 1}}), ElementsAre("apple num"));
  EXPECT_THAT(HitTexts(*store, "apple", 10, {{"year", 2020}}), ElementsAre("apple en"));
  EXPECT_THAT(HitTexts(*store, "apple", 10, {{"year", 2021}}), ElementsAre("apple fr"));
  EXPECT_THAT(HitTexts(*store, "apple", 10, {{"year", "2020"}}), ElementsAre("apple num"));
  EXPECT_THAT(HitTexts(*store, "apple", 10, {{"public", false}}), ElementsAre("apple fr"));
  EXPECT_THAT(HitTexts(*store, "apple", 10, {{"x", nullptr}}), ElementsAre("apple en"));
  EXPECT_THAT(HitTexts(*store, "apple", 10, {{"lang", "en"}, {"public", true}}), ElementsAre("apple en"));
  EXPECT_THAT(HitTexts(*store, "apple", 10, {{"lang", "en"}, {"public", false}}), ElementsAre());
  EXPECT_THAT(HitTexts(*store, "apple", 10, {{"missing", "en"}}), ElementsAre());
  EXPECT_THAT(HitTexts(*store, "apple", 10, {{"'); DROP TABLE x; --", "en"}}), ElementsAre());
  auto bad = store->LexicalSearch({"c", {{"lang", nlohmann::json::array({"en"})}}}, "apple", 10);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);

  // The same filter applied to chunk ids from elsewhere (dense search).
  std::vector<int64_t> all_ids = {1, 2, 3, 4, 999};
  SearchFilter en{"c", {{"lang", "en"}}};
  auto filtered = store->GetChunks(all_ids, &en);
  ASSERT_TRUE(filtered.ok());
  ASSERT_EQ(filtered->size(), 1u);
  EXPECT_EQ((*filtered)[0].text, "apple en");
  SearchFilter in_d{"d", {}};
  EXPECT_EQ(store->GetChunks(all_ids, &in_d)->size(), 1u);
  EXPECT_EQ(store->GetChunks(all_ids)->size(), 4u);
}

TEST(SqliteStore, ReadersSeeWholeDocumentsWhileWriterIngests) {
  TempDir dir("concurrent");
  auto store = OpenOk(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->EnsureCollection("c", kEncoder).ok());
  constexpr int kDocs = 150;
  constexpr int kChunks = 4;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, searches{0};
  std::thread writer([&] {
    for (int i = 0; i < kDocs; ++i) {
      // Every document is written twice: added, then replaced.
      for (const char* version : {"v1", "v2"}) {
        std::vector<std::string> texts;
        for (int j = 0; j < kChunks; ++j) texts.push_back(absl::StrCat("common word", i, " ", version, " part", j));
        if (!store->UpsertDocument("c", Doc(absl::StrCat("d", i), "s", texts, version)).ok()) ++bad;
      }
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937 rng(r);
      while (!done) {
        // A document is seen with all its chunks of one version, or not at all.
        const int i = static_cast<int>(rng() % kDocs);
        auto hits = store->LexicalSearch({"c", {}}, absl::StrCat("word", i), 50);
        if (!hits.ok()) {
          ++bad;
          continue;
        }
        if (!hits->empty() && hits->size() != kChunks) ++bad;
        auto docs = store->ListDocuments("c");
        if (!docs.ok()) ++bad;
        for (const DocumentInfo& d : docs.ok() ? *docs : std::vector<DocumentInfo>{}) {
          if (d.chunk_count != kChunks) ++bad;
        }
        ++searches;
      }
    });
  }
  writer.join();
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(searches.load(), 0);
  EXPECT_EQ(*store->CountChunks("c"), kDocs * kChunks);
  EXPECT_EQ(HitTexts(*store, "v1", 1000).size(), 0u);
}

}  // namespace
}  // namespace tinyrag
