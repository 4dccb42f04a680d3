// Search latency of the knowledge base: a collection of N synthetic chunks
// (clustered unit vectors of dimension 384, texts of Zipf-distributed words)
// in a temporary data dir, searched with queries drawn near the data.
// Reports p50/p99 of
//   faiss    VectorIndex::Search (top 50)
//   dense    Retriever, dense mode (FAISS + reading the chunks)
//   lexical  Retriever, lexical mode (FTS5 BM25 over any of 4 query words)
//   hybrid   Retriever, both lists fused (the query vector is given, so no
//            encoder time is included)
// for the Flat and HNSW32 indexes (HNSW with FAISS's default efSearch, 16, and
// with 64 and 128), and HNSW's recall@10 against Flat. "open" is the time to
// build the index from the store (or, for the later HNSW lines, to load the
// file the first one saved).
//
// Vectors: uniform random vectors in 384 dimensions have no near neighbours
// (every pair is nearly orthogonal), which makes any graph index look bad and
// is nothing like sentence embeddings. Real embeddings gather in topics, so
// the data is a mixture of Gaussians on the sphere: N/50 random unit centres,
// each vector a centre plus Gaussian noise of norm ~0.75, normalized (cosine
// ~0.8 to its centre, ~0.64 to a neighbour of the same topic). Each query is
// a stored vector plus noise of norm ~0.5, normalized: a question close to a
// passage, and to that passage's topic.
//
// Threads: searches run with one OpenMP thread (a server runs many searches
// at once instead); builds use --build-threads (default: all cores).
//
// usage: bench_search [--faiss-only] [--queries Q] [--build-threads T] [N...]
//   (default 10000; e.g. bench_search 10000 100000; --faiss-only skips the
//   retriever timings and stores short texts, for 1M vectors)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "index/retriever.h"
#include "index/sqlite_store.h"
#include "index/vector_index.h"

namespace tinyrag {
namespace {

constexpr int kDim = 384;
constexpr int kChunksPerDoc = 100;
constexpr int64_t kVectorsPerCluster = 50;
constexpr double kDataNoise = 0.75;   // norm of the noise around a cluster centre
constexpr double kQueryNoise = 0.5;   // norm of the noise around a stored vector

struct Config {
  bool faiss_only = false;
  int queries = 300;
  int build_threads = 0;  // 0: all hardware threads
};

std::vector<float> Normalize(std::vector<float> v) {
  double n = 0;
  for (float x : v) n += static_cast<double>(x) * x;
  const double inv = 1.0 / std::sqrt(n);
  for (float& x : v) x = static_cast<float>(x * inv);
  return v;
}

// `base` plus isotropic Gaussian noise of expected norm `noise`, normalized.
std::vector<float> Perturb(std::span<const float> base, double noise, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0F, static_cast<float>(noise / std::sqrt(static_cast<double>(kDim))));
  std::vector<float> v(base.begin(), base.end());
  for (float& x : v) x += nd(rng);
  return Normalize(std::move(v));
}

std::vector<float> UnitVector(std::mt19937& rng) {
  std::normal_distribution<float> nd;
  std::vector<float> v(kDim);
  for (float& x : v) x = nd(rng);
  return Normalize(std::move(v));
}

// The mixture of Gaussians on the sphere described at the top.
class ClusteredVectors {
 public:
  ClusteredVectors(int64_t n, std::mt19937& rng) : rng_(rng) {
    const int64_t clusters = std::max<int64_t>(1, n / kVectorsPerCluster);
    for (int64_t c = 0; c < clusters; ++c) centres_.push_back(UnitVector(rng));
    pick_ = std::uniform_int_distribution<int64_t>(0, clusters - 1);
  }
  std::vector<float> Next() { return Perturb(centres_[pick_(rng_)], kDataNoise, rng_); }

 private:
  std::mt19937& rng_;
  std::vector<std::vector<float>> centres_;
  std::uniform_int_distribution<int64_t> pick_;
};

// Word w<r> with probability ~ 1/r over a 20000-word vocabulary.
class Words {
 public:
  explicit Words(std::mt19937& rng) : rng_(rng) {
    std::vector<double> w(20000);
    for (size_t r = 0; r < w.size(); ++r) w[r] = 1.0 / static_cast<double>(r + 1);
    dist_ = std::discrete_distribution<int>(w.begin(), w.end());
  }
  std::string Text(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) absl::StrAppend(&s, i ? " " : "", "w", dist_(rng_));
    return s;
  }

 private:
  std::mt19937& rng_;
  std::discrete_distribution<int> dist_;
};

struct Latency {
  double p50_ms = 0, p99_ms = 0;
};

template <typename Fn>
Latency Measure(int queries, Fn&& fn) {
  std::vector<double> ms;
  for (int q = 0; q < queries; ++q) {
    const auto start = std::chrono::steady_clock::now();
    fn(q);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)]};
}

void Die(const absl::Status& s) {
  std::fprintf(stderr, "bench_search: %s\n", std::string(s.message()).c_str());
  std::exit(1);
}

void RunSize(int64_t n, const Config& cfg) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("tinyrag_bench_search_", getpid(), "_", n);
  fs::remove_all(dir);
  std::mt19937 rng(1234);
  Words words(rng);
  ClusteredVectors data(n, rng);
  // The stored vectors the queries start from, chosen before generating.
  std::vector<int64_t> query_rows(static_cast<size_t>(cfg.queries));
  std::uniform_int_distribution<int64_t> any_row(0, n - 1);
  for (int64_t& r : query_rows) r = any_row(rng);
  std::vector<std::vector<float>> query_bases(query_rows.size());
  const int text_words = cfg.faiss_only ? 8 : 60;
  {
    auto store = SqliteStore::Open(dir.string());
    if (!store.ok()) Die(store.status());
    if (auto c = (*store)->EnsureCollection("c", {"synthetic", kDim, "none"}); !c.ok()) Die(c.status());
    const auto start = std::chrono::steady_clock::now();
    for (int64_t d = 0; d * kChunksPerDoc < n; ++d) {
      DocumentInput doc;
      doc.external_id = absl::StrCat("doc", d);
      doc.source = doc.external_id;
      doc.content_hash = doc.external_id;
      for (int64_t c = d * kChunksPerDoc; c < std::min(n, (d + 1) * kChunksPerDoc); ++c) {
        std::vector<float> v = data.Next();
        for (size_t q = 0; q < query_rows.size(); ++q) {
          if (query_rows[q] == c) query_bases[q] = v;
        }
        doc.chunks.push_back({words.Text(text_words), text_words, "", std::move(v)});
      }
      if (auto r = (*store)->UpsertDocument("c", doc); !r.ok()) Die(r.status());
    }
    std::printf("n=%lld: stored in %.1f s (%lld clusters, %d queries, build threads %d, search threads 1)\n",
                static_cast<long long>(n),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                static_cast<long long>(std::max<int64_t>(1, n / kVectorsPerCluster)), cfg.queries,
                cfg.build_threads);
  }
  auto store = SqliteStore::Open(dir.string());
  if (!store.ok()) Die(store.status());
  std::vector<std::vector<float>> queries;
  std::vector<std::string> texts;
  for (int q = 0; q < cfg.queries; ++q) {
    queries.push_back(Perturb(query_bases[q], kQueryNoise, rng));
    texts.push_back(words.Text(4));
  }
  std::vector<std::vector<int64_t>> exact_top10(cfg.queries);
  // HNSW is built once, saved, and loaded again with wider searches.
  const std::vector<std::pair<std::string, std::string>> setups = {
      {"Flat", ""}, {"HNSW32", ""}, {"HNSW32", "efSearch=64"}, {"HNSW32", "efSearch=128"}};
  for (const auto& [factory, params] : setups) {
    const auto build_start = std::chrono::steady_clock::now();
    auto index = VectorIndex::Open(store->get(), "c", (dir / absl::StrCat(factory, ".faiss")).string(),
                                   {.factory = factory,
                                    .search_parameters = params,
                                    .omp_threads = 1,
                                    .catch_up_batch = 4096,
                                    .max_tombstone_fraction = 0.1,
                                    .build_omp_threads = cfg.build_threads});
    if (!index.ok()) Die(index.status());
    if (auto s = (*index)->Save(); !s.ok()) Die(s);
    const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();
    auto retriever = Retriever::Create(store->get(), "c", index->get(), nullptr);
    if (!retriever.ok()) Die(retriever.status());
    double recall = 0;
    const Latency faiss = Measure(cfg.queries, [&](int q) {
      auto hits = (*index)->Search(queries[q], 50);
      if (!hits.ok()) Die(hits.status());
      std::vector<int64_t> top;
      for (size_t i = 0; i < std::min<size_t>(10, hits->size()); ++i) top.push_back((*hits)[i].chunk_id);
      if (factory == "Flat") {
        exact_top10[q] = top;
      } else {
        absl::flat_hash_set<int64_t> exact(exact_top10[q].begin(), exact_top10[q].end());
        for (int64_t id : top) recall += exact.contains(id) ? 0.1 / cfg.queries : 0;
      }
    });
    const std::string name = params.empty() ? absl::StrCat(factory, factory == "Flat" ? "" : ",efSearch=16")
                                            : absl::StrCat(factory, ",", params);
    std::printf("n=%lld %-19s open %.1f s | p50/p99 ms: faiss %.2f/%.2f", static_cast<long long>(n), name.c_str(),
                build_s, faiss.p50_ms, faiss.p99_ms);
    if (!cfg.faiss_only) {
      auto search = [&](RetrievalMode mode) {
        return Measure(cfg.queries, [&](int q) {
          RetrievalRequest r;
          r.query = texts[q];
          r.k = 10;
          r.mode = mode;
          if (mode != RetrievalMode::kLexical) r.query_vector = queries[q];
          if (auto res = (*retriever)->Search(r); !res.ok()) Die(res.status());
        });
      };
      const Latency dense = search(RetrievalMode::kDense);
      const Latency lexical = search(RetrievalMode::kLexical);
      const Latency hybrid = search(RetrievalMode::kHybrid);
      std::printf("  dense %.2f/%.2f  lexical %.2f/%.2f  hybrid %.2f/%.2f", dense.p50_ms, dense.p99_ms,
                  lexical.p50_ms, lexical.p99_ms, hybrid.p50_ms, hybrid.p99_ms);
    }
    if (factory != "Flat") std::printf("  recall@10 vs Flat %.3f", recall);
    std::printf("\n");
    std::fflush(stdout);
  }
  store->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tinyrag

int main(int argc, char** argv) {
  tinyrag::Config cfg;
  std::vector<int64_t> sizes;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--faiss-only") {
      cfg.faiss_only = true;
    } else if ((arg == "--queries" || arg == "--build-threads") && i + 1 < argc) {
      (arg == "--queries" ? cfg.queries : cfg.build_threads) = std::atoi(argv[++i]);
    } else {
      sizes.push_back(std::atoll(argv[i]));
    }
  }
  if (cfg.build_threads <= 0) cfg.build_threads = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  if (sizes.empty()) sizes.push_back(10000);
  if (cfg.queries < 1) {
    std::fprintf(stderr, "bench_search: --queries must be at least 1\n");
    return 1;
  }
  for (int64_t n : sizes) {
    if (n < 100) {
      std::fprintf(stderr, "bench_search: sizes must be at least 100 (got %s)\n", std::to_string(n).c_str());
      return 1;
    }
    tinyrag::RunSize(n, cfg);
  }
  return 0;
}
