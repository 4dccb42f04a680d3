#include "index/ingest.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/sqlite_store.h"
#include "index/vector_index.h"
#include "tests/unit/fake_embedder.h"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing_support::FakeEmbedder;

class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(fs::temp_directory_path() / absl::StrCat("tinyrag_ingest_", name, "_", getpid())) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str() const { return path_.string(); }
  std::string Write(const std::string& rel, const std::string& bytes) const {
    const fs::path p = path_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }

 private:
  fs::path path_;
};

// A knowledge base in DIR/kb: store, collection "c" and its vector index.
class Kb {
 public:
  Kb(const std::string& dir, const Embedder& embedder, IngestOptions options = {}) : dir_(dir + "/kb") {
    auto s = SqliteStore::Open(dir_);
    EXPECT_TRUE(s.ok()) << s.status();
    store = std::move(*s);
    auto c = store->EnsureCollection("c", embedder.identity());
    EXPECT_TRUE(c.ok()) << c.status();
    collection = *c;
    auto vi = VectorIndex::Open(store.get(), "c", IndexPath());
    EXPECT_TRUE(vi.ok()) << vi.status();
    index = std::move(*vi);
    options.chunker.target_tokens = 40;
    options.chunker.overlap_tokens = 5;
    auto ing = Ingestor::Create(store.get(), index.get(), &embedder, "c", options);
    EXPECT_TRUE(ing.ok()) << ing.status();
    ingestor = std::move(*ing);
  }
  std::string IndexPath() const { return VectorIndex::DefaultPath(dir_, collection); }
  std::vector<DocumentInfo> Docs() {
    auto d = store->ListDocuments("c");
    EXPECT_TRUE(d.ok());
    return d.ok() ? *d : std::vector<DocumentInfo>{};
  }
  int64_t Chunks() { return *store->CountChunks("c"); }

  std::string dir_;
  std::unique_ptr<SqliteStore> store;
  CollectionInfo collection;
  std::unique_ptr<VectorIndex> index;
  std::unique_ptr<Ingestor> ingestor;
};

std::string LongText(const std::string& word, int sentences) {
  std::string s;
  for (int i = 0; i < sentences; ++i) absl::StrAppend(&s, "The ", word, " sentence number ", i, " is here. ");
  return s;
}

void WriteCorpus(const TempDir& dir) {
  dir.Write("docs/guide.md", "# Guide\n\nInstall with apt.\n\n## Linux\n\n" + LongText("penguin", 12));
  dir.Write("docs/notes.txt", LongText("walrus", 3));
  dir.Write("docs/sub/page.html", "<html><body><h1>Page</h1><p>Quokka facts.</p><script>x()</script></body></html>");
  dir.Write("docs/.hidden/secret.txt", "never ingested");
}

TEST(Ingestor, IngestsFoldersAndReingestingUnchangedFilesEmbedsNothing) {
  TempDir dir("idempotent");
  WriteCorpus(dir);
  FakeEmbedder embedder;
  Kb kb(dir.str(), embedder);
  // notes.txt named twice, by itself and inside its folder: one file.
  const std::vector<std::string> paths = {dir.str() + "/docs/notes.txt", dir.str() + "/docs"};
  auto first = kb.ingestor->IngestPaths(paths);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->files, 3);
  EXPECT_EQ(first->documents_added, 3);
  EXPECT_EQ(first->documents_failed, 0);
  EXPECT_GT(first->chunks_added, 3);  // the guide needs several chunks of 40 tokens
  EXPECT_EQ(first->chunks_added, kb.Chunks());
  EXPECT_EQ(kb.index->size(), kb.Chunks());
  EXPECT_EQ(embedder.texts_embedded(), first->chunks_added);
  EXPECT_LT(embedder.calls(), first->chunks_added);  // batched across chunks and documents
  for (const DocumentInfo& d : kb.Docs()) {
    EXPECT_TRUE(fs::path(d.source).is_absolute()) << d.source;
    EXPECT_EQ(d.source, d.external_id);
    EXPECT_THAT(d.source, ::testing::Not(HasSubstr(".hidden")));
  }

  const int64_t embedded = embedder.texts_embedded();
  auto second = kb.ingestor->IngestPaths(paths);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->documents_unchanged, 3);
  EXPECT_EQ(second->documents_added + second->documents_updated + second->chunks_added, 0);
  EXPECT_EQ(embedder.texts_embedded(), embedded);
  // The same files named another way are the same documents.
  const std::vector<std::string> again = {dir.str() + "/docs/../docs/notes.txt"};
  auto third = kb.ingestor->IngestPaths(again);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->documents_unchanged, 1);
  EXPECT_EQ(embedder.texts_embedded(), embedded);
}

TEST(Ingestor, ChangedDocumentReplacesItsChunks) {
  TempDir dir("changed");
  WriteCorpus(dir);
  FakeEmbedder embedder;
  Kb kb(dir.str(), embedder);
  const std::vector<std::string> paths = {dir.str() + "/docs"};
  ASSERT_TRUE(kb.ingestor->IngestPaths(paths).ok());
  dir.Write("docs/notes.txt", LongText("narwhal", 2));
  auto r = kb.ingestor->IngestPaths(paths);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->documents_updated, 1);
  EXPECT_EQ(r->documents_unchanged, 2);
  EXPECT_EQ(r->chunks_added, 1);
  EXPECT_EQ(r->chunks_removed, 1);
  EXPECT_EQ(kb.index->size(), kb.Chunks());
  auto old_hits = kb.store->LexicalSearch({.collection = "c", .metadata = {}}, "walrus", 10);
  ASSERT_TRUE(old_hits.ok());
  EXPECT_TRUE(old_hits->empty());
  auto new_hits = kb.store->LexicalSearch({.collection = "c", .metadata = {}}, "narwhal", 10);
  ASSERT_TRUE(new_hits.ok());
  EXPECT_EQ(new_hits->size(), 1u);
}

TEST(Ingestor, ChangedChunkingSettingsReembed) {
  TempDir dir("settings");
  WriteCorpus(dir);
  FakeEmbedder embedder;
  const std::vector<std::string> paths = {dir.str() + "/docs/guide.md"};
  {
    Kb kb(dir.str(), embedder);
    ASSERT_TRUE(kb.ingestor->IngestPaths(paths).ok());
  }
  IngestOptions other;
  Kb kb(dir.str(), embedder, other);
  auto same = kb.ingestor->IngestPaths(paths);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->documents_unchanged, 1);
  IngestOptions smaller;
  smaller.chunker.target_tokens = 20;
  smaller.chunker.overlap_tokens = 0;
  auto ing = Ingestor::Create(kb.store.get(), kb.index.get(), &embedder, "c", smaller);
  ASSERT_TRUE(ing.ok()) << ing.status();
  auto r = (*ing)->IngestPaths(paths);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->documents_updated, 1);
  EXPECT_EQ(kb.index->size(), kb.Chunks());
}

TEST(Ingestor, UnreadableAndUnsupportedFilesAreReportedAndSkipped) {
  TempDir dir("failures");
  WriteCorpus(dir);
  dir.Write("docs/binary.txt", std::string("abc\0def", 7));
  dir.Write("docs/image.png", "\x89PNG");
  dir.Write("docs/empty.md", "   \n\n");
  dir.Write("docs/lines.jsonl", "{\"id\": \"j1\", \"text\": \"Jsonl ocelot text.\", \"metadata\": {\"team\": \"a\"}}\n"
                                "not json\n{\"id\": \"j2\", \"text\": \"Second ocelot.\"}\n");
  const std::string locked = dir.Write("docs/locked.txt", "cannot be read");
  chmod(locked.c_str(), 0);
  const bool root = geteuid() == 0;  // root reads it anyway
  FakeEmbedder embedder;
  Kb kb(dir.str(), embedder);
  const std::vector<std::string> paths = {dir.str() + "/docs", dir.str() + "/missing.txt"};
  auto r = kb.ingestor->IngestPaths(paths);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> failed;
  for (const IngestFailure& f : r->failures) failed.push_back(fs::path(f.source).filename().string());
  std::vector<std::string> expected = {"binary.txt", "image.png", "empty.md", "lines.jsonl", "missing.txt"};
  if (!root) expected.push_back("locked.txt");
  EXPECT_THAT(failed, ::testing::UnorderedElementsAreArray(expected));
  EXPECT_EQ(r->documents_failed, static_cast<int64_t>(expected.size()));
  for (const IngestFailure& f : r->failures) {
    EXPECT_FALSE(f.message.empty());
    if (f.source.ends_with("lines.jsonl")) {
      EXPECT_EQ(f.line, 2);
    }
  }
  // Three files plus two .jsonl documents got in (and the locked file as root).
  EXPECT_EQ(r->documents_added, root ? 6 : 5);
  EXPECT_EQ(kb.index->size(), kb.Chunks());
  auto j1 = kb.store->FindDocument("c", "j1");
  ASSERT_TRUE(j1.ok() && j1->has_value());
  EXPECT_EQ((*j1)->metadata.value("team", ""), "a");
}

TEST(Ingestor, DeleteByIdAndBySourceUpdateTheIndex) {
  TempDir dir("delete");
  WriteCorpus(dir);
  FakeEmbedder embedder;
  Kb kb(dir.str(), embedder);
  const std::vector<std::string> paths = {dir.str() + "/docs"};
  ASSERT_TRUE(kb.ingestor->IngestPaths(paths).ok());
  std::vector<DocumentInfo> docs = kb.Docs();
  ASSERT_EQ(docs.size(), 3u);
  auto gone = kb.ingestor->DeleteDocument(docs[0].id);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->id, docs[0].id);
  EXPECT_EQ(kb.index->size(), kb.Chunks());
  EXPECT_TRUE(absl::IsNotFound(kb.ingestor->DeleteDocument(docs[0].id).status()));
  auto n = kb.ingestor->DeleteBySource(docs[1].source);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(*kb.ingestor->DeleteBySource("/no/such/source"), 0);
  EXPECT_EQ(kb.Docs().size(), 1u);
  EXPECT_EQ(kb.index->size(), kb.Chunks());
  // A deleted file comes back as added on the next run.
  auto r = kb.ingestor->IngestPaths(paths);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->documents_added, 2);
  EXPECT_EQ(r->documents_unchanged, 1);
}

TEST(Ingestor, SavesTheIndexAndRepairsADeletedFaissFileOnOpen) {
  TempDir dir("faiss");
  WriteCorpus(dir);
  FakeEmbedder embedder;
  std::string path;
  int64_t chunks = 0;
  {
    Kb kb(dir.str(), embedder);
    ASSERT_TRUE(kb.ingestor->IngestPaths(std::vector<std::string>{dir.str() + "/docs"}).ok());
    path = kb.IndexPath();
    chunks = kb.Chunks();
    ASSERT_TRUE(fs::exists(path));  // the snapshot at the end of the run
  }
  {
    Kb kb(dir.str(), embedder);
    EXPECT_FALSE(kb.index->open_report().rebuilt) << kb.index->open_report().rebuild_reason;
    EXPECT_EQ(kb.index->size(), chunks);
  }
  fs::remove(path);
  Kb kb(dir.str(), embedder);
  EXPECT_TRUE(kb.index->open_report().rebuilt);
  EXPECT_EQ(kb.index->size(), chunks);
  auto hits = kb.index->Search(FakeEmbedder::Vector("Quokka facts."), 1);
  ASSERT_TRUE(hits.ok() && hits->size() == 1);
  auto chunk = kb.store->GetChunks(std::vector<int64_t>{(*hits)[0].chunk_id});
  ASSERT_TRUE(chunk.ok() && chunk->size() == 1);
  EXPECT_THAT((*chunk)[0].text, HasSubstr("Quokka"));
}

// With save_index false the caller saves: the run leaves the index
// file alone, and an index reopened behind the store catches up from it.
TEST(Ingestor, WithoutSaveIndexTheIndexCatchesUpOnOpen) {
  TempDir dir("nosnapshot");
  WriteCorpus(dir);
  FakeEmbedder embedder;
  int64_t chunks = 0;
  {
    IngestOptions options;
    options.save_index = false;
    Kb kb(dir.str(), embedder, options);
    ASSERT_TRUE(kb.ingestor->IngestPaths(std::vector<std::string>{dir.str() + "/docs"}).ok());
    chunks = kb.Chunks();
    ASSERT_GT(chunks, 0);
    EXPECT_EQ(kb.index->size(), chunks);  // searchable at once
    EXPECT_FALSE(fs::exists(kb.IndexPath()));
  }
  Kb kb(dir.str(), embedder);
  EXPECT_EQ(kb.index->size(), chunks);
}

TEST(Ingestor, RunStoppedByAnEmbedderFailureContinuesOnRerun) {
  TempDir dir("rerun");
  for (int i = 0; i < 12; ++i) dir.Write(absl::StrCat("docs/f", i / 10, i % 10, ".txt"), LongText(absl::StrCat("w", i), 2));
  FakeEmbedder broken;
  broken.FailAfterCalls(2);
  IngestOptions small_batches;
  small_batches.embed_batch_chunks = 2;
  const std::vector<std::string> paths = {dir.str() + "/docs"};
  {
    Kb kb(dir.str(), broken, small_batches);
    auto r = kb.ingestor->IngestPaths(paths);
    EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
    EXPECT_EQ(kb.Docs().size(), 4u);  // two batches of two whole documents were written
  }
  FakeEmbedder embedder;
  Kb kb(dir.str(), embedder, small_batches);
  EXPECT_EQ(kb.index->size(), kb.Chunks());  // the index left unsaved was caught up on open
  auto r = kb.ingestor->IngestPaths(paths);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->documents_unchanged, 4);
  EXPECT_EQ(r->documents_added, 8);
  EXPECT_EQ(embedder.texts_embedded(), 8);
  EXPECT_EQ(kb.index->size(), kb.Chunks());
}

TEST(Ingestor, ProgressReportsFilesChunksAndEta) {
  TempDir dir("progress");
  WriteCorpus(dir);
  FakeEmbedder embedder;
  Kb kb(dir.str(), embedder);
  std::vector<IngestProgress> seen;
  auto r = kb.ingestor->IngestPaths(std::vector<std::string>{dir.str() + "/docs"},
                                    [&](const IngestProgress& p) { seen.push_back(p); });
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(seen.size(), 4u);  // once per file, once at the end
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(seen[i].files_done, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(seen[i].files_total, 3);
    EXPECT_GE(seen[i].eta_seconds, 0);
    if (i > 0) {
      EXPECT_GE(seen[i].chunks_done, seen[i - 1].chunks_done);
    }
  }
  EXPECT_EQ(seen.back().files_done, 3);
  EXPECT_EQ(seen.back().eta_seconds, 0);
  EXPECT_EQ(seen.back().documents_done, 3);
  EXPECT_EQ(seen.back().chunks_done, r->chunks_added);
  EXPECT_GT(seen.back().chunks_per_second, 0);
}

TEST(Ingestor, AnotherEncoderIsRefused) {
  TempDir dir("encoder");
  FakeEmbedder embedder;
  Kb kb(dir.str(), embedder);
  FakeEmbedder other("other-encoder");
  auto ing = Ingestor::Create(kb.store.get(), kb.index.get(), &other, "c");
  EXPECT_TRUE(absl::IsFailedPrecondition(ing.status())) << ing.status();
  EXPECT_THAT(std::string(ing.status().message()), HasSubstr("other-encoder"));
}

TEST(Ingestor, IngestsExtractedDocuments) {
  TempDir dir("documents");
  FakeEmbedder embedder;
  Kb kb(dir.str(), embedder);
  std::vector<Document> docs;
  for (int i = 0; i < 5; ++i) {
    auto e = ExtractBytes(LongText(absl::StrCat("topic", i), 4), DocFormat::kText, absl::StrCat("mem://", i));
    ASSERT_TRUE(e.ok());
    docs.push_back(e->documents[0]);
  }
  auto r = kb.ingestor->IngestDocuments(docs);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->documents_added, 5);
  EXPECT_EQ(r->files, 0);
  auto again = kb.ingestor->IngestDocuments(docs);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->documents_unchanged, 5);
}

TEST(Ingestor, MetadataOnlyChangeIsAnUpdateWithoutEmbedding) {
  TempDir dir("metadata");
  FakeEmbedder embedder;
  Kb kb(dir.str(), embedder);
  auto record = [](const std::string& title, const std::string& team) {
    return nlohmann::json{{"id", "faq-1"},
                          {"title", title},
                          {"text", LongText("refund", 4)},
                          {"metadata", {{"team", team}}}}
               .dump() +
           "\n";
  };
  const std::vector<std::string> paths = {dir.Write("faq.jsonl", record("Refunds", "billing"))};
  auto first = kb.ingestor->IngestPaths(paths);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->documents_added, 1);
  const int64_t embedded = embedder.texts_embedded();
  const int64_t change = *kb.store->LastChange("c");
  const DocumentInfo before = kb.Docs().at(0);

  dir.Write("faq.jsonl", record("Refunds", "support"));
  auto relabeled = kb.ingestor->IngestPaths(paths);
  ASSERT_TRUE(relabeled.ok()) << relabeled.status();
  EXPECT_EQ(relabeled->documents_updated, 1);
  EXPECT_EQ(relabeled->documents_unchanged, 0);
  EXPECT_EQ(relabeled->chunks_added, 0);
  EXPECT_EQ(relabeled->chunks_removed, 0);
  EXPECT_EQ(embedder.texts_embedded(), embedded);  // nothing re-embedded
  EXPECT_EQ(*kb.store->LastChange("c"), change);   // the chunks were not touched
  const DocumentInfo after = kb.Docs().at(0);
  EXPECT_EQ(after.id, before.id);
  EXPECT_EQ(after.metadata["team"], "support");
  EXPECT_EQ(after.content_hash, before.content_hash);
  auto hits = kb.store->LexicalSearch({.collection = "c", .metadata = {{"team", "support"}}}, "refund", 5);
  ASSERT_TRUE(hits.ok());
  EXPECT_FALSE(hits->empty());

  auto again = kb.ingestor->IngestPaths(paths);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->documents_unchanged, 1);
  EXPECT_EQ(again->documents_updated, 0);

  // The title is embedded with every chunk: changing it re-embeds.
  dir.Write("faq.jsonl", record("Refund policy", "support"));
  auto retitled = kb.ingestor->IngestPaths(paths);
  ASSERT_TRUE(retitled.ok());
  EXPECT_EQ(retitled->documents_updated, 1);
  EXPECT_GT(retitled->chunks_added, 0);
  EXPECT_GT(embedder.texts_embedded(), embedded);
  EXPECT_EQ(kb.index->size(), kb.Chunks());
}

// Records removed from a .jsonl file are deleted with delete_missing (the
// rest embed nothing), kept without it, and kept when the file has a bad line.
TEST(Ingestor, DeleteMissingRemovesRecordsGoneFromAJsonlFile) {
  TempDir dir("records");
  auto record = [](const std::string& id, const std::string& word) {
    return "{\"id\": \"" + id + "\", \"title\": \"" + id + "\", \"text\": \"" + LongText(word, 2) + "\"}\n";
  };
  const std::string file = dir.Write("faq.jsonl", record("a", "otter") + record("b", "heron") + record("c", "walrus"));
  FakeEmbedder embedder;
  IngestOptions options;
  options.delete_missing = true;
  Kb kb(dir.str(), embedder, options);
  auto first = kb.ingestor->IngestPaths(std::vector<std::string>{file});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->documents_added, 3);

  // A bad line: nothing is deleted (its record may be one of the missing).
  dir.Write("faq.jsonl", record("a", "otter") + "{not json\n");
  auto bad = kb.ingestor->IngestPaths(std::vector<std::string>{file});
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_EQ(bad->documents_deleted, 0);
  EXPECT_EQ(kb.Docs().size(), 3u);

  dir.Write("faq.jsonl", record("a", "otter") + record("b", "heron"));
  const int64_t embedded = embedder.texts_embedded();
  auto second = kb.ingestor->IngestPaths(std::vector<std::string>{file});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->documents_deleted, 1);
  EXPECT_EQ(second->documents_unchanged, 2);
  EXPECT_EQ(embedder.texts_embedded(), embedded);
  std::vector<std::string> ids;
  for (const DocumentInfo& d : kb.Docs()) ids.push_back(d.external_id);
  EXPECT_THAT(ids, ::testing::UnorderedElementsAre("a", "b"));
  EXPECT_EQ(kb.index->size(), kb.Chunks());
  EXPECT_TRUE(kb.store->LexicalSearch({.collection = "c", .metadata = {}}, "walrus", 5)->empty());

  // Without the option a removed record stays.
  Kb plain(dir.str() + "/plain", embedder);
  const std::string other = dir.Write("plain.jsonl", record("x", "puffin") + record("y", "gannet"));
  ASSERT_TRUE(plain.ingestor->IngestPaths(std::vector<std::string>{other}).ok());
  dir.Write("plain.jsonl", record("x", "puffin"));
  auto kept = plain.ingestor->IngestPaths(std::vector<std::string>{other});
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->documents_deleted, 0);
  EXPECT_EQ(plain.Docs().size(), 2u);
}

TEST(Ingestor, DeleteMissingRemovesDocumentsOfFilesGoneFromTheFolder) {
  TempDir dir("missing");
  WriteCorpus(dir);
  // A sibling whose name starts like the folder's is not under it.
  const std::string sibling = dir.Write("docs2/keep.txt", LongText("otter", 2));
  FakeEmbedder embedder;
  IngestOptions options;
  options.delete_missing = true;
  Kb kb(dir.str(), embedder, options);
  const std::vector<std::string> paths = {dir.str() + "/docs/", sibling};
  auto first = kb.ingestor->IngestPaths(paths);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->documents_added, 4);
  EXPECT_EQ(first->documents_deleted, 0);

  fs::remove(dir.str() + "/docs/notes.txt");
  fs::remove_all(dir.str() + "/docs/sub");
  dir.Write("docs/new.txt", LongText("puffin", 2));
  const int64_t notes_chunks = 1, page_chunks = 1;
  auto second = kb.ingestor->IngestPaths(std::vector<std::string>{dir.str() + "/docs"});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->documents_deleted, 2);
  EXPECT_EQ(second->documents_added, 1);
  EXPECT_EQ(second->documents_unchanged, 1);
  EXPECT_EQ(second->chunks_removed, notes_chunks + page_chunks);
  std::vector<std::string> sources;
  for (const DocumentInfo& d : kb.Docs()) sources.push_back(fs::path(d.source).filename().string());
  EXPECT_THAT(sources, ::testing::UnorderedElementsAre("guide.md", "keep.txt", "new.txt"));
  EXPECT_EQ(kb.index->size(), kb.Chunks());
  EXPECT_TRUE(kb.store->LexicalSearch({.collection = "c", .metadata = {}}, "walrus", 5)->empty());

  // Naming a file (not a folder) deletes nothing, and without the option a
  // removed file's documents stay.
  fs::remove(sibling);
  auto third = kb.ingestor->IngestPaths(std::vector<std::string>{dir.str() + "/docs/guide.md"});
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->documents_deleted, 0);
  Kb plain(dir.str() + "/plain", embedder);
  fs::create_directories(dir.str() + "/plain/docs2");
  const std::string kept = dir.Write("plain/docs2/a.txt", LongText("heron", 2));
  ASSERT_TRUE(plain.ingestor->IngestPaths(std::vector<std::string>{dir.str() + "/plain/docs2"}).ok());
  fs::remove(kept);
  auto fourth = plain.ingestor->IngestPaths(std::vector<std::string>{dir.str() + "/plain/docs2"});
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ(fourth->documents_deleted, 0);
  EXPECT_EQ(plain.Docs().size(), 1u);
}

}  // namespace
}  // namespace tinyrag
