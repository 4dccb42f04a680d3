// BatchScheduler: requests submitted from several threads, more than there are
// slots, give the results of Generate alone (also when they share a prompt
// prefix through the context's prefix cache); stopping cancels the rest.
#include "generate/batch_scheduler.h"

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>

#include "gtest/gtest.h"

namespace tinyrag {
namespace {

const std::filesystem::path kModel =
    std::filesystem::path(__FILE__).parent_path() / "../../../shared/fixtures/real/stories260K.gguf";

class BatchSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kModel)) GTEST_SKIP() << "shared fixtures absent: " << kModel;
    auto m = DecoderModel::Load(kModel.string());
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = std::move(*m);
  }
  std::unique_ptr<DecoderModel> model_;
};

TEST_F(BatchSchedulerTest, ConcurrentRequestsGetTheirResultsAlone) {
  const std::vector<std::string> texts = {"Once upon a time", "The cat", "Tom had a big red", "One day",
                                          "The sun", "Lily and Ben"};
  std::vector<std::vector<TokenId>> prompts;
  std::vector<GenerateOptions> options;
  for (size_t i = 0; i < texts.size(); ++i) {
    prompts.push_back(model_->tokenizer().Encode(texts[i], {.add_special = true}));
    GenerateOptions o;
    o.max_tokens = 10 + 7 * static_cast<int>(i);
    o.sampler.temperature = i % 2 ? 0.8f : 0.0f;
    o.sampler.seed = 7 + i;
    options.push_back(o);
  }
  std::vector<GenerateResult> alone;
  {
    auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128}, nullptr);
    ASSERT_TRUE(ctx.ok());
    for (size_t i = 0; i < texts.size(); ++i) {
      auto r = Generate(**ctx, 0, prompts[i], options[i]);
      ASSERT_TRUE(r.ok());
      alone.push_back(*r);
    }
  }
  ThreadPool pool(2);
  auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128, .n_seq = 2, .max_batch = 8}, &pool);
  ASSERT_TRUE(ctx.ok());
  auto scheduler = BatchScheduler::Start(**ctx);
  ASSERT_TRUE(scheduler.ok()) << scheduler.status();
  std::vector<std::future<absl::StatusOr<GenerateResult>>> futures(texts.size());
  std::vector<std::thread> clients;
  for (int c = 0; c < 3; ++c) {  // three client threads, two requests each
    clients.emplace_back([&, c] {
      for (size_t i = c; i < texts.size(); i += 3) futures[i] = (*scheduler)->Submit(prompts[i], options[i]);
    });
  }
  for (auto& t : clients) t.join();
  for (size_t i = 0; i < texts.size(); ++i) {
    auto r = futures[i].get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->text, alone[i].text) << i;
    EXPECT_EQ(r->tokens.size(), alone[i].tokens.size()) << i;
    EXPECT_EQ(r->stop, alone[i].stop) << i;
  }
  // Bad requests fail alone, without disturbing the scheduler.
  EXPECT_EQ((*scheduler)->Submit({}, {}).get().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*scheduler)->Submit(std::vector<TokenId>(200, 1), {}).get().status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ((*scheduler)->Submit(prompts[0], options[0]).get()->text, alone[0].text);
}

// A long prompt is prefilled a chunk per scheduler turn, so a request that is
// already decoding keeps getting tokens meanwhile (it used to wait for the
// whole prompt), and both still get their results alone.
TEST_F(BatchSchedulerTest, ALongPromptDoesNotStallTheOthersDecoding) {
  const std::vector<TokenId> first = model_->tokenizer().Encode("Once upon a time", {.add_special = true});
  std::vector<TokenId> second = model_->tokenizer().Encode("Lily and Ben", {.add_special = true});
  while (second.size() < 80) second.push_back(second[second.size() % 4 + 1]);  // 10 chunks of 8
  GenerateOptions first_options;
  first_options.max_tokens = 100;  // greedy: 100 tokens without an end of text (stories260K.greedy.txt)
  GenerateOptions second_options;
  second_options.max_tokens = 5;
  std::vector<GenerateResult> alone;
  {
    auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128, .max_batch = 8}, nullptr);
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    for (const auto& [prompt, options] : {std::pair{first, first_options}, std::pair{second, second_options}}) {
      auto r = Generate(**ctx, 0, prompt, options);
      ASSERT_TRUE(r.ok()) << r.status();
      alone.push_back(*r);
    }
  }
  auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128, .n_seq = 2, .max_batch = 8}, nullptr);
  ASSERT_TRUE(ctx.ok());
  auto scheduler = BatchScheduler::Start(**ctx);
  ASSERT_TRUE(scheduler.ok()) << scheduler.status();
  std::atomic<int> first_pieces{0};
  std::atomic<int> first_pieces_at_second_token{-1};
  std::atomic<bool> second_submitted{false};
  // The scheduler thread holds at the first request's third piece until the
  // second is queued, so the second arrives while the first is mid-answer.
  first_options.on_text = [&](std::string_view) {
    if (first_pieces.fetch_add(1) + 1 == 3) {
      while (!second_submitted.load()) std::this_thread::yield();
    }
  };
  second_options.on_text = [&](std::string_view) {
    int unset = -1;
    first_pieces_at_second_token.compare_exchange_strong(unset, first_pieces.load());
  };
  auto first_future = (*scheduler)->Submit(first, first_options);
  while (first_pieces.load() < 3) std::this_thread::yield();
  const int before = first_pieces.load();
  auto second_future = (*scheduler)->Submit(second, second_options);
  second_submitted = true;
  auto second_result = second_future.get();
  auto first_result = first_future.get();
  ASSERT_TRUE(first_result.ok()) << first_result.status();
  ASSERT_TRUE(second_result.ok()) << second_result.status();
  EXPECT_EQ(first_result->text, alone[0].text);
  EXPECT_EQ(second_result->text, alone[1].text);
  // Ten prompt chunks, each followed by a decode step of the first request.
  EXPECT_GE(first_pieces_at_second_token.load() - before, 8);
  // The first request's decoding time includes the second's prefill chunks;
  // its decode-step time does not.
  EXPECT_GT(first_result->decode_step_seconds, 0);
  EXPECT_LT(first_result->decode_step_seconds, first_result->decode_seconds);
}

TEST_F(BatchSchedulerTest, StoppingCancelsWhatIsLeft) {
  auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128, .n_seq = 1}, nullptr);
  ASSERT_TRUE(ctx.ok());
  auto scheduler = BatchScheduler::Start(**ctx);
  ASSERT_TRUE(scheduler.ok());
  const std::vector<TokenId> prompt = model_->tokenizer().Encode("Once upon a time", {.add_special = true});
  GenerateOptions o;
  o.max_tokens = 100;
  std::vector<std::future<absl::StatusOr<GenerateResult>>> futures;
  for (int i = 0; i < 20; ++i) futures.push_back((*scheduler)->Submit(prompt, o));
  scheduler->reset();  // stops with most requests still queued
  int cancelled = 0;
  for (auto& f : futures) {
    auto r = f.get();  // every future is satisfied
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
      ++cancelled;
    }
  }
  EXPECT_GT(cancelled, 0);
}

TEST_F(BatchSchedulerTest, RequestsSharingAPrefixComputeItOnceAndGetTheirResultsAlone) {
  const Tokenizer& tok = model_->tokenizer();
  const std::vector<TokenId> prefix =
      tok.Encode("Once upon a time, there was a little girl named Lily. She", {.add_special = true});
  const std::vector<std::string> rests = {" liked cats.", " had a dog.", " was sad.", " went to the park with Tom.",
                                          " saw a bird.", " loved her mom."};
  std::vector<std::vector<TokenId>> prompts;
  std::vector<GenerateOptions> options;
  for (size_t i = 0; i < rests.size(); ++i) {
    std::vector<TokenId> p = prefix;
    for (TokenId t : tok.Encode(rests[i], {.add_special = false})) p.push_back(t);
    prompts.push_back(std::move(p));
    GenerateOptions o;
    o.max_tokens = 12 + 3 * static_cast<int>(i);
    o.sampler.temperature = i % 2 ? 0.8f : 0.0f;
    o.sampler.seed = 50 + i;
    options.push_back(o);
  }
  std::vector<GenerateResult> alone;  // whole prompts, no cache
  {
    auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128, .prefix_cache_entries = 0}, nullptr);
    ASSERT_TRUE(ctx.ok());
    for (size_t i = 0; i < prompts.size(); ++i) {
      auto r = Generate(**ctx, 0, prompts[i], options[i]);
      ASSERT_TRUE(r.ok());
      alone.push_back(*r);
    }
  }
  ThreadPool pool(2);
  auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128, .n_seq = 2, .max_batch = 8}, &pool);
  ASSERT_TRUE(ctx.ok());
  auto scheduler = BatchScheduler::Start(**ctx);
  ASSERT_TRUE(scheduler.ok()) << scheduler.status();
  std::vector<std::future<absl::StatusOr<GenerateResult>>> futures(prompts.size());
  std::vector<std::thread> clients;
  for (int c = 0; c < 3; ++c) {
    clients.emplace_back([&, c] {
      for (size_t i = c; i < prompts.size(); i += 3) {
        GenerateOptions o = options[i];
        o.shared_prefix_tokens = static_cast<int64_t>(prefix.size());
        futures[i] = (*scheduler)->Submit(prompts[i], o);
      }
    });
  }
  for (auto& t : clients) t.join();
  int misses = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto r = futures[i].get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->text, alone[i].text) << i;
    EXPECT_EQ(r->tokens.size(), alone[i].tokens.size()) << i;
    EXPECT_EQ(r->stop, alone[i].stop) << i;
    if (r->cached_prompt_tokens == 0) {
      ++misses;
    } else {
      EXPECT_EQ(r->cached_prompt_tokens, static_cast<int64_t>(prefix.size())) << i;
    }
  }
  // Admissions run one after another on the scheduler thread: only the first computes the prefix.
  EXPECT_EQ(misses, 1);
  // A request cancelled before admission ends cancelled and leaves the cache usable.
  std::atomic<bool> cancel{true};
  GenerateOptions o = options[0];
  o.shared_prefix_tokens = static_cast<int64_t>(prefix.size());
  o.cancel = &cancel;
  auto r = (*scheduler)->Submit(prompts[0], o).get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stop, StopReason::kCancelled);
  o.cancel = nullptr;
  r = (*scheduler)->Submit(prompts[0], o).get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->text, alone[0].text);
  EXPECT_EQ(r->cached_prompt_tokens, static_cast<int64_t>(prefix.size()));
}

}  // namespace
}  // namespace tinyrag
