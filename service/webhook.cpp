#include "service/webhook.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace tinyrag {
namespace {

constexpr int kRowsPerPass = 32;
constexpr size_t kKeptResponseBytes = 200;  // of a failed response's body, for last_error

std::string IsoTime(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

struct CurlCleanup {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistCleanup {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// Keeps the start of the response body (for the error message) and discards
// the rest, whatever its size.
size_t KeepPrefix(char* data, size_t size, size_t n, void* user) {
  auto* kept = static_cast<std::string*>(user);
  const size_t bytes = size * n;
  if (kept->size() < kKeptResponseBytes) kept->append(data, std::min(bytes, kKeptResponseBytes - kept->size()));
  return bytes;
}

// Non-zero aborts the transfer: the sender is shutting down.
int AbortWhenStopping(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

enum class Verdict { kDelivered, kRetry, kRejected, kStopped };

struct AttemptResult {
  Verdict verdict = Verdict::kRetry;
  std::string error;
  int64_t retry_after_ms = 0;
};

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string WebhookSignature(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  return absl::StrCat("sha256=", absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(mac), len)));
}

std::string WebhookPayload(const Escalation& e, std::string_view link_prefix) {
  nlohmann::json passages = nlohmann::json::array();
  for (size_t i = 0; i < e.passages.size(); ++i) {
    const EscalationPassage& p = e.passages[i];
    passages.push_back({{"number", i + 1},
                        {"document_id", p.document_id},
                        {"external_id", p.external_id},
                        {"title", p.title},
                        {"source", p.source}});
  }
  nlohmann::json body = {{"event", "escalation.created"},
                         {"id", e.id},
                         {"request_id", e.request_id},
                         {"question", e.question},
                         {"draft_answer", e.draft_answer},
                         {"confidence", e.confidence},
                         {"confidence_components", e.confidence_components},
                         {"reason", e.reason},
                         {"collection", e.collection},
                         {"status", EscalationStatusName(e.status)},
                         {"created_at", IsoTime(e.created_ms)},
                         {"created_ms", e.created_ms},
                         {"passages", std::move(passages)}};
  if (!link_prefix.empty()) body["link"] = absl::StrCat(std::string(link_prefix), e.id);
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<std::unique_ptr<WebhookSender>> WebhookSender::Create(WebhookConfig config, EscalationStore* store,
                                                                     Options options) {
  if (!absl::StartsWith(config.url, "http://") && !absl::StartsWith(config.url, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat("webhook URL \"", config.url, "\" is not http:// or https://"));
  }
  if (config.secret.empty()) return absl::InvalidArgumentError("webhook: the signing secret is empty");
  if (config.base_backoff.count() <= 0 || config.max_backoff < config.base_backoff) {
    return absl::InvalidArgumentError("webhook: backoff needs 0 < base_backoff <= max_backoff");
  }
  if (!(config.jitter >= 0 && config.jitter < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("webhook: jitter ", config.jitter, " is not in [0, 1)"));
  }
  if (config.max_attempts < 1 || config.max_rejected_attempts < 1) {
    return absl::InvalidArgumentError("webhook: max_attempts and max_rejected_attempts must be at least 1");
  }
  if (config.timeout.count() <= 0 || config.connect_timeout.count() <= 0 || config.poll_interval.count() <= 0) {
    return absl::InvalidArgumentError("webhook: timeouts and the poll interval must be positive");
  }
  if (store == nullptr) return absl::InvalidArgumentError("webhook: no escalation store");
  GlobalInitOnce();
  const bool start = options.start_thread;
  std::unique_ptr<WebhookSender> sender(new WebhookSender(std::move(config), store, std::move(options)));
  if (start) sender->thread_ = std::thread([s = sender.get()] { s->Run(); });
  return sender;
}

WebhookSender::WebhookSender(WebhookConfig config, EscalationStore* store, Options options)
    : config_(std::move(config)),
      store_(store),
      now_ms_(options.now_ms ? std::move(options.now_ms) : std::function<int64_t()>([store] { return store->NowMs(); })),
      rng_(config_.jitter_seed ? *config_.jitter_seed : std::random_device()()) {}

WebhookSender::~WebhookSender() {
  stopping_.store(true);
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void WebhookSender::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void WebhookSender::Run() {
  for (;;) {
    absl::Duration wait = absl::FromChrono(config_.poll_interval);
    absl::StatusOr<int> sent = DeliverDue();
    if (!sent.ok()) {
      std::fprintf(stderr, "webhook: %s\n", sent.status().ToString().c_str());
    } else {
      absl::StatusOr<std::optional<int64_t>> next = store_->NextOutboxAttemptMs();
      if (next.ok() && next->has_value()) {
        wait = std::min(wait, absl::Milliseconds(std::max<int64_t>(0, **next - now_ms_())));
      }
    }
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || woken_; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), wait);
    if (stop_) return;
    woken_ = false;
  }
}

absl::StatusOr<int> WebhookSender::DeliverDue() {
  absl::MutexLock lock(&deliver_mu_);
  int attempted = 0;
  for (;;) {
    absl::StatusOr<std::vector<OutboxEntry>> due = store_->DueOutbox(now_ms_(), kRowsPerPass);
    if (!due.ok()) return due.status();
    for (const OutboxEntry& row : *due) {
      if (stopping_.load()) return attempted;
      if (absl::Status s = Attempt(row); !s.ok()) return s;
      ++attempted;
    }
    // Rows just attempted are no longer due (done, failed, or due later).
    if (due->size() < static_cast<size_t>(kRowsPerPass)) return attempted;
  }
}

int64_t WebhookSender::Backoff(int attempt, int64_t retry_after_ms) {
  const double base = static_cast<double>(config_.base_backoff.count());
  const double cap = static_cast<double>(config_.max_backoff.count());
  const double exp = std::min(cap, base * std::ldexp(1.0, std::min(attempt - 1, 62)));
  const double shortened = exp * (1.0 - config_.jitter * std::uniform_real_distribution<double>(0, 1)(rng_));
  return static_cast<int64_t>(std::min(cap, std::max(shortened, static_cast<double>(retry_after_ms))));
}

absl::Status WebhookSender::Attempt(const OutboxEntry& row) {
  absl::StatusOr<Escalation> e = store_->Get(row.escalation_id);
  if (absl::IsDataLoss(e.status())) {
    // A damaged row would block the queue forever: give it up, keep the reason.
    return store_->RecordOutboxAttempt(row.id, now_ms_(), OutboxState::kFailed, e.status().ToString(),
                                       row.next_attempt_ms);
  }
  if (!e.ok()) return e.status();
  const std::string body = WebhookPayload(*e, config_.link_prefix);

  AttemptResult result;
  std::unique_ptr<CURL, CurlCleanup> curl(curl_easy_init());
  if (curl == nullptr) return absl::InternalError("webhook: curl_easy_init failed");
  std::unique_ptr<curl_slist, SlistCleanup> headers;
  for (const std::string& h : {std::string("Content-Type: application/json"),
                               std::string("X-Tinyrag-Event: escalation.created"),
                               absl::StrCat("X-Tinyrag-Delivery: ", row.id),
                               absl::StrCat("X-Tinyrag-Signature: ", WebhookSignature(config_.secret, body)),
                               // No "Expect: 100-continue" round trip before larger bodies.
                               std::string("Expect:")}) {
    curl_slist* appended = curl_slist_append(headers.get(), h.c_str());
    if (appended == nullptr) return absl::InternalError("webhook: out of memory for headers");
    headers.release();
    headers.reset(appended);
  }
  std::string response;
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, config_.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "tinyrag-webhook/1");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: we are one thread of many
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, KeepPrefix);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, AbortWhenStopping);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &stopping_);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);

  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    result.verdict = Verdict::kStopped;
  } else if (rc != CURLE_OK) {
    result.error = absl::StrCat("POST ", config_.url, ": ", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
  } else {
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      result.verdict = Verdict::kDelivered;
    } else {
      result.error = absl::StrCat("HTTP ", status, " from ", config_.url);
      if (status >= 300 && status < 400) {
        char* location = nullptr;
        curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location);
        absl::StrAppend(&result.error, " redirecting to ", location != nullptr ? location : "(no Location)",
                        ": redirects are not followed, configure the final URL");
      } else if (!response.empty()) {
        absl::StrAppend(&result.error, ": ", absl::CHexEscape(response));
      }
      const bool retryable = status == 408 || status == 429 || (status >= 500 && status < 600);
      result.verdict = retryable ? Verdict::kRetry : Verdict::kRejected;
      curl_off_t retry_after = 0;
      if (retryable && curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0) {
        result.retry_after_ms = static_cast<int64_t>(retry_after) * 1000;
      }
    }
  }

  const int64_t now = now_ms_();
  const int attempt = row.attempts + 1;
  switch (result.verdict) {
    case Verdict::kStopped:
      return absl::OkStatus();
    case Verdict::kDelivered:
      return store_->RecordOutboxAttempt(row.id, now, OutboxState::kDone, "", row.next_attempt_ms);
    case Verdict::kRetry:
    case Verdict::kRejected: {
      const int limit = result.verdict == Verdict::kRetry ? config_.max_attempts : config_.max_rejected_attempts;
      if (attempt >= limit) {
        return store_->RecordOutboxAttempt(row.id, now, OutboxState::kFailed,
                                           absl::StrCat(result.error, " (gave up after ", attempt, " attempts)"),
                                           row.next_attempt_ms);
      }
      return store_->RecordOutboxAttempt(row.id, now, OutboxState::kPending, result.error,
                                         now + Backoff(attempt, result.retry_after_ms));
    }
  }
  return absl::OkStatus();
}

}  // namespace tinyrag
