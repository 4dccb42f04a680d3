#include "generate/generator.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "generate/sequence_run.h"

namespace tinyrag {
using internal::SequenceRun;

std::string_view StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kEndOfGeneration: return "end_of_generation";
    case StopReason::kStopString: return "stop_string";
    case StopReason::kMaxTokens: return "max_tokens";
    case StopReason::kContextFull: return "context_full";
    case StopReason::kCancelled: return "cancelled";
  }
  return "unknown";
}

std::string StopStringFilter::Push(std::string_view text) {
  if (stopped_) return "";
  held_ += text;
  size_t first = std::string::npos;
  for (const std::string& s : stops_) {
    if (!s.empty()) first = std::min(first, held_.find(s));
  }
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = held_.substr(0, first);
    held_.clear();
    return out;
  }
  // Keep the longest tail that is a proper prefix of some stop string.
  size_t keep = 0;
  for (const std::string& s : stops_) {
    for (size_t len = std::min(s.size() - (s.empty() ? 0 : 1), held_.size()); len > keep; --len) {
      if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
        keep = len;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopStringFilter::Finish() {
  if (stopped_) return "";
  return std::exchange(held_, std::string());
}

absl::StatusOr<PrefixFill> PrefillSharedPrefix(DecoderContext& ctx, int seq, std::span<const TokenId> prompt,
                                               int64_t shared_prefix_tokens, const std::atomic<bool>* cancel) {
  if (seq < 0 || seq >= ctx.options().n_seq) {
    return absl::InvalidArgumentError(absl::StrCat("PrefillSharedPrefix: sequence ", seq, " out of range"));
  }
  ctx.TruncateSequence(seq, 0);
  const int64_t p = std::min(shared_prefix_tokens, static_cast<int64_t>(prompt.size()) - 1);
  // Without a cache a separate prefix pass would only change the chunking.
  if (p <= 0 || ctx.options().prefix_cache_entries == 0) return PrefixFill{};
  const std::span<const TokenId> prefix = prompt.first(p);
  PrefixFill fill;
  fill.reused = fill.filled = ctx.RestoreCachedPrefix(seq, prefix);
  std::vector<BatchToken> batch;
  while (fill.filled < p) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) return fill;
    batch.clear();
    const int64_t end = std::min(p, fill.filled + ctx.options().max_batch);
    for (int64_t i = fill.filled; i < end; ++i) batch.push_back({prefix[i], seq, false});
    if (absl::Status s = ctx.Decode(batch); !s.ok()) return s;
    fill.filled = end;
  }
  if (fill.reused < p) {
    if (absl::Status s = ctx.CachePrefix(seq, prefix); !s.ok()) return s;
  }
  return fill;
}

namespace {

// Request i runs in sequence seqs[i] of ctx.
absl::StatusOr<std::vector<GenerateResult>> RunRequests(DecoderContext& ctx, std::span<const GenerateRequest> requests,
                                                        std::span<const int> seqs) {
  const int64_t n_req = static_cast<int64_t>(requests.size());
  if (n_req == 0) return absl::InvalidArgumentError("GenerateBatch: no requests");
  if (n_req > ctx.options().n_seq || n_req > ctx.options().max_outputs) {
    return absl::InvalidArgumentError(absl::StrCat("GenerateBatch: ", n_req, " requests need n_seq and max_outputs >= ",
                                                   n_req, " (context has ", ctx.options().n_seq, " and ",
                                                   ctx.options().max_outputs, ")"));
  }
  for (const GenerateRequest& r : requests) {
    if (r.prompt.empty()) return absl::InvalidArgumentError("Generate: empty prompt");
    if (static_cast<int64_t>(r.prompt.size()) > ctx.n_ctx()) {
      return absl::OutOfRangeError(absl::StrCat("prompt of ", r.prompt.size(), " tokens exceeds the context length ",
                                                ctx.n_ctx()));
    }
  }
  const Tokenizer& tokenizer = ctx.model().tokenizer();
  std::vector<SequenceRun> runs;
  runs.reserve(n_req);
  for (int i = 0; i < n_req; ++i) {
    runs.emplace_back(tokenizer, seqs[i], requests[i].prompt, requests[i].options);
  }

  // Shared prefixes first, one request at a time, so that requests of this
  // call with the same prefix compute it once.
  auto start = std::chrono::steady_clock::now();
  std::vector<int64_t> filled(n_req, 0);
  for (int i = 0; i < n_req; ++i) {
    absl::StatusOr<PrefixFill> fill = PrefillSharedPrefix(ctx, seqs[i], requests[i].prompt,
                                                          requests[i].options.shared_prefix_tokens,
                                                          requests[i].options.cancel);
    if (!fill.ok()) return fill.status();
    filled[i] = fill->filled;
    runs[i].result().cached_prompt_tokens = fill->reused;
  }

  // Prefill: the rest of all prompts' tokens in batches of up to max_batch;
  // output k of the batch that holds request i's last prompt token is its
  // first logits.
  std::vector<BatchToken> batch;
  std::vector<int> output_owner;  // request of each logits row of the current batch
  std::vector<int> active;        // requests wanting a forward pass for their last token
  auto sample_outputs = [&]() {
    for (size_t k = 0; k < output_owner.size(); ++k) {
      SequenceRun& run = runs[output_owner[k]];
      if (run.Step(ctx.logits(static_cast<int64_t>(k)), ctx.sequence_length(run.seq()), ctx.n_ctx())) {
        active.push_back(output_owner[k]);
      }
    }
  };
  auto flush = [&]() -> absl::Status {
    if (batch.empty()) return absl::OkStatus();
    if (absl::Status s = ctx.Decode(batch); !s.ok()) return s;
    const auto prefill_end = std::chrono::steady_clock::now();
    for (int owner : output_owner) {
      runs[owner].result().prefill_seconds = std::chrono::duration<double>(prefill_end - start).count();
    }
    sample_outputs();
    batch.clear();
    output_owner.clear();
    return absl::OkStatus();
  };
  for (int i = 0; i < n_req; ++i) {
    const std::span<const TokenId> prompt = requests[i].prompt;
    for (size_t t = filled[i]; t < prompt.size(); ++t) {
      if (static_cast<int64_t>(batch.size()) == ctx.options().max_batch) {
        // Cancellation is checked between prefill chunks.
        if (absl::Status s = flush(); !s.ok()) return s;
      }
      if (runs[i].cancelled()) {
        runs[i].Cancel();
        break;
      }
      const bool last = t + 1 == prompt.size();
      batch.push_back({prompt[t], seqs[i], last});
      if (last) output_owner.push_back(i);
    }
  }
  if (absl::Status s = flush(); !s.ok()) return s;

  // Decode: one token of every active sequence per forward pass.
  start = std::chrono::steady_clock::now();
  while (!active.empty()) {
    batch.clear();
    output_owner.clear();
    for (int i : active) {
      batch.push_back({runs[i].last(), runs[i].seq(), true});
      output_owner.push_back(i);
    }
    active.clear();
    if (absl::Status s = ctx.Decode(batch); !s.ok()) return s;
    sample_outputs();
  }
  const double decode_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<GenerateResult> results;
  results.reserve(n_req);
  for (SequenceRun& run : runs) {
    run.result().decode_seconds = decode_seconds;
    run.result().decode_step_seconds = decode_seconds;  // nothing else shares the context
    results.push_back(std::move(run.result()));
  }
  return results;
}

}  // namespace

absl::StatusOr<std::vector<GenerateResult>> GenerateBatch(DecoderContext& ctx,
                                                          std::span<const GenerateRequest> requests) {
  std::vector<int> seqs(requests.size());
  std::iota(seqs.begin(), seqs.end(), 0);
  return RunRequests(ctx, requests, seqs);
}

absl::StatusOr<GenerateResult> Generate(DecoderContext& ctx, int seq, std::span<const TokenId> prompt,
                                        const GenerateOptions& options) {
  if (seq < 0 || seq >= ctx.options().n_seq) {
    return absl::InvalidArgumentError(absl::StrCat("Generate: sequence ", seq, " out of range"));
  }
  const GenerateRequest request{prompt, options};
  const int seqs[1] = {seq};
  auto results = RunRequests(ctx, {&request, 1}, seqs);
  if (!results.ok()) return results.status();
  return std::move(results->front());
}

}  // namespace tinyrag
