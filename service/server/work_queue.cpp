#include "service/server/work_queue.h"

#include <algorithm>
#include <utility>

namespace tinyrag::server {

WorkQueue::WorkQueue(int workers, int capacity) : capacity_(std::max(capacity, 0)) {
  const int n = std::max(workers, 1);
  threads_.reserve(n);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Loop(); });
}

WorkQueue::~WorkQueue() {
  Close();
  for (std::thread& t : threads_) t.join();
}

bool WorkQueue::TrySubmit(std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  // A job waits only when no worker is idle; those waiting are bounded.
  const int would_wait = static_cast<int>(jobs_.size()) + 1 - idle_;
  if (would_wait > capacity_) return false;
  jobs_.push_back(std::move(job));
  return true;
}

void WorkQueue::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

int WorkQueue::waiting() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(jobs_.size());
}

int WorkQueue::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

void WorkQueue::Loop() {
  for (;;) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      ++idle_;
      mu_.Await(absl::Condition(
          +[](WorkQueue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) { return !q->jobs_.empty() || q->closed_; }, this));
      --idle_;
      if (jobs_.empty()) return;  // closed and drained
      job = std::move(jobs_.front());
      jobs_.pop_front();
      ++running_;
    }
    job();
    absl::MutexLock lock(&mu_);
    --running_;
  }
}

}  // namespace tinyrag::server
