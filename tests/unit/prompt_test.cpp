// The RAG prompt: a shared prefix identical across requests, numbered
// passages, the token budget (lowest-ranked passages dropped, the last cut at
// a sentence boundary), on a ChatML byte-BPE vocabulary (synthetic, so no
// fixtures needed) and on the real stories260K tokenizer when present.
#include "service/prompt.h"

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/synthetic_vocab.h"
#include "model/vocab.h"

namespace tinyrag {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::filesystem::path kReal =
    std::filesystem::path(__FILE__).parent_path() / "../../../shared/fixtures/real";

// A Qwen-like tokenizer: byte-level BPE with the ChatML control tokens.
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

Passage P(std::string title, std::string text) {
  Passage p;
  p.title = std::move(title);
  p.text = std::move(text);
  return p;
}

TEST(PromptTest, PrefixIsSharedAndTheWholePromptTokenizesAsOne) {
  auto tok = ChatMlTokenizer();
  auto b = PromptBuilder::Create(*tok, ChatFormat::kChatML, {.n_ctx = 4096});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(b->prefix_text(), HasSubstr(std::string(kNoAnswerSentence)));
  EXPECT_TRUE(b->prefix_text().ends_with("<|im_end|>\n")) << b->prefix_text();

  const std::vector<Passage> ps1 = {P("Paris", "Paris is the capital of France."), P("Rome", "Rome is old.")};
  const std::vector<Passage> ps2 = {P("Tea", "Tea is brewed with hot water.")};
  auto a = b->Build("What is the capital of France?", ps1, 64);
  auto c = b->Build("How is tea made?", ps2, 64);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(c.ok()) << c.status();
  for (const BuiltPrompt* p : {&*a, &*c}) {
    ASSERT_EQ(p->prefix_tokens, static_cast<int64_t>(b->prefix_tokens().size()));
    EXPECT_TRUE(std::equal(b->prefix_tokens().begin(), b->prefix_tokens().end(), p->tokens.begin()));
    // The cut is before a control token, so prefix + rest is exactly how the
    // whole text tokenizes.
    EXPECT_EQ(tok->Encode(p->text, {.parse_special = true}), p->tokens);
    EXPECT_TRUE(p->text.ends_with("<|im_start|>assistant\n"));
  }
  EXPECT_THAT(a->text, HasSubstr("[1] Paris — Paris is the capital of France.\n\n[2] Rome — Rome is old."));
  EXPECT_THAT(a->text, HasSubstr("Question: What is the capital of France?"));
  EXPECT_EQ(a->passages_used, 2);
  EXPECT_FALSE(a->last_truncated);
  EXPECT_EQ(a->passages_dropped, 0);
}

TEST(PromptTest, BudgetDropsTheLowestRankedThenCutsAtASentence) {
  auto tok = ChatMlTokenizer();
  std::vector<Passage> ps;
  for (int i = 0; i < 6; ++i) {
    std::string text;
    for (int s = 0; s < 8; ++s) text += "Passage " + std::to_string(i) + " sentence " + std::to_string(s) + " says a thing. ";
    ps.push_back(P("T" + std::to_string(i), text));
  }
  auto wide = PromptBuilder::Create(*tok, ChatFormat::kChatML, {.n_ctx = 100000});
  ASSERT_TRUE(wide.ok());
  auto all = wide->Build("Which?", ps, 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->passages_used, 6);
  const int64_t full = static_cast<int64_t>(all->tokens.size());

  // Room for about half the passages.
  const int max_answer = 50;
  const int64_t n_ctx = full / 2 + max_answer;
  auto b = PromptBuilder::Create(*tok, ChatFormat::kChatML, {.n_ctx = n_ctx});
  ASSERT_TRUE(b.ok());
  auto r = b->Build("Which?", ps, max_answer);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LE(static_cast<int64_t>(r->tokens.size()), n_ctx - max_answer);
  EXPECT_GE(r->passages_used, 2);
  EXPECT_LT(r->passages_used, 6);
  EXPECT_EQ(r->passages_used + r->passages_dropped, 6);
  EXPECT_TRUE(r->last_truncated);
  const int last = r->passages_used - 1;
  // The truncated passage keeps its first sentence and loses its last one, and
  // ends at a sentence end.
  EXPECT_THAT(r->text, HasSubstr("Passage " + std::to_string(last) + " sentence 0 says a thing."));
  EXPECT_THAT(r->text, Not(HasSubstr("Passage " + std::to_string(last) + " sentence 7")));
  EXPECT_THAT(r->text, HasSubstr("says a thing.\n\n\nQuestion: Which?"));
  EXPECT_THAT(r->text, Not(HasSubstr("[" + std::to_string(r->passages_used + 1) + "]")));
  // Lower-ranked passages are gone entirely.
  EXPECT_THAT(r->text, Not(HasSubstr("Passage 5 sentence 0")));
}

TEST(PromptTest, ErrorsForBadAnswerLengthAndAQuestionThatCannotFit) {
  auto tok = ChatMlTokenizer();
  auto b = PromptBuilder::Create(*tok, ChatFormat::kChatML, {.n_ctx = 300});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->Build("q", {}, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(b->Build("q", {}, 300).status().code(), absl::StatusCode::kInvalidArgument);
  const std::string long_question(5000, 'x');
  auto r = b->Build(long_question, {}, 10);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(r.status().message(), HasSubstr("without any passage"));
  // A first passage with no sentence short enough is dropped, not sent whole.
  const std::vector<Passage> ps = {P("Big", std::string(3000, 'y') + ".")};
  auto d = b->Build("q", ps, 10);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->passages_used, 0);
  EXPECT_EQ(d->passages_dropped, 1);
  EXPECT_LE(d->tokens.size(), 290u);
  EXPECT_FALSE(PromptBuilder::Create(*tok, ChatFormat::kChatML, {.n_ctx = 0}).ok());
  EXPECT_FALSE(PromptBuilder::Create(*tok, ChatFormat::kChatML, {.n_ctx = 10, .system_prompt = ""}).ok());
}

TEST(PromptTest, CutAtSentenceKeepsWholeSentencesOnly) {
  const std::string text = "First one. Second “quoted” one! Third — is it? Fourth.";
  auto under = [](size_t n) { return [n](std::string_view s) { return s.size() <= n; }; };
  EXPECT_EQ(CutAtSentence(text, under(1000)), text);
  EXPECT_EQ(CutAtSentence(text, under(text.size() - 1)), "First one. Second “quoted” one! Third — is it?");
  EXPECT_EQ(CutAtSentence(text, under(12)), "First one.");
  EXPECT_EQ(CutAtSentence(text, under(5)), "");
}

TEST(PromptTest, OtherFormatsKeepTheSystemPromptInThePrefix) {
  auto tok = ChatMlTokenizer();
  for (ChatFormat f : {ChatFormat::kLlama3, ChatFormat::kZephyr, ChatFormat::kGemma, ChatFormat::kPhi3,
                       ChatFormat::kPlain}) {
    auto b = PromptBuilder::Create(*tok, f, {.n_ctx = 4096});
    ASSERT_TRUE(b.ok());
    EXPECT_THAT(b->prefix_text(), HasSubstr(std::string(kNoAnswerSentence))) << ChatFormatName(f);
    auto r = b->Build("Why?", std::vector<Passage>{P("A", "Because.")}, 16);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->text.starts_with(b->prefix_text()));
    EXPECT_THAT(r->text, HasSubstr("[1] A — Because.")) << ChatFormatName(f);
  }
}

TEST(PromptTest, RealSentencePieceTokenizerGetsBosFirst) {
  if (!std::filesystem::exists(kReal / "stories260K.gguf")) GTEST_SKIP() << "shared fixtures absent: " << kReal;
  auto tok = Tokenizer::FromGgufPath((kReal / "stories260K.gguf").string());
  ASSERT_TRUE(tok.ok()) << tok.status();
  auto b = PromptBuilder::Create(**tok, ChatFormat::kPlain, {.n_ctx = 512});
  ASSERT_TRUE(b.ok());
  ASSERT_FALSE(b->prefix_tokens().empty());
  EXPECT_EQ(b->prefix_tokens()[0], (*tok)->vocab().bos());
  auto r = b->Build("Who is Lily?", std::vector<Passage>{P("Lily", "Lily is a girl. She likes the park.")}, 64);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LE(r->tokens.size(), 448u);
  EXPECT_TRUE(r->text.ends_with("Assistant:"));
}


TEST(PromptTest, RealQwen2VocabularySplitsExactlyAtTheTurnMarker) {
  const std::filesystem::path vocab = kReal / "../models/vocab-bpe-qwen2.gguf";
  if (!std::filesystem::exists(vocab)) GTEST_SKIP() << "shared fixtures absent: " << vocab;
  auto tok = Tokenizer::FromGgufPath(vocab.string());
  ASSERT_TRUE(tok.ok()) << tok.status();
  auto b = PromptBuilder::Create(**tok, ChatFormat::kChatML, {.n_ctx = 4096});
  ASSERT_TRUE(b.ok());
  const std::vector<Passage> ps = {P("Île-de-France", "Paris — the capital — has 2.1 million people. Café culture."),
                                   P("Rome", "Rome was founded in 753 BC.")};
  auto r = b->Build("¿Qué población tiene París?", ps, 256);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*tok)->Encode(r->text, {.parse_special = true}), r->tokens);
  EXPECT_EQ((*tok)->Decode(r->tokens, {.skip_special = false}), r->text);
}

}  // namespace
}  // namespace tinyrag
