#include "service/answerer.h"

#include <cmath>
#include <future>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "unicode/utf8.h"

namespace tinyrag {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return false;
  }
  return true;
}

// Sets `stop` when the deadline passes or the caller's flag is set, polling
// from its own thread (Generate checks one flag between tokens).
class StopWatcher {
 public:
  StopWatcher(const std::atomic<bool>* cancel, std::optional<Deadline> deadline)
      : cancel_(cancel), deadline_(deadline), thread_([this] { Watch(); }) {}
  ~StopWatcher() {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
    }
    thread_.join();
  }
  const std::atomic<bool>* flag() const { return &stop_; }
  bool timed_out() const { return timed_out_.load(); }

 private:
  void Watch() {
    absl::MutexLock lock(&mu_);
    while (!done_) {
      if (cancel_ != nullptr && cancel_->load()) {
        stop_ = true;
        return;
      }
      if (deadline_ && std::chrono::steady_clock::now() >= *deadline_) {
        timed_out_ = true;
        stop_ = true;
        return;
      }
      mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Milliseconds(2));
    }
  }

  const std::atomic<bool>* const cancel_;
  const std::optional<Deadline> deadline_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> timed_out_{false};
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after every member it reads exists
};

// GenerateOptions for a call whose stop flag is `stop`.
GenerateOptions OptionsFor(const GenerationCall& call, const std::atomic<bool>* stop) {
  GenerateOptions options;
  options.max_tokens = call.max_tokens;
  options.sampler.temperature = static_cast<float>(call.temperature);
  options.sampler.seed = call.seed;
  options.on_text = call.on_text;
  options.cancel = stop;
  return options;
}

Generation FromResult(GenerateResult&& r, bool timed_out) {
  Generation g;
  g.text = std::move(r.text);
  g.logprobs.reserve(r.tokens.size());
  for (const GeneratedToken& t : r.tokens) g.logprobs.push_back(t.logprob);
  g.stop = r.stop;
  g.timed_out = timed_out && r.stop == StopReason::kCancelled;
  g.prompt_tokens = r.prompt_tokens;
  g.prefill_seconds = r.prefill_seconds;
  g.decode_seconds = r.decode_seconds;
  g.decode_step_seconds = r.decode_step_seconds;
  return g;
}

}  // namespace

absl::Status CheckUtf8(std::string_view text, std::string_view what) {
  const int32_t n = static_cast<int32_t>(text.size());
  for (int32_t i = 0; i < n;) {
    const int32_t at = i;
    UChar32 c;
    U8_NEXT(text.data(), i, n, c);
    if (c < 0) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(what), " is not valid UTF-8 (bad byte sequence at offset ", at, ")"));
    }
  }
  return absl::OkStatus();
}

RetrieveFn RetrieveWith(const Embedder& embedder, SearchFn search) {
  return [&embedder, search = std::move(search)](const AnswerRequest& r, int top_k) -> absl::StatusOr<Retrieved> {
    Retrieved out;
    auto t = std::chrono::steady_clock::now();
    auto vector = embedder.Embed(std::vector<std::string>{r.question});
    if (!vector.ok()) return vector.status();
    out.embed_seconds = SecondsSince(t);
    t = std::chrono::steady_clock::now();
    auto results = search(r.collection, {.query = r.question,
                           .k = top_k,
                           .mode = RetrievalMode::kHybrid,
                           .metadata = r.filters,
                           .query_vector = std::move(*vector)});
    if (!results.ok()) return results.status();
    out.retrieve_seconds = SecondsSince(t);
    for (RetrievalResult& x : *results) {
      out.passages.push_back({x.document_id, x.chunk_id, std::move(x.title), std::move(x.source), std::move(x.text),
                              x.score, x.dense_score, x.lexical_score});
    }
    return out;
  };
}

EmbedTextsFn EmbedTextsWith(const Embedder& embedder) {
  return [&embedder](std::span<const std::string> texts) -> absl::StatusOr<std::vector<std::vector<float>>> {
    auto flat = embedder.Embed(texts);
    if (!flat.ok()) return flat.status();
    std::vector<std::vector<float>> rows;
    const size_t dim = static_cast<size_t>(embedder.dim());
    for (size_t i = 0; i < texts.size(); ++i) rows.emplace_back(flat->begin() + i * dim, flat->begin() + (i + 1) * dim);
    return rows;
  };
}

std::string_view AnswerModeName(AnswerMode mode) {
  return mode == AnswerMode::kExtractive ? "extractive" : "generative";
}

std::string_view EscalationReasonName(EscalationReason reason) {
  switch (reason) {
    case EscalationReason::kNone: return "none";
    case EscalationReason::kLowConfidence: return "low_confidence";
    case EscalationReason::kNoAnswer: return "no_answer";
    case EscalationReason::kGenerationFailed: return "generation_failed";
    case EscalationReason::kGenerationTimedOut: return "generation_timed_out";
  }
  return "none";
}

absl::StatusOr<Generation> DecoderGenerator::Run(const GenerationCall& call) {
  if (call.deadline && std::chrono::steady_clock::now() >= *call.deadline) {
    Generation g;
    g.stop = StopReason::kCancelled;
    g.timed_out = true;
    return g;
  }
  absl::MutexLock lock(&mu_);
  std::optional<StopWatcher> watcher;
  if (call.deadline) watcher.emplace(call.cancel, call.deadline);
  GenerateOptions options = OptionsFor(call, watcher ? watcher->flag() : call.cancel);
  options.shared_prefix_tokens = call.prefix_tokens;  // the system prompt's K/V come from ctx_'s prefix cache
  absl::StatusOr<GenerateResult> r = Generate(ctx_, seq_, call.prompt, options);
  const bool timed_out = watcher && watcher->timed_out();
  watcher.reset();
  if (!r.ok()) return r.status();
  return FromResult(std::move(*r), timed_out);
}

absl::StatusOr<Generation> SchedulerGenerator::Run(const GenerationCall& call) const {
  if (call.deadline && std::chrono::steady_clock::now() >= *call.deadline) {
    Generation g;
    g.stop = StopReason::kCancelled;
    g.timed_out = true;
    return g;
  }
  std::atomic<bool> stop{false};
  GenerateOptions options = OptionsFor(call, &stop);
  options.shared_prefix_tokens = call.prefix_tokens;  // the system prompt's K/V come from the scheduler's prefix cache
  std::future<absl::StatusOr<GenerateResult>> result =
      scheduler_.Submit(std::vector<TokenId>(call.prompt.begin(), call.prompt.end()), std::move(options));
  // `stop` lives on this stack: wait for the result whatever happens.
  bool timed_out = false;
  while (result.wait_for(std::chrono::milliseconds(2)) != std::future_status::ready) {
    if (stop.load()) continue;
    if (call.cancel != nullptr && call.cancel->load()) stop = true;
    if (call.deadline && std::chrono::steady_clock::now() >= *call.deadline) {
      timed_out = true;
      stop = true;
    }
  }
  absl::StatusOr<GenerateResult> r = result.get();
  if (!r.ok()) return r.status();
  return FromResult(std::move(*r), timed_out);
}

absl::StatusOr<std::unique_ptr<Answerer>> Answerer::Create(PromptBuilder prompt, RetrieveFn retrieve,
                                                           GenerateFn generate, ConfidenceModel model,
                                                           EmbedTextsFn embed, AnswererOptions options) {
  if (!retrieve || !generate) return absl::InvalidArgumentError("answerer: a retrieve and a generate function are required");
  const AnswererOptions& o = options;
  if (o.max_top_k < 1 || o.default_top_k < 1 || o.default_top_k > o.max_top_k) {
    return absl::InvalidArgumentError("answerer: need 1 <= default_top_k <= max_top_k");
  }
  if (o.max_max_tokens < 1 || o.default_max_tokens < 1 || o.default_max_tokens > o.max_max_tokens ||
      o.max_max_tokens >= prompt.n_ctx()) {
    return absl::InvalidArgumentError(absl::StrCat("answerer: need 1 <= default_max_tokens <= max_max_tokens < n_ctx (",
                                                   prompt.n_ctx(), ")"));
  }
  if (o.default_mode == AnswerMode::kExtractive && !model.extractive) {
    return absl::InvalidArgumentError("answerer: extractive answers need the confidence model's extractive weights");
  }
  if (o.max_question_bytes < 1) return absl::InvalidArgumentError("answerer: max_question_bytes must be >= 1");
  if (!(o.default_temperature >= 0 && o.default_temperature <= 2)) {
    return absl::InvalidArgumentError("answerer: default_temperature must be in [0, 2]");
  }
  if (!(o.confidence_threshold >= 0 && o.confidence_threshold <= 1)) {
    return absl::InvalidArgumentError("answerer: confidence_threshold must be in [0, 1]");
  }
  return std::unique_ptr<Answerer>(new Answerer(std::move(prompt), std::move(retrieve), std::move(generate),
                                                std::move(model), std::move(embed), options));
}

absl::StatusOr<std::unique_ptr<Answerer>> Answerer::CreateExtractive(RetrieveFn retrieve, ConfidenceModel model,
                                                                     EmbedTextsFn embed, AnswererOptions options) {
  if (!retrieve) return absl::InvalidArgumentError("answerer: a retrieve function is required");
  if (!model.extractive) {
    return absl::InvalidArgumentError("answerer: extractive answers need the confidence model's extractive weights");
  }
  const AnswererOptions& o = options;
  if (o.max_top_k < 1 || o.default_top_k < 1 || o.default_top_k > o.max_top_k) {
    return absl::InvalidArgumentError("answerer: need 1 <= default_top_k <= max_top_k");
  }
  if (o.max_question_bytes < 1) return absl::InvalidArgumentError("answerer: max_question_bytes must be >= 1");
  if (!(o.confidence_threshold >= 0 && o.confidence_threshold <= 1)) {
    return absl::InvalidArgumentError("answerer: confidence_threshold must be in [0, 1]");
  }
  options.default_mode = AnswerMode::kExtractive;
  return std::unique_ptr<Answerer>(
      new Answerer(std::nullopt, std::move(retrieve), nullptr, std::move(model), std::move(embed), options));
}

absl::Status Answerer::Validate(const AnswerRequest& r) const {
  if (r.question.size() > options_.max_question_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("question is ", r.question.size(), " bytes; the limit is ",
                                                   options_.max_question_bytes));
  }
  if (absl::Status s = CheckUtf8(r.question, "question"); !s.ok()) return s;
  if (IsBlank(r.question)) return absl::InvalidArgumentError("question is empty");
  if (absl::Status s = CheckUtf8(r.collection, "collection"); !s.ok()) return s;
  if (r.top_k && (*r.top_k < 1 || *r.top_k > options_.max_top_k)) {
    return absl::InvalidArgumentError(absl::StrCat("top_k ", *r.top_k, " is outside [1, ", options_.max_top_k, "]"));
  }
  if (r.max_tokens && (*r.max_tokens < 1 || *r.max_tokens > options_.max_max_tokens)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_tokens ", *r.max_tokens, " is outside [1, ", options_.max_max_tokens, "]"));
  }
  if (r.temperature && !(*r.temperature >= 0 && *r.temperature <= 2)) {
    return absl::InvalidArgumentError(absl::StrCat("temperature ", *r.temperature, " is outside [0, 2]"));
  }
  if (r.confidence_threshold && !(*r.confidence_threshold >= 0 && *r.confidence_threshold <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("confidence_threshold ", *r.confidence_threshold, " is outside [0, 1]"));
  }
  return absl::OkStatus();
}

void Answerer::Finish(double threshold, Answer& a) const {
  a.score = a.mode == AnswerMode::kExtractive && model_.extractive ? model_.extractive->Score(a.features)
                                                                   : model_.Score(a.features);
  a.confidence = a.score.confidence;
  // The most specific reason wins: a broken generation, then a refusal, then doubt.
  if (a.reason == EscalationReason::kGenerationTimedOut || a.reason == EscalationReason::kGenerationFailed) {
    a.escalate = true;
  } else if (a.no_answer) {
    a.escalate = true;
    a.reason = EscalationReason::kNoAnswer;
    if (a.escalation_detail.empty()) {
      a.escalation_detail = a.mode == AnswerMode::kExtractive
                                ? "no passage sentence supports an answer to the question"
                                : "the model answered that the passages do not contain the answer";
    }
  } else if (a.confidence < threshold) {
    a.escalate = true;
    a.reason = EscalationReason::kLowConfidence;
    a.escalation_detail = absl::StrCat("confidence ", a.confidence, " is below the threshold ", threshold);
  }
}

absl::StatusOr<Answer> Answerer::Ask(const AnswerRequest& request) const {
  const auto start = std::chrono::steady_clock::now();
  if (absl::Status s = Validate(request); !s.ok()) return s;
  auto cancelled = [&] { return request.cancel != nullptr && request.cancel->load(); };
  const int top_k = request.top_k.value_or(options_.default_top_k);
  const int max_tokens = request.max_tokens.value_or(options_.default_max_tokens);
  const double threshold = request.confidence_threshold.value_or(options_.confidence_threshold);

  absl::StatusOr<Retrieved> retrieved = retrieve_(request, top_k);
  if (!retrieved.ok()) return retrieved.status();
  if (cancelled()) return absl::CancelledError("the request was cancelled");
  Answer a;
  a.timings.embed = retrieved->embed_seconds;
  a.timings.retrieve = retrieved->retrieve_seconds;
  // A retriever may return more than asked; only the best top_k count.
  if (static_cast<int>(retrieved->passages.size()) > top_k) retrieved->passages.resize(top_k);
  a.tokens.passages_retrieved = static_cast<int>(retrieved->passages.size());
  a.mode = request.mode.value_or(options_.default_mode);
  if (!prompt_) {
    if (a.mode == AnswerMode::kGenerative) {
      a.warnings.push_back("no decoder is configured: the answer is extractive");
    }
    a.mode = AnswerMode::kExtractive;
  }
  if (a.mode == AnswerMode::kExtractive) {
    a.passages = std::move(retrieved->passages);
    return AnswerExtractively(request, std::move(a), threshold, start);
  }

  if (retrieved->passages.empty()) {
    // Nothing to answer from: the refusal without spending a generation.
    a.answer = std::string(kNoAnswerSentence);
    a.no_answer = true;
    a.escalation_detail = "no passages were retrieved for the question";
    if (request.on_text) request.on_text(a.answer);
    SetGenerationFeatures({}, true, a.features);
    Finish(threshold, a);
    a.timings.total = SecondsSince(start);
    return a;
  }

  const auto prompt_start = std::chrono::steady_clock::now();
  absl::StatusOr<BuiltPrompt> prompt = prompt_->Build(request.question, retrieved->passages, max_tokens);
  if (!prompt.ok()) {
    if (prompt.status().code() == absl::StatusCode::kOutOfRange) {
      return absl::InvalidArgumentError(absl::StrCat("question too long for the model: ", prompt.status().message()));
    }
    return prompt.status();
  }
  a.timings.prompt = SecondsSince(prompt_start);
  a.passages.assign(retrieved->passages.begin(), retrieved->passages.begin() + prompt->passages_used);
  a.tokens.passages_in_prompt = prompt->passages_used;
  a.tokens.prompt = static_cast<int64_t>(prompt->tokens.size());
  a.tokens.prompt_prefix = prompt->prefix_tokens;
  SetRetrievalFeatures(a.passages, a.features);

  GenerationCall call;
  call.prompt = prompt->tokens;
  call.prefix_tokens = prompt->prefix_tokens;
  call.max_tokens = max_tokens;
  call.temperature = request.temperature.value_or(options_.default_temperature);
  call.seed = request.seed;
  call.on_text = request.on_text;
  call.cancel = request.cancel;
  call.deadline = request.deadline;
  absl::StatusOr<Generation> g = generate_(call);
  if (cancelled()) return absl::CancelledError("the request was cancelled");
  if (!g.ok()) {
    a.reason = EscalationReason::kGenerationFailed;
    a.escalation_detail = absl::StrCat("generation failed: ", g.status().ToString());
    Finish(threshold, a);
    a.timings.total = SecondsSince(start);
    return a;
  }
  a.stop = g->stop;
  a.timings.prefill = g->prefill_seconds;
  a.timings.decode = g->decode_seconds;
  a.timings.decode_steps = g->decode_step_seconds;
  a.tokens.answer = static_cast<int64_t>(g->logprobs.size());
  a.answer = std::move(g->text);
  if (g->timed_out) {
    a.reason = EscalationReason::kGenerationTimedOut;
    a.escalation_detail = absl::StrCat("generation stopped at the deadline after ", a.tokens.answer, " tokens");
  } else if (IsBlank(a.answer)) {
    a.reason = EscalationReason::kGenerationFailed;
    a.escalation_detail = absl::StrCat("the model generated no text (stop: ", std::string(StopReasonName(g->stop)), ")");
  }

  const ParsedCitations citations = ParseCitations(a.answer, prompt->passages_used);
  a.dropped_citations = citations.out_of_range;
  for (int n : citations.cited) {
    // The citation shows the whole chunk, also when the prompt carried a cut.
    const Passage& p = retrieved->passages[n - 1];
    a.citations.push_back(Citation{n, p.document_id, p.chunk_id, p.title, p.source, p.text, p.score,
                                   p.dense_score, p.lexical_score});
  }
  a.no_answer = IsNoAnswer(a.answer);
  SetGenerationFeatures(g->logprobs, a.no_answer, a.features);
  if (absl::Status s = SetGroundednessFeatures(a.answer, citations, a.passages, embed_, a.features); !s.ok()) {
    a.features.semantic_support = 0;
    a.warnings.push_back(absl::StrCat("semantic support unavailable: ", s.ToString()));
  }
  Finish(threshold, a);
  a.timings.total = SecondsSince(start);
  return a;
}

}  // namespace tinyrag

namespace tinyrag {

absl::StatusOr<Answer> Answerer::AnswerExtractively(const AnswerRequest& request, Answer a, double threshold,
                                                    std::chrono::steady_clock::time_point start) const {
  if (!model_.extractive) {
    return absl::FailedPreconditionError("extractive answers need the confidence model's extractive weights");
  }
  a.tokens.passages_in_prompt = static_cast<int>(a.passages.size());
  const auto pick_start = std::chrono::steady_clock::now();
  absl::StatusOr<ExtractiveAnswer> x = ExtractAnswer(request.question, a.passages, embed_, options_.extractive);
  if (!x.ok() && embed_) {
    // The encoder failing costs the semantic part of the support, not the answer.
    a.warnings.push_back(absl::StrCat("semantic support unavailable: ", x.status().ToString()));
    x = ExtractAnswer(request.question, a.passages, nullptr, options_.extractive);
  }
  if (!x.ok()) return x.status();
  a.timings.decode = SecondsSince(pick_start);
  a.answer = x->answer;
  a.no_answer = x->no_answer;
  for (int n : x->cited) {
    const Passage& p = a.passages[n - 1];
    a.citations.push_back(Citation{n, p.document_id, p.chunk_id, p.title, p.source, p.text, p.score,
                                   p.dense_score, p.lexical_score});
  }
  if (request.on_text) request.on_text(a.answer);
  a.features = ExtractiveConfidenceFeatures(a.passages, *x);
  Finish(threshold, a);
  a.timings.total = SecondsSince(start);
  return a;
}

}  // namespace tinyrag
