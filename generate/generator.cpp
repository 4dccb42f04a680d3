#include "generate/generator.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"

namespace tinyrag {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

bool Cancelled(const GenerateOptions& o) { return o.cancel != nullptr && o.cancel->load(std::memory_order_relaxed); }

}  // namespace

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

absl::StatusOr<GenerateResult> Generate(DecoderContext& ctx, int seq, std::span<const TokenId> prompt,
                                        const GenerateOptions& options) {
  if (prompt.empty()) return absl::InvalidArgumentError("Generate: empty prompt");
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  if (n_prompt > ctx.n_ctx()) {
    return absl::OutOfRangeError(absl::StrCat("prompt of ", n_prompt, " tokens exceeds the context length ",
                                              ctx.n_ctx()));
  }
  const Tokenizer& tokenizer = ctx.model().tokenizer();
  GenerateResult result;
  result.prompt_tokens = n_prompt;
  ctx.TruncateSequence(seq, 0);

  // Prefill in chunks; only the last token's logits are needed.
  auto start = std::chrono::steady_clock::now();
  const int64_t chunk = ctx.options().max_batch;
  std::vector<BatchToken> batch;
  for (int64_t at = 0; at < n_prompt; at += chunk) {
    if (Cancelled(options)) {
      result.stop = StopReason::kCancelled;
      return result;
    }
    batch.clear();
    const int64_t end = std::min(n_prompt, at + chunk);
    for (int64_t i = at; i < end; ++i) batch.push_back({prompt[i], seq, i == n_prompt - 1});
    if (absl::Status s = ctx.Decode(batch); !s.ok()) return s;
  }
  result.prefill_seconds = Seconds(start);

  start = std::chrono::steady_clock::now();
  Sampler sampler(options.sampler);
  std::vector<TokenId> history(prompt.begin(), prompt.end());
  Utf8Stream utf8;
  StopStringFilter stops(options.stop_strings);
  auto emit = [&](const std::string& text) {
    if (text.empty()) return;
    result.text += text;
    if (options.on_text) options.on_text(text);
  };
  result.stop = StopReason::kMaxTokens;
  for (int n = 0; n < options.max_tokens; ++n) {
    if (Cancelled(options)) {
      result.stop = StopReason::kCancelled;
      break;
    }
    const std::span<const float> logits = ctx.logits(0);
    const TokenId id = sampler.Sample(logits, history);
    if (tokenizer.IsEndOfGeneration(id)) {
      result.stop = StopReason::kEndOfGeneration;
      break;
    }
    TokenLogProbs lp = ComputeLogProbs(logits, id, options.top_logprobs);
    result.tokens.push_back({id, lp.logprob, std::move(lp.top)});
    history.push_back(id);
    emit(stops.Push(utf8.Push(tokenizer.TokenToPiece(id))));
    if (stops.stopped()) {
      result.stop = StopReason::kStopString;
      break;
    }
    if (n + 1 == options.max_tokens) break;  // no forward pass for a token never sampled
    if (ctx.sequence_length(seq) >= ctx.n_ctx()) {
      result.stop = StopReason::kContextFull;
      break;
    }
    const BatchToken next{id, seq, true};
    if (absl::Status s = ctx.Decode({&next, 1}); !s.ok()) return s;
  }
  if (!stops.stopped()) {
    emit(stops.Push(utf8.Finish()));
    if (stops.stopped()) result.stop = StopReason::kStopString;
    emit(stops.Finish());
  }
  result.decode_seconds = Seconds(start);
  return result;
}

}  // namespace tinyrag
