// Search latency of the knowledge base: a collection of N synthetic chunks
// (random unit vectors of dimension 384, texts of Zipf-distributed words) in
// a temporary data dir, searched with random queries. Reports p50/p99 of
//   faiss    VectorIndex::Search (top 50)
//   dense    Retriever, dense mode (FAISS + reading the chunks)
//   lexical  Retriever, lexical mode (FTS5 BM25 over any of 4 query words)
//   hybrid   Retriever, both lists fused (the query vector is given, so no
//            encoder time is included)
// for the Flat and HNSW32 indexes (HNSW with FAISS's default efSearch and with
// 128), and HNSW's recall@10 against Flat. "open" is the time to build the
// index from the store (or, for the second HNSW line, to load its file).
//
// usage: bench_search [N...]   (default 10000; e.g. bench_search 10000 100000)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
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
constexpr int kQueries = 300;
constexpr int kChunksPerDoc = 100;

std::vector<float> UnitVector(std::mt19937& rng) {
  std::normal_distribution<float> nd;
  std::vector<float> v(kDim);
  double n = 0;
  for (float& x : v) {
    x = nd(rng);
    n += x * x;
  }
  for (float& x : v) x = static_cast<float>(x / std::sqrt(n));
  return v;
}

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
Latency Measure(Fn&& fn) {
  std::vector<double> ms;
  for (int q = 0; q < kQueries; ++q) {
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

void RunSize(int64_t n) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("tinyrag_bench_search_", getpid(), "_", n);
  fs::remove_all(dir);
  std::mt19937 rng(1234);
  Words words(rng);
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
        doc.chunks.push_back({words.Text(60), 60, "", UnitVector(rng)});
      }
      if (auto r = (*store)->UpsertDocument("c", doc); !r.ok()) Die(r.status());
    }
    std::printf("n=%lld: stored in %.1f s\n", static_cast<long long>(n),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  auto store = SqliteStore::Open(dir.string());
  if (!store.ok()) Die(store.status());
  std::vector<std::vector<float>> queries;
  std::vector<std::string> texts;
  for (int q = 0; q < kQueries; ++q) {
    queries.push_back(UnitVector(rng));
    texts.push_back(words.Text(4));
  }
  std::vector<std::vector<int64_t>> exact_top10(kQueries);
  // HNSW is built once, saved, and loaded again with a wider search.
  const std::vector<std::pair<std::string, std::string>> setups = {
      {"Flat", ""}, {"HNSW32", ""}, {"HNSW32", "efSearch=128"}};
  for (const auto& [factory, params] : setups) {
    const auto build_start = std::chrono::steady_clock::now();
    auto index = VectorIndex::Open(store->get(), "c", (dir / absl::StrCat(factory, ".faiss")).string(),
                                   {.factory = factory, .search_parameters = params, .omp_threads = 1,
                                    .catch_up_batch = 4096, .max_tombstone_fraction = 0.1});
    if (!index.ok()) Die(index.status());
    if (auto s = (*index)->Save(); !s.ok()) Die(s);
    const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();
    auto retriever = Retriever::Create(store->get(), "c", index->get(), nullptr);
    if (!retriever.ok()) Die(retriever.status());
    double recall = 0;
    const Latency faiss = Measure([&](int q) {
      auto hits = (*index)->Search(queries[q], 50);
      if (!hits.ok()) Die(hits.status());
      std::vector<int64_t> top;
      for (size_t i = 0; i < std::min<size_t>(10, hits->size()); ++i) top.push_back((*hits)[i].chunk_id);
      if (factory == "Flat") {
        exact_top10[q] = top;
      } else {
        absl::flat_hash_set<int64_t> exact(exact_top10[q].begin(), exact_top10[q].end());
        for (int64_t id : top) recall += exact.contains(id) ? 0.1 / kQueries : 0;
      }
    });
    auto search = [&](RetrievalMode mode) {
      return Measure([&](int q) {
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
    const std::string name = params.empty() ? factory : absl::StrCat(factory, ",", params);
    std::printf("n=%lld %-19s open %.1f s | p50/p99 ms: faiss %.2f/%.2f  dense %.2f/%.2f  lexical %.2f/%.2f  "
                "hybrid %.2f/%.2f",
                static_cast<long long>(n), name.c_str(), build_s, faiss.p50_ms, faiss.p99_ms, dense.p50_ms, dense.p99_ms,
                lexical.p50_ms, lexical.p99_ms, hybrid.p50_ms, hybrid.p99_ms);
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
  std::vector<int64_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));
  if (sizes.empty()) sizes.push_back(10000);
  for (int64_t n : sizes) {
    if (n < 100) {
      std::fprintf(stderr, "bench_search: sizes must be at least 100\n");
      return 1;
    }
    tinyrag::RunSize(n);
  }
  return 0;
}
