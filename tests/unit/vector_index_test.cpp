#include "index/vector_index.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/sqlite_store.h"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int64_t kDim = 16;
const EncoderIdentity kEncoder{"test-encoder", kDim, "hash"};

class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(fs::temp_directory_path() / absl::StrCat("tinyrag_vindex_", name, "_", getpid())) {
    fs::remove_all(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

std::vector<float> RandomVector(std::mt19937& rng) {
  std::normal_distribution<float> nd;
  std::vector<float> v(kDim);
  for (float& x : v) x = nd(rng);
  return v;
}

// A store in `dir` with collection "c" and documents d<first>..d<first+n-1>
// of `chunks` chunks each; remembers every vector it wrote by chunk id.
class Fixture {
 public:
  explicit Fixture(const std::string& dir) {
    auto s = SqliteStore::Open(dir);
    EXPECT_TRUE(s.ok()) << s.status();
    store = std::move(*s);
    auto c = store->EnsureCollection("c", kEncoder);
    EXPECT_TRUE(c.ok());
    collection = *c;
    path = VectorIndex::DefaultPath(dir, collection);
  }

  void AddDocs(int first, int n, int chunks, const std::string& version = "v1") {
    for (int i = first; i < first + n; ++i) {
      DocumentInput d;
      d.external_id = absl::StrCat("d", i);
      d.source = "src";
      d.content_hash = version;
      for (int j = 0; j < chunks; ++j) d.chunks.push_back({absl::StrCat("text ", i, " ", j), 3, "", RandomVector(rng)});
      auto r = store->UpsertDocument("c", d);
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }

  // chunk id -> vector, for every chunk now in the store.
  absl::flat_hash_map<int64_t, std::vector<float>> Vectors() {
    absl::flat_hash_map<int64_t, std::vector<float>> out;
    auto st = store->ForEachEmbedding("c", 100, [&](std::span<const int64_t> ids, std::span<const float> v) {
      for (size_t i = 0; i < ids.size(); ++i) out[ids[i]] = std::vector<float>(v.begin() + i * kDim, v.begin() + (i + 1) * kDim);
      return absl::OkStatus();
    });
    EXPECT_TRUE(st.ok());
    return out;
  }

  std::unique_ptr<VectorIndex> OpenIndex(const VectorIndexOptions& options = {}) {
    auto vi = VectorIndex::Open(store.get(), "c", path, options);
    EXPECT_TRUE(vi.ok()) << vi.status();
    return vi.ok() ? std::move(*vi) : nullptr;
  }

  std::mt19937 rng{42};
  std::unique_ptr<SqliteStore> store;
  CollectionInfo collection;
  std::string path;
};

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return ab / std::sqrt(aa * bb);
}

// Every stored vector finds itself first, and the top k equal brute force.
void ExpectExact(const VectorIndex& index, const absl::flat_hash_map<int64_t, std::vector<float>>& vectors, int k) {
  ASSERT_EQ(index.size(), static_cast<int64_t>(vectors.size()));
  for (const auto& [id, v] : vectors) {
    auto hits = index.Search(v, k);
    ASSERT_TRUE(hits.ok()) << hits.status();
    ASSERT_EQ(hits->size(), std::min<size_t>(k, vectors.size()));
    EXPECT_EQ((*hits)[0].chunk_id, id);
    EXPECT_NEAR((*hits)[0].score, 1.0f, 1e-4);
    std::vector<double> sims;
    for (const auto& [other_id, w] : vectors) sims.push_back(Cosine(v, w));
    std::sort(sims.rbegin(), sims.rend());
    for (size_t i = 0; i < hits->size(); ++i) {
      EXPECT_TRUE(vectors.contains((*hits)[i].chunk_id));
      EXPECT_NEAR((*hits)[i].score, sims[i], 1e-4);
    }
  }
}

TEST(VectorIndex, BuildsFromStoreWhenFileMissingThenLoadsSavedFile) {
  TempDir dir("missing");
  Fixture f(dir.str());
  f.AddDocs(0, 20, 3);
  auto vi = f.OpenIndex();
  ASSERT_NE(vi, nullptr);
  EXPECT_TRUE(vi->open_report().rebuilt);
  EXPECT_THAT(vi->open_report().rebuild_reason, HasSubstr("no index file"));
  EXPECT_EQ(vi->last_change(), *f.store->LastChange("c"));
  EXPECT_EQ(vi->factory(), "Flat");
  ExpectExact(*vi, f.Vectors(), 5);
  ASSERT_TRUE(vi->Save().ok());
  EXPECT_TRUE(fs::exists(f.path));
  EXPECT_FALSE(fs::exists(f.path + ".tmp"));
  vi.reset();

  auto again = f.OpenIndex();
  ASSERT_NE(again, nullptr);
  EXPECT_FALSE(again->open_report().rebuilt) << again->open_report().rebuild_reason;
  EXPECT_EQ(again->open_report().changes_applied, 0);
  ExpectExact(*again, f.Vectors(), 5);

  // Deleting the file is repaired on open.
  again.reset();
  fs::remove(f.path);
  auto repaired = f.OpenIndex();
  ASSERT_NE(repaired, nullptr);
  EXPECT_TRUE(repaired->open_report().rebuilt);
  ExpectExact(*repaired, f.Vectors(), 5);
}

TEST(VectorIndex, StaleFileCatchesUpThroughTheChangeLog) {
  TempDir dir("stale");
  Fixture f(dir.str());
  f.AddDocs(0, 10, 2);
  {
    auto vi = f.OpenIndex();
    ASSERT_NE(vi, nullptr);
    ASSERT_TRUE(vi->Save().ok());
  }
  f.AddDocs(10, 5, 2);        // 10 vectors added
  f.AddDocs(0, 2, 3, "v2");   // 2 documents replaced: 4 removed, 6 added
  ASSERT_TRUE(f.store->DeleteDocument(5).ok());  // 2 removed
  auto vi = f.OpenIndex();
  ASSERT_NE(vi, nullptr);
  EXPECT_FALSE(vi->open_report().rebuilt) << vi->open_report().rebuild_reason;
  EXPECT_EQ(vi->open_report().changes_applied, 10 + 4 + 6 + 2);
  EXPECT_EQ(vi->last_change(), *f.store->LastChange("c"));
  ExpectExact(*vi, f.Vectors(), 4);
}

TEST(VectorIndex, LiveCatchUpAddsAndRemoves) {
  TempDir dir("live");
  Fixture f(dir.str());
  auto vi = f.OpenIndex();
  ASSERT_NE(vi, nullptr);
  EXPECT_EQ(vi->size(), 0);
  EXPECT_TRUE(vi->Search(std::vector<float>(kDim, 1.0f), 3)->empty());
  f.AddDocs(0, 8, 2);
  EXPECT_EQ(vi->size(), 0);  // not before CatchUp
  ASSERT_TRUE(vi->CatchUp().ok());
  ExpectExact(*vi, f.Vectors(), 3);
  ASSERT_TRUE(f.store->DeleteBySource("c", "src").ok());
  ASSERT_TRUE(vi->CatchUp().ok());
  EXPECT_EQ(vi->size(), 0);
  EXPECT_TRUE(vi->Search(std::vector<float>(kDim, 1.0f), 3)->empty());
}

TEST(VectorIndex, CorruptOrTruncatedFileIsRebuilt) {
  TempDir dir("corrupt");
  Fixture f(dir.str());
  f.AddDocs(0, 12, 2);
  {
    auto vi = f.OpenIndex();
    ASSERT_NE(vi, nullptr);
    ASSERT_TRUE(vi->Save().ok());
  }
  std::string good;
  {
    std::ifstream in(f.path, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(good.size(), 100u);
  struct Case {
    std::string name, bytes, reason;
  };
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x5a;
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  const std::vector<Case> cases = {
      {"flipped byte", flipped, "checksum"},
      {"truncated", good.substr(0, good.size() - 7), "size"},
      {"header only", good.substr(0, 10), "truncated header"},
      {"empty", "", "not a tinyrag vector index"},
      {"other format", bad_magic, "not a tinyrag vector index"},
      {"trailing garbage", good + "junk", "size"},
  };
  for (const Case& c : cases) {
    {
      std::ofstream out(f.path, std::ios::binary | std::ios::trunc);
      out << c.bytes;
    }
    auto vi = f.OpenIndex();
    ASSERT_NE(vi, nullptr) << c.name;
    EXPECT_TRUE(vi->open_report().rebuilt) << c.name;
    EXPECT_THAT(vi->open_report().rebuild_reason, HasSubstr(c.reason)) << c.name;
    ExpectExact(*vi, f.Vectors(), 3);
  }
}

TEST(VectorIndex, FileOfAnotherStoreOrSetupIsRebuilt) {
  TempDir dir("other");
  Fixture f(dir.str());
  f.AddDocs(0, 6, 2);
  {
    auto vi = f.OpenIndex();
    ASSERT_NE(vi, nullptr);
    ASSERT_TRUE(vi->Save().ok());
  }
  // Another factory configured.
  {
    VectorIndexOptions hnsw;
    hnsw.factory = "HNSW16";
    auto vi = f.OpenIndex(hnsw);
    ASSERT_NE(vi, nullptr);
    EXPECT_THAT(vi->open_report().rebuild_reason, HasSubstr("uses factory 'Flat', configured 'HNSW16'"));
    EXPECT_EQ(vi->factory(), "HNSW16");
  }
  // Another collection's file.
  ASSERT_TRUE(f.store->EnsureCollection("d", kEncoder).ok());
  {
    auto vi = VectorIndex::Open(f.store.get(), "d", f.path);
    ASSERT_TRUE(vi.ok());
    EXPECT_THAT((*vi)->open_report().rebuild_reason, HasSubstr("another collection"));
    EXPECT_EQ((*vi)->size(), 0);
  }
  // A file claiming changes the store does not have (the store was restored
  // from an older copy): a second data dir with fewer changes.
  TempDir dir2("other2");
  Fixture g(dir2.str());
  g.AddDocs(0, 2, 2);
  fs::create_directories(fs::path(g.path).parent_path());
  fs::copy_file(f.path, g.path, fs::copy_options::overwrite_existing);
  auto vi = g.OpenIndex();
  ASSERT_NE(vi, nullptr);
  EXPECT_THAT(vi->open_report().rebuild_reason, HasSubstr("but the store's last is 4"));
  ExpectExact(*vi, g.Vectors(), 2);
}

TEST(VectorIndex, PrunedLogMeansRebuild) {
  TempDir dir("pruned");
  Fixture f(dir.str());
  f.AddDocs(0, 5, 2);
  auto vi = f.OpenIndex();
  ASSERT_NE(vi, nullptr);
  ASSERT_TRUE(vi->Save().ok());
  f.AddDocs(5, 5, 2);
  // Another index of the collection saved everything and pruned the log.
  ASSERT_TRUE(f.store->PruneChanges("c", *f.store->LastChange("c")).ok());
  auto reopened = f.OpenIndex();
  ASSERT_NE(reopened, nullptr);
  EXPECT_TRUE(reopened->open_report().rebuilt);
  EXPECT_THAT(reopened->open_report().rebuild_reason, HasSubstr("pruned"));
  ExpectExact(*reopened, f.Vectors(), 3);
  // The live index, behind the pruned log too, rebuilds on CatchUp.
  ASSERT_TRUE(vi->CatchUp().ok());
  ExpectExact(*vi, f.Vectors(), 3);
}

TEST(VectorIndex, HnswUsesTombstonesAndRebuildsWhenTheyPileUp) {
  TempDir dir("hnsw");
  Fixture f(dir.str());
  f.AddDocs(0, 40, 5);
  VectorIndexOptions options{.factory = "HNSW32", .search_parameters = "efSearch=128",
                             .max_tombstone_fraction = 0.3};
  auto vi = f.OpenIndex(options);
  ASSERT_NE(vi, nullptr);
  EXPECT_EQ(vi->factory(), "HNSW32");
  ExpectExact(*vi, f.Vectors(), 5);
  // 10% removed: kept as tombstones, skipped by searches, saved with the file.
  for (int64_t doc = 1; doc <= 4; ++doc) ASSERT_TRUE(f.store->DeleteDocument(doc).ok());
  ASSERT_TRUE(vi->CatchUp().ok());
  ExpectExact(*vi, f.Vectors(), 5);
  ASSERT_TRUE(vi->Save().ok());
  const auto file_size = fs::file_size(f.path);
  vi.reset();
  vi = f.OpenIndex(options);
  ASSERT_NE(vi, nullptr);
  EXPECT_FALSE(vi->open_report().rebuilt) << vi->open_report().rebuild_reason;
  ExpectExact(*vi, f.Vectors(), 5);
  // Past 30%: rebuilt without the removed vectors (a smaller file).
  for (int64_t doc = 5; doc <= 16; ++doc) ASSERT_TRUE(f.store->DeleteDocument(doc).ok());
  ASSERT_TRUE(vi->CatchUp().ok());
  ExpectExact(*vi, f.Vectors(), 5);
  ASSERT_TRUE(vi->Save().ok());
  EXPECT_LT(fs::file_size(f.path), file_size * 3 / 4);
}

TEST(VectorIndex, IvfTrainsOnStoredVectorsOrStaysExactWhileTooSmall) {
  TempDir dir("ivf");
  Fixture f(dir.str());
  f.AddDocs(0, 2, 1);
  VectorIndexOptions options{.factory = "IVF8,Flat", .search_parameters = "nprobe=8"};
  {
    auto vi = f.OpenIndex(options);
    ASSERT_NE(vi, nullptr);
    EXPECT_EQ(vi->factory(), "Flat");  // 2 vectors cannot train 8 clusters
    ExpectExact(*vi, f.Vectors(), 2);
    ASSERT_TRUE(vi->Save().ok());
  }
  f.AddDocs(2, 70, 5);
  auto vi = f.OpenIndex(options);
  ASSERT_NE(vi, nullptr);
  EXPECT_TRUE(vi->open_report().rebuilt);
  EXPECT_EQ(vi->factory(), "IVF8,Flat");
  // nprobe = nlist: every list is scanned, so the search is exact.
  ExpectExact(*vi, f.Vectors(), 5);
  ASSERT_TRUE(f.store->DeleteDocument(3).ok());  // a tombstone: IDMap2 cannot remove from IVF
  ASSERT_TRUE(vi->CatchUp().ok());
  ExpectExact(*vi, f.Vectors(), 5);
}

TEST(VectorIndex, BadInputsAreErrors) {
  TempDir dir("bad");
  Fixture f(dir.str());
  f.AddDocs(0, 2, 1);
  VectorIndexOptions bad;
  bad.factory = "NoSuchIndex77";
  auto bad_factory = VectorIndex::Open(f.store.get(), "c", f.path, bad);
  EXPECT_EQ(bad_factory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_factory.status().message(), HasSubstr("NoSuchIndex77"));
  EXPECT_EQ(VectorIndex::Open(f.store.get(), "zz", f.path).status().code(), absl::StatusCode::kNotFound);
  auto vi = f.OpenIndex();
  ASSERT_NE(vi, nullptr);
  EXPECT_EQ(vi->Search(std::vector<float>(kDim + 1, 1.0f), 3).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<float> nan(kDim, 1.0f);
  nan[2] = std::nanf("");
  EXPECT_EQ(vi->Search(nan, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(vi->Search(std::vector<float>(kDim, 1.0f), 0)->empty());
  EXPECT_EQ(vi->Search(std::vector<float>(kDim, 1.0f), 50)->size(), 2u);
  // A path where no file can be written.
  auto unwritable = VectorIndex::Open(f.store.get(), "c", "/proc/tinyrag-test/x.faiss");
  ASSERT_TRUE(unwritable.ok());
  EXPECT_FALSE((*unwritable)->Save().ok());
}

TEST(VectorIndex, SearchesRunWhileChangesAreApplied) {
  TempDir dir("concurrent");
  Fixture f(dir.str());
  f.AddDocs(0, 20, 2);
  auto vi = f.OpenIndex();
  ASSERT_NE(vi, nullptr);
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, searches{0};
  std::thread writer([&] {
    for (int round = 0; round < 30; ++round) {
      f.AddDocs(100 + round, 1, 3);
      f.AddDocs(round % 20, 1, 2, absl::StrCat("v", round + 2));  // replace one
      if (!vi->CatchUp().ok()) ++bad;
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937 rng(100 + r);
      while (!done) {
        auto hits = vi->Search(RandomVector(rng), 10);
        if (!hits.ok() || hits->size() != 10) {
          ++bad;
          continue;
        }
        absl::flat_hash_set<int64_t> seen;
        for (size_t i = 0; i < hits->size(); ++i) {
          if (!seen.insert((*hits)[i].chunk_id).second) ++bad;  // a replaced vector appearing twice
          if (i > 0 && (*hits)[i].score > (*hits)[i - 1].score) ++bad;
        }
        ++searches;
      }
    });
  }
  writer.join();
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(searches.load(), 0);
  ExpectExact(*vi, f.Vectors(), 3);
}


// What ingestion does for document i of the crash test: chunk count and
// content vary with i, vectors are a function of (i, chunk).
DocumentInput CrashDoc(int i) {
  DocumentInput d;
  d.external_id = absl::StrCat("doc", i);
  d.source = absl::StrCat("file", i % 13, ".jsonl");
  d.content_hash = absl::StrCat("hash", i);
  std::mt19937 rng(static_cast<uint32_t>(i));
  for (int j = 0; j < 10 + i % 17; ++j) d.chunks.push_back({absl::StrCat("doc", i, " chunk", j), 2, "", RandomVector(rng)});
  return d;
}

// Ingests documents 0..n-1 the way the ingest command does (skip unchanged,
// one upsert per document, periodic catch-up and atomic save of the index),
// writing each finished document's number to `progress_fd` (if >= 0).
// Returns how many documents were skipped as unchanged.
absl::StatusOr<int> IngestAll(const std::string& dir, int n, int progress_fd) {
  auto store = SqliteStore::Open(dir);
  if (!store.ok()) return store.status();
  if (auto c = (*store)->EnsureCollection("c", kEncoder); !c.ok()) return c.status();
  auto coll = (*store)->GetCollection("c");
  auto index = VectorIndex::Open(store->get(), "c", VectorIndex::DefaultPath(dir, *coll));
  if (!index.ok()) return index.status();
  int unchanged = 0;
  for (int i = 0; i < n; ++i) {
    DocumentInput d = CrashDoc(i);
    auto found = (*store)->FindDocument("c", d.external_id);
    if (!found.ok()) return found.status();
    if (found->has_value() && (*found)->content_hash == d.content_hash) {
      ++unchanged;
      continue;
    }
    if (auto r = (*store)->UpsertDocument("c", d); !r.ok()) return r.status();
    if (i % 20 == 19) {
      if (absl::Status s = (*index)->CatchUp(); !s.ok()) return s;
      if (absl::Status s = (*index)->Save(); !s.ok()) return s;
    }
    if (progress_fd >= 0 && write(progress_fd, &i, sizeof(i)) != sizeof(i)) return absl::InternalError("pipe");
  }
  if (absl::Status s = (*index)->CatchUp(); !s.ok()) return s;
  if (absl::Status s = (*index)->Save(); !s.ok()) return s;
  return unchanged;
}

TEST(VectorIndex, SigkillMidIngestLeavesWholeDocumentsAndARepairableIndex) {
  TempDir dir("crash");
  constexpr int kDocs = 300;
  int progress[2];
  ASSERT_EQ(pipe(progress), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(progress[0]);
    absl::StatusOr<int> r = IngestAll(dir.str(), kDocs, progress[1]);
    _exit(r.ok() ? 0 : 1);
  }
  close(progress[1]);
  // Kill it while it is writing: after 70 documents (past three index saves),
  // without waiting for any particular moment.
  int done = -1;
  while (done < 70 && read(progress[0], &done, sizeof(done)) == sizeof(done)) {
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  close(progress[0]);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child finished before it was killed";

  int present = 0;
  {
    auto store = SqliteStore::Open(dir.str());  // the dead child's lock is gone
    ASSERT_TRUE(store.ok()) << store.status();
    auto docs = (*store)->ListDocuments("c", {.offset = 0, .limit = 10000, .source = ""});
    ASSERT_TRUE(docs.ok());
    present = static_cast<int>(docs->size());
    EXPECT_GE(present, 71);
    EXPECT_LT(present, kDocs);
    int64_t chunks = 0;
    for (const DocumentInfo& d : *docs) {
      // Whole documents only: every chunk of each, with the right hash.
      const int i = std::stoi(d.external_id.substr(3));
      EXPECT_EQ(d.chunk_count, static_cast<int64_t>(CrashDoc(i).chunks.size())) << d.external_id;
      EXPECT_EQ(d.content_hash, CrashDoc(i).content_hash);
      chunks += d.chunk_count;
    }
    EXPECT_EQ(*(*store)->CountChunks("c"), chunks);
    // The index saved before the kill is behind: caught up, consistent.
    auto coll = (*store)->GetCollection("c");
    auto index = VectorIndex::Open(store->get(), "c", VectorIndex::DefaultPath(dir.str(), *coll));
    ASSERT_TRUE(index.ok()) << index.status();
    EXPECT_EQ((*index)->size(), chunks);
    EXPECT_EQ((*index)->last_change(), *(*store)->LastChange("c"));
    auto some = (*store)->ForEachEmbedding("c", 1, [&](std::span<const int64_t> ids, std::span<const float> v) {
      if (ids[0] % 50 != 0) return absl::OkStatus();
      auto hits = (*index)->Search(v, 1);
      EXPECT_TRUE(hits.ok() && hits->size() == 1 && (*hits)[0].chunk_id == ids[0]) << ids[0];
      return absl::OkStatus();
    });
    EXPECT_TRUE(some.ok());
  }
  // A rerun skips what is there and completes the rest.
  absl::StatusOr<int> unchanged = IngestAll(dir.str(), kDocs, -1);
  ASSERT_TRUE(unchanged.ok()) << unchanged.status();
  EXPECT_EQ(*unchanged, present);
  auto store = SqliteStore::Open(dir.str());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->ListDocuments("c", {.offset = 0, .limit = 10000, .source = ""})->size(), static_cast<size_t>(kDocs));
  auto coll = (*store)->GetCollection("c");
  auto index = VectorIndex::Open(store->get(), "c", VectorIndex::DefaultPath(dir.str(), *coll));
  ASSERT_TRUE(index.ok());
  EXPECT_FALSE((*index)->open_report().rebuilt) << (*index)->open_report().rebuild_reason;
  EXPECT_EQ((*index)->size(), *(*store)->CountChunks("c"));
}

}  // namespace
}  // namespace tinyrag
