// Pieces shared by the per-format extractors (extract_*.cpp). Not a public
// header: index/extract.h is the interface.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/extract.h"

namespace tinyrag::extract_internal {

// Rejects bytes that are not text (NUL, UTF-16/32 byte order mark, more than
// 1% invalid UTF-8) with InvalidArgument naming `source`. Otherwise returns the
// text without a UTF-8 BOM; when `repair`, invalid sequences become U+FFFD and
// `*repaired` (optional) receives their count, else the bytes are returned as
// they are (the caller reports invalid UTF-8 itself).
absl::StatusOr<std::string> CheckText(std::string_view bytes, const std::string& source, bool repair,
                                      int64_t* repaired);

// The file name without folders and extension ("docs/a.b.md" -> "a.b"); the
// whole source when that is empty.
std::string StemOf(std::string_view source);

// Collapses every run of white space to one space and trims both ends
// (titles and headings are one line).
std::string OneLine(std::string_view text);

// Normalizes the title and every section, drops empty sections, fills in the
// fallback title and the content hash. InvalidArgument naming the source when
// no text is left.
absl::Status FinishDocument(Document& doc);

// White space (ASCII) trimmed off both ends / the end. Abseil's versions take
// absl::string_view, which Debian's build keeps distinct from std::string_view.
std::string_view StripWhitespace(std::string_view text);
std::string_view StripTrailingWhitespace(std::string_view text);

// Per-format extractors over valid UTF-8 (HTML, Markdown) or raw bytes (PDF).
// They fill source, title (possibly empty), sections and metadata; the
// caller runs FinishDocument.
Document ExtractMarkdown(std::string_view text, const std::string& source);
absl::StatusOr<Document> ExtractHtml(std::string_view text, const std::string& source);
absl::StatusOr<Document> ExtractPdf(std::string_view bytes, const std::string& source);

}  // namespace tinyrag::extract_internal
