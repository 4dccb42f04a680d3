// PDF: poppler-cpp gives the words of each page in reading order with their
// boxes; words are joined into lines by their vertical position and lines into
// paragraphs by the gaps between them, so chunking sees real paragraphs
// rather than one line per paragraph.
#include <algorithm>
#include <climits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "index/extract_internal.h"
#include "poppler/cpp/poppler-document.h"
#include "poppler/cpp/poppler-global.h"
#include "poppler/cpp/poppler-page.h"

namespace tinyrag::extract_internal {
namespace {

// Poppler reports syntax problems of damaged files on stderr; the caller
// gets a status instead, so its messages are dropped.
void IgnorePopplerMessage(const std::string&, void*) {}

std::string Utf8(const poppler::ustring& text) {
  const poppler::byte_array bytes = text.to_utf8();
  return std::string(bytes.begin(), bytes.end());
}

struct Line {
  std::string text;
  double top = 0, bottom = 0;
};

std::vector<Line> PageLines(const poppler::page& page) {
  std::vector<Line> lines;
  bool space_after_last = false;
  double last_right = 0;
  for (const poppler::text_box& box : page.text_list()) {
    const std::string word = Utf8(box.text());
    if (word.empty()) continue;
    const poppler::rectf r = box.bbox();
    const double height = std::max(r.height(), 1e-3);
    const double center = r.top() + height / 2;
    const bool same_line = !lines.empty() && center > lines.back().top && center < lines.back().bottom &&
                           r.left() >= last_right - height;
    if (same_line) {
      Line& line = lines.back();
      if (space_after_last || r.left() - last_right > 0.15 * height) line.text.push_back(' ');
      line.text += word;
      line.top = std::min(line.top, r.top());
      line.bottom = std::max(line.bottom, r.bottom());
    } else {
      lines.push_back(Line{word, r.top(), r.top() + height});
    }
    space_after_last = box.has_space_after();
    last_right = r.right();
  }
  return lines;
}

// Lines -> paragraphs: a break where the gap to the next line exceeds about
// half a line (normal leading is a fifth of one) or the text jumps upwards
// (a new column). A word hyphenated across lines is joined again.
std::string PageText(const std::vector<Line>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    const Line& line = lines[i];
    if (i > 0) {
      const Line& prev = lines[i - 1];
      const double height = std::max(prev.bottom - prev.top, line.bottom - line.top);
      const double gap = line.top - prev.bottom;
      if (line.top < prev.top || gap > 0.6 * height) {
        out += "\n\n";
      } else if (out.size() >= 2 && out.back() == '-' && absl::ascii_isalpha(static_cast<unsigned char>(out[out.size() - 2])) &&
                 absl::ascii_islower(static_cast<unsigned char>(line.text.front()))) {
        out.pop_back();
      } else {
        out.push_back(' ');
      }
    }
    out += line.text;
  }
  return out;
}

// Tables of contents fill lines with dot leaders ("Intro . . . . . 4"): a run
// of four or more dots (spaced or not) becomes " ... ", which carries the
// same meaning in a few bytes instead of dozens of tokens.
std::string CollapseLeaders(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '.') {
      out.push_back(text[i++]);
      continue;
    }
    size_t j = i;
    int dots = 0;
    while (j < text.size() && (text[j] == '.' || text[j] == ' ')) dots += text[j++] == '.';
    if (dots >= 4) {
      while (!out.empty() && out.back() == ' ') out.pop_back();
      out += j < text.size() ? " ... " : " ...";
    } else {
      out.append(text.substr(i, j - i));
    }
    i = j;
  }
  return out;
}

}  // namespace

absl::StatusOr<Document> ExtractPdf(std::string_view bytes, const std::string& source) {
  static std::once_flag quiet;
  std::call_once(quiet, [] { poppler::set_debug_error_function(IgnorePopplerMessage, nullptr); });
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": PDF larger than 2 GiB"));
  }
  try {
    // Poppler reads `bytes` in place: they outlive `pdf`.
    std::unique_ptr<poppler::document> pdf(
        poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
    if (pdf == nullptr) return absl::InvalidArgumentError(absl::StrCat(source, ": not a valid PDF file"));
    if (pdf->is_locked()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": encrypted PDF (a password is needed to read it)"));
    }
    Document doc;
    doc.source = source;
    doc.external_id = source;
    doc.title = Utf8(pdf->info_key("Title"));
    doc.metadata["format"] = DocFormatName(DocFormat::kPdf);
    const int pages = pdf->pages();
    doc.metadata["pages"] = pages;
    std::vector<std::string> page_texts;
    for (int p = 0; p < pages; ++p) {
      std::unique_ptr<poppler::page> page(pdf->create_page(p));
      if (page == nullptr) continue;
      std::string text = CollapseLeaders(PageText(PageLines(*page)));
      if (!text.empty()) page_texts.push_back(std::move(text));
    }
    if (page_texts.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": PDF of ", pages, " pages has no extractable text (scanned images?)"));
    }
    doc.sections.push_back(Section{{}, absl::StrJoin(page_texts, "\n\n")});
    return doc;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(source, ": reading the PDF failed: ", e.what()));
  }
}

}  // namespace tinyrag::extract_internal
