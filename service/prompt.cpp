#include "service/prompt.h"

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "unicode/brkiter.h"
#include "unicode/locid.h"
#include "unicode/unistr.h"
#include "unicode/utf8.h"

namespace tinyrag {
namespace {

// Stands for the user-turn content while the chat format is applied, so the
// text before it (the prefix) can be cut out; control bytes cannot occur in
// what the formats write around it.
constexpr std::string_view kPlaceholder = "\x01tinyrag-user-content\x01";

// The marker that opens a turn, for the formats whose markers are special
// tokens: cutting the prefix just before it keeps the tokenization of
// prefix + rest identical to that of the whole text (special tokens split the
// text into independently tokenized pieces). "" for the formats without.
std::string_view TurnMarker(ChatFormat format) {
  switch (format) {
    case ChatFormat::kChatML: return "<|im_start|>";
    case ChatFormat::kLlama3: return "<|start_header_id|>";
    case ChatFormat::kZephyr:
    case ChatFormat::kPhi3: return "<|user|>";
    case ChatFormat::kGemma:  // the system text is inside the user turn
    case ChatFormat::kPlain: return "";
  }
  return "";
}

}  // namespace

std::vector<size_t> SentenceEnds(std::string_view text) {
  std::vector<size_t> ends;
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::BreakIterator> it(icu::BreakIterator::createSentenceInstance(icu::Locale::getRoot(), status));
  if (U_FAILURE(status) || it == nullptr) {
    ends.push_back(text.size());
    return ends;
  }
  const icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), text.size()));
  it->setText(u);
  // ICU works in UTF-16 units; walk the UTF-8 bytes alongside to map back.
  size_t byte = 0;
  int32_t unit = 0;
  for (int32_t b = it->next(); b != icu::BreakIterator::DONE; b = it->next()) {
    while (unit < b && byte < text.size()) {
      UChar32 c;
      int32_t i = static_cast<int32_t>(byte);
      U8_NEXT(text.data(), i, static_cast<int32_t>(text.size()), c);
      unit += (c >= 0 && c > 0xFFFF) ? 2 : 1;
      byte = static_cast<size_t>(i);
    }
    ends.push_back(byte);
  }
  if (ends.empty() || ends.back() != text.size()) ends.push_back(text.size());
  return ends;
}

namespace {

// Trailing white space does not belong to the sentence.
std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string DefaultSystemPrompt() {
  return absl::StrCat(
      "You answer questions using only the numbered passages given with the question. "
      "Do not use any other knowledge. Cite the passages that support each sentence of your answer by "
      "their numbers in square brackets, such as [1] or [2, 3]. If the passages do not contain the answer, "
      "reply with exactly this sentence and nothing else: ",
      std::string(kNoAnswerSentence));
}

std::string FormatUserContent(std::string_view question, std::span<const Passage> passages) {
  std::string out = "Passages:\n";
  if (passages.empty()) out += "(none)\n";
  for (size_t i = 0; i < passages.size(); ++i) {
    const Passage& p = passages[i];
    absl::StrAppend(&out, "[", i + 1, "] ");
    if (!p.title.empty()) absl::StrAppend(&out, p.title, " — ");
    absl::StrAppend(&out, p.text, "\n\n");
  }
  absl::StrAppend(&out, "\nQuestion: ", std::string(question));
  return out;
}

std::string CutAtSentence(std::string_view text, const std::function<bool(std::string_view)>& fits) {
  const std::vector<size_t> ends = SentenceEnds(text);
  // Binary search for the last sentence end whose prefix fits.
  size_t lo = 0, hi = ends.size();  // answer in [0, hi): count of sentences kept
  while (lo < hi) {
    const size_t mid = (lo + hi + 1) / 2;
    if (fits(TrimRight(text.substr(0, ends[mid - 1])))) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo == 0 ? std::string() : std::string(TrimRight(text.substr(0, ends[lo - 1])));
}

absl::StatusOr<PromptBuilder> PromptBuilder::Create(const Tokenizer& tokenizer, ChatFormat format,
                                                    PromptOptions options) {
  if (options.n_ctx < 1) return absl::InvalidArgumentError(absl::StrCat("prompt: n_ctx ", options.n_ctx, " < 1"));
  if (options.system_prompt.empty()) return absl::InvalidArgumentError("prompt: empty system prompt");
  PromptBuilder b(tokenizer, format, std::move(options));
  const ChatMessage messages[] = {{"system", b.options_.system_prompt}, {"user", std::string(kPlaceholder)}};
  const std::string formatted = ApplyChatFormat(format, messages);
  const size_t at = formatted.find(kPlaceholder);
  if (at == std::string::npos) return absl::InternalError("prompt: the chat format lost the user content");
  size_t cut = at;
  const std::string_view marker = TurnMarker(format);
  const size_t system_at = formatted.find(b.options_.system_prompt);
  if (!marker.empty()) {
    const size_t m = formatted.rfind(marker, at);
    if (m != std::string::npos && system_at != std::string::npos && m > system_at) cut = m;
  }
  b.prefix_text_ = formatted.substr(0, cut);
  b.rest_head_ = formatted.substr(cut, at - cut);
  b.rest_tail_ = formatted.substr(at + kPlaceholder.size());
  // BOS by hand rather than through add_special, which may also append EOS.
  const Vocab& vocab = tokenizer.vocab();
  if (vocab.add_bos()) b.prefix_tokens_.push_back(vocab.bos());
  const std::vector<TokenId> text_tokens = tokenizer.Encode(b.prefix_text_, {.parse_special = true});
  b.prefix_tokens_.insert(b.prefix_tokens_.end(), text_tokens.begin(), text_tokens.end());
  return b;
}

std::string PromptBuilder::RestText(const std::string& user_content) const {
  return absl::StrCat(rest_head_, user_content, rest_tail_);
}

std::vector<TokenId> PromptBuilder::EncodeRest(const std::string& user_content) const {
  return tokenizer_->Encode(RestText(user_content), {.parse_special = true});
}

absl::StatusOr<BuiltPrompt> PromptBuilder::Build(std::string_view question, std::span<const Passage> passages,
                                                 int max_answer_tokens) const {
  if (max_answer_tokens < 1 || max_answer_tokens >= options_.n_ctx) {
    return absl::InvalidArgumentError(absl::StrCat("prompt: max answer tokens ", max_answer_tokens,
                                                   " outside [1, ", options_.n_ctx - 1, "] for a context of ",
                                                   options_.n_ctx));
  }
  const int64_t budget = options_.n_ctx - max_answer_tokens - static_cast<int64_t>(prefix_tokens_.size());
  auto rest_tokens = [&](std::span<const Passage> ps) {
    return static_cast<int64_t>(EncodeRest(FormatUserContent(question, ps)).size());
  };
  const int64_t bare = rest_tokens({});
  if (bare > budget) {
    return absl::OutOfRangeError(absl::StrCat("prompt: the question needs ", bare + prefix_tokens_.size(),
                                              " prompt tokens without any passage; ", budget + prefix_tokens_.size(),
                                              " fit a context of ", options_.n_ctx, " with ", max_answer_tokens,
                                              " answer tokens"));
  }
  // The most leading passages that fit whole (binary search: adding a
  // passage only adds tokens).
  size_t lo = 0, hi = passages.size();
  while (lo < hi) {
    const size_t mid = (lo + hi + 1) / 2;
    if (rest_tokens(passages.first(mid)) <= budget) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  std::vector<Passage> used(passages.begin(), passages.begin() + lo);
  bool truncated = false;
  if (lo < passages.size()) {
    // The next passage, cut to its longest sentence prefix that still fits.
    Passage next = passages[lo];
    std::vector<Passage> trial = used;
    trial.push_back(next);
    const std::string cut = CutAtSentence(next.text, [&](std::string_view prefix) {
      trial.back().text = std::string(prefix);
      return rest_tokens(trial) <= budget;
    });
    if (!cut.empty()) {
      next.text = cut;
      used.push_back(std::move(next));
      truncated = true;
    }
  }
  BuiltPrompt out;
  const std::string content = FormatUserContent(question, used);
  const std::vector<TokenId> rest = EncodeRest(content);
  out.tokens = prefix_tokens_;
  out.tokens.insert(out.tokens.end(), rest.begin(), rest.end());
  out.prefix_tokens = static_cast<int64_t>(prefix_tokens_.size());
  out.text = absl::StrCat(prefix_text_, RestText(content));
  out.passages_used = static_cast<int>(used.size());
  out.last_truncated = truncated;
  out.passages_dropped = static_cast<int>(passages.size() - used.size());
  return out;
}

}  // namespace tinyrag
