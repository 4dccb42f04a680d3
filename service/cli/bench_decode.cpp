// `tinyrag bench -m MODEL [-p 512] [-n 128] [-t THREADS] [-r REPS] [--json]`:
// decoder speed, like llama-bench. Prefill: a p-token prompt in one pass
// (chunks of up to 512 tokens); decode: n tokens one at a time after it.
// Also measures the machine's read bandwidth in the same run, so that decode
// speed can be stated as a fraction of it (decode reads every weight once
// per token). Prompt ids are fixed pseudo-random ids: speed does not depend
// on the text.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"

#include "generate/decoder_context.h"
#include "generate/decoder_model.h"
#include "service/cli/bench.h"
#include "service/cli/command.h"

namespace tinyrag::cli {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Peak resident set (VmHWM) in MiB, 0 when /proc is unavailable.
double PeakRssMib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

// Read bandwidth in GB/s: all threads summing disjoint parts of a 256 MiB
// buffer (far beyond the caches); best of a few passes.
double MeasureReadBandwidth(ThreadPool& pool) {
  const size_t n = (256u << 20) / sizeof(uint64_t);
  std::vector<uint64_t> buf(n);
  std::iota(buf.begin(), buf.end(), 1);
  std::vector<uint64_t> sums(pool.num_threads() * 8);
  double best = 0;
  for (int pass = 0; pass < 4; ++pass) {
    const auto t = Clock::now();
    pool.ParallelForRange(static_cast<int64_t>(n), 1 << 16, [&](int64_t b, int64_t e, int thread) {
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int64_t i = b;
      for (; i + 4 <= e; i += 4) s0 += buf[i], s1 += buf[i + 1], s2 += buf[i + 2], s3 += buf[i + 3];
      for (; i < e; ++i) s0 += buf[i];
      sums[thread * 8] += s0 + s1 + s2 + s3;  // one cache line per thread
    });
    best = std::max(best, n * sizeof(uint64_t) / Since(t) / 1e9);
  }
  // Keep the sums observable so the reads are not optimized away.
  if (std::accumulate(sums.begin(), sums.end(), uint64_t{0}) == 42) std::fprintf(stderr, " ");
  return best;
}

}  // namespace

int RunDecodeBench(const BenchArgs& args) {
  auto model = DecoderModel::Load(args.model);
  if (!model.ok()) return ReportError(model.status());
  const DecoderConfig& cfg = (*model)->config();
  const int64_t n_prompt = args.n_prompt > 0 ? args.n_prompt : 512;
  const int64_t n_gen = args.n_gen;
  const int threads = args.threads > 0 ? args.threads : std::max(1u, std::thread::hardware_concurrency());
  if (n_prompt + n_gen > cfg.n_ctx_train) {
    return ReportError(absl::InvalidArgumentError("bench: -p + -n exceeds the model's context length " +
                                                  std::to_string(cfg.n_ctx_train)));
  }
  ThreadPool pool(threads);
  DecoderContextOptions options;
  options.n_ctx = n_prompt + n_gen;
  options.max_batch = std::min<int64_t>(n_prompt, 512);
  auto ctx = DecoderContext::Create(**model, options, &pool);
  if (!ctx.ok()) return ReportError(ctx.status());

  std::vector<BatchToken> prompt(n_prompt);
  uint64_t state = 12345;
  for (BatchToken& t : prompt) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    t.token = static_cast<TokenId>((state >> 33) % cfg.n_vocab);
  }
  prompt.back().logits = true;

  auto prefill = [&]() -> absl::Status {
    (*ctx)->TruncateSequence(0, 0);
    for (int64_t at = 0; at < n_prompt; at += options.max_batch) {
      const int64_t len = std::min(options.max_batch, n_prompt - at);
      if (absl::Status s = (*ctx)->Decode({prompt.data() + at, static_cast<size_t>(len)}); !s.ok()) return s;
    }
    return absl::OkStatus();
  };
  auto generate = [&]() -> absl::Status {
    for (int64_t i = 0; i < n_gen; ++i) {
      const BatchToken t{prompt[i % n_prompt].token, 0, true};
      if (absl::Status s = (*ctx)->Decode({&t, 1}); !s.ok()) return s;
    }
    return absl::OkStatus();
  };
  double pp_seconds = 0, tg_seconds = 0;
  for (int rep = 0; rep <= args.reps; ++rep) {  // rep 0 warms up
    auto t = Clock::now();
    if (absl::Status s = prefill(); !s.ok()) return ReportError(s);
    const double pp = Since(t);
    t = Clock::now();
    if (absl::Status s = generate(); !s.ok()) return ReportError(s);
    const double tg = Since(t);
    if (rep > 0) pp_seconds += pp, tg_seconds += tg;
  }
  const double pp_tps = n_prompt * args.reps / pp_seconds;
  const double tg_tps = n_gen * args.reps / tg_seconds;
  const double rss = PeakRssMib();
  const double read_gbs = MeasureReadBandwidth(pool);
  const double model_gb = (*model)->weight_bytes() / 1e9;
  const double bw_fraction = model_gb * tg_tps / read_gbs;
  if (args.json) {
    nlohmann::json j = {{"model", args.model},
                        {"arch", cfg.arch},
                        {"pp_tps", pp_tps},
                        {"tg_tps", tg_tps},
                        {"n_prompt", n_prompt},
                        {"n_gen", n_gen},
                        {"threads", threads},
                        {"reps", args.reps},
                        {"model_bytes", (*model)->weight_bytes()},
                        {"kv_cache_bytes", (*ctx)->kv_cache_bytes()},
                        {"read_gbs", read_gbs},
                        {"bw_fraction", bw_fraction},
                        {"rss_mib", rss}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("model %s (%s, %.1f MB of weights), %d threads\n", args.model.c_str(), cfg.arch.c_str(),
                model_gb * 1e3, threads);
    std::printf("prefill  pp%lld: %.1f tokens/s\n", static_cast<long long>(n_prompt), pp_tps);
    std::printf("decode   tg%lld: %.1f tokens/s (%.0f%% of the %.1f GB/s read bandwidth)\n",
                static_cast<long long>(n_gen), tg_tps, 100 * bw_fraction, read_gbs);
    std::printf("peak RSS %.0f MiB (KV cache %.1f MiB)\n", rss, (*ctx)->kv_cache_bytes() / 1048576.0);
  }
  return 0;
}

}  // namespace tinyrag::cli
