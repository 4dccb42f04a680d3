// Matrix-matrix kernels (Y = X W^T) for prefill-sized activation batches,
// reported as GFLOP/s (2 * rows * cols * n per call) per type, thread count
// and CPU level. The matrix fits in cache here: matmul is meant to be compute
// bound, each weight block reused across many activation rows.
//
//   build/bin/bench_matmul [--benchmark_filter=...]   (TINYRAG_CPU caps levels)
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "model/cpu_features.h"
#include "model/kernels.h"
#include "model/quantize.h"
#include "model/thread_pool.h"

namespace tinyrag {
namespace {

ThreadPool& Pool(int threads) {
  static ThreadPool one(1), two(2);
  return threads == 1 ? one : two;
}

void RunMatMul(benchmark::State& state, GgmlType type, int64_t rows, int64_t cols, int64_t n,
               int threads, CpuLevel level) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t row_bytes = RowBytes(type, cols);
  std::vector<uint8_t> weights(rows * row_bytes);
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = 0.02f * normal(rng);
    QuantizeRow(type, row.data(), weights.data() + r * row_bytes, cols);
  }
  std::vector<float> x(n * cols), y(n * rows);
  for (float& v : x) v = normal(rng);
  const WeightView w = DenseWeights(type, rows, cols, weights.data());
  KernelOptions opt;
  opt.max_level = level;
  for (auto _ : state) {
    if (!MatMul(w, x.data(), n, y.data(), &Pool(threads), opt).ok()) {
      state.SkipWithError("MatMul failed");
      return;
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * static_cast<double>(rows * cols * n) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(CpuLevelName(KernelLevel(type, ActivationMode::kAuto, opt))));
}

void RegisterAll() {
  struct Shape {
    int64_t rows, cols;
  };
  // Qwen2.5-0.5B FFN up (896 -> 4864) and down (4864 -> 896), 512-token prefill.
  const Shape shapes[] = {{4864, 896}, {896, 4864}};
  const GgmlType types[] = {GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0, GgmlType::kQ4_K,
                            GgmlType::kQ6_K, GgmlType::kF16};
  const int64_t n = 512;
  const CpuLevel top = ActiveCpuLevel();
  for (GgmlType type : types) {
    for (Shape s : shapes) {
      if (s.cols % Traits(type).block_elems != 0) continue;  // k-quants need 256 | cols
      for (int threads : {1, 2}) {
        for (int l = static_cast<int>(CpuLevel::kAvx2); l <= static_cast<int>(top); ++l) {
          const CpuLevel level = static_cast<CpuLevel>(l);
          const std::string name = "matmul/" + std::string(TypeName(type)) + "/" +
                                   std::to_string(n) + "x" + std::to_string(s.cols) + "x" +
                                   std::to_string(s.rows) + "/t" + std::to_string(threads) + "/" +
                                   std::string(CpuLevelName(level));
          benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
            RunMatMul(st, type, s.rows, s.cols, n, threads, level);
          })->UseRealTime()->Unit(benchmark::kMillisecond);
        }
      }
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
