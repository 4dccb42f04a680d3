// The generation loop for one sequence: prefill the prompt in chunks, then
// sample token after token until an end-of-generation token, a stop string,
// the token limit, a full context or cancellation; streaming valid UTF-8 text
// and recording each token's log-probability and top alternatives.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "generate/decoder_context.h"
#include "generate/sampler.h"

namespace tinyrag {

struct GenerateOptions {
  int max_tokens = 256;
  SamplerOptions sampler;
  // Generation ends at the first occurrence of any of these in the text; the
  // text is cut before it (and never streamed).
  std::vector<std::string> stop_strings;
  int top_logprobs = 0;  // alternatives recorded per token
  // Receives the text as it is generated, in pieces of complete UTF-8
  // characters; the pieces concatenated equal GenerateResult::text. May be empty.
  std::function<void(std::string_view piece)> on_text;
  // Checked between prefill chunks and between tokens; when it reads true the
  // loop ends with StopReason::kCancelled. May be nullptr.
  const std::atomic<bool>* cancel = nullptr;
  // The prompt's first shared_prefix_tokens ids are the same for many requests
  // (a fixed system prompt): their K/V rows are taken from the context's
  // prefix cache when it holds them, and computed once and cached otherwise
  // (PrefillSharedPrefix). Clipped to the prompt's length - 1, since the last
  // prompt token is always computed for its logits; 0 (or a context whose
  // prefix cache is off) prefills the whole prompt. A hit or a miss give the
  // same bits: those of prefilling [0, P) and the rest in separate passes
  // (docs/decoder.md says how close that is to one pass).
  int64_t shared_prefix_tokens = 0;
};

enum class StopReason { kEndOfGeneration, kStopString, kMaxTokens, kContextFull, kCancelled };
std::string_view StopReasonName(StopReason reason);

struct GeneratedToken {
  TokenId id = 0;
  float logprob = 0;                              // under the model's distribution
  std::vector<std::pair<TokenId, float>> top;     // best alternatives with log-probs
};

struct GenerateResult {
  std::vector<GeneratedToken> tokens;  // the end-of-generation token is not included
  std::string text;
  StopReason stop = StopReason::kMaxTokens;
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prompt positions copied from the prefix cache, not computed
  double prefill_seconds = 0;
  double decode_seconds = 0;
  // Of decode_seconds, the forward passes that advanced this sequence; the
  // rest it waited while the batch scheduler prefilled other requests.
  double decode_step_seconds = 0;
};

// Clears sequence `seq` of `ctx`, feeds `prompt` (in chunks of at most the
// context's max_batch tokens) and generates. The end-of-generation ids come
// from the model's tokenizer metadata (EOS, EOT, ...). Errors: an empty
// prompt, a prompt that does not fit the context (OutOfRange, naming both
// lengths), or a Decode error. Not thread-safe with other users of `ctx`.
absl::StatusOr<GenerateResult> Generate(DecoderContext& ctx, int seq, std::span<const TokenId> prompt,
                                        const GenerateOptions& options);

// Continuous batching: generates for many prompts at once, sequence i of
// `ctx` (which needs n_seq >= requests and max_outputs >= requests) serving
// request i. Prompts are prefilled together in batches of up to max_batch
// tokens, then every unfinished sequence advances by one token per forward
// pass, so the weights are read once per step for all of them; a finished
// sequence leaves the batch at once. Each request keeps its own sampler,
// stops, stream callback and cancellation flag, and gets exactly the result
// it would get alone (same tokens; the logits agree to float rounding).
// Errors: as Generate, for any request; no request then has a result.
struct GenerateRequest {
  std::span<const TokenId> prompt;
  GenerateOptions options;
};
absl::StatusOr<std::vector<GenerateResult>> GenerateBatch(DecoderContext& ctx,
                                                          std::span<const GenerateRequest> requests);

// Starts sequence `seq` of `ctx` on `prompt`'s shared prefix: clears it, copies
// the K/V rows of the longest cached match of prompt[0, P) from ctx's prefix
// cache (P = min(shared_prefix_tokens, prompt.size() - 1), at least 0),
// prefills the rest of prompt[0, P) without logits in chunks of max_batch,
// and caches prompt[0, P) when it was not already. The caller prefills
// prompt[filled, end). When `cancel` (may be null) reads true before a chunk
// it returns early (filled < P, nothing cached). Fills nothing when P is 0 or
// the context's prefix cache is off. Errors: InvalidArgument for a bad `seq`;
// a Decode error (the sequence is then in an unspecified state). Same thread
// rules as Decode.
struct PrefixFill {
  int64_t filled = 0;  // positions of the sequence now holding prompt[0, filled)
  int64_t reused = 0;  // of those, the ones copied from the prefix cache
};
absl::StatusOr<PrefixFill> PrefillSharedPrefix(DecoderContext& ctx, int seq, std::span<const TokenId> prompt,
                                               int64_t shared_prefix_tokens, const std::atomic<bool>* cancel);

// Holds back streamed text that might be the start of a stop string, and
// finds complete stop strings. Exposed for tests.
class StopStringFilter {
 public:
  explicit StopStringFilter(std::span<const std::string> stop_strings) : stops_(stop_strings) {}
  // Appends `text`; returns what may be released now. Sets stopped() once a
  // stop string appears (nothing from it onward is ever released).
  std::string Push(std::string_view text);
  // Releases whatever is still held (call at the end unless stopped()).
  std::string Finish();
  bool stopped() const { return stopped_; }

 private:
  std::span<const std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace tinyrag
