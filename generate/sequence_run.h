// The per-request state of the generation loop, shared by GenerateBatch
// (generator.cpp) and BatchScheduler (batch_scheduler.cpp). Internal to generate/.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "generate/generator.h"
#include "generate/sampler.h"
#include "model/tokenizer.h"

namespace tinyrag::internal {

inline bool Cancelled(const GenerateOptions& o) {
  return o.cancel != nullptr && o.cancel->load(std::memory_order_relaxed);
}

// The per-request state of the loop: sampler, history, text filters, result.
class SequenceRun {
 public:
  SequenceRun(const Tokenizer& tokenizer, int seq, std::span<const TokenId> prompt, const GenerateOptions& options)
      : tokenizer_(tokenizer),
        seq_(seq),
        options_(options),
        sampler_(options.sampler),
        history_(prompt.begin(), prompt.end()),
        stops_(options.stop_strings) {
    result_.prompt_tokens = static_cast<int64_t>(prompt.size());
    result_.stop = StopReason::kMaxTokens;
  }

  int seq() const { return seq_; }
  TokenId last() const { return history_.back(); }
  bool cancelled() const { return Cancelled(options_); }
  GenerateResult& result() { return result_; }

  void Cancel() { Finish(StopReason::kCancelled); }

  // Samples the next token from `logits`; returns true when the sequence
  // wants a forward pass for it (not finished) and it fits the context.
  bool Step(std::span<const float> logits, int64_t seq_len, int64_t n_ctx) {
    if (options_.max_tokens <= 0) {
      Finish(StopReason::kMaxTokens);
      return false;
    }
    if (cancelled()) {
      Finish(StopReason::kCancelled);
      return false;
    }
    const TokenId id = sampler_.Sample(logits, history_);
    if (tokenizer_.IsEndOfGeneration(id)) {
      Finish(StopReason::kEndOfGeneration);
      return false;
    }
    TokenLogProbs lp = ComputeLogProbs(logits, id, options_.top_logprobs);
    result_.tokens.push_back({id, lp.logprob, std::move(lp.top)});
    history_.push_back(id);
    Emit(stops_.Push(utf8_.Push(tokenizer_.TokenToPiece(id))));
    if (stops_.stopped()) {
      Finish(StopReason::kStopString);
      return false;
    }
    // No forward pass for a token that will never be sampled.
    if (static_cast<int>(result_.tokens.size()) >= options_.max_tokens) {
      Finish(StopReason::kMaxTokens);
      return false;
    }
    if (seq_len >= n_ctx) {
      Finish(StopReason::kContextFull);
      return false;
    }
    return true;
  }

  void Finish(StopReason reason) {
    if (done_) return;
    result_.stop = reason;
    if (!stops_.stopped()) {
      Emit(stops_.Push(utf8_.Finish()));
      if (stops_.stopped()) result_.stop = StopReason::kStopString;
      Emit(stops_.Finish());
    }
    done_ = true;
  }

 private:
  void Emit(const std::string& text) {
    if (text.empty()) return;
    result_.text += text;
    if (options_.on_text) options_.on_text(text);
  }

  const Tokenizer& tokenizer_;
  int seq_;
  const GenerateOptions& options_;
  Sampler sampler_;
  std::vector<TokenId> history_;
  Utf8Stream utf8_;
  StopStringFilter stops_;
  GenerateResult result_;
  bool done_ = false;
};


}  // namespace tinyrag::internal
