// The answerer: one question in, an answer with citations, a confidence and
// an escalation decision out. It validates the request, retrieves passages,
// builds the prompt (service/prompt.h), generates, parses citations, scores
// confidence and decides whether a human should see the answer.
//
// Retrieval and generation come in as small function interfaces so the
// answerer is tested with fakes and the server can put a batch scheduler
// behind generation; DecoderGenerator adapts generate/generator.h's Generate.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "generate/batch_scheduler.h"
#include "generate/decoder_context.h"
#include "generate/generator.h"
#include "index/embedder.h"
#include "index/retriever.h"
#include "index/store.h"
#include "service/citations.h"
#include "service/confidence.h"
#include "service/extractive.h"
#include "service/prompt.h"

namespace tinyrag {

using Deadline = std::chrono::steady_clock::time_point;

// Generative: the decoder writes the answer from the passages. Extractive:
// the answer is the best-supported passage sentences (service/extractive.h),
// without a decoder.
enum class AnswerMode { kGenerative, kExtractive };
// "generative", "extractive".
std::string_view AnswerModeName(AnswerMode mode);

struct AnswerRequest {
  std::string question;
  std::string collection;               // passed to the retriever as is
  std::vector<MetadataFilter> filters;  // passed to the retriever as is
  // Unset fields take the answerer's defaults.
  std::optional<int> top_k;
  std::optional<int> max_tokens;
  std::optional<double> temperature;
  std::optional<double> confidence_threshold;
  uint64_t seed = 0;  // sampler seed (ignored when greedy)
  std::optional<AnswerMode> mode;  // unset: AnswererOptions::default_mode
  // Receives the answer text as it is generated. May be empty.
  std::function<void(std::string_view)> on_text;
  // Set by the caller when the client goes away: Ask ends with Cancelled.
  const std::atomic<bool>* cancel = nullptr;
  // Generation stops here; the draft is escalated as timed out.
  std::optional<Deadline> deadline;
};

// What a retriever returns: passages best first, with where the time went.
struct Retrieved {
  std::vector<Passage> passages;
  double embed_seconds = 0;
  double retrieve_seconds = 0;
};
// Retrieves up to `top_k` passages for request.question in
// request.collection with request.filters. Called from the thread that calls
// Ask, possibly many at once.
using RetrieveFn = std::function<absl::StatusOr<Retrieved>(const AnswerRequest& request, int top_k)>;

// Searches `collection` (a Retriever's Search, or the server's per-collection lookup).
using SearchFn = std::function<absl::StatusOr<std::vector<RetrievalResult>>(const std::string& collection,
                                                                            const RetrievalRequest& request)>;
// A RetrieveFn that embeds the question with `embedder` and runs a hybrid
// search of top_k with the request's filters in the request's collection
// through `search`, timing both steps. `embedder` must outlive the function; thread-safe when search is.
RetrieveFn RetrieveWith(const Embedder& embedder, SearchFn search);
// An EmbedTextsFn over `embedder` (which must outlive it); thread-safe.
EmbedTextsFn EmbedTextsWith(const Embedder& embedder);

struct GenerationCall {
  std::span<const TokenId> prompt;
  // prompt[0, prefix_tokens) is the same for every call (the system prompt):
  // a generator may keep its KV cache.
  int64_t prefix_tokens = 0;
  int max_tokens = 256;
  double temperature = 0;  // 0 = greedy
  uint64_t seed = 0;
  std::function<void(std::string_view)> on_text;  // may be empty
  const std::atomic<bool>* cancel = nullptr;      // may be null
  std::optional<Deadline> deadline;
};

struct Generation {
  std::string text;
  std::vector<float> logprobs;  // one per generated token (the end token excluded)
  StopReason stop = StopReason::kMaxTokens;
  bool timed_out = false;  // stopped by the deadline (stop is kCancelled then)
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
  double decode_step_seconds = 0;  // of decode_seconds, the forward passes that advanced it
};
// Generates for one call; errors are generation failures (the answerer
// escalates them). Called from the thread that calls Ask.
using GenerateFn = std::function<absl::StatusOr<Generation>(const GenerationCall& call)>;

// Adapts Generate over one sequence of a DecoderContext. Calls are
// serialized (the context serves one at a time); a deadline or the call's
// cancel flag stops the generation between tokens. The context must outlive
// the adapter. Thread-safe.
class DecoderGenerator {
 public:
  explicit DecoderGenerator(DecoderContext& ctx, int seq = 0) : ctx_(ctx), seq_(seq) {}
  DecoderGenerator(const DecoderGenerator&) = delete;
  DecoderGenerator& operator=(const DecoderGenerator&) = delete;

  // Errors are Generate's (empty or too long prompt, a Decode failure).
  absl::StatusOr<Generation> Run(const GenerationCall& call);
  // A GenerateFn calling Run on this adapter (which must outlive it).
  GenerateFn AsFunction() {
    return [this](const GenerationCall& call) { return Run(call); };
  }

 private:
  absl::Mutex mu_;
  DecoderContext& ctx_;  // used only under mu_
  const int seq_;
};

// Adapts a BatchScheduler (continuous batching: concurrent calls share the
// decoder's forward passes). Each call waits for its own result; the call's
// cancel flag and deadline are polled every few milliseconds and stop the
// request inside the scheduler. call.on_text runs on the scheduler thread
// (keep it short). The scheduler must outlive the adapter. Thread-safe.
class SchedulerGenerator {
 public:
  explicit SchedulerGenerator(BatchScheduler& scheduler) : scheduler_(scheduler) {}

  // Errors are the scheduler's (Generate's errors; Cancelled when it stops).
  absl::StatusOr<Generation> Run(const GenerationCall& call) const;
  GenerateFn AsFunction() const {
    return [this](const GenerationCall& call) { return Run(call); };
  }

 private:
  BatchScheduler& scheduler_;
};

struct Citation {
  int number = 0;  // [n] in the answer: passage n of the prompt
  int64_t document_id = 0;
  int64_t chunk_id = 0;
  std::string title;
  std::string source;
  std::string text;  // the whole chunk (even when the prompt carried a cut)
  double score = 0;
  std::optional<double> dense_score;
  std::optional<double> lexical_score;
};

enum class EscalationReason { kNone, kLowConfidence, kNoAnswer, kGenerationFailed, kGenerationTimedOut };
// "none", "low_confidence", "no_answer", "generation_failed", "generation_timed_out".
std::string_view EscalationReasonName(EscalationReason reason);

struct AnswerTimings {  // seconds
  double embed = 0, retrieve = 0, prompt = 0, prefill = 0, decode = 0, total = 0;
  // Of decode, the decode steps that advanced this answer (the rest it waited
  // while other requests' prompts were prefilled).
  double decode_steps = 0;
};

struct AnswerTokenCounts {
  int64_t prompt = 0;         // tokens of the whole prompt
  int64_t prompt_prefix = 0;  // of which the shared system-prompt prefix
  int64_t answer = 0;         // generated tokens
  int passages_retrieved = 0;
  int passages_in_prompt = 0;
};

struct Answer {
  AnswerMode mode = AnswerMode::kGenerative;  // the mode that produced it
  std::string answer;
  bool no_answer = false;          // the fixed "I don't know" answer
  std::vector<Citation> citations;  // the passages the answer cites, by number
  int dropped_citations = 0;        // cited numbers with no passage
  // The passages the prompt carried, passage n at [n - 1] (for the
  // escalation record and for clients that show the context).
  std::vector<Passage> passages;
  double confidence = 0;
  ConfidenceFeatures features;
  ConfidenceScore score;  // the confidence with its per-feature contributions
  bool escalate = false;
  EscalationReason reason = EscalationReason::kNone;
  std::string escalation_detail;  // human-readable why (the error for a failed generation)
  std::optional<StopReason> stop;  // unset when nothing was generated
  std::vector<std::string> warnings;  // degraded features (e.g. the encoder failed for groundedness)
  AnswerTimings timings;
  AnswerTokenCounts tokens;
};

struct AnswererOptions {
  int default_top_k = 5;
  int max_top_k = 50;
  size_t max_question_bytes = 4096;
  int default_max_tokens = 256;
  int max_max_tokens = 1024;
  double default_temperature = 0;
  double confidence_threshold = 0.5;  // below it an answer is escalated
  // The mode of requests that do not choose; an extractive-only answerer
  // (CreateExtractive) answers every request extractively.
  AnswerMode default_mode = AnswerMode::kGenerative;
  ExtractiveOptions extractive;
};

class Answerer {
 public:
  // `prompt` is copied (its tokenizer must outlive the answerer). `embed`
  // may be empty (semantic support is then 0). InvalidArgument for options
  // out of range or a missing retrieve/generate function.
  static absl::StatusOr<std::unique_ptr<Answerer>> Create(PromptBuilder prompt, RetrieveFn retrieve,
                                                          GenerateFn generate, ConfidenceModel model,
                                                          EmbedTextsFn embed, AnswererOptions options = {});
  // An answerer without a decoder: every answer is extractive (a request for
  // a generative one gets an extractive answer with a warning saying so).
  // Extractive answers are scored with model.extractive, which must be set
  // (InvalidArgument otherwise); other errors as Create.
  static absl::StatusOr<std::unique_ptr<Answerer>> CreateExtractive(RetrieveFn retrieve, ConfidenceModel model,
                                                                    EmbedTextsFn embed, AnswererOptions options = {});

  // Answers one request. InvalidArgument (with a message a client can act
  // on) for an empty or over-long question, invalid UTF-8, or top_k,
  // max_tokens, temperature or threshold out of range; Cancelled when
  // request.cancel was set; retrieval errors as they come. A failed or
  // timed-out generation is not an error: the Answer is escalated with the
  // reason. Thread-safe when the retrieve, generate and embed functions are.
  absl::StatusOr<Answer> Ask(const AnswerRequest& request) const;

  // The checks Ask starts with; OK when the request may be answered.
  absl::Status Validate(const AnswerRequest& request) const;

  const AnswererOptions& options() const { return options_; }
  // The prompt builder; null for an extractive-only answerer.
  const PromptBuilder* prompt() const { return prompt_ ? &*prompt_ : nullptr; }

 private:
  Answerer(std::optional<PromptBuilder> prompt, RetrieveFn retrieve, GenerateFn generate, ConfidenceModel model,
           EmbedTextsFn embed, AnswererOptions options)
      : prompt_(std::move(prompt)),
        retrieve_(std::move(retrieve)),
        generate_(std::move(generate)),
        model_(std::move(model)),
        embed_(std::move(embed)),
        options_(options) {}

  // Scores `answer` and decides escalation (everything but generation).
  void Finish(double threshold, Answer& answer) const;
  // The extractive answer from `a.passages` (set by Ask).
  absl::StatusOr<Answer> AnswerExtractively(const AnswerRequest& request, Answer a, double threshold,
                                            std::chrono::steady_clock::time_point start) const;

  const std::optional<PromptBuilder> prompt_;  // unset: extractive only
  const RetrieveFn retrieve_;
  const GenerateFn generate_;
  const ConfidenceModel model_;
  const EmbedTextsFn embed_;
  const AnswererOptions options_;
};

// OK when `text` is valid UTF-8; otherwise InvalidArgument naming `what` and
// the byte offset of the first invalid sequence. Pure.
absl::Status CheckUtf8(std::string_view text, std::string_view what);

}  // namespace tinyrag
