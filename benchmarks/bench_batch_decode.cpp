// Decode steps over S sequences at once, as the batch scheduler runs them:
// each sequence first holds a prompt of P tokens, then every step feeds one
// token per sequence. Reports ms per step and tokens/s summed over the
// sequences for each S, and the gain over the first level (S = 1) measured in
// the same run. The levels run in R interleaved rounds: steps per level are
// the median round, the gain the median of the rounds' own ratios, so a
// burst of other work on the machine moves one round, not the result.
//
//   bench_batch_decode MODEL [--threads T] [--prompt P] [--steps N] [--seqs 1,2,4,8] [--rounds R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "generate/decoder_context.h"
#include "generate/decoder_model.h"
#include "model/thread_pool.h"

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "bench_batch_decode: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    return Fail("usage: bench_batch_decode MODEL [--threads T] [--prompt P] [--steps N] [--seqs 1,2,4,8] [--rounds R]");
  }
  const std::string path = argv[1];
  int threads = 2, prompt = 256, steps = 32, rounds = 3;
  std::vector<int> seqs = {1, 2, 4, 8};
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    bool ok = true;
    if (flag == "--threads") ok = absl::SimpleAtoi(value, &threads);
    else if (flag == "--prompt") ok = absl::SimpleAtoi(value, &prompt);
    else if (flag == "--steps") ok = absl::SimpleAtoi(value, &steps);
    else if (flag == "--rounds") ok = absl::SimpleAtoi(value, &rounds) && rounds > 0;
    else if (flag == "--seqs") {
      seqs.clear();
      for (absl::string_view s : absl::StrSplit(value, ',')) {
        int n = 0;
        ok = ok && absl::SimpleAtoi(s, &n) && n > 0;
        seqs.push_back(n);
      }
    } else ok = false;
    if (!ok) return Fail("bad flag " + flag + " " + value);
  }
  auto model = tinyrag::DecoderModel::Load(path);
  if (!model.ok()) return Fail(std::string(model.status().message()));
  tinyrag::ThreadPool pool(threads);
  const int max_seqs = *std::max_element(seqs.begin(), seqs.end());
  auto ctx = tinyrag::DecoderContext::Create(
      **model, {.n_ctx = prompt + steps + 8, .n_seq = max_seqs, .max_batch = std::max<int64_t>(prompt, max_seqs)},
      &pool);
  if (!ctx.ok()) return Fail(std::string(ctx.status().message()));
  const int64_t vocab = (*model)->config().n_vocab;
  // Seconds of `steps` decode steps over s sequences, after filling their prompts.
  auto run_level = [&](int s) -> absl::StatusOr<double> {
    for (int q = 0; q < s; ++q) {
      (*ctx)->TruncateSequence(q, 0);
      std::vector<tinyrag::BatchToken> batch;
      for (int t = 0; t < prompt; ++t) {
        batch.push_back({static_cast<tinyrag::TokenId>((7919 * (t + 1) + 104729 * q) % vocab), q, t + 1 == prompt});
      }
      if (auto st = (*ctx)->Decode(batch); !st.ok()) return st;
    }
    std::vector<tinyrag::BatchToken> step;
    for (int q = 0; q < s; ++q) step.push_back({static_cast<tinyrag::TokenId>((31 * q + 11) % vocab), q, true});
    const auto start = std::chrono::steady_clock::now();
    for (int n = 0; n < steps; ++n) {
      if (auto st = (*ctx)->Decode(step); !st.ok()) return st;
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::vector<std::vector<double>> seconds(seqs.size());
  for (int r = 0; r < rounds; ++r) {
    for (size_t li = 0; li < seqs.size(); ++li) {
      auto t = run_level(seqs[li]);
      if (!t.ok()) return Fail(std::string(t.status().message()));
      seconds[li].push_back(*t);
    }
  }
  std::printf("{\"model\": \"%s\", \"threads\": %d, \"prompt\": %d, \"steps\": %d, \"rounds\": %d, \"levels\": [",
              path.c_str(), threads, prompt, steps, rounds);
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  for (size_t li = 0; li < seqs.size(); ++li) {
    const int s = seqs[li];
    // The gain pairs each round's level with that round's first level (run
    // just before it), so a slow minute of the host moves both; its median
    // over rounds is reported.
    std::vector<double> gains;
    for (int r = 0; r < rounds; ++r) gains.push_back(s * seconds[0][r] / (seqs[0] * seconds[li][r]));
    const double step_seconds = median(seconds[li]) / steps;
    std::printf("%s{\"seqs\": %d, \"ms_per_step\": %.2f, \"tokens_per_s\": %.1f, \"gain_over_one\": %.2f}",
                li ? ", " : "", s, step_seconds * 1e3, s / step_seconds, median(gains));
  }
  std::printf("]}\n");
  return 0;
}
