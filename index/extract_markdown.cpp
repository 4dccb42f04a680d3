// Markdown: a line scanner for the block structure that matters to retrieval
// (headings, fenced code, front matter). Inline markup is left in the text:
// it is short, and the encoder reads it as punctuation.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "index/extract_internal.h"

namespace tinyrag::extract_internal {
namespace {

// Leading spaces of a block marker: CommonMark allows up to three.
std::string_view StripIndent(std::string_view line, bool* ok) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  *ok = n <= 3;
  return line.substr(n);
}

// "## Title ##" -> level 2, "Title". Level 0 when the line is no ATX heading.
int AtxHeading(std::string_view line, std::string* text) {
  bool ok = false;
  std::string_view rest = StripIndent(line, &ok);
  if (!ok) return 0;
  int level = 0;
  while (level < static_cast<int>(rest.size()) && rest[level] == '#') ++level;
  if (level == 0 || level > 6) return 0;
  rest.remove_prefix(level);
  if (!rest.empty() && rest.front() != ' ' && rest.front() != '\t') return 0;
  rest = StripWhitespace(rest);
  // An optional closing run of '#' preceded by a space (or making up the whole rest).
  size_t end = rest.size();
  while (end > 0 && rest[end - 1] == '#') --end;
  if (end == 0) {
    rest = {};
  } else if (end < rest.size() && (rest[end - 1] == ' ' || rest[end - 1] == '\t')) {
    rest = StripWhitespace(rest.substr(0, end));
  }
  *text = std::string(rest);
  return level;
}

// "===" -> 1, "---" -> 2 (setext underlines), else 0.
int SetextUnderline(std::string_view line) {
  bool ok = false;
  std::string_view rest = StripTrailingWhitespace(StripIndent(line, &ok));
  if (!ok || rest.empty()) return 0;
  const char c = rest.front();
  if (c != '=' && c != '-') return 0;
  for (char x : rest) {
    if (x != c) return 0;
  }
  return c == '=' ? 1 : 2;
}

// The fence string ("```", "~~~~") opening a code block, or "".
std::string_view FenceOf(std::string_view line) {
  bool ok = false;
  std::string_view rest = StripIndent(line, &ok);
  if (!ok || rest.size() < 3 || (rest[0] != '`' && rest[0] != '~')) return {};
  size_t n = 0;
  while (n < rest.size() && rest[n] == rest[0]) ++n;
  return n >= 3 ? rest.substr(0, n) : std::string_view();
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    pos = end + 1;
  }
  return lines;
}

// YAML front matter ("---" first line ... "---" or "..."): the number of lines
// it spans (0 when absent) and its title: value.
size_t FrontMatter(const std::vector<std::string_view>& lines, std::string* title) {
  if (lines.empty() || StripTrailingWhitespace(lines[0]) != "---") return 0;
  for (size_t i = 1; i < lines.size() && i < 200; ++i) {
    std::string_view l = StripTrailingWhitespace(lines[i]);
    if (l == "---" || l == "...") {
      for (size_t k = 1; k < i; ++k) {
        if (lines[k].starts_with("title:")) {
          std::string_view v = StripWhitespace(lines[k].substr(6));
          if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
            v = v.substr(1, v.size() - 2);
          }
          *title = std::string(v);
        }
      }
      return i + 1;
    }
  }
  return 0;
}

}  // namespace

Document ExtractMarkdown(std::string_view text, const std::string& source) {
  Document doc;
  doc.source = source;
  doc.external_id = source;
  doc.metadata["format"] = DocFormatName(DocFormat::kMarkdown);

  const std::vector<std::string_view> lines = SplitLines(text);
  std::string front_title;
  const size_t first = FrontMatter(lines, &front_title);

  std::vector<std::pair<int, std::string>> open_headings;  // (level, text), outermost first
  std::vector<std::string> body;        // lines of the current section
  size_t paragraph_start = 0;           // index in `body` where the current paragraph began
  std::string first_h1;
  std::string_view fence;               // non-empty inside a fenced code block

  auto flush = [&]() {
    std::vector<std::string> path;
    for (const auto& [level, heading] : open_headings) path.push_back(heading);
    doc.sections.push_back(Section{std::move(path), absl::StrJoin(body, "\n")});
    body.clear();
    paragraph_start = 0;
  };
  auto open_heading = [&](int level, std::string heading) {
    flush();
    if (level == 1 && first_h1.empty()) first_h1 = heading;
    while (!open_headings.empty() && open_headings.back().first >= level) open_headings.pop_back();
    open_headings.emplace_back(level, std::move(heading));
  };

  for (size_t i = first; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (!fence.empty()) {
      body.emplace_back(line);
      // A closing fence: the same character, at least as long, nothing after it.
      const std::string_view closing = FenceOf(line);
      if (closing.size() >= fence.size() && closing[0] == fence[0] &&
          StripWhitespace(line).size() == closing.size()) {
        fence = {};
      }
      if (fence.empty()) paragraph_start = body.size();
      continue;
    }
    if (std::string_view opening = FenceOf(line); !opening.empty()) {
      fence = opening;
      body.emplace_back(line);
      continue;
    }
    std::string heading;
    if (int level = AtxHeading(line, &heading); level > 0) {
      open_heading(level, std::move(heading));
      continue;
    }
    if (StripWhitespace(line).empty()) {
      body.emplace_back();
      paragraph_start = body.size();
      continue;
    }
    // A setext underline turns the paragraph just above into a heading; with
    // no paragraph above, "---" is a thematic break (dropped).
    if (int level = SetextUnderline(line); level > 0) {
      if (paragraph_start < body.size()) {
        std::vector<std::string> para(body.begin() + static_cast<std::ptrdiff_t>(paragraph_start), body.end());
        body.resize(paragraph_start);
        open_heading(level, OneLine(absl::StrJoin(para, " ")));
        continue;
      }
      if (level == 2) continue;
    }
    body.emplace_back(line);
  }
  flush();

  doc.title = !front_title.empty() ? front_title : first_h1;
  return doc;
}

}  // namespace tinyrag::extract_internal
