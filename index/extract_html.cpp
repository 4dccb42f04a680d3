// HTML: gumbo builds the tree as browsers do (malformed markup included);
// one iterative walk turns it into sections. Iterative, not recursive, so a
// deeply nested page cannot overflow the stack.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gumbo.h"
#include "index/extract_internal.h"

namespace tinyrag::extract_internal {
namespace {

struct GumboOutputDeleter {
  void operator()(GumboOutput* output) const { gumbo_destroy_output(&kGumboDefaultOptions, output); }
};

// Elements whose content is never document text: code, styling, navigation
// and page furniture, form controls, embedded media.
bool IsDropped(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_SCRIPT: case GUMBO_TAG_STYLE: case GUMBO_TAG_NOSCRIPT: case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_NAV: case GUMBO_TAG_ASIDE: case GUMBO_TAG_FOOTER: case GUMBO_TAG_FORM:
    case GUMBO_TAG_BUTTON: case GUMBO_TAG_SELECT: case GUMBO_TAG_TEXTAREA: case GUMBO_TAG_IFRAME:
    case GUMBO_TAG_OBJECT: case GUMBO_TAG_EMBED: case GUMBO_TAG_SVG: case GUMBO_TAG_MATH:
    case GUMBO_TAG_CANVAS: case GUMBO_TAG_AUDIO: case GUMBO_TAG_VIDEO: case GUMBO_TAG_NOFRAMES:
    case GUMBO_TAG_HEAD:
      return true;
    default:
      return false;
  }
}

// Elements that end a paragraph before and after them.
bool IsBlock(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_P: case GUMBO_TAG_DIV: case GUMBO_TAG_SECTION: case GUMBO_TAG_ARTICLE:
    case GUMBO_TAG_MAIN: case GUMBO_TAG_HEADER: case GUMBO_TAG_BLOCKQUOTE: case GUMBO_TAG_PRE:
    case GUMBO_TAG_UL: case GUMBO_TAG_OL: case GUMBO_TAG_DL: case GUMBO_TAG_TABLE:
    case GUMBO_TAG_FIGURE: case GUMBO_TAG_FIGCAPTION: case GUMBO_TAG_ADDRESS: case GUMBO_TAG_DETAILS:
    case GUMBO_TAG_SUMMARY: case GUMBO_TAG_HR: case GUMBO_TAG_FIELDSET: case GUMBO_TAG_CAPTION:
    case GUMBO_TAG_CENTER: case GUMBO_TAG_BODY: case GUMBO_TAG_HTML:
      return true;
    default:
      return false;
  }
}

// Elements that start a new line inside a paragraph.
bool IsLine(GumboTag tag) {
  return tag == GUMBO_TAG_LI || tag == GUMBO_TAG_TR || tag == GUMBO_TAG_DT || tag == GUMBO_TAG_DD;
}

int HeadingLevel(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_H1: return 1;
    case GUMBO_TAG_H2: return 2;
    case GUMBO_TAG_H3: return 3;
    case GUMBO_TAG_H4: return 4;
    case GUMBO_TAG_H5: return 5;
    case GUMBO_TAG_H6: return 6;
    default: return 0;
  }
}

// Whether the space-separated attribute value `list` contains `word`.
bool HasWord(const GumboElement& element, const char* attribute, std::string_view word) {
  const GumboAttribute* attr = gumbo_get_attribute(&element.attributes, attribute);
  if (attr == nullptr) return false;
  std::string_view rest = attr->value;
  while (!rest.empty()) {
    const size_t space = rest.find_first_of(" \t\n");
    if (rest.substr(0, space) == word) return true;
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return false;
}

// Not shown (hidden, aria-hidden="true", an inline display:none), or page
// furniture by role (navigation, search) or a permalink marker ("¶" after
// every heading of Sphinx and many generators).
bool IsHidden(const GumboElement& element) {
  if (gumbo_get_attribute(&element.attributes, "hidden") != nullptr) return true;
  if (HasWord(element, "role", "navigation") || HasWord(element, "role", "search") ||
      HasWord(element, "class", "headerlink")) {
    return true;
  }
  if (const GumboAttribute* aria = gumbo_get_attribute(&element.attributes, "aria-hidden");
      aria != nullptr && absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(aria->value), "true")) {
    return true;
  }
  if (const GumboAttribute* style = gumbo_get_attribute(&element.attributes, "style"); style != nullptr) {
    std::string compact;
    for (char c : std::string_view(style->value)) {
      if (!absl::ascii_isspace(static_cast<unsigned char>(c))) compact.push_back(absl::ascii_tolower(c));
    }
    if (absl::StrContains(compact, "display:none")) return true;
  }
  return false;
}

bool Skipped(const GumboNode* node) {
  if (node->type == GUMBO_NODE_TEMPLATE || node->type == GUMBO_NODE_COMMENT) return true;
  return node->type == GUMBO_NODE_ELEMENT && (IsDropped(node->v.element.tag) || IsHidden(node->v.element));
}

const GumboVector* ChildrenOf(const GumboNode* node) {
  if (node->type == GUMBO_NODE_ELEMENT || node->type == GUMBO_NODE_TEMPLATE) return &node->v.element.children;
  if (node->type == GUMBO_NODE_DOCUMENT) return &node->v.document.children;
  return nullptr;
}

// Accumulates text with HTML white-space rules: runs collapse to one space
// outside <pre>, and breaks are requested rather than written, so that nested
// blocks produce one paragraph break, not several.
class TextSink {
 public:
  void Text(std::string_view text, bool preformatted) {
    if (preformatted) {
      if (!text.empty()) after_marker_ = false;
      FlushBreak();
      out_.append(text);
      space_ = false;
      return;
    }
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      const bool nbsp = c == '\xC2' && i + 1 < text.size() && text[i + 1] == '\xA0';
      if (nbsp || absl::ascii_isspace(static_cast<unsigned char>(c))) {
        if (nbsp) ++i;
        space_ = true;
        continue;
      }
      const bool had_break = pending_newlines_ > 0;
      after_marker_ = false;
      FlushBreak();
      if (space_ && !had_break && !out_.empty() && out_.back() != '\n' && out_.back() != ' ') {
        out_.push_back(' ');
      }
      space_ = false;
      out_.push_back(c);
    }
  }
  // Requests a line (1) or paragraph (2) break before the next text.
  void Break(int newlines) {
    if (after_marker_) return;
    if (newlines > pending_newlines_) pending_newlines_ = newlines;
    space_ = false;
  }
  // Starts a line with a list marker; breaks requested before the item's
  // first text (<li><p>...) do not separate it from its marker.
  void Marker(std::string_view marker) {
    FlushBreak();
    out_.append(marker);
    space_ = false;
    after_marker_ = true;
  }
  // Ends a list item (an empty one included): breaks count again.
  void EndMarker() { after_marker_ = false; }
  // Appends `text` right away if anything has been written on the line.
  void Separator(std::string_view text) {
    if (!out_.empty() && out_.back() != '\n' && pending_newlines_ == 0) {
      out_.append(text);
      space_ = false;
    }
  }
  std::string Take() {
    std::string text = std::move(out_);
    out_.clear();
    pending_newlines_ = 0;
    space_ = false;
    after_marker_ = false;
    return text;
  }

 private:
  void FlushBreak() {
    if (pending_newlines_ > 0 && !out_.empty()) {
      while (!out_.empty() && out_.back() == ' ') out_.pop_back();
      int have = 0;
      for (size_t i = out_.size(); i > 0 && out_[i - 1] == '\n'; --i) ++have;
      for (; have < pending_newlines_; ++have) out_.push_back('\n');
    }
    pending_newlines_ = 0;
  }

  std::string out_;
  int pending_newlines_ = 0;
  bool space_ = false;
  bool after_marker_ = false;
};

// The visible text of a subtree on one line (titles, headings).
std::string SubtreeText(const GumboNode* root) {
  TextSink sink;
  std::vector<const GumboNode*> stack{root};
  while (!stack.empty()) {
    const GumboNode* node = stack.back();
    stack.pop_back();
    if (Skipped(node) && node != root) continue;
    if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_WHITESPACE || node->type == GUMBO_NODE_CDATA) {
      sink.Text(node->v.text.text, false);
      continue;
    }
    if (const GumboVector* children = ChildrenOf(node)) {
      sink.Text(" ", false);  // element edges separate words ("<td>a</td><td>b</td>")
      for (unsigned i = children->length; i > 0; --i) {
        stack.push_back(static_cast<const GumboNode*>(children->data[i - 1]));
      }
    }
  }
  return OneLine(sink.Take());
}

// <title> under <head>, found without descending into the body.
std::string FindTitle(const GumboNode* html) {
  const GumboVector* children = ChildrenOf(html);
  if (children == nullptr) return {};
  for (unsigned i = 0; i < children->length; ++i) {
    const GumboNode* head = static_cast<const GumboNode*>(children->data[i]);
    if (head->type != GUMBO_NODE_ELEMENT || head->v.element.tag != GUMBO_TAG_HEAD) continue;
    for (unsigned k = 0; k < head->v.element.children.length; ++k) {
      const GumboNode* child = static_cast<const GumboNode*>(head->v.element.children.data[k]);
      if (child->type == GUMBO_NODE_ELEMENT && child->v.element.tag == GUMBO_TAG_TITLE) return SubtreeText(child);
    }
  }
  return {};
}

}  // namespace

absl::StatusOr<Document> ExtractHtml(std::string_view text, const std::string& source) {
  std::unique_ptr<GumboOutput, GumboOutputDeleter> output(
      gumbo_parse_with_options(&kGumboDefaultOptions, text.data(), text.size()));
  if (output == nullptr || output->root == nullptr) {
    return absl::InternalError(absl::StrCat(source, ": the HTML parser returned no document"));
  }

  Document doc;
  doc.source = source;
  doc.external_id = source;
  doc.metadata["format"] = DocFormatName(DocFormat::kHtml);
  std::string first_h1;
  std::vector<std::pair<int, std::string>> open_headings;  // (level, text), outermost first
  TextSink sink;
  auto flush = [&]() {
    std::vector<std::string> path;
    for (const auto& [level, heading] : open_headings) path.push_back(heading);
    doc.sections.push_back(Section{std::move(path), sink.Take()});
  };

  // Depth-first walk; a frame is revisited after its children to close blocks.
  struct Frame {
    const GumboNode* node;
    unsigned next_child;
  };
  std::vector<Frame> stack{{output->root, 0}};
  int pre_depth = 0;
  int list_item_depth = 0;  // inside a list item, blocks (<p>, nested lists) only break lines
  while (!stack.empty()) {
    Frame& frame = stack.back();
    const GumboNode* node = frame.node;
    if (frame.next_child == 0) {  // entering
      if (Skipped(node)) {
        stack.pop_back();
        continue;
      }
      if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_WHITESPACE || node->type == GUMBO_NODE_CDATA) {
        sink.Text(node->v.text.text, pre_depth > 0);
        stack.pop_back();
        continue;
      }
      if (node->type == GUMBO_NODE_ELEMENT) {
        const GumboTag tag = node->v.element.tag;
        if (const int level = HeadingLevel(tag); level > 0) {
          std::string heading = SubtreeText(node);
          if (!heading.empty()) {
            flush();
            if (level == 1 && first_h1.empty()) first_h1 = heading;
            while (!open_headings.empty() && open_headings.back().first >= level) open_headings.pop_back();
            open_headings.emplace_back(level, std::move(heading));
          }
          stack.pop_back();
          continue;
        }
        if (tag == GUMBO_TAG_BR) sink.Break(1);
        if (IsBlock(tag)) sink.Break(list_item_depth > 0 ? 1 : 2);
        if (IsLine(tag)) sink.Break(1);
        if (tag == GUMBO_TAG_LI) {
          sink.Marker("- ");
          ++list_item_depth;
        }
        if (tag == GUMBO_TAG_TD || tag == GUMBO_TAG_TH) sink.Separator(" | ");
        if (tag == GUMBO_TAG_PRE) ++pre_depth;
      }
    }
    const GumboVector* children = ChildrenOf(node);
    if (children != nullptr && frame.next_child < children->length) {
      const GumboNode* child = static_cast<const GumboNode*>(children->data[frame.next_child++]);
      stack.push_back({child, 0});  // may reallocate: `frame` is not used after this
      continue;
    }
    if (node->type == GUMBO_NODE_ELEMENT) {  // leaving
      const GumboTag tag = node->v.element.tag;
      if (tag == GUMBO_TAG_LI) {
        sink.EndMarker();
        --list_item_depth;
      }
      if (IsBlock(tag)) sink.Break(list_item_depth > 0 ? 1 : 2);
      if (IsLine(tag)) sink.Break(1);
      if (tag == GUMBO_TAG_PRE) --pre_depth;
    }
    stack.pop_back();
  }
  flush();

  doc.title = FindTitle(output->root);
  if (doc.title.empty()) doc.title = first_h1;
  return doc;
}

}  // namespace tinyrag::extract_internal
