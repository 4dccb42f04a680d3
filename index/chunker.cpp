// Chunking: text -> paragraphs -> sentences (ICU) -> units of at most `limit`
// tokens (a longer sentence is cut at word, then character boundaries) ->
// chunks packed greedily from units, ending at a paragraph end when one lies
// in the second half of the chunk.
#include "index/chunker.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "unicode/brkiter.h"
#include "unicode/locid.h"
#include "unicode/utext.h"

namespace tinyrag {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// [begin, end) of text with white space trimmed off both ends.
std::pair<size_t, size_t> Trim(std::string_view text, size_t begin, size_t end) {
  while (begin < end && IsSpace(text[begin])) ++begin;
  while (end > begin && IsSpace(text[end - 1])) --end;
  return {begin, end};
}

struct UTextCloser {
  void operator()(UText* ut) const { utext_close(ut); }
};

}  // namespace

namespace chunker_internal {

// ICU sentence and word break iterators, created once per ChunkDocument or
// ChunkSection call and reused for all its sections. An iterator holds
// per-text state, so one Breaks object must never be used by two threads
// (its const methods still move the iterators).
class Breaks {
 public:
  static absl::StatusOr<Breaks> Create() {
    UErrorCode status = U_ZERO_ERROR;
    // "ss=standard" suppresses breaks after common abbreviations ("Mr.", "e.g.").
    std::unique_ptr<icu::BreakIterator> sentence(
        icu::BreakIterator::createSentenceInstance(icu::Locale("en@ss=standard"), status));
    if (U_FAILURE(status) || sentence == nullptr) {
      status = U_ZERO_ERROR;
      sentence.reset(icu::BreakIterator::createSentenceInstance(icu::Locale::getRoot(), status));
    }
    if (U_FAILURE(status) || sentence == nullptr) {
      return absl::InternalError(absl::StrCat("ICU sentence break iterator: ", u_errorName(status)));
    }
    std::unique_ptr<icu::BreakIterator> word(icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), status));
    if (U_FAILURE(status) || word == nullptr) {
      return absl::InternalError(absl::StrCat("ICU word break iterator: ", u_errorName(status)));
    }
    return Breaks(std::move(sentence), std::move(word));
  }

  // Boundaries of `text` as byte offsets, 0 and text.size() included.
  std::vector<size_t> Sentences(std::string_view text) const { return Boundaries(*sentence_, text); }
  std::vector<size_t> Words(std::string_view text) const { return Boundaries(*word_, text); }

 private:
  Breaks(std::unique_ptr<icu::BreakIterator> sentence, std::unique_ptr<icu::BreakIterator> word)
      : sentence_(std::move(sentence)), word_(std::move(word)) {}

  static std::vector<size_t> Boundaries(icu::BreakIterator& it, std::string_view text) {
    std::vector<size_t> out{0};
    UErrorCode status = U_ZERO_ERROR;
    // A UTF-8 UText makes the iterator's positions byte offsets.
    std::unique_ptr<UText, UTextCloser> ut(
        utext_openUTF8(nullptr, text.data(), static_cast<int64_t>(text.size()), &status));
    if (U_SUCCESS(status)) it.setText(ut.get(), status);
    if (U_SUCCESS(status)) {
      it.first();
      for (int32_t b = it.next(); b != icu::BreakIterator::DONE; b = it.next()) {
        if (b > 0 && static_cast<size_t>(b) < text.size()) out.push_back(static_cast<size_t>(b));
      }
    }
    // Without ICU's answer the text stays one piece (cut later by tokens).
    if (text.size() > 0) out.push_back(text.size());
    return out;
  }

  std::unique_ptr<icu::BreakIterator> sentence_;
  std::unique_ptr<icu::BreakIterator> word_;
};

}  // namespace chunker_internal

namespace {

using chunker_internal::Breaks;


// A piece of section text that is never cut further: a sentence, or a part of
// a sentence too long for one chunk.
struct Unit {
  size_t begin = 0, end = 0;  // byte range in the section text, trimmed
  int64_t tokens = 0;
  int64_t paragraph = 0;
};

// The section being chunked and the tools to measure it.
class SectionChunker {
 public:
  SectionChunker(const TokenCounter& counter, const Breaks& breaks, std::string_view text)
      : counter_(counter), breaks_(breaks), text_(text) {}

  int64_t Count(size_t begin, size_t end) const { return counter_.CountTokens(text_.substr(begin, end - begin)); }

  // Paragraphs (runs of non-blank lines) -> sentences -> units <= limit tokens.
  std::vector<Unit> Units(int64_t limit) const {
    std::vector<Unit> units;
    int64_t paragraph = 0;
    size_t pos = 0;
    while (pos < text_.size()) {
      // Skip blank lines, then take lines up to the next blank one.
      size_t begin = pos;
      while (begin < text_.size() && IsSpace(text_[begin])) ++begin;
      if (begin == text_.size()) break;
      size_t end = begin;
      while (end < text_.size()) {
        size_t nl = text_.find('\n', end);
        if (nl == std::string_view::npos) {
          end = text_.size();
          break;
        }
        size_t next = nl + 1;
        while (next < text_.size() && (text_[next] == ' ' || text_[next] == '\t' || text_[next] == '\r')) ++next;
        if (next >= text_.size() || text_[next] == '\n') {
          end = nl;
          break;
        }
        end = next;
      }
      AddParagraph(begin, end, paragraph++, limit, units);
      pos = end;
    }
    return units;
  }

 private:
  void AddParagraph(size_t begin, size_t end, int64_t paragraph, int64_t limit, std::vector<Unit>& units) const {
    // A line break before a lower-case letter is a wrapped line, not the end
    // of a sentence: ICU sees a space there (same length, same offsets).
    std::string para(text_.substr(begin, end - begin));
    for (size_t i = 0; i + 1 < para.size(); ++i) {
      if (para[i] == '\n' && para[i + 1] >= 'a' && para[i + 1] <= 'z') para[i] = ' ';
    }
    const std::vector<size_t> bounds = breaks_.Sentences(para);
    for (size_t k = 0; k + 1 < bounds.size(); ++k) {
      const auto [b, e] = Trim(text_, begin + bounds[k], begin + bounds[k + 1]);
      if (b == e) continue;
      const int64_t tokens = Count(b, e);
      if (tokens <= limit) {
        units.push_back(Unit{b, e, tokens, paragraph});
      } else {
        SplitLong(b, e, paragraph, limit, units);
      }
    }
  }

  // Largest candidate end c (ascending list, all > begin) with
  // Count(begin, c) <= limit, or `begin` when even the first is too long.
  // Token counts grow with the prefix, so a binary search finds it.
  size_t FitEnd(size_t begin, const std::vector<size_t>& candidates, int64_t limit) const {
    size_t lo = 0, hi = candidates.size();  // answer index in [lo, hi)
    if (hi == 0 || Count(begin, candidates[0]) > limit) return begin;
    while (hi - lo > 1) {
      const size_t mid = lo + (hi - lo) / 2;
      if (Count(begin, candidates[mid]) <= limit) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    return candidates[lo];
  }

  // A sentence longer than `limit` tokens: cut at the last word boundary that
  // fits; a single word longer than that is cut between characters.
  void SplitLong(size_t begin, size_t end, int64_t paragraph, int64_t limit, std::vector<Unit>& units) const {
    size_t pos = begin;
    while (pos < end) {
      pos = Trim(text_, pos, end).first;
      if (pos == end) break;
      const size_t cut = CutPoint(pos, end, limit);
      const auto [b, e] = Trim(text_, pos, cut);
      if (b < e) units.push_back(Unit{b, e, Count(b, e), paragraph});
      pos = cut;
    }
  }

 public:
  // Where to end a piece that starts at `pos` (not white space) and must not
  // exceed `limit` tokens: `end` when all of [pos, end) fits, else the last
  // word boundary that fits, else the last character boundary that fits
  // inside the first word; at least one character, so callers progress.
  size_t CutPoint(size_t pos, size_t end, int64_t limit) const {
    // Only a window of the rest can fit: tokens rarely exceed 16 bytes; the
    // window grows while the text is denser than that (e.g. one [UNK] word).
    // Counting the whole rest each time would make a huge sentence quadratic.
    size_t window = std::min(end, pos + static_cast<size_t>(limit) * 16);
    while (Count(pos, window) <= limit) {
      if (window == end) return end;
      window = std::min(end, pos + 2 * (window - pos));
    }
    std::vector<size_t> candidates;
    for (size_t b : breaks_.Words(text_.substr(pos, window - pos))) {
      if (b > 0) candidates.push_back(pos + b);
    }
    size_t cut = FitEnd(pos, candidates, limit);
    if (cut != pos) return cut;
    // Not even the first word fits: code point boundaries inside it.
    const size_t word_end = candidates.empty() ? window : candidates.front();
    candidates.clear();
    for (size_t i = pos + 1; i <= word_end; ++i) {
      if (i == word_end || (static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) candidates.push_back(i);
    }
    cut = FitEnd(pos, candidates, limit);
    return cut != pos ? cut : candidates.front();  // one character over the limit: still progress
  }

 private:
  const TokenCounter& counter_;
  const Breaks& breaks_;
  std::string_view text_;
};

// The title and heading path line(s) put before every chunk of a section.
std::string ContextOf(std::string_view title, const std::vector<std::string>& heading_path) {
  std::vector<std::string_view> path(heading_path.begin(), heading_path.end());
  if (!path.empty() && path.front() == title) path.erase(path.begin());
  std::string context(title);
  if (!path.empty()) {
    if (!context.empty()) context.push_back('\n');
    for (size_t i = 0; i < path.size(); ++i) {
      if (i > 0) context += " > ";
      context += path[i];
    }
  }
  return context;
}

std::string JoinContext(std::string_view context, std::string_view text) {
  if (context.empty()) return std::string(text);
  if (text.empty()) return std::string(context);
  std::string joined(context);
  joined += "\n\n";
  joined += text;
  return joined;
}

// Chunks from units: each chunk takes units while their tokens fit `limit`,
// then backs up over whole sentences (<= overlap tokens) for the next one.
std::vector<Chunk> Pack(const SectionChunker& section, std::string_view text, const std::vector<Unit>& units,
                        int64_t limit, int64_t overlap) {
  std::vector<Chunk> chunks;
  const size_t n = units.size();
  size_t i = 0;
  size_t prev_end = 0;  // units before this index are already in some chunk
  while (i < n) {
    size_t j = i;
    int64_t sum = 0;
    size_t paragraph_end = n;  // last unit ending a paragraph inside the chunk, n for none
    while (j < n && sum + units[j].tokens <= limit) {
      sum += units[j].tokens;
      if (j + 1 == n || units[j + 1].paragraph != units[j].paragraph) paragraph_end = j;
      ++j;
    }
    if (j == i) j = i + 1;  // a unit over the limit (one character that alone exceeds it) is still a chunk
    // End at a paragraph end rather than mid-paragraph when that keeps at
    // least half of the chunk and still adds new text.
    if (j < n && paragraph_end != n && paragraph_end + 1 > prev_end && paragraph_end + 1 < j) {
      int64_t kept = 0;
      for (size_t k = i; k <= paragraph_end; ++k) kept += units[k].tokens;
      if (2 * kept >= limit) j = paragraph_end + 1;
    }
    // Counting the joined text can differ from the sum of its sentences
    // (merges across a boundary): the exact count decides.
    int64_t exact = section.Count(units[i].begin, units[j - 1].end);
    while (exact > limit && j > i + 1 && j - 1 > prev_end) {
      --j;
      exact = section.Count(units[i].begin, units[j - 1].end);
    }
    Chunk chunk;
    chunk.byte_begin = units[i].begin;
    chunk.byte_end = units[j - 1].end;
    chunk.text = std::string(text.substr(chunk.byte_begin, chunk.byte_end - chunk.byte_begin));
    chunk.token_count = exact;
    chunks.push_back(std::move(chunk));
    if (j >= n) break;
    prev_end = j;
    // Overlap: whole trailing sentences of this chunk, as long as they fit
    // `overlap` and leave room in the next chunk for the next unit.
    size_t k = j;
    int64_t carried = 0;
    while (k - 1 > i && carried + units[k - 1].tokens <= overlap &&
           carried + units[k - 1].tokens + units[j].tokens <= limit) {
      carried += units[k - 1].tokens;
      --k;
    }
    i = k;
  }
  return chunks;
}

}  // namespace

TokenizerTokenCounter::TokenizerTokenCounter(const Tokenizer& tokenizer)
    : tokenizer_(tokenizer),
      special_tokens_(static_cast<int64_t>(tokenizer.Encode("", EncodeOptions{.add_special = true}).size())) {}

int64_t TokenizerTokenCounter::CountTokens(std::string_view text) const {
  return static_cast<int64_t>(tokenizer_.Encode(text).size());
}

std::string EmbedText(std::string_view title, const std::vector<std::string>& heading_path, std::string_view text) {
  return JoinContext(ContextOf(title, heading_path), text);
}

absl::StatusOr<Chunker> Chunker::Create(const TokenCounter& counter, const ChunkerOptions& options) {
  if (options.target_tokens < 8) {
    return absl::InvalidArgumentError(absl::StrCat("chunk target of ", options.target_tokens, " tokens is below 8"));
  }
  if (options.overlap_tokens < 0 || options.overlap_tokens >= options.target_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("chunk overlap of ", options.overlap_tokens,
                                                   " tokens must be in [0, target ", options.target_tokens, ")"));
  }
  if (options.max_context_tokens < 0) {
    return absl::InvalidArgumentError("max_context_tokens must not be negative");
  }
  if (options.max_model_tokens < 0 ||
      (options.max_model_tokens > 0 && options.max_model_tokens - counter.SpecialTokens() < 16)) {
    return absl::InvalidArgumentError(absl::StrCat("a model limit of ", options.max_model_tokens, " tokens (",
                                                   counter.SpecialTokens(), " special) leaves too little for text"));
  }
  return Chunker(counter, options);
}

absl::StatusOr<std::vector<Chunk>> Chunker::ChunkDocument(const Document& doc) const {
  auto breaks = Breaks::Create();
  if (!breaks.ok()) return breaks.status();
  std::vector<Chunk> all;
  for (size_t s = 0; s < doc.sections.size(); ++s) {
    const Section& section = doc.sections[s];
    std::vector<Chunk> chunks =
        ChunkWith(*breaks, doc.title, section.heading_path, section.text, static_cast<int64_t>(all.size()));
    for (Chunk& chunk : chunks) {
      chunk.section = static_cast<int64_t>(s);
      all.push_back(std::move(chunk));
    }
  }
  return all;
}

absl::StatusOr<std::vector<Chunk>> Chunker::ChunkSection(std::string_view title,
                                                         const std::vector<std::string>& heading_path,
                                                         std::string_view text, int64_t first_position) const {
  auto breaks = Breaks::Create();
  if (!breaks.ok()) return breaks.status();
  return ChunkWith(*breaks, title, heading_path, text, first_position);
}

std::vector<Chunk> Chunker::ChunkWith(const Breaks& breaks, std::string_view title,
                                      const std::vector<std::string>& heading_path, std::string_view text,
                                      int64_t first_position) const {
  const int64_t specials = counter_->SpecialTokens();
  const int64_t room = options_.max_model_tokens > 0 ? options_.max_model_tokens - specials : 0;

  // The context (title, headings) gets a bounded share of the model's room.
  const std::string context_full = ContextOf(title, heading_path);
  std::string context = context_full;
  int64_t context_cap = options_.max_context_tokens;
  if (room > 0) context_cap = std::min(context_cap, room / 2);
  int64_t context_tokens = counter_->CountTokens(context);
  if (context_tokens > context_cap) {
    context.clear();
    if (context_cap > 0) {
      SectionChunker cutter(*counter_, breaks, context_full);
      context = context_full.substr(0, Trim(context_full, 0, cutter.CutPoint(0, context_full.size(), context_cap)).second);
    }
    context_tokens = counter_->CountTokens(context);
  }

  int64_t limit = options_.target_tokens;
  if (room > 0) limit = std::min(limit, room - context_tokens);
  SectionChunker section(*counter_, breaks, text);
  // Packing counts the text alone; the embedded text (context + text) must
  // fit the model too. Where joining costs a token more than the parts, run
  // again with the limit lowered by the excess (rare: at most a few rounds).
  for (int round = 0;; ++round) {
    std::vector<Chunk> chunks =
        Pack(section, text, section.Units(limit), limit, std::min(options_.overlap_tokens, limit - 1));
    int64_t excess = 0;
    for (size_t c = 0; c < chunks.size(); ++c) {
      Chunk& chunk = chunks[c];
      chunk.position = first_position + static_cast<int64_t>(c);
      chunk.heading_path = heading_path;
      chunk.embed_text = JoinContext(context, chunk.text);
      chunk.embed_token_count = counter_->CountTokens(chunk.embed_text) + specials;
      if (room > 0) excess = std::max(excess, chunk.embed_token_count - options_.max_model_tokens);
    }
    if (excess <= 0 || limit - excess < 1 || round == 8) return chunks;
    limit -= excess;
  }
}

}  // namespace tinyrag
