// Webhook delivery of new escalations to a helpdesk, from the outbox table
// of an EscalationStore (see service/escalation_store.h).
//
// Each pending outbox row is sent as one HTTP POST of a JSON body (see
// WebhookPayload) with the headers
//   Content-Type: application/json
//   X-Tinyrag-Event: escalation.created
//   X-Tinyrag-Delivery: <outbox row id>   (the same on every retry: deduplicate on it)
//   X-Tinyrag-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed with the secret>
//
// Outcome of an attempt, recorded in the row (attempts, next_attempt_ms, last_error):
// - 2xx: delivered, the row is done.
// - Transport errors (connection refused, DNS, TLS, timeout), 408, 429 and
//   5xx: the receiver may recover; retried with exponential backoff and
//   jitter (a Retry-After header lengthens the wait, up to max_backoff) until
//   max_attempts, then failed.
// - 3xx and every other status: the receiver or the URL is wrong for this
//   payload. Redirects are not followed (the signed payload must not go to an
//   address nobody configured). Retried only until max_rejected_attempts (a
//   receiver mid-deploy may answer 404 briefly), then failed.
// Failed rows stay in the table for an operator to inspect. Delivery is at
// least once: a crash between a receiver's 2xx and the row's update sends
// the escalation again with the same delivery id.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "service/escalation_store.h"

namespace tinyrag {

struct WebhookConfig {
  std::string url;     // http:// or https://
  std::string secret;  // HMAC key; required: an unsigned ticket could be forged by anyone
  // Prefix of a helpdesk-facing link to the escalation: payload "link" is
  // link_prefix + id. No "link" when empty.
  std::string link_prefix;
  std::chrono::milliseconds timeout{10000};  // whole request
  std::chrono::milliseconds connect_timeout{5000};
  // The wait before retry n (n = 1, 2, ...) is min(max_backoff,
  // base_backoff * 2^(n-1)) shortened by a random fraction up to `jitter`, so
  // that many rows failing together do not retry in lockstep.
  std::chrono::milliseconds base_backoff{1000};
  std::chrono::milliseconds max_backoff{std::chrono::hours(1)};
  double jitter = 0.2;  // in [0, 1)
  int max_attempts = 30;          // retryable failures (about a day at the defaults)
  int max_rejected_attempts = 3;  // 3xx and non-retryable 4xx
  // The sender thread looks for due rows at least this often, so rows
  // created without a Wake() are still sent.
  std::chrono::milliseconds poll_interval{5000};
  std::optional<uint64_t> jitter_seed;  // random when unset; tests fix it
};

// "sha256=" + lowercase hex HMAC-SHA256 of `body` keyed with `secret`: the
// value of the X-Tinyrag-Signature header.
std::string WebhookSignature(std::string_view secret, std::string_view body);

// The JSON body announcing `e`: what a helpdesk ticket needs (ids, link,
// question, draft answer, confidence and its components, reason, collection,
// creation time, the passages' numbers, titles, sources and document ids;
// not the passage texts).
std::string WebhookPayload(const Escalation& e, std::string_view link_prefix);

class WebhookSender {
 public:
  struct Options {
    // Start the delivery thread. Tests drive DeliverDue() themselves instead.
    bool start_thread = true;
    // Milliseconds since the Unix epoch, for due times and the row's
    // records; the store's clock when unset. The thread's waits are real time.
    std::function<int64_t()> now_ms;
  };

  // A sender of `store`'s outbox rows to `config.url`. `store` is not owned
  // and must outlive the sender. InvalidArgument for a URL that is not
  // http(s), an empty secret or out-of-range backoff settings.
  static absl::StatusOr<std::unique_ptr<WebhookSender>> Create(WebhookConfig config, EscalationStore* store,
                                                               Options options);

  // Stops the thread (an HTTP request in flight is aborted and its row left
  // untouched, to be sent after a restart) and joins it.
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // Makes the thread look for due rows now (call after creating an escalation).
  void Wake();

  // Attempts every row due now, one after another, and records each outcome.
  // Returns the number of rows attempted; the first store error otherwise.
  // Thread-safe (attempts never overlap).
  absl::StatusOr<int> DeliverDue();

 private:
  WebhookSender(WebhookConfig config, EscalationStore* store, Options options);
  void Run();
  // One POST of `row`; records its outcome unless the sender is stopping.
  absl::Status Attempt(const OutboxEntry& row) ABSL_EXCLUSIVE_LOCKS_REQUIRED(deliver_mu_);
  int64_t Backoff(int attempt, int64_t retry_after_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(deliver_mu_);

  const WebhookConfig config_;
  EscalationStore* const store_;
  const std::function<int64_t()> now_ms_;

  absl::Mutex deliver_mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(deliver_mu_);

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  // Read by curl's progress callback without the lock, to abort a request.
  std::atomic<bool> stopping_{false};

  std::thread thread_;  // last: started after everything it uses
};

}  // namespace tinyrag
