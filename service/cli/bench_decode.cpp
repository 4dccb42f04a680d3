// `tinyrag bench -m MODEL [-p 512] [-n 128] [-t THREADS] [-r REPS] [--json]`:
// decoder speed, like llama-bench. Prefill: a p-token prompt in one pass
// (chunks of up to 512 tokens); decode: n tokens one at a time after it.
// Also measures the machine's read bandwidth in the same run, between the
// decode repetitions, so that decode speed can be stated as a fraction of it
// (decode reads every weight once per token). Prompt ids are fixed
// pseudo-random ids: speed does not depend on the text.
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

// The machine's read bandwidth, probed on the bytes decode streams: the
// model's matrices (already resident; no extra memory, so the RSS figure is
// untouched), summed by all threads. Decode runs between probes, and the
// bench reports the median probe: this VM's bandwidth drifts by 20% over
// minutes, so a single probe taken apart from the decode could disagree
// with the speed it is compared to.
class ReadBandwidthProbe {
 public:
  ReadBandwidthProbe(const DecoderModel& model, ThreadPool& pool) : pool_(pool) {
    auto add = [&](const WeightView& w) {
      const int64_t words = w.rows * w.row_stride / static_cast<int64_t>(sizeof(uint64_t));
      spans_.push_back({static_cast<const uint64_t*>(w.data), words});
      total_words_ += words;
    };
    for (const DecoderLayer& l : model.layers()) {
      for (const WeightView* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) add(*w);
    }
    add(model.output());
  }

  // One pass over every span; GB/s.
  double Measure() {
    std::vector<uint64_t> sums(pool_.num_threads() * 8);  // a cache line per thread
    const auto t = Clock::now();
    pool_.ParallelForRange(total_words_, 1 << 16, [&](int64_t b, int64_t e, int thread) {
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      // Chunks may straddle spans: walk [b, e) span by span.
      int64_t start = 0;
      for (const Span& span : spans_) {
        const int64_t lo = std::max(b, start), hi = std::min(e, start + span.words);
        start += span.words;
        if (lo >= hi) continue;
        const uint64_t* p = span.data + (lo - (start - span.words));
        int64_t i = 0, n = hi - lo;
        for (; i + 4 <= n; i += 4) s0 += p[i], s1 += p[i + 1], s2 += p[i + 2], s3 += p[i + 3];
        for (; i < n; ++i) s0 += p[i];
        if (start >= e) break;
      }
      sums[thread * 8] += s0 + s1 + s2 + s3;
    });
    const double gbs = total_words_ * sizeof(uint64_t) / Since(t) / 1e9;
    // Keep the sums observable so the reads are not optimized away.
    if (std::accumulate(sums.begin(), sums.end(), uint64_t{0}) == 42) std::fprintf(stderr, " ");
    return gbs;
  }

 private:
  struct Span {
    const uint64_t* data;
    int64_t words;
  };
  ThreadPool& pool_;
  std::vector<Span> spans_;
  int64_t total_words_ = 0;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
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
  ReadBandwidthProbe probe(**model, pool);
  std::vector<double> read_samples;
  double pp_seconds = 0, tg_seconds = 0;
  for (int rep = 0; rep <= args.reps; ++rep) {  // rep 0 warms up
    auto t = Clock::now();
    if (absl::Status s = prefill(); !s.ok()) return ReportError(s);
    const double pp = Since(t);
    if (rep > 0) read_samples.push_back(probe.Measure());
    t = Clock::now();
    if (absl::Status s = generate(); !s.ok()) return ReportError(s);
    const double tg = Since(t);
    if (rep > 0) pp_seconds += pp, tg_seconds += tg;
  }
  read_samples.push_back(probe.Measure());
  const double pp_tps = n_prompt * args.reps / pp_seconds;
  const double tg_tps = n_gen * args.reps / tg_seconds;
  const double rss = PeakRssMib();
  const double read_gbs = Median(read_samples);
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
