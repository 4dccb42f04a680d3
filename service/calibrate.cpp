#include "service/calibrate.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tinyrag {
namespace {

double Sigmoid(double z) { return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z)); }

// log(1 + exp(z)) without overflow.
double Softplus(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }

// Solves A s = b for symmetric positive definite A (n x n, row-major) by
// Cholesky; false when A is not positive definite.
bool SolveSpd(std::vector<double> a, std::vector<double>& b, size_t n) {
  for (size_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (size_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) return false;
    const double l = std::sqrt(d);
    a[j * n + j] = l;
    for (size_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (size_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / l;
    }
  }
  for (size_t i = 0; i < n; ++i) {  // L y = b
    double s = b[i];
    for (size_t k = 0; k < i; ++k) s -= a[i * n + k] * b[k];
    b[i] = s / a[i * n + i];
  }
  for (size_t i = n; i-- > 0;) {  // L^T s = y
    double s = b[i];
    for (size_t k = i + 1; k < n; ++k) s -= a[k * n + i] * b[k];
    b[i] = s / a[i * n + i];
  }
  return true;
}

}  // namespace

absl::StatusOr<LogisticFit> FitLogistic(std::span<const std::vector<double>> x, std::span<const int> labels,
                                        const LogisticFitOptions& options) {
  if (x.empty()) return absl::InvalidArgumentError("calibrate: no examples");
  if (labels.size() != x.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibrate: ", x.size(), " examples but ", labels.size(), " labels"));
  }
  if (!(options.l2 >= 0) || !std::isfinite(options.l2) || options.max_iterations < 1 || !(options.tolerance > 0)) {
    return absl::InvalidArgumentError("calibrate: l2 must be finite and >= 0, max_iterations >= 1, tolerance > 0");
  }
  const size_t d = x[0].size();
  if (d == 0) return absl::InvalidArgumentError("calibrate: examples have no features");
  const size_t n = x.size();
  size_t positives = 0;
  for (size_t i = 0; i < n; ++i) {
    if (x[i].size() != d) {
      return absl::InvalidArgumentError(
          absl::StrCat("calibrate: example ", i, " has ", x[i].size(), " features, example 0 has ", d));
    }
    if (labels[i] != 0 && labels[i] != 1) {
      return absl::InvalidArgumentError(absl::StrCat("calibrate: example ", i, " has label ", labels[i], ", not 0 or 1"));
    }
    positives += labels[i];
    for (size_t j = 0; j < d; ++j) {
      if (!std::isfinite(x[i][j])) {
        return absl::InvalidArgumentError(
            absl::StrCat("calibrate: example ", i, " feature ", j, " is ", x[i][j], " (not finite)"));
      }
    }
  }
  if (positives == 0 || positives == n) {
    return absl::InvalidArgumentError(absl::StrCat("calibrate: all ", n, " examples are labelled ",
                                                   positives == 0 ? 0 : 1,
                                                   "; fitting needs examples of both classes"));
  }

  // Standardize; a constant feature is left out (weight 0).
  std::vector<double> mean(d, 0), sd(d, 0);
  for (size_t j = 0; j < d; ++j) {
    for (size_t i = 0; i < n; ++i) mean[j] += x[i][j];
    mean[j] /= static_cast<double>(n);
    for (size_t i = 0; i < n; ++i) sd[j] += (x[i][j] - mean[j]) * (x[i][j] - mean[j]);
    sd[j] = std::sqrt(sd[j] / static_cast<double>(n));
  }
  std::vector<size_t> used;
  for (size_t j = 0; j < d; ++j) {
    if (sd[j] > 1e-12 * std::max(1.0, std::abs(mean[j]))) used.push_back(j);
  }
  const size_t m = used.size() + 1;  // standardized weights, then the bias
  std::vector<double> z(n * m);
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < used.size(); ++k) z[i * m + k] = (x[i][used[k]] - mean[used[k]]) / sd[used[k]];
    z[i * m + m - 1] = 1;
  }
  const double inv_n = 1.0 / static_cast<double>(n);
  auto objective = [&](const std::vector<double>& w) {
    double loss = 0;
    for (size_t i = 0; i < n; ++i) {
      double t = 0;
      for (size_t k = 0; k < m; ++k) t += z[i * m + k] * w[k];
      loss += Softplus(t) - labels[i] * t;
    }
    double penalty = 0;
    for (size_t k = 0; k + 1 < m; ++k) penalty += w[k] * w[k];
    return loss * inv_n + 0.5 * options.l2 * penalty;
  };

  std::vector<double> w(m, 0.0);
  // Start the bias at the log-odds of the classes.
  const double rate = static_cast<double>(positives) * inv_n;
  w[m - 1] = std::log(rate / (1 - rate));
  LogisticFit fit;
  double current = objective(w);
  for (int it = 1; it <= options.max_iterations; ++it) {
    fit.iterations = it;
    std::vector<double> grad(m, 0.0), hess(m * m, 0.0);
    for (size_t i = 0; i < n; ++i) {
      const double* zi = &z[i * m];
      double t = 0;
      for (size_t k = 0; k < m; ++k) t += zi[k] * w[k];
      const double p = Sigmoid(t);
      const double r = (p - labels[i]) * inv_n, h = p * (1 - p) * inv_n;
      for (size_t a = 0; a < m; ++a) {
        grad[a] += r * zi[a];
        for (size_t b = 0; b <= a; ++b) hess[a * m + b] += h * zi[a] * zi[b];
      }
    }
    for (size_t a = 0; a < m; ++a) {
      for (size_t b = 0; b < a; ++b) hess[b * m + a] = hess[a * m + b];
    }
    for (size_t k = 0; k + 1 < m; ++k) {
      grad[k] += options.l2 * w[k];
      hess[k * m + k] += options.l2;
    }
    // Separable data without a penalty make the Hessian singular: damp it.
    std::vector<double> step = grad;
    double damping = 0;
    while (!SolveSpd(hess, step, m)) {
      damping = damping == 0 ? 1e-10 : damping * 100;
      if (damping > 1e6) return absl::InternalError("calibrate: the Hessian cannot be factored");
      for (size_t k = 0; k < m; ++k) hess[k * m + k] += damping;
      step = grad;
    }
    // Backtracking: Newton's full step may overshoot far from the optimum.
    double scale = 1;
    std::vector<double> next(m);
    double value = current;
    for (int halvings = 0; halvings < 40; ++halvings, scale *= 0.5) {
      for (size_t k = 0; k < m; ++k) next[k] = w[k] - scale * step[k];
      value = objective(next);
      if (value <= current) break;
    }
    double largest = 0;
    for (size_t k = 0; k < m; ++k) largest = std::max(largest, std::abs(scale * step[k]));
    if (value > current) {  // no descent left: at the optimum to rounding
      fit.converged = true;
      break;
    }
    w = next;
    current = value;
    if (largest < options.tolerance) {
      fit.converged = true;
      break;
    }
  }

  fit.weights.assign(d, 0.0);
  fit.bias = w[m - 1];
  for (size_t k = 0; k < used.size(); ++k) {
    const size_t j = used[k];
    fit.weights[j] = w[k] / sd[j];
    fit.bias -= fit.weights[j] * mean[j];
  }
  double loss = 0;
  for (size_t i = 0; i < n; ++i) {
    double t = fit.bias;
    for (size_t j = 0; j < d; ++j) t += fit.weights[j] * x[i][j];
    loss += Softplus(t) - labels[i] * t;
  }
  fit.log_loss = loss * inv_n;
  return fit;
}

absl::StatusOr<ConfidenceModel> CalibrateConfidence(std::span<const ConfidenceFeatures> features,
                                                    std::span<const int> labels, const LogisticFitOptions& options) {
  std::vector<std::vector<double>> x;
  x.reserve(features.size());
  for (const ConfidenceFeatures& f : features) {
    const auto a = f.ToArray();
    x.emplace_back(a.begin(), a.end());
  }
  // Name the feature in errors about one.
  for (size_t i = 0; i < x.size(); ++i) {
    for (size_t j = 0; j < x[i].size(); ++j) {
      if (!std::isfinite(x[i][j])) {
        return absl::InvalidArgumentError(absl::StrCat("calibrate: example ", i, " feature ",
                                                       std::string(kConfidenceFeatureNames[j]), " is ", x[i][j], " (not finite)"));
      }
    }
  }
  absl::StatusOr<LogisticFit> fit = FitLogistic(x, labels, options);
  if (!fit.ok()) return fit.status();
  ConfidenceModel m;
  std::copy(fit->weights.begin(), fit->weights.end(), m.weights.begin());
  m.bias = fit->bias;
  size_t positives = 0;
  for (int l : labels) positives += l == 1;
  m.note = absl::StrCat("calibrated by logistic regression on ", labels.size(), " examples (", positives,
                        " labelled 1), l2 ", options.l2, ", ", fit->iterations, " Newton iterations",
                        fit->converged ? "" : " (not converged)", ", log loss ", fit->log_loss);
  return m;
}

}  // namespace tinyrag
