// Continuous batching for a server: requests arrive at any time from any
// thread; a scheduler thread admits each one into a free sequence slot of its
// DecoderContext as soon as one is free, and each turn of its loop runs one
// prompt chunk (up to max_batch tokens) of the oldest request still
// prefilling, then one forward pass that advances every decoding request by
// one token. A request that
// finishes frees its slot for the next at once, without waiting for the rest.
// Each request gets the same tokens it would get from Generate alone.
// Requests with GenerateOptions::shared_prefix_tokens share the context's
// prefix cache, which only the scheduler thread touches (no lock needed).
#pragma once

#include <deque>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "generate/decoder_context.h"
#include "generate/generator.h"

namespace tinyrag {

class BatchScheduler {
 public:
  // Starts the scheduler thread over `ctx` (which it uses exclusively from
  // now on; it must outlive the scheduler). Up to ctx.options().n_seq requests
  // run at once; ctx needs max_outputs >= n_seq (InvalidArgument otherwise).
  static absl::StatusOr<std::unique_ptr<BatchScheduler>> Start(DecoderContext& ctx);
  // Stops the thread; requests still queued or running end with a Cancelled error.
  ~BatchScheduler();
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  // Queues a request; thread-safe. The future holds its result, or the error
  // Generate would give (empty or too long prompt, a Decode failure), or
  // Cancelled when the scheduler stops first. options.on_text runs on the
  // scheduler thread and must not block for long (it delays every request).
  std::future<absl::StatusOr<GenerateResult>> Submit(std::vector<TokenId> prompt, GenerateOptions options);

 private:
  struct Pending;
  struct Slot;
  explicit BatchScheduler(DecoderContext& ctx);
  void Loop();
  // Starts a newly admitted request (validation and the shared prefix); its
  // prompt is then prefilled a chunk per loop turn. False when it failed.
  bool Admit(Slot& slot);
  // Runs the slot's next prompt chunk; after the last one, samples its first
  // token. False when the request failed (its promise is set), was cancelled,
  // or stopped at its first token (both still to be finished).
  bool PrefillChunk(Slot& slot);
  // Ends the slot's request with `status`; returns false.
  bool Fail(Slot& slot, absl::Status status);

  DecoderContext& ctx_;
  absl::Mutex mu_;
  std::deque<std::unique_ptr<Pending>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::unique_ptr<Slot>> slots_;  // [n_seq], scheduler thread only
  uint64_t next_admission_ = 0;                // scheduler thread only
  std::vector<BatchToken> prefill_batch_;      // scheduler thread only
  std::thread thread_;
};

}  // namespace tinyrag
