#include "index/retriever.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/ingest.h"
#include "index/sqlite_store.h"
#include "index/vector_index.h"
#include "tests/unit/fake_embedder.h"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_support::FakeEmbedder;

class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(fs::temp_directory_path() / absl::StrCat("tinyrag_retriever_", name, "_", getpid())) {
    fs::remove_all(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

Document MakeDoc(const std::string& id, const std::string& text, nlohmann::json metadata = nlohmann::json::object()) {
  Document d;
  d.source = "mem://" + id;
  d.external_id = id;
  d.title = id;
  d.sections.push_back({{}, text});
  d.metadata = std::move(metadata);
  d.content_hash = ContentHash(d);
  return d;
}

// A store with collections "c" (and "other"), each with its vector index, an
// ingestor for "c" and a retriever over it.
class Kb {
 public:
  explicit Kb(const std::string& dir, const RetrieverOptions& options = {}) {
    store = std::move(*SqliteStore::Open(dir));
    for (const char* name : {"c", "other"}) {
      auto info = store->EnsureCollection(name, embedder.identity());
      EXPECT_TRUE(info.ok());
      auto vi = VectorIndex::Open(store.get(), name, VectorIndex::DefaultPath(dir, *info));
      EXPECT_TRUE(vi.ok()) << vi.status();
      IngestOptions options;
      options.chunker.target_tokens = 12;
      options.chunker.overlap_tokens = 0;
      auto ing = Ingestor::Create(store.get(), vi->get(), &embedder, name, options);
      EXPECT_TRUE(ing.ok()) << ing.status();
      indexes.push_back(std::move(*vi));
      ingestors.push_back(std::move(*ing));
    }
    auto r = Retriever::Create(store.get(), "c", indexes[0].get(), &embedder, options);
    EXPECT_TRUE(r.ok()) << r.status();
    retriever = std::move(*r);
  }
  void Ingest(const std::vector<Document>& docs, int collection = 0) {
    auto r = ingestors[collection]->IngestDocuments(docs);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  std::vector<RetrievalResult> Search(const std::string& q, RetrievalMode mode, int k = 5,
                                      std::vector<MetadataFilter> metadata = {}) {
    RetrievalRequest req;
    req.query = q;
    req.k = k;
    req.mode = mode;
    req.metadata = std::move(metadata);
    auto r = retriever->Search(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<RetrievalResult>{};
  }

  FakeEmbedder embedder;
  std::unique_ptr<SqliteStore> store;
  std::vector<std::unique_ptr<VectorIndex>> indexes;
  std::vector<std::unique_ptr<Ingestor>> ingestors;
  std::unique_ptr<Retriever> retriever;
};

std::vector<int64_t> Ids(const std::vector<FusedRank>& fused) {
  std::vector<int64_t> ids;
  for (const FusedRank& f : fused) ids.push_back(f.id);
  return ids;
}

TEST(FuseReciprocalRank, SumsWeightedReciprocalRanks) {
  const std::vector<int64_t> dense = {10, 20, 30};
  const std::vector<int64_t> lexical = {30, 40, 10};
  RetrieverOptions o;
  auto fused = FuseReciprocalRank(dense, lexical, o);
  // 10: 1/61 + 1/63; 30: 1/63 + 1/61 (tie, both best rank 1: smaller id first);
  // 20 and 40: 1/62 each (tie, both best rank 2).
  ASSERT_THAT(Ids(fused), ElementsAre(10, 30, 20, 40));
  EXPECT_DOUBLE_EQ(fused[0].score, 1.0 / 61 + 1.0 / 63);
  EXPECT_EQ(fused[0].dense_rank, 1);
  EXPECT_EQ(fused[0].lexical_rank, 3);
  EXPECT_DOUBLE_EQ(fused[2].score, 1.0 / 62);
  EXPECT_EQ(fused[2].lexical_rank, 0);
  EXPECT_EQ(fused[3].dense_rank, 0);

  o.rrf_k = 1;
  o.dense_weight = 2;
  o.lexical_weight = 0.5;
  fused = FuseReciprocalRank(dense, lexical, o);
  // 10: 2/2 + 0.5/4 = 1.125; 20: 2/3; 30: 2/4 + 0.5/2 = 0.75; 40: 0.5/3.
  ASSERT_THAT(Ids(fused), ElementsAre(10, 30, 20, 40));
  EXPECT_DOUBLE_EQ(fused[0].score, 1.125);
  EXPECT_DOUBLE_EQ(fused[1].score, 0.75);
  EXPECT_DOUBLE_EQ(fused[2].score, 2.0 / 3);
  EXPECT_DOUBLE_EQ(fused[3].score, 0.5 / 3);
}

TEST(FuseReciprocalRank, RepeatedIdCountsAtItsFirstRankAndEmptyListsWork) {
  const std::vector<int64_t> dense = {5, 5, 6};
  const std::vector<int64_t> none;
  auto fused = FuseReciprocalRank(dense, none, {});
  ASSERT_THAT(Ids(fused), ElementsAre(5, 6));
  EXPECT_DOUBLE_EQ(fused[0].score, 1.0 / 61);
  EXPECT_DOUBLE_EQ(fused[1].score, 1.0 / 63);
  EXPECT_TRUE(FuseReciprocalRank(none, none, {}).empty());
}

TEST(Retriever, ModesAndScores) {
  TempDir dir("modes");
  Kb kb(dir.str());
  kb.Ingest({MakeDoc("pets", "Cats and dogs are common pets."), MakeDoc("sea", "Whales swim in the deep sea."),
             MakeDoc("space", "Rockets fly to the moon.")});

  auto lexical = kb.Search("whales", RetrievalMode::kLexical);
  ASSERT_EQ(lexical.size(), 1u);  // only one chunk has the word
  EXPECT_EQ(lexical[0].external_id, "sea");
  EXPECT_EQ(lexical[0].title, "sea");
  EXPECT_EQ(lexical[0].source, "mem://sea");
  EXPECT_EQ(lexical[0].text, "Whales swim in the deep sea.");
  ASSERT_TRUE(lexical[0].lexical_score.has_value());
  EXPECT_DOUBLE_EQ(lexical[0].score, *lexical[0].lexical_score);
  EXPECT_FALSE(lexical[0].dense_score.has_value());

  auto dense = kb.Search("space: rockets fly to the moon", RetrievalMode::kDense);  // the title is embedded too
  ASSERT_EQ(dense.size(), 3u);  // every chunk has some cosine
  EXPECT_EQ(dense[0].external_id, "space");
  EXPECT_NEAR(*dense[0].dense_score, 1.0, 1e-5);
  EXPECT_DOUBLE_EQ(dense[0].score, *dense[0].dense_score);
  EXPECT_GE(dense[0].score, dense[1].score);
  EXPECT_FALSE(dense[0].lexical_score.has_value());

  auto hybrid = kb.Search("whales in the sea", RetrievalMode::kHybrid);
  ASSERT_EQ(hybrid.size(), 3u);
  EXPECT_EQ(hybrid[0].external_id, "sea");
  EXPECT_EQ(hybrid[0].dense_rank, 1);
  EXPECT_EQ(hybrid[0].lexical_rank, 1);
  EXPECT_DOUBLE_EQ(hybrid[0].score, 2.0 / 61);
  EXPECT_TRUE(hybrid[0].dense_score.has_value() && hybrid[0].lexical_score.has_value());
  EXPECT_FALSE(hybrid[1].lexical_score.has_value());

  EXPECT_EQ(kb.Search("whales", RetrievalMode::kHybrid, 1).size(), 1u);
  EXPECT_TRUE(kb.Search("whales", RetrievalMode::kHybrid, 0).empty());
  EXPECT_TRUE(kb.Search("", RetrievalMode::kLexical).empty());
}

TEST(Retriever, FiltersByCollectionAndMetadata) {
  TempDir dir("filters");
  Kb kb(dir.str());
  kb.Ingest({MakeDoc("a1", "Printer setup guide.", {{"team", "a"}, {"level", 1}}),
             MakeDoc("a2", "Printer paper jams.", {{"team", "a"}, {"level", 2}}),
             MakeDoc("b1", "Printer drivers.", {{"team", "b"}, {"level", 1}})});
  kb.Ingest({MakeDoc("x", "Printer in the other collection.")}, 1);
  for (RetrievalMode mode : {RetrievalMode::kLexical, RetrievalMode::kDense, RetrievalMode::kHybrid}) {
    auto all = kb.Search("printer", mode, 10);
    EXPECT_EQ(all.size(), 3u) << RetrievalModeName(mode);  // never the other collection's document
    auto team_a = kb.Search("printer", mode, 10, {{"team", "a"}});
    std::vector<std::string> ids;
    for (const auto& r : team_a) ids.push_back(r.external_id);
    EXPECT_THAT(ids, ::testing::UnorderedElementsAre("a1", "a2")) << RetrievalModeName(mode);
    auto b_level1 = kb.Search("printer", mode, 10, {{"team", "b"}, {"level", 1}});
    ASSERT_EQ(b_level1.size(), 1u);
    EXPECT_EQ(b_level1[0].external_id, "b1");
    EXPECT_TRUE(kb.Search("printer", mode, 10, {{"level", "1"}}).empty());  // a string is not the number 1
  }
}

TEST(Retriever, DenseFilterLooksPastTheFirstCandidates) {
  TempDir dir("deep_filter");
  Kb kb(dir.str(), {.candidates = 2});
  std::vector<Document> docs;
  for (int i = 0; i < 30; ++i) docs.push_back(MakeDoc(absl::StrCat("d", i), "alpha beta gamma", {{"n", i}}));
  docs.push_back(MakeDoc("rare", "alpha delta", {{"n", 100}}));
  kb.Ingest(docs);
  auto r = kb.Search("alpha beta gamma", RetrievalMode::kDense, 1, {{"n", 100}});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].external_id, "rare");
}

TEST(Retriever, BadRequests) {
  TempDir dir("bad");
  Kb kb(dir.str());
  kb.Ingest({MakeDoc("d", "Some text here.")});
  RetrievalRequest req;
  req.query = "text";
  req.mode = RetrievalMode::kDense;
  req.query_vector = {1.0f, 2.0f};
  EXPECT_TRUE(absl::IsInvalidArgument(kb.retriever->Search(req).status()));
  req.query_vector = FakeEmbedder::Vector("text");
  auto with_vector = kb.retriever->Search(req);
  ASSERT_TRUE(with_vector.ok());
  EXPECT_EQ(with_vector->size(), 1u);

  auto lexical_only = Retriever::Create(kb.store.get(), "c", kb.indexes[0].get(), nullptr);
  ASSERT_TRUE(lexical_only.ok());
  req.query_vector.clear();
  EXPECT_TRUE(absl::IsFailedPrecondition((*lexical_only)->Search(req).status()));
  req.mode = RetrievalMode::kLexical;
  EXPECT_EQ((*lexical_only)->Search(req)->size(), 1u);

  EXPECT_TRUE(absl::IsNotFound(Retriever::Create(kb.store.get(), "missing", kb.indexes[0].get(), nullptr).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      Retriever::Create(kb.store.get(), "c", kb.indexes[0].get(), nullptr, {.rrf_k = 0}).status()));
  EXPECT_TRUE(ParseRetrievalMode("lexical").ok());
  EXPECT_TRUE(absl::IsInvalidArgument(ParseRetrievalMode("fuzzy").status()));
}

// Document i, version v: every sentence says so, so any chunk tells which
// version it came from.
Document Version(int i, int v) {
  std::string text;
  for (int s = 0; s < 6; ++s) absl::StrAppend(&text, "Marker doc", i, " ver", v, " sentence", s, " shared words. ");
  return MakeDoc(absl::StrCat("doc", i), text);
}

TEST(Retriever, SearchesDuringIngestionSeeWholeDocumentVersions) {
  TempDir dir("concurrent");
  Kb kb(dir.str());
  constexpr int kDocs = 8;
  constexpr int kVersions = 15;
  std::vector<Document> first;
  for (int i = 0; i < kDocs; ++i) first.push_back(Version(i, 0));
  kb.Ingest(first);

  std::atomic<bool> done{false};
  std::atomic<int> written_version{0};
  std::thread writer([&] {
    for (int v = 1; v <= kVersions; ++v) {
      std::vector<Document> docs;
      for (int i = 0; i < kDocs; ++i) docs.push_back(Version(i, v));
      auto r = kb.ingestors[0]->IngestDocuments(docs);
      EXPECT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->documents_updated, kDocs);
      written_version = v;
    }
    done = true;
  });
  const std::regex marker("Marker doc(\\d+) ver(\\d+) ");
  int searches = 0;
  while (!done || searches < 20) {
    const int at_least = written_version.load();
    const RetrievalMode mode = searches % 3 == 0   ? RetrievalMode::kDense
                               : searches % 3 == 1 ? RetrievalMode::kLexical
                                                   : RetrievalMode::kHybrid;
    auto results = kb.Search("marker shared words sentence3", mode, 20);
    ++searches;
    EXPECT_FALSE(results.empty());
    absl::flat_hash_map<int64_t, int> version_of_document;
    for (const RetrievalResult& r : results) {
      std::smatch m;
      if (!std::regex_search(r.text, m, marker)) {
        ADD_FAILURE() << "not a chunk of any version: " << r.text;
        continue;
      }
      EXPECT_EQ(absl::StrCat("doc", m[1].str()), r.external_id);
      const int v = std::stoi(m[2].str());
      EXPECT_GE(v, at_least);  // never older than what was written before the search began
      auto [it, inserted] = version_of_document.try_emplace(r.document_id, v);
      EXPECT_EQ(it->second, v) << "two versions of document " << r.document_id << " in one result list";
      // The text is exactly one of that version's chunks.
      std::smatch all;
      std::string rest = r.text;
      while (std::regex_search(rest, all, marker)) {
        EXPECT_EQ(all[2].str(), m[2].str()) << r.text;
        rest = all.suffix();
      }
    }
  }
  writer.join();
  EXPECT_EQ(kb.indexes[0]->size(), *kb.store->CountChunks("c"));
}

// What the CLI does while `tinyrag ingest` runs: a writer (kWrite) ingests,
// saving its index and pruning the change log after every batch, while
// readers (kRead: another process in real life, here another store on the
// same dir, locked as if it were one) each open the store, build their
// vector index from the saved file and the change log (or from the stored
// embeddings when the log was pruned past the file), and search. Every
// result list holds whole versions, never older than what was committed
// before the reader opened.
TEST(Retriever, ReadersOpenedWhileAWriterIngestsSeeWholeDocumentVersions) {
  TempDir dir("readers");
  FakeEmbedder embedder;
  auto writer_store = SqliteStore::Open(dir.str(), DataDirAccess::kWrite);
  ASSERT_TRUE(writer_store.ok()) << writer_store.status();
  SqliteStore& store = **writer_store;
  auto info = store.EnsureCollection("c", embedder.identity());
  ASSERT_TRUE(info.ok());
  const std::string index_path = VectorIndex::DefaultPath(dir.str(), *info);
  auto index = VectorIndex::Open(&store, "c", index_path);
  ASSERT_TRUE(index.ok()) << index.status();
  IngestOptions options;
  options.chunker.target_tokens = 12;
  options.chunker.overlap_tokens = 0;
  options.snapshot_interval_seconds = 0;  // save and prune after every batch
  options.embed_batch_chunks = 4;
  auto ingestor = Ingestor::Create(&store, index->get(), &embedder, "c", options);
  ASSERT_TRUE(ingestor.ok()) << ingestor.status();
  constexpr int kDocs = 6;
  constexpr int kVersions = 12;
  std::vector<Document> first;
  for (int i = 0; i < kDocs; ++i) first.push_back(Version(i, 0));
  ASSERT_TRUE((*ingestor)->IngestDocuments(first).ok());

  std::atomic<bool> done{false};
  std::atomic<int> written_version{0};
  std::thread writer([&] {
    for (int v = 1; v <= kVersions; ++v) {
      std::vector<Document> docs;
      for (int i = 0; i < kDocs; ++i) docs.push_back(Version(i, v));
      auto r = (*ingestor)->IngestDocuments(docs);
      EXPECT_TRUE(r.ok()) << r.status();
      written_version = v;
    }
    done = true;
  });
  const std::regex marker("Marker doc(\\d+) ver(\\d+) ");
  int searches = 0;
  while (!done || searches < 12) {
    const int at_least = written_version.load();
    auto reader = SqliteStore::Open(dir.str(), DataDirAccess::kRead);
    ASSERT_TRUE(reader.ok()) << reader.status();
    auto reader_index = VectorIndex::Open(reader->get(), "c", index_path);
    ASSERT_TRUE(reader_index.ok()) << reader_index.status();
    auto retriever = Retriever::Create(reader->get(), "c", reader_index->get(), &embedder);
    ASSERT_TRUE(retriever.ok()) << retriever.status();
    RetrievalRequest req;
    req.query = "marker shared words sentence3";
    req.k = 20;
    req.mode = searches % 2 == 0 ? RetrievalMode::kDense : RetrievalMode::kHybrid;
    auto results = (*retriever)->Search(req);
    ASSERT_TRUE(results.ok()) << results.status();
    ++searches;
    EXPECT_FALSE(results->empty());
    absl::flat_hash_map<int64_t, int> version_of_document;
    for (const RetrievalResult& r : *results) {
      std::smatch m;
      if (!std::regex_search(r.text, m, marker)) {
        ADD_FAILURE() << "not a chunk of any version: " << r.text;
        continue;
      }
      const int v = std::stoi(m[2].str());
      EXPECT_GE(v, at_least);
      auto [it, inserted] = version_of_document.try_emplace(r.document_id, v);
      EXPECT_EQ(it->second, v) << "two versions of document " << r.document_id << " in one result list";
    }
    // The reader neither saves nor prunes what the writer relies on.
    EXPECT_TRUE(absl::IsFailedPrecondition((*reader)->PruneChanges("c", (*reader_index)->last_change())));
  }
  writer.join();
  EXPECT_EQ((*index)->size(), *store.CountChunks("c"));
}

}  // namespace
}  // namespace tinyrag
