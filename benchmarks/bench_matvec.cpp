// Matrix-vector kernels per weight type, shape, thread count and CPU level,
// reported as weight bytes streamed per second, next to a plain streaming read
// of memory in the same run (the ratio is the meaningful number).
//
// Weights are replicated into a working set well above the last-level cache
// and each iteration uses the next copy, as a decode step streams every matrix
// of the model from DRAM once per token; matvec_hot/ runs keep one copy in
// cache to show the kernels' own rate.
//
//   build/bin/bench_matvec [--benchmark_filter=...]   (TINYRAG_CPU caps levels)
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "model/cpu_features.h"
#include "model/kernels.h"
#include "model/quantize.h"
#include "model/thread_pool.h"

namespace tinyrag {
namespace {

constexpr int64_t kWorkingSetBytes = int64_t{512} << 20;

ThreadPool& Pool(int threads) {
  static ThreadPool one(1), two(2);
  return threads == 1 ? one : two;
}

// Sum of a large buffer as 64-bit integers: integer adds vectorize without
// reassociation concerns, so this is limited by memory, not by the adds.
void BM_StreamRead(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t words = kWorkingSetBytes / 8;
  std::vector<uint64_t> buf(words);
  for (int64_t i = 0; i < words; ++i) buf[i] = static_cast<uint64_t>(i) * 2654435761u;
  ThreadPool& pool = Pool(threads);
  std::vector<uint64_t> partial(threads * 8, 0);  // one cache line per thread
  for (auto _ : state) {
    pool.ParallelForRange(words, 1 << 16, [&](int64_t begin, int64_t end, int thread) {
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int64_t i = begin;
      for (; i + 4 <= end; i += 4) {
        s0 += buf[i];
        s1 += buf[i + 1];
        s2 += buf[i + 2];
        s3 += buf[i + 3];
      }
      for (; i < end; ++i) s0 += buf[i];
      partial[thread * 8] += s0 + s1 + s2 + s3;
    });
    benchmark::DoNotOptimize(partial.data());
  }
  state.SetBytesProcessed(state.iterations() * kWorkingSetBytes);
}
BENCHMARK(BM_StreamRead)->Arg(1)->Arg(2)->UseRealTime()->MinTime(1.0);

// Round trip of a ParallelFor with one trivial task per thread: the fixed
// cost every matvec of a decode step pays for using the pool.
void BM_ParallelForOverhead(benchmark::State& state) {
  ThreadPool& pool = Pool(static_cast<int>(state.range(0)));
  std::vector<int64_t> sink(16 * pool.num_threads(), 0);
  for (auto _ : state) {
    pool.ParallelFor(pool.num_threads(), [&](int64_t task, int thread) { sink[16 * thread] += task; });
  }
  benchmark::DoNotOptimize(sink.data());
}
BENCHMARK(BM_ParallelForOverhead)->Arg(1)->Arg(2)->UseRealTime();

struct Matrix {
  GgmlType type;
  int64_t rows, cols, row_bytes, matrix_bytes, copies;
  WeightLayout layout;
  std::vector<uint8_t> data;  // `copies` matrices back to back
};

// Weights quantized from random normal values, replicated to the working set
// (or a single copy when `hot`, which then stays in cache), in `layout`.
std::unique_ptr<Matrix> MakeMatrix(GgmlType type, int64_t rows, int64_t cols, bool hot, WeightLayout layout) {
  auto m = std::make_unique<Matrix>();
  m->type = type;
  m->rows = rows;
  m->cols = cols;
  m->row_bytes = RowBytes(type, cols);
  m->matrix_bytes = m->row_bytes * rows;
  m->copies =
      hot ? 1 : std::max<int64_t>(1, (kWorkingSetBytes + m->matrix_bytes - 1) / m->matrix_bytes);
  m->data.resize(m->matrix_bytes * m->copies);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = normal(rng);
    QuantizeRow(type, row.data(), m->data.data() + r * m->row_bytes, cols);
  }
  m->layout = layout;
  if (layout == WeightLayout::kQuads) {
    const std::vector<uint8_t> ggml(m->data.begin(), m->data.begin() + m->matrix_bytes);
    CopyToQuadLayout(DenseWeights(type, rows, cols, ggml.data()), m->data.data());
  }
  for (int64_t c = 1; c < m->copies; ++c) {
    std::memcpy(m->data.data() + c * m->matrix_bytes, m->data.data(), m->matrix_bytes);
  }
  return m;
}

// `n` activation rows at once: n > 1 is one decode step of n sequences.
void RunMatVec(benchmark::State& state, GgmlType type, int64_t rows, int64_t cols, int threads,
               CpuLevel level, bool hot, int64_t n = 1, WeightLayout layout = WeightLayout::kGgml) {
  const std::unique_ptr<Matrix> m = MakeMatrix(type, rows, cols, hot, layout);
  std::vector<float> x(n * cols), y(n * rows);
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  ThreadPool& pool = Pool(threads);
  KernelOptions opt;
  opt.max_level = level;
  int64_t copy = 0;
  for (auto _ : state) {
    WeightView w = DenseWeights(type, rows, cols, m->data.data() + copy * m->matrix_bytes);
    w.layout = layout;
    if (!MatMul(w, x.data(), n, y.data(), &pool, opt).ok()) {
      state.SkipWithError("MatMul failed");
      return;
    }
    benchmark::DoNotOptimize(y.data());
    copy = copy + 1 == m->copies ? 0 : copy + 1;
  }
  state.SetBytesProcessed(state.iterations() * m->matrix_bytes);
  state.SetLabel(std::string(CpuLevelName(KernelLevel(type, ActivationMode::kAuto, opt))));
}

struct Shape {
  int64_t rows, cols;
};

void RegisterAll() {
  // Qwen2.5-0.5B's FFN up/gate and down projections and its LM head.
  const Shape shapes[] = {{4864, 896}, {896, 4864}, {151936, 896}};
  const GgmlType headline[] = {GgmlType::kQ4_0, GgmlType::kQ8_0, GgmlType::kQ4_K,
                               GgmlType::kQ6_K, GgmlType::kF16};
  const GgmlType others[] = {GgmlType::kF32,  GgmlType::kBF16,  GgmlType::kQ4_1,
                             GgmlType::kQ5_0, GgmlType::kQ5_1,  GgmlType::kQ2_K,
                             GgmlType::kQ3_K, GgmlType::kQ5_K,  GgmlType::kIQ4_NL,
                             GgmlType::kIQ4_XS};
  const CpuLevel top = ActiveCpuLevel();
  auto add = [](GgmlType type, Shape s, int threads, CpuLevel level, bool hot = false) {
    if (s.cols % Traits(type).block_elems != 0) {
      // k-quant rows must hold whole 256-blocks: use the transposed shape's
      // long side, as real files fall back to other types for such matrices.
      return;
    }
    const std::string name = std::string(hot ? "matvec_hot/" : "matvec/") + std::string(TypeName(type)) + "/" +
                             std::to_string(s.rows) + "x" + std::to_string(s.cols) + "/t" +
                             std::to_string(threads) + "/" + std::string(CpuLevelName(level));
    benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
      RunMatVec(st, type, s.rows, s.cols, threads, level, hot);
    })->UseRealTime()->MinTime(0.5);
  };
  for (GgmlType type : headline) {
    for (Shape s : shapes) {
      for (int threads : {1, 2}) {
        for (int l = 0; l <= static_cast<int>(top); ++l) add(type, s, threads, static_cast<CpuLevel>(l));
      }
    }
  }
  // The kernels' compute rate with weights in cache (L2/L3), one thread: how
  // much headroom they have over the memory stream above.
  for (GgmlType type : headline) {
    for (int l = 1; l <= static_cast<int>(top); ++l) add(type, shapes[1], 1, static_cast<CpuLevel>(l), true);
  }
  for (GgmlType type : others) {
    for (int threads : {1, 2}) add(type, shapes[1], threads, top);
  }
  // One decode step of n sequences, weights in cache, one thread: the cost
  // each further sequence adds once the weights are read (the batching gain).
  const GgmlType batched[] = {GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0, GgmlType::kQ4_K,
                              GgmlType::kQ6_K};
  for (GgmlType type : batched) {
    const Shape s = Traits(type).block_elems == 256 ? shapes[1] : shapes[0];
    for (WeightLayout layout : {WeightLayout::kGgml, WeightLayout::kQuads}) {
      if (layout == WeightLayout::kQuads && !PrefersQuadLayout(DenseWeights(type, s.rows, s.cols, nullptr))) continue;
      for (int64_t n : {1, 2, 4, 8}) {
        const std::string name = std::string(layout == WeightLayout::kQuads ? "decode_batch_hot_quads/"
                                                                            : "decode_batch_hot/") +
                                 std::string(TypeName(type)) + "/" + std::to_string(s.rows) + "x" +
                                 std::to_string(s.cols) + "/n" + std::to_string(n) + "/t1";
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
          RunMatVec(st, type, s.rows, s.cols, 1, top, true, n, layout);
        })->UseRealTime()->MinTime(0.5);
      }
    }
  }
  // The quad layout streamed from memory, two threads (the decoder's case).
  for (GgmlType type : {GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0}) {
    for (Shape s : {shapes[0], shapes[2]}) {
      if (!PrefersQuadLayout(DenseWeights(type, s.rows, s.cols, nullptr))) continue;
      const std::string name = "matvec_quads/" + std::string(TypeName(type)) + "/" + std::to_string(s.rows) +
                               "x" + std::to_string(s.cols) + "/t2";
      benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
        RunMatVec(st, type, s.rows, s.cols, 2, top, false, 1, WeightLayout::kQuads);
      })->UseRealTime()->MinTime(0.5);
    }
  }
}

}  // namespace
}  // namespace tinyrag

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  tinyrag::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
