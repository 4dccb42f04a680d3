// The dense-vector index of one collection: FAISS, rebuilt and caught up from
// the DocumentStore, which stays the source of truth.
//
// Vectors are the chunks' embeddings, L2-normalized on the way in (queries
// too) and compared by inner product, i.e. cosine similarity; FAISS ids are the
// store's chunk ids (never reused). The FAISS index is `IDMap2,<factory>` for a
// factory string such as "Flat" (exact), "HNSW32" or "IVF256,Flat".
//
// Persistence: Save() writes the index and the last store change number it
// contains to one file, atomically (temp file, fsync, rename, fsync of the
// folder), with a checksum. Open() loads that file and then
//  - catches up through the store's change log when the file is behind;
//  - rebuilds from the stored embeddings when the file is missing, fails its
//    checksum or does not parse, was built for another collection, encoder or
//    factory, claims changes the store does not have (a store restored from
//    an older copy), is older than the store's pruned change log (see
//    DocumentStore::PruneChanges), or holds a different number of vectors
//    than the store has chunks.
//
// Removal: a replaced or deleted document's chunk ids are removed from flat
// indexes (Flat, PQ, SQ). Through IDMap2, FAISS cannot remove from the others
// (HNSW throws; IVF removes but leaves IDMap2's id table misaligned), so they
// keep the removed ids as tombstones instead: searches skip them (asking FAISS
// for more results as needed), the file keeps them, and once they exceed
// `max_tombstone_fraction` of the index it is rebuilt from the store.
//
// Training: factories that need training (IVF, PQ) are trained at build time
// on the stored embeddings. While the collection has too few vectors to train
// on, the index is exact ("Flat") instead, and the configured factory is tried
// again at the next Open.
//
// Thread safety: all methods may be called concurrently. Searches share a
// reader lock and run in parallel; applying changes takes the writer lock only
// for the FAISS mutation itself. FAISS's OpenMP threads are bounded per call
// (`omp_threads`) so they do not compete with the model's thread pool.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "index/store.h"

namespace faiss {
struct Index;
}  // namespace faiss

namespace tinyrag {

struct VectorIndexOptions {
  std::string factory = "Flat";  // FAISS index_factory string, without the "IDMap2," prefix
  // FAISS search parameters in faiss::ParameterSpace syntax, e.g. "efSearch=64"
  // for HNSW or "nprobe=16" for IVF; empty for FAISS's defaults.
  std::string search_parameters;
  int omp_threads = 1;                  // OpenMP threads per FAISS call (values < 1 mean 1)
  int64_t catch_up_batch = 4096;        // change-log rows read from the store per step
  double max_tombstone_fraction = 0.1;  // see "Removal" above
  // OpenMP threads while building the whole index from the store (Open's
  // rebuild, a rebuild past the tombstone bound): HNSW and IVF builds use them
  // well, and they happen rarely. 0 means `omp_threads`. A server that builds
  // at startup, before it serves, can give it all its cores.
  int build_omp_threads = 0;
};

struct VectorHit {
  int64_t chunk_id = 0;
  float score = 0;  // cosine similarity, higher is better
};

// How Open() found the saved file.
struct VectorIndexOpenReport {
  bool rebuilt = false;
  std::string rebuild_reason;   // why it was rebuilt ("" when loaded)
  int64_t changes_applied = 0;  // vectors added or removed by catching up after loading or rebuilding
};

class VectorIndex {
 public:
  // The default file of `collection`'s index in a data dir:
  // DIR/vectors/collection-<id>.faiss (ids, unlike names, are safe file names).
  static std::string DefaultPath(const std::string& data_dir, const CollectionInfo& collection);

  // Opens the index of `collection` saved at `path`, rebuilding or catching it
  // up from `store` as described above (it does not write the file: call
  // Save). `store` is not owned and must outlive the index. NotFound for a
  // missing collection; InvalidArgument for a factory string FAISS rejects;
  // store errors as they come.
  static absl::StatusOr<std::unique_ptr<VectorIndex>> Open(DocumentStore* store, const std::string& collection,
                                                           const std::string& path,
                                                           const VectorIndexOptions& options = {});
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  // Applies every store change newer than last_change(): call it after
  // ingesting (or on a timer) so searches see new documents. Rebuilds when
  // tombstones pile up or the store's log was pruned past last_change(). Errors from the store or FAISS leave the index as it
  // was after the last fully applied batch.
  absl::Status CatchUp();

  // Writes the index to its path atomically (see above); the previous file
  // stays intact if anything fails. Searches go on meanwhile; changes wait.
  absl::Status Save();

  // The k chunks nearest to `query` (dimension of the collection; normalized
  // here), best first; fewer when the index has fewer. InvalidArgument for a
  // wrong dimension or non-finite values; an empty result for k < 1.
  absl::StatusOr<std::vector<VectorHit>> Search(std::span<const float> query, int k) const;

  int64_t last_change() const;  // store change number the index contains
  int64_t size() const;         // live vectors (tombstones excluded)
  int64_t dim() const { return dim_; }
  // The factory in use: the configured one, or "Flat" while it cannot be trained yet.
  std::string factory() const;
  const std::string& path() const { return path_; }
  const VectorIndexOpenReport& open_report() const { return report_; }

 private:
  struct Built;  // a FAISS index with its change number, factory and tombstones

  VectorIndex(DocumentStore* store, CollectionInfo collection, std::string path, VectorIndexOptions options);

  // A new index holding the store's current embeddings.
  absl::StatusOr<Built> Build() const;
  // The saved file as an index, or the reason it cannot be used.
  absl::StatusOr<Built> Load() const;
  // Replaces the index (writer lock).
  void Install(Built built) ABSL_LOCKS_EXCLUDED(mu_);
  // Records vectors applied and any rebuild in `*report` (optional).
  absl::Status CatchUpLocked(VectorIndexOpenReport* report) ABSL_EXCLUSIVE_LOCKS_REQUIRED(update_mu_);
  // Whether the loaded index agrees with the store in size (checked when the
  // store did not change during the count).
  absl::StatusOr<bool> SizeMatchesStore() ABSL_EXCLUSIVE_LOCKS_REQUIRED(update_mu_);

  DocumentStore* const store_;
  const CollectionInfo collection_;
  const int64_t dim_;
  const std::string path_;
  const VectorIndexOptions options_;
  VectorIndexOpenReport report_;

  // Serializes whole updates (catch-up, rebuild, save) so the change number
  // and the vectors move together; never held by searches.
  absl::Mutex update_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Set when a FAISS error left a batch half applied: the next catch-up rebuilds.
  bool needs_rebuild_ ABSL_GUARDED_BY(update_mu_) = false;
  // Guards the FAISS index: readers search, the writer mutates.
  mutable absl::Mutex mu_;
  std::unique_ptr<faiss::Index> index_ ABSL_GUARDED_BY(mu_);
  std::string factory_ ABSL_GUARDED_BY(mu_);
  bool can_remove_ ABSL_GUARDED_BY(mu_) = true;
  absl::flat_hash_set<int64_t> tombstones_ ABSL_GUARDED_BY(mu_);
  int64_t last_change_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tinyrag
