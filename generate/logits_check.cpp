#include "generate/logits_check.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "generate/decoder_context.h"
#include "generate/decoder_model.h"

namespace tinyrag {
namespace {

// log(sum(exp(x))) computed stably, in double.
double LogSumExp(std::span<const float> x) {
  const double m = *std::max_element(x.begin(), x.end());
  double s = 0;
  for (float v : x) s += std::exp(v - m);
  return m + std::log(s);
}

}  // namespace

void LogitsAgreement::Add(std::span<const float> ref, std::span<const float> ours) {
  const double lse_ref = LogSumExp(ref), lse_ours = LogSumExp(ours);
  double kl = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double lp = ref[i] - lse_ref, lq = ours[i] - lse_ours;
    kl += std::exp(lp) * (lp - lq);
  }
  kl_sum_ += std::max(kl, 0.0);
  ++positions_;
  // Reference's best and second best; near-ties say nothing about agreement.
  size_t best = 0;
  for (size_t i = 1; i < ref.size(); ++i) best = ref[i] > ref[best] ? i : best;
  float second = -INFINITY;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (i != best) second = std::max(second, ref[i]);
  }
  if (ref[best] - second < 1e-3f) return;
  ++top1_counted_;
  const size_t ours_best = std::max_element(ours.begin(), ours.end()) - ours.begin();
  top1_agree_ += ours_best == best ? 1 : 0;
}

LogitsTolerance ToleranceFor(std::span<const std::string> tensor_types) {
  const bool float_only = std::all_of(tensor_types.begin(), tensor_types.end(), [](const std::string& t) {
    return t == "F32" || t == "F16" || t == "BF16";
  });
  return float_only ? LogitsTolerance{1e-4, 0.99} : LogitsTolerance{5e-3, 0.93};
}

absl::StatusOr<LogitsCheckResult> CheckLogitsFixture(const std::filesystem::path& dir,
                                                     const fixtures::ManifestEntry& entry, ThreadPool* pool) {
  auto model = DecoderModel::Load((dir / entry.model_file).string());
  if (!model.ok()) return model.status();
  const int64_t n_vocab = (*model)->config().n_vocab;
  LogitsCheckResult result;
  result.tolerance = ToleranceFor(entry.tensor_types);
  for (const fixtures::LogitsCase& c : entry.logits) {
    auto ids_text = fixtures::ReadFile(dir / c.ids_file);
    if (!ids_text.ok()) return ids_text.status();
    auto ids = fixtures::ParseIds(*ids_text);
    if (!ids.ok()) return ids.status();
    const int64_t n = static_cast<int64_t>(ids->size());
    if (c.shape.size() != 2 || c.shape[0] != n || c.shape[1] != n_vocab) {
      return absl::InvalidArgumentError(absl::StrCat(c.logits_file, ": shape does not match ", n, " ids x ",
                                                     n_vocab, " vocabulary"));
    }
    auto ref = fixtures::ReadFloat32File(dir / c.logits_file, static_cast<size_t>(n * n_vocab));
    if (!ref.ok()) return ref.status();
    constexpr int64_t kChunk = 64;
    DecoderContextOptions options;
    options.n_ctx = n;
    options.max_batch = kChunk;
    options.max_outputs = kChunk;
    auto ctx = DecoderContext::Create(**model, options, pool);
    if (!ctx.ok()) return ctx.status();
    std::vector<BatchToken> batch;
    for (int64_t start = 0; start < n; start += kChunk) {
      batch.clear();
      for (int64_t i = start; i < std::min(n, start + kChunk); ++i) batch.push_back({(*ids)[i], 0, true});
      if (absl::Status s = (*ctx)->Decode(batch); !s.ok()) return s;
      for (int64_t i = 0; i < static_cast<int64_t>(batch.size()); ++i) {
        const float* r = ref->data() + (start + i) * n_vocab;
        result.agreement.Add({r, static_cast<size_t>(n_vocab)}, (*ctx)->logits(i));
      }
    }
    ++result.cases;
  }
  return result;
}

}  // namespace tinyrag
