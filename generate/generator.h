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
  double prefill_seconds = 0;
  double decode_seconds = 0;
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
