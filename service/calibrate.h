// Fitting the confidence model: L2-regularized logistic regression by
// Newton's method on labelled feature vectors (an answer that was right, or
// a question that was answerable, is labelled 1).
//
// Features are standardized (zero mean, unit variance) before fitting, so the
// penalty treats them alike whatever their scale (a fused RRF score is ~0.03,
// a -bm25 score ~10); the weights returned act on the raw features. The fit
// is deterministic: same inputs, same weights, bit for bit.
#pragma once

#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "service/confidence.h"

namespace tinyrag {

struct LogisticFitOptions {
  double l2 = 1e-4;         // penalty on the standardized weights (not the bias), per example
  int max_iterations = 100;
  double tolerance = 1e-10;  // stop when the largest Newton step (standardized) is below this
};

struct LogisticFit {
  std::vector<double> weights;  // one per feature, on the raw (unstandardized) scale
  double bias = 0;
  int iterations = 0;
  bool converged = false;
  double log_loss = 0;  // mean negative log-likelihood on the examples at the solution
};

// Fits P(label = 1 | x) = sigmoid(bias + weights·x) to the rows of `x` (one
// example each, all of the same length >= 1) and `labels` (0 or 1).
// InvalidArgument, naming the problem: no examples, a label count different
// from the example count, rows of different lengths, a label other than 0 or
// 1, a NaN or infinite feature (naming example and feature), only one class
// among the labels, or options out of range. A feature that is the same in
// every example gets weight 0. Pure, thread-safe.
absl::StatusOr<LogisticFit> FitLogistic(std::span<const std::vector<double>> x, std::span<const int> labels,
                                        const LogisticFitOptions& options = {});

// FitLogistic over confidence features; errors name the feature. The model's
// note records the example counts.
absl::StatusOr<ConfidenceModel> CalibrateConfidence(std::span<const ConfidenceFeatures> features,
                                                    std::span<const int> labels,
                                                    const LogisticFitOptions& options = {});

}  // namespace tinyrag
