// The retrieval-augmented prompt: a fixed system prompt, then the numbered
// passages and the question, in the decoder's chat format, fitted to a token
// budget.
//
// The prompt is tokenized as two parts: a fixed prefix (BOS, the system turn,
// up to the opening of the user turn) that is byte- and token-identical for
// every request, and the per-request rest. prompt = prefix + rest, so the KV
// cache of the prefix can be computed once and reused.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "generate/chat_template.h"
#include "model/tokenizer.h"

namespace tinyrag {

// The one sentence the model is told to answer with when the passages do not
// contain the answer (citations.h recognizes it in generated text).
inline constexpr std::string_view kNoAnswerSentence = "I don't know based on the provided passages.";

// One retrieved chunk, best first in the lists that hold it. Only `title` and
// `text` go into the prompt; the rest is carried to citations and confidence.
struct Passage {
  int64_t document_id = 0;
  int64_t chunk_id = 0;
  std::string title;
  std::string source;  // path or URI the document came from
  std::string text;
  double score = 0;                     // fused (hybrid) score, higher is better
  std::optional<double> dense_score;    // cosine similarity, when in the dense list
  std::optional<double> lexical_score;  // -bm25, when in the lexical list
};

// The system prompt every request shares.
std::string DefaultSystemPrompt();

struct PromptOptions {
  // Positions of the decoder context the prompt and the answer share.
  int64_t n_ctx = 2048;
  std::string system_prompt = DefaultSystemPrompt();
};

struct BuiltPrompt {
  std::vector<TokenId> tokens;   // the whole prompt: the shared prefix, then the rest
  int64_t prefix_tokens = 0;     // tokens[0, prefix_tokens) == PromptBuilder::prefix_tokens()
  std::string text;              // the prompt as text (special-token markers written out)
  // Passages in the prompt: the first `passages_used` of the input, numbered
  // [1]..[passages_used]; the last one cut at a sentence boundary when
  // `last_truncated`. Passages after them were dropped to fit the budget.
  int passages_used = 0;
  bool last_truncated = false;
  int passages_dropped = 0;
};

class PromptBuilder {
 public:
  // Tokenizes the fixed prefix once. `tokenizer` must outlive the builder.
  // InvalidArgument for n_ctx < 1 or an empty system prompt.
  static absl::StatusOr<PromptBuilder> Create(const Tokenizer& tokenizer, ChatFormat format,
                                              PromptOptions options = {});

  // The prompt for `question` over `passages` (best first) leaving
  // `max_answer_tokens` positions of the context for the answer. Passages
  // are dropped from the lowest-ranked up until the rest fit; then the next
  // one is added cut at the last sentence boundary that fits (a first
  // passage longer than the whole budget is cut the same way). Errors:
  // max_answer_tokens < 1 or >= n_ctx (InvalidArgument); a question whose
  // prompt without any passage does not fit (OutOfRange, naming the token
  // counts). Thread-safe (const; the tokenizer is immutable).
  absl::StatusOr<BuiltPrompt> Build(std::string_view question, std::span<const Passage> passages,
                                    int max_answer_tokens) const;

  // The tokens every prompt starts with (BOS as the tokenizer's metadata
  // says, then the system turn). Same for every request.
  std::span<const TokenId> prefix_tokens() const { return prefix_tokens_; }
  const std::string& prefix_text() const { return prefix_text_; }
  ChatFormat format() const { return format_; }
  int64_t n_ctx() const { return options_.n_ctx; }

 private:
  PromptBuilder(const Tokenizer& tokenizer, ChatFormat format, PromptOptions options)
      : tokenizer_(&tokenizer), format_(format), options_(std::move(options)) {}

  // The text after the prefix for the given user-turn content.
  std::string RestText(const std::string& user_content) const;
  // Tokens of the text after the prefix.
  std::vector<TokenId> EncodeRest(const std::string& user_content) const;

  const Tokenizer* tokenizer_;
  ChatFormat format_;
  PromptOptions options_;
  std::string prefix_text_;
  std::vector<TokenId> prefix_tokens_;
  // The chat-formatted text is prefix_text_ + rest_head_ + user content + rest_tail_.
  std::string rest_head_, rest_tail_;
};

// The user-turn content: numbered passages ("[n] title — text", blank lines
// between them), then the question. Exposed for tests.
std::string FormatUserContent(std::string_view question, std::span<const Passage> passages);

// Byte offsets where the sentences of `text` end (ICU sentence rules; the
// white space after a sentence belongs to it), ascending, the last one
// text.size(); {0} for an empty text. Pure, thread-safe.
std::vector<size_t> SentenceEnds(std::string_view text);

// The longest prefix of `text` that ends at a sentence boundary (ICU rules)
// and satisfies `fits`, which must be monotone (true for a prefix implies
// true for shorter ones); "" when no sentence fits. Exposed for tests.
std::string CutAtSentence(std::string_view text, const std::function<bool(std::string_view)>& fits);

}  // namespace tinyrag
