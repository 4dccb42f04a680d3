// The generation loop on the real stories260K model (skipped without the
// shared fixtures) and the stop-string filter; chat formats.
#include "generate/generator.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "generate/chat_template.h"
#include "gtest/gtest.h"

namespace tinyrag {
namespace {

const std::filesystem::path kReal =
    std::filesystem::path(__FILE__).parent_path() / "../../../shared/fixtures/real";

TEST(StopStringFilterTest, HoldsBackPrefixesAndCutsAtTheStop) {
  const std::vector<std::string> stops = {"END", "\n\n"};
  StopStringFilter f(stops);
  EXPECT_EQ(f.Push("hello E"), "hello ");
  EXPECT_EQ(f.Push("N"), "");
  EXPECT_EQ(f.Push("x more"), "ENx more");
  EXPECT_EQ(f.Push(" and EN"), " and ");
  EXPECT_FALSE(f.stopped());
  EXPECT_EQ(f.Push("D tail"), "");
  EXPECT_TRUE(f.stopped());
  EXPECT_EQ(f.Push("later"), "");
  EXPECT_EQ(f.Finish(), "");
  StopStringFilter g(stops);
  EXPECT_EQ(g.Push("a\n"), "a");
  EXPECT_EQ(g.Finish(), "\n");
}

class GeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kReal / "stories260K.gguf")) GTEST_SKIP() << "shared fixtures absent: " << kReal;
    auto m = DecoderModel::Load((kReal / "stories260K.gguf").string());
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = std::move(*m);
    auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128, .max_batch = 4}, nullptr);
    ASSERT_TRUE(ctx.ok());
    ctx_ = std::move(*ctx);
    prompt_ = model_->tokenizer().Encode("Once upon a time", {.add_special = true});
  }
  std::unique_ptr<DecoderModel> model_;
  std::unique_ptr<DecoderContext> ctx_;
  std::vector<TokenId> prompt_;
};

TEST_F(GeneratorTest, GreedyMatchesTheReferenceAndStreamsTheSameText) {
  std::string expected;
  ASSERT_TRUE(std::filesystem::exists(kReal / "stories260K.greedy.txt"));
  {
    std::ifstream in(kReal / "stories260K.greedy.txt", std::ios::binary);
    expected.assign(std::istreambuf_iterator<char>(in), {});
  }
  GenerateOptions o;
  o.max_tokens = 100;
  o.sampler.temperature = 0;
  o.top_logprobs = 3;
  std::string streamed;
  o.on_text = [&](std::string_view piece) { streamed += piece; };
  auto r = Generate(*ctx_, 0, prompt_, o);  // prompt fed in chunks of 4
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ("Once upon a time" + r->text, expected);
  EXPECT_EQ(streamed, r->text);
  EXPECT_EQ(r->tokens.size(), 100u);
  EXPECT_EQ(r->stop, StopReason::kMaxTokens);
  for (const GeneratedToken& t : r->tokens) {
    ASSERT_EQ(t.top.size(), 3u);
    EXPECT_EQ(t.top[0].first, t.id);  // greedy picks the best
    EXPECT_FLOAT_EQ(t.top[0].second, t.logprob);
    EXPECT_LE(t.logprob, 0.0f);
  }
}

TEST_F(GeneratorTest, StopsAtStopStringsAndOnCancel) {
  GenerateOptions o;
  o.max_tokens = 100;
  o.sampler.temperature = 0;
  o.stop_strings = {"Lily"};
  auto r = Generate(*ctx_, 0, prompt_, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->text, ", there was a little girl named ");
  EXPECT_EQ(r->stop, StopReason::kStopString);
  std::atomic<bool> cancel{true};
  o.cancel = &cancel;
  r = Generate(*ctx_, 0, prompt_, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stop, StopReason::kCancelled);
  EXPECT_TRUE(r->tokens.empty());
}

TEST_F(GeneratorTest, FullContextStopsAndLongPromptsAreRefused) {
  GenerateOptions o;
  o.max_tokens = 1000;
  o.sampler.temperature = 0;
  auto r = Generate(*ctx_, 0, prompt_, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stop, StopReason::kContextFull);
  EXPECT_EQ(r->tokens.size(), 128u - prompt_.size() + 1);  // the last sampled token needs no position
  std::vector<TokenId> long_prompt(129, 1);
  EXPECT_EQ(Generate(*ctx_, 0, long_prompt, o).status().code(), absl::StatusCode::kOutOfRange);
}

TEST_F(GeneratorTest, SeededSamplingIsReproducible) {
  GenerateOptions o;
  o.max_tokens = 30;
  o.sampler.seed = 42;
  auto a = Generate(*ctx_, 0, prompt_, o);
  auto b = Generate(*ctx_, 0, prompt_, o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->text, b->text);
}

TEST_F(GeneratorTest, FourPromptsInOneBatchGiveTheResultsOfEachAlone) {
  const std::vector<std::string> texts = {"Once upon a time", "The cat", "Tom had a big red", "One day"};
  std::vector<std::vector<TokenId>> prompts;
  for (const std::string& t : texts) prompts.push_back(model_->tokenizer().Encode(t, {.add_special = true}));
  std::vector<GenerateRequest> requests;
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerateOptions o;
    o.max_tokens = 20 + 10 * static_cast<int>(i);  // they leave the batch at different steps
    o.sampler.temperature = i % 2 == 0 ? 0.0f : 0.9f;  // greedy and seeded sampling side by side
    o.sampler.seed = 100 + i;
    o.top_logprobs = 2;
    requests.push_back({prompts[i], o});
  }
  std::vector<GenerateResult> alone;
  for (const GenerateRequest& r : requests) {
    auto res = Generate(*ctx_, 0, r.prompt, r.options);
    ASSERT_TRUE(res.ok()) << res.status();
    alone.push_back(*res);
  }
  // max_batch 6: prompts of different sequences share prefill chunks.
  auto ctx = DecoderContext::Create(*model_, {.n_ctx = 128, .n_seq = 4, .max_batch = 6}, nullptr);
  ASSERT_TRUE(ctx.ok());
  auto together = GenerateBatch(**ctx, requests);
  ASSERT_TRUE(together.ok()) << together.status();
  ASSERT_EQ(together->size(), alone.size());
  for (size_t i = 0; i < alone.size(); ++i) {
    EXPECT_EQ((*together)[i].text, alone[i].text) << i;
    ASSERT_EQ((*together)[i].tokens.size(), alone[i].tokens.size()) << i;
    for (size_t t = 0; t < alone[i].tokens.size(); ++t) {
      EXPECT_EQ((*together)[i].tokens[t].id, alone[i].tokens[t].id);
      EXPECT_NEAR((*together)[i].tokens[t].logprob, alone[i].tokens[t].logprob, 1e-4);
    }
    EXPECT_EQ((*together)[i].stop, StopReason::kMaxTokens);
  }
  // More requests than sequences is refused.
  requests.push_back(requests[0]);
  EXPECT_FALSE(GenerateBatch(**ctx, requests).ok());
}

TEST(ChatFormatTest, RecognizesTheFamiliesAndFallsBack) {
  EXPECT_EQ(DetectChatFormat("{{'<|im_start|>' + message['role']}}"), ChatFormat::kChatML);
  EXPECT_EQ(DetectChatFormat("<|start_header_id|>"), ChatFormat::kLlama3);
  EXPECT_EQ(DetectChatFormat("<|user|>\n ... </s> <|assistant|>"), ChatFormat::kZephyr);
  EXPECT_EQ(DetectChatFormat("<|user|> <|end|> <|assistant|>"), ChatFormat::kPhi3);
  EXPECT_EQ(DetectChatFormat("<start_of_turn>"), ChatFormat::kGemma);
  EXPECT_EQ(DetectChatFormat(""), ChatFormat::kPlain);
  const std::vector<ChatMessage> m = {{"system", "S"}, {"user", "U"}};
  EXPECT_EQ(ApplyChatFormat(ChatFormat::kChatML, m),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(ApplyChatFormat(ChatFormat::kLlama3, m),
            "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU"
            "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(ApplyChatFormat(ChatFormat::kZephyr, m), "<|system|>\nS</s>\n<|user|>\nU</s>\n<|assistant|>\n");
  EXPECT_EQ(ApplyChatFormat(ChatFormat::kGemma, m), "<start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(ApplyChatFormat(ChatFormat::kPlain, m), "System: S\nUser: U\nAssistant:");
}

}  // namespace
}  // namespace tinyrag
