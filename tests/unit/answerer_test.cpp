// The answerer with a fake retriever and a scripted generator (citations,
// confidence, escalation reasons, validation, cancellation), and once end to
// end with the real stories260K decoder behind DecoderGenerator.
#include "service/answerer.h"

#include <filesystem>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/synthetic_vocab.h"
#include "model/vocab.h"

namespace tinyrag {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::filesystem::path kReal =
    std::filesystem::path(__FILE__).parent_path() / "../../../shared/fixtures/real";
const std::filesystem::path kRepo = std::filesystem::path(__FILE__).parent_path() / "../..";

std::unique_ptr<Tokenizer> ChatMlTokenizer() {
  ByteBpeLayout layout;
  layout.normal = 2000;
  layout.trailing = {{"<|endoftext|>"}, {"<|im_start|>"}, {"<|im_end|>"}};
  layout.total = 2003;
  SyntheticVocab sv = MakeByteBpeVocab(layout);
  VocabSpec spec;
  spec.kind = TokenizerKind::kByteLevelBpe;
  spec.pre = "qwen2";
  spec.tokens = sv.tokens;
  spec.merges = sv.merges;
  for (int32_t t : sv.token_types) spec.types.push_back(static_cast<TokenType>(t));
  spec.eos = 2002;
  spec.add_bos = false;
  auto vocab = Vocab::Create(std::move(spec));
  EXPECT_TRUE(vocab.ok()) << vocab.status();
  auto tok = Tokenizer::Create(*vocab);
  EXPECT_TRUE(tok.ok()) << tok.status();
  return std::move(*tok);
}

std::vector<Passage> Passages() {
  std::vector<Passage> ps(3);
  ps[0] = {11, 101, "France", "/kb/france.md", "Paris is the capital of France.", 0.032, 0.82, 9.5};
  ps[1] = {12, 102, "Italy", "/kb/italy.md", "Rome is the capital of Italy.", 0.02, 0.41, std::nullopt};
  ps[2] = {13, 103, "Tea", "/kb/tea.md", "Tea is brewed with hot water.", 0.01, std::nullopt, 1.5};
  return ps;
}

class AnswererTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tokenizer_ = ChatMlTokenizer();
    auto model = ConfidenceModel::Load((kRepo / "data/confidence_defaults.json").string());
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *model;
    passages_ = Passages();
  }

  std::unique_ptr<Answerer> Make(AnswererOptions options = {}) {
    auto prompt = PromptBuilder::Create(*tokenizer_, ChatFormat::kChatML, {.n_ctx = 2048});
    EXPECT_TRUE(prompt.ok());
    RetrieveFn retrieve = [this](const AnswerRequest& r, int top_k) -> absl::StatusOr<Retrieved> {
      ++retrieve_calls_;
      last_top_k_ = top_k;
      if (!retrieve_error_.ok()) return retrieve_error_;
      Retrieved out;
      out.passages = passages_;
      out.embed_seconds = 0.25;
      out.retrieve_seconds = 0.5;
      return out;
    };
    GenerateFn generate = [this](const GenerationCall& c) -> absl::StatusOr<Generation> {
      ++generate_calls_;
      last_call_ = c;
      last_prompt_.assign(c.prompt.begin(), c.prompt.end());
      if (!generate_error_.ok()) return generate_error_;
      Generation g = reply_;
      if (c.on_text) c.on_text(g.text);
      return g;
    };
    auto a = Answerer::Create(std::move(*prompt), retrieve, generate, model_, embed_, options);
    EXPECT_TRUE(a.ok()) << a.status();
    return std::move(*a);
  }

  void Reply(std::string text, std::vector<float> logprobs) {
    reply_.text = std::move(text);
    reply_.logprobs = std::move(logprobs);
    reply_.stop = StopReason::kEndOfGeneration;
    reply_.prefill_seconds = 0.125;
    reply_.decode_seconds = 0.375;
  }

  std::unique_ptr<Tokenizer> tokenizer_;
  ConfidenceModel model_;
  std::vector<Passage> passages_;
  EmbedTextsFn embed_;
  absl::Status retrieve_error_, generate_error_;
  Generation reply_;
  int retrieve_calls_ = 0, generate_calls_ = 0, last_top_k_ = 0;
  GenerationCall last_call_;
  std::vector<TokenId> last_prompt_;
};

TEST_F(AnswererTest, SupportedAnswerWithCitations) {
  auto answerer = Make();
  Reply("Paris is the capital of France [1].", std::vector<float>(8, -0.1f));
  AnswerRequest r;
  r.question = "What is the capital of France?";
  std::string streamed;
  r.on_text = [&](std::string_view s) { streamed += s; };
  auto a = answerer->Ask(r);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->answer, "Paris is the capital of France [1].");
  EXPECT_EQ(streamed, a->answer);
  ASSERT_EQ(a->citations.size(), 1u);
  const Citation& c = a->citations[0];
  EXPECT_EQ(c.number, 1);
  EXPECT_EQ(c.document_id, 11);
  EXPECT_EQ(c.chunk_id, 101);
  EXPECT_EQ(c.title, "France");
  EXPECT_EQ(c.source, "/kb/france.md");
  EXPECT_EQ(c.text, "Paris is the capital of France.");
  EXPECT_DOUBLE_EQ(c.score, 0.032);
  EXPECT_EQ(c.dense_score, 0.82);
  EXPECT_EQ(a->passages.size(), 3u);
  EXPECT_FALSE(a->no_answer);
  EXPECT_DOUBLE_EQ(a->features.best_fused, 0.032);
  EXPECT_DOUBLE_EQ(a->features.lexical_support, 1.0);
  EXPECT_NEAR(a->features.mean_logprob, -0.1, 1e-6);
  EXPECT_DOUBLE_EQ(a->confidence, a->score.confidence);
  EXPECT_DOUBLE_EQ(a->confidence, model_.Score(a->features).confidence);
  EXPECT_GT(a->confidence, 0.5);
  EXPECT_FALSE(a->escalate);
  EXPECT_EQ(a->reason, EscalationReason::kNone);
  EXPECT_EQ(a->stop, StopReason::kEndOfGeneration);
  EXPECT_EQ(a->timings.embed, 0.25);
  EXPECT_EQ(a->timings.retrieve, 0.5);
  EXPECT_EQ(a->timings.prefill, 0.125);
  EXPECT_EQ(a->timings.decode, 0.375);
  EXPECT_GE(a->timings.total, a->timings.prompt);
  EXPECT_EQ(a->tokens.answer, 8);
  EXPECT_EQ(a->tokens.passages_retrieved, 3);
  EXPECT_EQ(a->tokens.passages_in_prompt, 3);
  EXPECT_EQ(a->tokens.prompt, static_cast<int64_t>(last_prompt_.size()));
  // The generator sees the shared prefix and the defaults.
  EXPECT_EQ(last_call_.prefix_tokens, static_cast<int64_t>(answerer->prompt()->prefix_tokens().size()));
  EXPECT_EQ(a->tokens.prompt_prefix, last_call_.prefix_tokens);
  EXPECT_TRUE(std::equal(answerer->prompt()->prefix_tokens().begin(), answerer->prompt()->prefix_tokens().end(),
                         last_prompt_.begin()));
  EXPECT_EQ(last_call_.max_tokens, 256);
  EXPECT_EQ(last_call_.temperature, 0);
  EXPECT_EQ(last_top_k_, 5);
  EXPECT_THAT(tokenizer_->Decode(last_prompt_, {.skip_special = false}), HasSubstr("[3] Tea — Tea is brewed"));
}

TEST_F(AnswererTest, EncoderSimilarityFeedsSemanticSupportAndItsFailureIsAWarning) {
  embed_ = [](std::span<const std::string> texts) -> absl::StatusOr<std::vector<std::vector<float>>> {
    std::vector<std::vector<float>> v;
    for (const std::string& t : texts) v.push_back({t.find("Paris") != std::string::npos ? 1.0f : 0.0f, 1.0f});
    return v;
  };
  Reply("Paris is the capital [1, 2].", {-0.2f});
  AnswerRequest r{.question = "Capital?"};
  auto a = Make()->Ask(r);
  ASSERT_TRUE(a.ok());
  EXPECT_NEAR(a->features.semantic_support, 1.0, 1e-9);
  EXPECT_THAT(a->warnings, ::testing::IsEmpty());
  embed_ = [](std::span<const std::string>) -> absl::StatusOr<std::vector<std::vector<float>>> {
    return absl::UnavailableError("encoder down");
  };
  a = Make()->Ask(r);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->features.semantic_support, 0);
  ASSERT_EQ(a->warnings.size(), 1u);
  EXPECT_THAT(a->warnings[0], HasSubstr("encoder down"));
}

TEST_F(AnswererTest, RangesAndOutOfRangeCitations) {
  Reply("Paris and Rome are capitals [1-2] [9].", {-0.3f, -0.4f});
  auto a = Make()->Ask({.question = "Capitals?"});
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->citations.size(), 2u);
  EXPECT_EQ(a->citations[0].document_id, 11);
  EXPECT_EQ(a->citations[1].document_id, 12);
  EXPECT_EQ(a->dropped_citations, 1);
}

TEST_F(AnswererTest, NoAnswerIsEscalated) {
  Reply("I don’t know based on the provided passages.", {-0.05f, -0.05f});
  auto a = Make()->Ask({.question = "Who won the 1950 World Cup?"});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->no_answer);
  EXPECT_EQ(a->features.no_answer, 1);
  EXPECT_TRUE(a->escalate);
  EXPECT_EQ(a->reason, EscalationReason::kNoAnswer);
  EXPECT_TRUE(a->citations.empty());
  EXPECT_LT(a->confidence, 0.1);
}

TEST_F(AnswererTest, LowConfidenceAgainstTheRequestThreshold) {
  Reply("Paris is the capital of France [1].", std::vector<float>(8, -0.1f));
  AnswerRequest r{.question = "Capital of France?"};
  r.confidence_threshold = 0.999;
  auto a = Make()->Ask(r);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->escalate);
  EXPECT_EQ(a->reason, EscalationReason::kLowConfidence);
  EXPECT_THAT(a->escalation_detail, HasSubstr("below the threshold 0.999"));
  r.confidence_threshold = 0.0;
  a = Make()->Ask(r);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->escalate);
}

TEST_F(AnswererTest, FailedEmptyAndTimedOutGenerationsAreEscalated) {
  generate_error_ = absl::OutOfRangeError("context length 2048 exceeded");
  auto a = Make()->Ask({.question = "Q?"});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->escalate);
  EXPECT_EQ(a->reason, EscalationReason::kGenerationFailed);
  EXPECT_THAT(a->escalation_detail, HasSubstr("context length 2048 exceeded"));
  EXPECT_FALSE(a->stop.has_value());

  generate_error_ = absl::OkStatus();
  Reply("  ", {-0.1f});
  a = Make()->Ask({.question = "Q?"});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->reason, EscalationReason::kGenerationFailed);
  EXPECT_THAT(a->escalation_detail, HasSubstr("no text"));

  Reply("Paris is the capital of France [1].", {-0.1f});
  reply_.stop = StopReason::kCancelled;
  reply_.timed_out = true;
  a = Make()->Ask({.question = "Q?"});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->escalate);
  EXPECT_EQ(a->reason, EscalationReason::kGenerationTimedOut);
  EXPECT_EQ(a->answer, "Paris is the capital of France [1].");  // the draft is kept for the human
}

TEST_F(AnswererTest, NoPassagesGivesTheRefusalWithoutGenerating) {
  passages_.clear();
  std::string streamed;
  AnswerRequest r{.question = "Anything?"};
  r.on_text = [&](std::string_view s) { streamed += s; };
  auto a = Make()->Ask(r);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(generate_calls_, 0);
  EXPECT_EQ(a->answer, kNoAnswerSentence);
  EXPECT_EQ(streamed, kNoAnswerSentence);
  EXPECT_TRUE(a->escalate);
  EXPECT_EQ(a->reason, EscalationReason::kNoAnswer);
  EXPECT_THAT(a->escalation_detail, HasSubstr("no passages"));
}

TEST_F(AnswererTest, TopKAndOptionsReachTheCallees) {
  passages_.resize(1);
  Reply("Paris [1].", {-0.1f});
  AnswerRequest r{.question = "Capital?"};
  r.top_k = 7;
  r.max_tokens = 32;
  r.temperature = 0.7;
  r.seed = 99;
  auto a = Make()->Ask(r);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(last_top_k_, 7);
  EXPECT_EQ(last_call_.max_tokens, 32);
  EXPECT_DOUBLE_EQ(last_call_.temperature, 0.7);
  EXPECT_EQ(last_call_.seed, 99u);
}

TEST_F(AnswererTest, InvalidRequestsNeverReachTheRetriever) {
  auto answerer = Make({.max_top_k = 50, .max_question_bytes = 1000});
  auto message = [&](AnswerRequest r) {
    auto a = answerer->Ask(r);
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << r.question.substr(0, 20);
    return std::string(a.status().message());
  };
  EXPECT_EQ(message({.question = ""}), "question is empty");
  EXPECT_EQ(message({.question = " \n\t "}), "question is empty");
  EXPECT_THAT(message({.question = std::string(1 << 20, 'a')}), HasSubstr("question is 1048576 bytes; the limit is 1000"));
  EXPECT_THAT(message({.question = "caf\xC3"}), HasSubstr("question is not valid UTF-8 (bad byte sequence at offset 3)"));
  EXPECT_THAT(message({.question = "\xED\xA0\x80 surrogate"}), HasSubstr("not valid UTF-8"));
  EXPECT_THAT(message({.question = "q", .collection = "\xFF"}), HasSubstr("collection is not valid UTF-8"));
  EXPECT_THAT(message({.question = "q", .top_k = 0}), HasSubstr("top_k 0 is outside [1, 50]"));
  EXPECT_THAT(message({.question = "q", .top_k = 100000}), HasSubstr("top_k 100000"));
  EXPECT_THAT(message({.question = "q", .max_tokens = 0}), HasSubstr("max_tokens 0"));
  EXPECT_THAT(message({.question = "q", .temperature = -1}), HasSubstr("temperature -1"));
  EXPECT_THAT(message({.question = "q", .temperature = std::nan("")}), HasSubstr("temperature"));
  EXPECT_THAT(message({.question = "q", .confidence_threshold = 1.5}), HasSubstr("confidence_threshold 1.5"));
  EXPECT_EQ(retrieve_calls_, 0);
  EXPECT_TRUE(answerer->Ask({.question = "Ünïcode ✓ question?"}).ok());
}

TEST_F(AnswererTest, ErrorsAndCancellation) {
  retrieve_error_ = absl::NotFoundError("collection \"x\" not found");
  auto a = Make()->Ask({.question = "Q?"});
  EXPECT_EQ(a.status().code(), absl::StatusCode::kNotFound);
  retrieve_error_ = absl::OkStatus();
  std::atomic<bool> cancel{true};
  AnswerRequest r{.question = "Q?"};
  r.cancel = &cancel;
  a = Make()->Ask(r);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(generate_calls_, 0);

  auto prompt = PromptBuilder::Create(*tokenizer_, ChatFormat::kChatML, {.n_ctx = 100});
  ASSERT_TRUE(prompt.ok());
  auto bad = Answerer::Create(*prompt, nullptr, nullptr, model_, nullptr);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  auto fine_fn = [](const AnswerRequest&, int) -> absl::StatusOr<Retrieved> { return Retrieved{}; };
  auto gen_fn = [](const GenerationCall&) -> absl::StatusOr<Generation> { return Generation{}; };
  // Default max_tokens 1024 does not fit a context of 100.
  EXPECT_EQ(Answerer::Create(*prompt, fine_fn, gen_fn, model_, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A question that fits the byte limit but not the context is the client's problem.
  auto small = Answerer::Create(*prompt, [this](const AnswerRequest&, int) -> absl::StatusOr<Retrieved> {
    return Retrieved{passages_};
  }, gen_fn, model_, nullptr, {.default_max_tokens = 16, .max_max_tokens = 16});
  ASSERT_TRUE(small.ok()) << small.status();
  auto too_long = (*small)->Ask({.question = std::string(2000, 'x')});
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_long.status().message(), HasSubstr("question too long for the model"));
}

// The adapter over the real decoder: stories260K (a story model without a
// chat template, so its answers are nonsense) produces text, log-probs and
// timings through the whole pipeline; greedy is repeatable; a past deadline
// times out.
TEST(AnswererRealDecoderTest, DecoderGeneratorEndToEnd) {
  if (!std::filesystem::exists(kReal / "stories260K.gguf")) GTEST_SKIP() << "shared fixtures absent: " << kReal;
  auto model = DecoderModel::Load((kReal / "stories260K.gguf").string());
  ASSERT_TRUE(model.ok()) << model.status();
  const int64_t n_ctx = std::min<int64_t>(512, (*model)->config().n_ctx_train);
  auto ctx = DecoderContext::Create(**model, {.n_ctx = n_ctx, .max_batch = 64}, nullptr);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  DecoderGenerator generator(**ctx);
  auto prompt = PromptBuilder::Create((*model)->tokenizer(), ChatFormat::kPlain,
                                      {.n_ctx = n_ctx, .system_prompt = "Answer from the passages."});
  ASSERT_TRUE(prompt.ok()) << prompt.status();
  auto confidence = ConfidenceModel::Load((kRepo / "data/confidence_defaults.json").string());
  ASSERT_TRUE(confidence.ok());
  RetrieveFn retrieve = [](const AnswerRequest&, int) -> absl::StatusOr<Retrieved> {
    Retrieved r;
    r.passages = {{1, 1, "Lily", "story.txt", "Lily was a little girl. She liked to play in the park.", 0.03,
                   0.7, 5.0}};
    return r;
  };
  auto answerer = Answerer::Create(*prompt, retrieve, generator.AsFunction(), *confidence, nullptr,
                                   {.default_max_tokens = 24, .max_max_tokens = 64});
  ASSERT_TRUE(answerer.ok()) << answerer.status();

  std::string streamed;
  AnswerRequest r{.question = "Where did Lily play?"};
  r.on_text = [&](std::string_view s) { streamed += s; };
  auto a = (*answerer)->Ask(r);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->answer.empty());
  EXPECT_EQ(streamed, a->answer);
  EXPECT_GT(a->tokens.answer, 0);
  EXPECT_LE(a->tokens.answer, 24);
  EXPECT_LT(a->features.mean_logprob, 0);
  EXPECT_LE(a->features.min_logprob, a->features.mean_logprob);
  EXPECT_GT(a->timings.prefill, 0);
  EXPECT_GE(a->confidence, 0);
  EXPECT_LE(a->confidence, 1);
  EXPECT_TRUE(a->stop.has_value());
  EXPECT_EQ(a->tokens.prompt_prefix, static_cast<int64_t>((*prompt).prefix_tokens().size()));

  auto again = (*answerer)->Ask({.question = "Where did Lily play?"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->answer, a->answer);

  AnswerRequest late{.question = "Where did Lily play?"};
  late.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  auto t = (*answerer)->Ask(late);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->escalate);
  EXPECT_EQ(t->reason, EscalationReason::kGenerationTimedOut);

  // A deadline reached mid-generation stops it early: the stream callback
  // slows each piece to 2 ms, so the context (about 120 free positions)
  // would take far longer than the 20 ms deadline to fill.
  GenerationCall call;
  const std::vector<TokenId> ids = (*model)->tokenizer().Encode("Once upon a time", {.add_special = true});
  call.prompt = ids;
  call.max_tokens = static_cast<int>(n_ctx);
  call.on_text = [](std::string_view) { std::this_thread::sleep_for(std::chrono::milliseconds(2)); };
  call.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  auto g = generator.Run(call);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->timed_out);
  EXPECT_EQ(g->stop, StopReason::kCancelled);
  EXPECT_GT(g->logprobs.size(), 0u);
  EXPECT_LT(g->logprobs.size(), static_cast<size_t>(n_ctx) - ids.size() - 10);
}


// The scheduler adapter: two concurrent questions share the forward passes
// and each gets the answer the single-sequence adapter gives; a deadline
// stops a request inside the scheduler.
TEST(AnswererRealDecoderTest, SchedulerGeneratorMatchesDecoderGenerator) {
  if (!std::filesystem::exists(kReal / "stories260K.gguf")) GTEST_SKIP() << "shared fixtures absent: " << kReal;
  auto model = DecoderModel::Load((kReal / "stories260K.gguf").string());
  ASSERT_TRUE(model.ok()) << model.status();
  const int64_t n_ctx = std::min<int64_t>(512, (*model)->config().n_ctx_train);
  auto single_ctx = DecoderContext::Create(**model, {.n_ctx = n_ctx, .max_batch = 64}, nullptr);
  auto shared_ctx = DecoderContext::Create(**model, {.n_ctx = n_ctx, .n_seq = 2, .max_batch = 64}, nullptr);
  ASSERT_TRUE(single_ctx.ok() && shared_ctx.ok());
  auto scheduler = BatchScheduler::Start(**shared_ctx);
  ASSERT_TRUE(scheduler.ok()) << scheduler.status();
  DecoderGenerator single(**single_ctx);
  SchedulerGenerator batched(**scheduler);
  auto prompt = PromptBuilder::Create((*model)->tokenizer(), ChatFormat::kPlain,
                                      {.n_ctx = n_ctx, .system_prompt = "Answer from the passages."});
  ASSERT_TRUE(prompt.ok());
  RetrieveFn retrieve = [](const AnswerRequest& r, int) -> absl::StatusOr<Retrieved> {
    Retrieved out;
    out.passages = {{1, 1, "Story", "s.txt", r.question.find("Tom") != std::string::npos
                                                  ? "Tom had a red ball. He threw it high."
                                                  : "Lily was a little girl. She liked the park.",
                     0.03, 0.7, 5.0}};
    return out;
  };
  auto confidence = ConfidenceModel::Load((kRepo / "data/confidence_defaults.json").string());
  ASSERT_TRUE(confidence.ok());
  const AnswererOptions options{.default_max_tokens = 20, .max_max_tokens = 64};
  auto one = Answerer::Create(*prompt, retrieve, single.AsFunction(), *confidence, nullptr, options);
  auto many = Answerer::Create(*prompt, retrieve, batched.AsFunction(), *confidence, nullptr, options);
  ASSERT_TRUE(one.ok() && many.ok());

  const std::vector<std::string> questions = {"What did Tom throw?", "Where did Lily go?"};
  std::vector<absl::StatusOr<Answer>> results(2, absl::UnknownError("not run"));
  {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] { results[i] = (*many)->Ask({.question = questions[i]}); });
    }
    for (std::thread& t : threads) t.join();
  }
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    auto expected = (*one)->Ask({.question = questions[i]});
    ASSERT_TRUE(expected.ok());
    EXPECT_EQ(results[i]->answer, expected->answer);
    EXPECT_EQ(results[i]->tokens.answer, expected->tokens.answer);
    EXPECT_NEAR(results[i]->features.mean_logprob, expected->features.mean_logprob, 1e-4);
  }

  AnswerRequest slow{.question = questions[0]};
  slow.max_tokens = 40;
  slow.on_text = [](std::string_view) { std::this_thread::sleep_for(std::chrono::milliseconds(3)); };
  slow.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  auto t = (*many)->Ask(slow);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->reason, EscalationReason::kGenerationTimedOut);
  EXPECT_LT(t->tokens.answer, 40);
}

}  // namespace
}  // namespace tinyrag
