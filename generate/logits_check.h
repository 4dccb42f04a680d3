// Agreement of our decoder's logits with reference logits (conformance
// fixtures, ../shared/fixtures/README.md): mean KL(softmax ref || softmax ours)
// over positions and top-1 agreement, per model file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

#include "absl/status/statusor.h"
#include "model/fixtures.h"
#include "model/thread_pool.h"

namespace tinyrag {

// Running totals over positions. Not thread-safe (one per check).
class LogitsAgreement {
 public:
  // Adds one position: `ref` and `ours` are logits of the same length (> 0).
  void Add(std::span<const float> ref, std::span<const float> ours);

  int64_t positions() const { return positions_; }
  // Mean KL divergence in nats over all positions added (0 when none).
  double mean_kl() const { return positions_ ? kl_sum_ / positions_ : 0.0; }
  // Fraction of counted positions whose argmax agrees; positions where the
  // reference's two best logits are less than 1e-3 apart are not counted.
  // 1 when no position was counted.
  double top1() const { return top1_counted_ ? static_cast<double>(top1_agree_) / top1_counted_ : 1.0; }
  int64_t top1_counted() const { return top1_counted_; }

 private:
  int64_t positions_ = 0;
  double kl_sum_ = 0;
  int64_t top1_counted_ = 0;
  int64_t top1_agree_ = 0;
};

// The tolerances of the fixtures README for a file whose tensors have these
// types: float-only files (F32/F16/BF16) are held to the tight bound.
struct LogitsTolerance {
  double max_mean_kl = 0;
  double min_top1 = 0;
};
LogitsTolerance ToleranceFor(std::span<const std::string> tensor_types);

struct LogitsCheckResult {
  int64_t cases = 0;
  LogitsAgreement agreement;
  LogitsTolerance tolerance;
  bool pass() const {
    return cases > 0 && agreement.mean_kl() <= tolerance.max_mean_kl && agreement.top1() >= tolerance.min_top1;
  }
};

// Loads the entry's model from `dir`, runs one causal pass over each logits
// case's ids from position 0 and compares every position with the reference.
// Errors (model, ids or logits files that cannot be read, shapes that
// disagree) name the file. `pool` may be nullptr.
absl::StatusOr<LogitsCheckResult> CheckLogitsFixture(const std::filesystem::path& dir,
                                                     const fixtures::ManifestEntry& entry, ThreadPool* pool);

}  // namespace tinyrag
