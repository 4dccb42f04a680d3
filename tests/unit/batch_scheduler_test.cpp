// BatchScheduler: requests submitted from several threads, more than there are
// slots, give the results of Generate alone (also when they share a prompt
// prefix through the context's prefix cache); stopping cancels the rest.
#include "generate/batch_scheduler.h"

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

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
