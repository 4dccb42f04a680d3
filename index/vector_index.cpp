#include "index/vector_index.h"

#include <fcntl.h>
#include <omp.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <new>
#include <system_error>
#include <utility>

#include <faiss/AutoTune.h>
#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include "absl/strings/str_cat.h"

namespace tinyrag {

struct VectorIndex::Built {
  std::unique_ptr<faiss::Index> index;  // an IndexIDMap2
  std::string factory;
  bool can_remove = true;
  absl::flat_hash_set<int64_t> tombstones;
  int64_t last_change = 0;
};

namespace {

namespace fs = std::filesystem;
using FaissId = faiss::Index::idx_t;

// File layout (little-endian):
//   magic[8] | version u32 | body_len u64 | body_xxh64 u64 | body
//   body = last_change i64 | key_len u32 | key | factory_len u32 | factory |
//          n_tombstones u64 | tombstones i64[n] | FAISS index (write_index)
// The checksum covers the whole body, so a truncated or damaged file is
// detected before FAISS parses a byte of it.
constexpr char kMagic[8] = {'T', 'R', 'V', 'E', 'C', 'I', 'D', 'X'};
constexpr uint32_t kFileVersion = 1;
constexpr size_t kPrefixBytes = sizeof(kMagic) + sizeof(uint32_t) + 2 * sizeof(uint64_t);
constexpr int64_t kMaxTrainVectors = 256 * 1024;  // k-means gains little from more

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;
struct XxhFree {
  void operator()(XXH64_state_t* s) const { XXH64_freeState(s); }
};

// FAISS's OpenMP team size is a per-thread setting: set it on the calling
// thread before each FAISS call.
void BoundOmp(int threads) { omp_set_num_threads(std::max(threads, 1)); }

// Runs a FAISS call, turning its exceptions into statuses.
template <typename Fn>
absl::Status Faiss(std::string_view what, Fn&& fn) {
  try {
    fn();
    return absl::OkStatus();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat("faiss: out of memory while ", std::string(what)));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("faiss: ", std::string(what), ": ", e.what()));
  }
}

absl::StatusOr<std::unique_ptr<faiss::Index>> MakeIndex(int64_t dim, const std::string& factory) {
  std::unique_ptr<faiss::Index> index;
  absl::Status s = Faiss("index_factory", [&] {
    index.reset(faiss::index_factory(static_cast<int>(dim), absl::StrCat("IDMap2,", factory).c_str(),
                                     faiss::METRIC_INNER_PRODUCT));
  });
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("vector index factory '", factory, "' rejected: ", s.message()));
  }
  return index;
}

// Whether IDMap2's remove_ids is correct over this index. It drops the removed
// entries from its id table and assumes the inner index shifts the remaining
// vectors down the same way, which only the flat-codes family does (Flat, PQ,
// SQ, ...). HNSW throws; IVF removes but keeps its other entries' positions,
// so the id table would no longer line up.
bool CanRemove(faiss::Index* index) {
  const faiss::IndexIDMap2* map = dynamic_cast<const faiss::IndexIDMap2*>(index);
  return map != nullptr && dynamic_cast<const faiss::IndexFlatCodes*>(map->index) != nullptr;
}

// Rows scaled to unit length (zero rows stay zero).
std::vector<float> Normalized(std::span<const float> values, int64_t dim) {
  std::vector<float> out(values.begin(), values.end());
  for (size_t r = 0; r + static_cast<size_t>(dim) <= out.size(); r += static_cast<size_t>(dim)) {
    double sum = 0;
    for (int64_t i = 0; i < dim; ++i) sum += static_cast<double>(out[r + i]) * out[r + i];
    if (sum <= 0) continue;
    const float inv = static_cast<float>(1.0 / std::sqrt(sum));
    for (int64_t i = 0; i < dim; ++i) out[r + i] *= inv;
  }
  return out;
}

// What the saved file must have been built for: another collection's or
// encoder's vectors are never reused.
std::string IndexKey(const CollectionInfo& c) {
  return absl::StrCat(c.id, "\n", c.name, "\n", c.encoder.name, "\n", c.encoder.dim, "\n", c.encoder.file_hash);
}

faiss::IndexIDMap2* IdMap(faiss::Index* index) { return dynamic_cast<faiss::IndexIDMap2*>(index); }

// A FAISS writer that checksums what it writes.
struct HashingWriter : faiss::IOWriter {
  HashingWriter(FILE* f, XXH64_state_t* state) : f(f), state(state) {}
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    const size_t n = std::fwrite(ptr, size, nitems, f);
    XXH64_update(state, ptr, size * n);
    bytes += size * n;
    return n;
  }
  template <typename T>
  bool Put(const T& v) {
    return (*this)(&v, sizeof(T), 1) == 1;
  }
  bool PutString(const std::string& s) {
    return Put(static_cast<uint32_t>(s.size())) && (*this)(s.data(), 1, s.size()) == s.size();
  }
  FILE* f;
  XXH64_state_t* state;
  uint64_t bytes = 0;
};

template <typename T>
bool Get(FILE* f, T* v) {
  return std::fread(v, sizeof(T), 1, f) == 1;
}

bool GetString(FILE* f, uint64_t limit, std::string* s) {
  uint32_t n = 0;
  if (!Get(f, &n) || n > limit) return false;
  s->resize(n);
  return std::fread(s->data(), 1, n, f) == n;
}

absl::Status SyncDir(const fs::path& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", dir.string(), ": ", std::strerror(errno)));
  const int rc = fsync(fd);
  close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot fsync ", dir.string(), ": ", std::strerror(errno)));
  return absl::OkStatus();
}

}  // namespace

std::string VectorIndex::DefaultPath(const std::string& data_dir, const CollectionInfo& collection) {
  return (fs::path(data_dir) / "vectors" / absl::StrCat("collection-", collection.id, ".faiss")).string();
}

VectorIndex::VectorIndex(DocumentStore* store, CollectionInfo collection, std::string path,
                         VectorIndexOptions options)
    : store_(store),
      collection_(std::move(collection)),
      dim_(collection_.encoder.dim),
      path_(std::move(path)),
      options_(std::move(options)) {}

VectorIndex::~VectorIndex() = default;

absl::StatusOr<std::unique_ptr<VectorIndex>> VectorIndex::Open(DocumentStore* store, const std::string& collection,
                                                               const std::string& path,
                                                               const VectorIndexOptions& options) {
  absl::StatusOr<CollectionInfo> coll = store->GetCollection(collection);
  if (!coll.ok()) return coll.status();
  if (absl::StatusOr<std::unique_ptr<faiss::Index>> probe = MakeIndex(coll->encoder.dim, options.factory);
      !probe.ok()) {
    return probe.status();
  }
  std::unique_ptr<VectorIndex> vi(new VectorIndex(store, *std::move(coll), path, options));
  absl::MutexLock update(&vi->update_mu_);

  std::string reason;
  absl::StatusOr<Built> loaded = vi->Load();
  if (loaded.ok()) {
    absl::StatusOr<int64_t> store_change = store->LastChange(collection);
    if (!store_change.ok()) return store_change.status();
    if (loaded->last_change > *store_change) {
      reason = absl::StrCat("index file contains change ", loaded->last_change, " but the store's last is ",
                            *store_change);
    }
  } else {
    reason = std::string(loaded.status().message());
  }
  if (reason.empty()) {
    vi->Install(*std::move(loaded));
    if (absl::Status s = vi->CatchUpLocked(&vi->report_); !s.ok()) return s;
    absl::StatusOr<bool> matches = vi->SizeMatchesStore();
    if (!matches.ok()) return matches.status();
    if (!*matches) reason = "index size differs from the store's chunk count";
  }
  if (!reason.empty()) {
    vi->report_ = {.rebuilt = true, .rebuild_reason = reason};
    absl::StatusOr<Built> built = vi->Build();
    if (!built.ok()) return built.status();
    vi->Install(*std::move(built));
    if (absl::Status s = vi->CatchUpLocked(&vi->report_); !s.ok()) return s;
  }
  return vi;
}

absl::StatusOr<VectorIndex::Built> VectorIndex::Build() const {
  BoundOmp(options_.build_omp_threads > 0 ? options_.build_omp_threads : options_.omp_threads);
  Built built;
  built.factory = options_.factory;
  absl::StatusOr<std::unique_ptr<faiss::Index>> index = MakeIndex(dim_, built.factory);
  if (!index.ok()) return index.status();
  built.index = *std::move(index);

  if (!built.index->is_trained) {
    std::vector<float> sample;
    absl::StatusOr<int64_t> read = store_->ForEachEmbedding(
        collection_.name, 4096, [&](std::span<const int64_t>, std::span<const float> v) {
          const size_t room = static_cast<size_t>(kMaxTrainVectors * dim_) - sample.size();
          sample.insert(sample.end(), v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::min(room, v.size())));
          return absl::OkStatus();
        });
    if (!read.ok()) return read.status();
    sample = Normalized(sample, dim_);
    const FaissId n = static_cast<FaissId>(sample.size() / static_cast<size_t>(dim_));
    // Too few vectors for the factory's clusters (FAISS throws): exact search
    // until the next Open tries again.
    if (n == 0 || !Faiss("train", [&] { built.index->train(n, sample.data()); }).ok()) {
      built.factory = "Flat";
      index = MakeIndex(dim_, built.factory);
      if (!index.ok()) return index.status();
      built.index = *std::move(index);
    }
  }
  absl::StatusOr<int64_t> change = store_->ForEachEmbedding(
      collection_.name, 4096, [&](std::span<const int64_t> ids, std::span<const float> v) {
        std::vector<float> unit = Normalized(v, dim_);
        return Faiss("add_with_ids", [&] {
          built.index->add_with_ids(static_cast<FaissId>(ids.size()), unit.data(), ids.data());
        });
      });
  if (!change.ok()) return change.status();
  built.last_change = *change;
  built.can_remove = CanRemove(built.index.get());
  return built;
}

absl::StatusOr<VectorIndex::Built> VectorIndex::Load() const {
  File f(std::fopen(path_.c_str(), "rb"));
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("no index file ", path_, ": ", std::strerror(errno)));
  auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(absl::StrCat("index file ", path_, " is corrupt: ", std::string(why)));
  };
  char magic[sizeof(kMagic)];
  uint32_t version = 0;
  uint64_t body_len = 0, checksum = 0;
  if (std::fread(magic, 1, sizeof(magic), f.get()) != sizeof(magic) || std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return corrupt("not a tinyrag vector index");
  }
  if (!Get(f.get(), &version) || !Get(f.get(), &body_len) || !Get(f.get(), &checksum)) {
    return corrupt("truncated header");
  }
  if (version != kFileVersion) return corrupt(absl::StrCat("unknown version ", version));
  std::error_code ec;
  const uintmax_t file_size = fs::file_size(path_, ec);
  if (ec || file_size != kPrefixBytes + body_len) {
    return corrupt(absl::StrCat("size ", file_size, " bytes, header says ", kPrefixBytes + body_len));
  }
  {
    std::unique_ptr<XXH64_state_t, XxhFree> state(XXH64_createState());
    XXH64_reset(state.get(), 0);
    std::vector<char> buf(1 << 20);
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) XXH64_update(state.get(), buf.data(), n);
    if (XXH64_digest(state.get()) != checksum) return corrupt("checksum mismatch");
  }
  if (std::fseek(f.get(), static_cast<long>(kPrefixBytes), SEEK_SET) != 0) return corrupt("cannot seek");

  Built built;
  std::string key;
  uint64_t n_tombstones = 0;
  if (!Get(f.get(), &built.last_change) || !GetString(f.get(), body_len, &key) ||
      !GetString(f.get(), body_len, &built.factory) || !Get(f.get(), &n_tombstones) ||
      n_tombstones > body_len / sizeof(int64_t)) {
    return corrupt("bad body header");
  }
  if (key != IndexKey(collection_)) {
    return absl::FailedPreconditionError(
        absl::StrCat("index file ", path_, " was built for another collection or encoder"));
  }
  if (built.factory != options_.factory) {
    return absl::FailedPreconditionError(absl::StrCat("index file ", path_, " uses factory '", built.factory,
                                                      "', configured '", options_.factory, "'"));
  }
  for (uint64_t i = 0; i < n_tombstones; ++i) {
    int64_t id = 0;
    if (!Get(f.get(), &id)) return corrupt("truncated tombstones");
    built.tombstones.insert(id);
  }
  absl::Status read = Faiss("read_index", [&] {
    faiss::FileIOReader reader(f.get());
    built.index.reset(faiss::read_index(&reader));
  });
  if (!read.ok()) return corrupt(std::string(read.message()));
  if (std::ftell(f.get()) != static_cast<long>(file_size)) return corrupt("trailing bytes after the index");
  const faiss::IndexIDMap2* map = IdMap(built.index.get());
  if (map == nullptr || built.index->d != dim_ || built.index->metric_type != faiss::METRIC_INNER_PRODUCT ||
      !built.index->is_trained || map->id_map.size() != static_cast<size_t>(built.index->ntotal)) {
    return corrupt("unexpected index type, dimension or metric");
  }
  built.can_remove = CanRemove(built.index.get());
  return built;
}

void VectorIndex::Install(Built built) {
  BoundOmp(options_.omp_threads);
  if (!options_.search_parameters.empty()) {
    // Parameters name fields of the inner index (efSearch, nprobe); an
    // unknown name is reported by FAISS and ignored here: searches still work
    // with the defaults.
    Faiss("set_index_parameters", [&] {
      faiss::ParameterSpace().set_index_parameters(built.index.get(), options_.search_parameters.c_str());
    }).IgnoreError();
  }
  absl::MutexLock lock(&mu_);
  index_ = std::move(built.index);
  factory_ = std::move(built.factory);
  can_remove_ = built.can_remove;
  tombstones_ = std::move(built.tombstones);
  last_change_ = built.last_change;
}

absl::Status VectorIndex::CatchUp() {
  absl::MutexLock update(&update_mu_);
  return CatchUpLocked(nullptr);
}

absl::Status VectorIndex::CatchUpLocked(VectorIndexOpenReport* report) {
  if (needs_rebuild_) {
    absl::StatusOr<Built> built = Build();
    if (!built.ok()) return built.status();
    Install(*std::move(built));
    needs_rebuild_ = false;
  }
  for (;;) {
    int64_t from;
    {
      absl::ReaderMutexLock lock(&mu_);
      from = last_change_;
    }
    absl::StatusOr<ChangeBatch> batch = store_->ReadChanges(collection_.name, from, options_.catch_up_batch);
    if (absl::IsOutOfRange(batch.status())) {
      // The log no longer reaches back to this index (pruned after another
      // index's save): only the stored embeddings can bring it up to date.
      if (report != nullptr) {
        report->rebuilt = true;
        report->rebuild_reason = std::string(batch.status().message());
        report->changes_applied = 0;
      }
      absl::StatusOr<Built> built = Build();
      if (!built.ok()) return built.status();
      Install(*std::move(built));
      continue;
    }
    if (!batch.ok()) return batch.status();
    if (batch->last_change == from) return absl::OkStatus();

    bool rebuild = false;
    {
      absl::MutexLock lock(&mu_);
      BoundOmp(options_.omp_threads);
      // Lambdas below use these locals: the lock is held for their whole call.
      faiss::Index* index = index_.get();
      faiss::IndexIDMap2* map = IdMap(index);
      if (can_remove_) {
        if (!batch->removed.empty()) {
          faiss::IDSelectorBatch sel(batch->removed.size(), batch->removed.data());
          if (absl::Status s = Faiss("remove_ids", [&] { index->remove_ids(sel); }); !s.ok()) {
            needs_rebuild_ = true;
            return s;
          }
        }
      } else {
        for (int64_t id : batch->removed) {
          if (map->rev_map.contains(id)) tombstones_.insert(id);
        }
      }
      if (!batch->added.empty()) {
        std::vector<float> unit = Normalized(batch->added_vectors, dim_);
        absl::Status s = Faiss("add_with_ids", [&] {
          index->add_with_ids(static_cast<FaissId>(batch->added.size()), unit.data(), batch->added.data());
        });
        if (!s.ok()) {
          // Part of the batch may be in: only a rebuild is sure to be right.
          needs_rebuild_ = true;
          return s;
        }
      }
      last_change_ = batch->last_change;
      if (report != nullptr) {
        report->changes_applied += static_cast<int64_t>(batch->added.size() + batch->removed.size());
      }
      rebuild = !tombstones_.empty() &&
                static_cast<double>(tombstones_.size()) > options_.max_tombstone_fraction * static_cast<double>(index_->ntotal);
    }
    if (rebuild) {
      absl::StatusOr<Built> built = Build();
      if (!built.ok()) return built.status();
      Install(*std::move(built));
    }
  }
}

absl::StatusOr<bool> VectorIndex::SizeMatchesStore() {
  absl::StatusOr<int64_t> before = store_->LastChange(collection_.name);
  if (!before.ok()) return before.status();
  absl::StatusOr<int64_t> count = store_->CountChunks(collection_.name);
  if (!count.ok()) return count.status();
  absl::StatusOr<int64_t> after = store_->LastChange(collection_.name);
  if (!after.ok()) return after.status();
  absl::ReaderMutexLock lock(&mu_);
  // A writer raced the count: nothing can be concluded, trust the log.
  if (*before != *after || *after != last_change_) return true;
  return index_->ntotal - static_cast<int64_t>(tombstones_.size()) == *count;
}

absl::Status VectorIndex::Save() {
  absl::MutexLock update(&update_mu_);
  absl::ReaderMutexLock lock(&mu_);
  const fs::path path(path_);
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  const std::string tmp = path_ + ".tmp";
  auto fail = [&](std::string_view what) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    return absl::InternalError(absl::StrCat("cannot write ", tmp, ": ", std::string(what)));
  };
  {
    File f(std::fopen(tmp.c_str(), "wb"));
    if (f == nullptr) return fail(std::strerror(errno));
    const uint64_t zero = 0;
    if (std::fwrite(kMagic, 1, sizeof(kMagic), f.get()) != sizeof(kMagic) ||
        std::fwrite(&kFileVersion, sizeof(kFileVersion), 1, f.get()) != 1 ||
        std::fwrite(&zero, sizeof(zero), 1, f.get()) != 1 || std::fwrite(&zero, sizeof(zero), 1, f.get()) != 1) {
      return fail(std::strerror(errno));
    }
    std::unique_ptr<XXH64_state_t, XxhFree> state(XXH64_createState());
    XXH64_reset(state.get(), 0);
    HashingWriter w(f.get(), state.get());
    bool ok = w.Put(last_change_) && w.PutString(IndexKey(collection_)) && w.PutString(factory_) &&
              w.Put(static_cast<uint64_t>(tombstones_.size()));
    for (int64_t id : tombstones_) ok = ok && w.Put(id);
    if (!ok) return fail(std::strerror(errno));
    BoundOmp(options_.omp_threads);
    const faiss::Index* index = index_.get();
    if (absl::Status s = Faiss("write_index", [&] { faiss::write_index(index, &w); }); !s.ok()) {
      return fail(std::string(s.message()));
    }
    // Fill in the header now that the body's length and checksum are known.
    const uint64_t body_len = w.bytes, checksum = XXH64_digest(state.get());
    if (std::fseek(f.get(), static_cast<long>(sizeof(kMagic) + sizeof(kFileVersion)), SEEK_SET) != 0 ||
        std::fwrite(&body_len, sizeof(body_len), 1, f.get()) != 1 ||
        std::fwrite(&checksum, sizeof(checksum), 1, f.get()) != 1 || std::fflush(f.get()) != 0 ||
        fsync(fileno(f.get())) != 0) {
      return fail(std::strerror(errno));
    }
    if (std::fclose(f.release()) != 0) return fail(std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) return fail(std::strerror(errno));
  return SyncDir(dir);
}

absl::StatusOr<std::vector<VectorHit>> VectorIndex::Search(std::span<const float> query, int k) const {
  if (static_cast<int64_t>(query.size()) != dim_) {
    return absl::InvalidArgumentError(
        absl::StrCat("query has ", query.size(), " values, collection '", collection_.name, "' has dimension ", dim_));
  }
  for (float v : query) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError("query has a non-finite value");
  }
  std::vector<VectorHit> hits;
  if (k < 1) return hits;
  const std::vector<float> unit = Normalized(query, dim_);

  absl::ReaderMutexLock lock(&mu_);
  BoundOmp(options_.omp_threads);
  const faiss::Index* index = index_.get();
  const int64_t ntotal = index->ntotal;
  // With tombstones, ask for more than k and skip them, widening until k live
  // hits are found or the whole index was returned.
  int64_t extra = tombstones_.empty() ? 0 : std::max<int64_t>(k, 16);
  for (;;) {
    const int64_t want = std::min<int64_t>(ntotal, k + extra);
    if (want == 0) return hits;
    std::vector<float> scores(static_cast<size_t>(want));
    std::vector<FaissId> ids(static_cast<size_t>(want));
    absl::Status s = Faiss("search", [&] { index->search(1, unit.data(), want, scores.data(), ids.data()); });
    if (!s.ok()) return s;
    hits.clear();
    for (int64_t i = 0; i < want && static_cast<int>(hits.size()) < k; ++i) {
      if (ids[i] < 0 || tombstones_.contains(ids[i])) continue;  // -1: fewer results than asked
      hits.push_back({ids[i], scores[i]});
    }
    if (static_cast<int>(hits.size()) == k || want == ntotal) return hits;
    extra = extra == 0 ? std::max<int64_t>(k, 16) : extra * 4;
  }
}

int64_t VectorIndex::last_change() const {
  absl::ReaderMutexLock lock(&mu_);
  return last_change_;
}

int64_t VectorIndex::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return index_->ntotal - static_cast<int64_t>(tombstones_.size());
}

std::string VectorIndex::factory() const {
  absl::ReaderMutexLock lock(&mu_);
  return factory_;
}

}  // namespace tinyrag
