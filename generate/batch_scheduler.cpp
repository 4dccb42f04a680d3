#include "generate/batch_scheduler.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"
#include "generate/sequence_run.h"

namespace tinyrag {

struct BatchScheduler::Pending {
  std::vector<TokenId> prompt;
  GenerateOptions options;
  std::promise<absl::StatusOr<GenerateResult>> promise;
};

struct BatchScheduler::Slot {
  int seq = 0;
  std::unique_ptr<Pending> request;          // null when the slot is free
  std::optional<internal::SequenceRun> run;  // lives while request does (holds references into it)
  bool prefilling = false;                   // prompt tokens from prefill_at on are not in the cache yet
  size_t prefill_at = 0;
  uint64_t admitted = 0;                     // admission order: the oldest prefill goes first
  bool wants_forward = false;                // its last sampled token needs a forward pass
  std::chrono::steady_clock::time_point prefill_start, decode_start;
  double step_seconds = 0;  // forward passes that advanced this request
};

BatchScheduler::BatchScheduler(DecoderContext& ctx) : ctx_(ctx) {}

absl::StatusOr<std::unique_ptr<BatchScheduler>> BatchScheduler::Start(DecoderContext& ctx) {
  if (ctx.options().max_outputs < ctx.options().n_seq) {
    return absl::InvalidArgumentError(absl::StrCat("BatchScheduler: max_outputs ", ctx.options().max_outputs,
                                                   " is below n_seq ", ctx.options().n_seq));
  }
  std::unique_ptr<BatchScheduler> s(new BatchScheduler(ctx));
  for (int i = 0; i < ctx.options().n_seq; ++i) {
    s->slots_.push_back(std::make_unique<Slot>());
    s->slots_.back()->seq = i;
  }
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

BatchScheduler::~BatchScheduler() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

std::future<absl::StatusOr<GenerateResult>> BatchScheduler::Submit(std::vector<TokenId> prompt,
                                                                   GenerateOptions options) {
  auto p = std::make_unique<Pending>();
  p->prompt = std::move(prompt);
  p->options = std::move(options);
  auto future = p->promise.get_future();
  absl::MutexLock lock(&mu_);
  if (stop_) {
    p->promise.set_value(absl::CancelledError("BatchScheduler stopped"));
  } else {
    queue_.push_back(std::move(p));
  }
  return future;
}

bool BatchScheduler::Admit(Slot& slot) {
  Pending& r = *slot.request;
  if (r.prompt.empty()) return Fail(slot, absl::InvalidArgumentError("Generate: empty prompt"));
  if (static_cast<int64_t>(r.prompt.size()) > ctx_.n_ctx()) {
    return Fail(slot, absl::OutOfRangeError(
                          absl::StrCat("prompt of ", r.prompt.size(), " tokens exceeds the context length ", ctx_.n_ctx())));
  }
  slot.run.emplace(ctx_.model().tokenizer(), slot.seq, r.prompt, r.options);
  slot.prefill_start = std::chrono::steady_clock::now();
  slot.step_seconds = 0;
  // Clears the slot's sequence and fills it with the shared prefix (copied
  // from the context's prefix cache, or computed and cached there).
  absl::StatusOr<PrefixFill> fill =
      PrefillSharedPrefix(ctx_, slot.seq, r.prompt, r.options.shared_prefix_tokens, r.options.cancel);
  if (!fill.ok()) return Fail(slot, fill.status());
  slot.run->result().cached_prompt_tokens = fill->reused;
  slot.prefilling = true;
  slot.prefill_at = static_cast<size_t>(fill->filled);
  slot.admitted = next_admission_++;
  return true;
}

bool BatchScheduler::PrefillChunk(Slot& slot) {
  const std::vector<TokenId>& prompt = slot.request->prompt;
  if (slot.run->cancelled()) {  // between prefill chunks
    slot.run->Cancel();
    slot.prefilling = false;
    slot.decode_start = std::chrono::steady_clock::now();  // no decoding time
    return false;
  }
  // The same chunk boundaries as Generate alone (runs of max_batch from the
  // end of the shared prefix), so the request gets the same tokens.
  const size_t end = std::min(prompt.size(), slot.prefill_at + static_cast<size_t>(ctx_.options().max_batch));
  std::vector<BatchToken>& batch = prefill_batch_;
  batch.clear();
  for (size_t i = slot.prefill_at; i < end; ++i) batch.push_back({prompt[i], slot.seq, i + 1 == prompt.size()});
  if (absl::Status s = ctx_.Decode(batch); !s.ok()) return Fail(slot, s);
  slot.prefill_at = end;
  if (end < prompt.size()) return true;
  slot.prefilling = false;
  slot.run->result().prefill_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - slot.prefill_start).count();
  slot.decode_start = std::chrono::steady_clock::now();
  return slot.wants_forward = slot.run->Step(ctx_.logits(0), ctx_.sequence_length(slot.seq), ctx_.n_ctx());
}

bool BatchScheduler::Fail(Slot& slot, absl::Status status) {
  slot.request->promise.set_value(std::move(status));
  slot.run.reset();
  slot.request.reset();
  slot.prefilling = false;
  slot.wants_forward = false;
  return false;
}

void BatchScheduler::Loop() {
  auto finish = [](Slot& slot) {
    slot.run->result().decode_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - slot.decode_start).count();
    slot.run->result().decode_step_seconds = slot.step_seconds;
    slot.request->promise.set_value(std::move(slot.run->result()));
    slot.run.reset();
    slot.request.reset();
    slot.wants_forward = false;
  };
  std::vector<BatchToken> batch;
  std::vector<Slot*> owners;
  while (true) {
    // Admit queued requests into free slots (waiting while there is nothing to do).
    std::vector<Slot*> admitted;
    {
      absl::MutexLock lock(&mu_);
      const bool busy = std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->request != nullptr; });
      if (!busy) {
        mu_.Await(absl::Condition(+[](BatchScheduler* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return s->stop_ || !s->queue_.empty();
        }, this));
      }
      if (stop_) break;
      for (auto& slot : slots_) {
        if (slot->request == nullptr && !queue_.empty()) {
          slot->request = std::move(queue_.front());
          queue_.pop_front();
          admitted.push_back(slot.get());
        }
      }
    }
    for (Slot* slot : admitted) Admit(*slot);
    // One prompt chunk of the oldest request still prefilling, then one
    // forward pass for every request decoding: a long prompt delays the
    // others' next tokens by a chunk at a time, not by the whole prompt.
    Slot* oldest = nullptr;
    for (auto& slot : slots_) {
      if (slot->request != nullptr && slot->prefilling && (oldest == nullptr || slot->admitted < oldest->admitted)) {
        oldest = slot.get();
      }
    }
    if (oldest != nullptr && !PrefillChunk(*oldest) && oldest->request != nullptr && !oldest->prefilling) {
      finish(*oldest);  // cancelled, or stopped at its first token
    }
    batch.clear();
    owners.clear();
    for (auto& slot : slots_) {
      if (slot->request != nullptr && !slot->prefilling && slot->wants_forward) {
        batch.push_back({slot->run->last(), slot->seq, true});
        owners.push_back(slot.get());
      }
    }
    if (batch.empty()) continue;
    const auto step_start = std::chrono::steady_clock::now();
    if (absl::Status s = ctx_.Decode(batch); !s.ok()) {
      for (Slot* slot : owners) Fail(*slot, s);
      continue;
    }
    const double step = std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
    for (Slot* slot : owners) slot->step_seconds += step;
    for (size_t k = 0; k < owners.size(); ++k) {
      Slot& slot = *owners[k];
      slot.wants_forward = slot.run->Step(ctx_.logits(static_cast<int64_t>(k)), ctx_.sequence_length(slot.seq),
                                          ctx_.n_ctx());
      if (!slot.wants_forward) finish(slot);
    }
  }
  // Stopping: everything unfinished is cancelled.
  for (auto& slot : slots_) {
    if (slot->request != nullptr) slot->request->promise.set_value(absl::CancelledError("BatchScheduler stopped"));
  }
  absl::MutexLock lock(&mu_);
  for (auto& p : queue_) p->promise.set_value(absl::CancelledError("BatchScheduler stopped"));
  queue_.clear();
}

}  // namespace tinyrag
