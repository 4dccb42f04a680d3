// Text extraction: turns a file (or its bytes) into documents made of
// sections, each section being the text under one heading path.
//
// Formats, chosen by file extension (case-insensitive):
//   .txt .text          plain text; paragraphs are separated by blank lines
//   .md .markdown       ATX (#) and setext (===, ---) headings become heading
//                       paths (["Install", "Linux"]); fenced code is kept as
//                       text; YAML front matter is dropped (its title: used)
//   .html .htm          parsed by gumbo; <script>, <style>, <noscript>,
//                       <template>, <nav>, <aside>, <footer>, forms, embedded
//                       media and hidden elements are dropped; h1-h6 become
//                       heading paths; block elements end paragraphs
//   .pdf                poppler-cpp; text per page, lines grouped into
//                       paragraphs by their vertical gaps
//   .jsonl              one document per line: {"id", "text", "title"?,
//                       "metadata"?}; a bad line is reported and skipped
//
// Encoding policy (decided here, once): input must be UTF-8. A UTF-8 BOM is
// dropped. A file that is not text at all (a NUL byte, a UTF-16/32 BOM, or
// more than 1% of its bytes not valid UTF-8) is rejected with
// InvalidArgument. A few stray invalid bytes in otherwise valid UTF-8 are
// repaired: each becomes U+FFFD, and metadata "utf8_repaired" counts them.
//
// Normalization (what is stored, embedded and hashed): NFC; CR LF and CR
// become LF; control characters other than LF and TAB are dropped (form feed
// and vertical tab become paragraph breaks); trailing white space of every
// line is dropped; runs of blank lines become one blank line; leading and
// trailing blank lines are dropped.
//
// All functions are pure (no shared state) and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace tinyrag {

enum class DocFormat { kText, kMarkdown, kHtml, kPdf, kJsonl };

// "txt", "markdown", "html", "pdf", "jsonl".
std::string_view DocFormatName(DocFormat format);

// The text under one heading path. `heading_path` is empty for text before
// the first heading (and for formats without headings).
struct Section {
  std::vector<std::string> heading_path;
  std::string text;  // normalized; paragraphs separated by "\n\n"
};

struct Document {
  std::string source;       // the path (or URI) given to the extractor
  std::string external_id;  // .jsonl: the line's "id"; files: equal to `source`
  std::string title;        // never empty: falls back to the file name's stem, or the id
  std::vector<Section> sections;  // at least one, none with empty text
  // A JSON object: "format" always; "pages" for PDF; "utf8_repaired" when
  // invalid bytes were replaced; a .jsonl line's own "metadata" members.
  nlohmann::json metadata = nlohmann::json::object();
  // ContentHash(*this): equal hashes mean equal title, heading paths and text,
  // hence equal chunks and embeddings. Metadata is NOT part of it (a metadata
  // change needs no re-embedding, only an update of the stored metadata).
  std::string content_hash;
};

// A problem that skipped part of an input without failing all of it (today:
// a bad .jsonl line). `line` is 1-based, 0 when not line-related.
struct ExtractIssue {
  std::string source;
  int64_t line = 0;
  std::string message;
};

struct ExtractResult {
  std::vector<Document> documents;
  std::vector<ExtractIssue> issues;
};

struct ExtractOptions {
  // Files larger than this are refused (InvalidArgument) before being read.
  int64_t max_file_bytes = int64_t{256} << 20;
};

// The format for `path`'s extension. InvalidArgument naming the path and the
// supported extensions when it has none of them.
absl::StatusOr<DocFormat> FormatFromPath(std::string_view path);

// Reads and extracts `path`. Errors name the path: InvalidArgument for an
// unsupported extension, a file that is too large, not UTF-8 text, not a
// valid PDF, encrypted, or holding no text at all; NotFound / PermissionDenied
// / Internal for a file that cannot be read. A .jsonl file with some bad lines
// succeeds with the good documents and one issue per bad line; it fails only
// when no line gave a document.
absl::StatusOr<ExtractResult> ExtractFile(const std::string& path, const ExtractOptions& options = {});

// Extracts `bytes` as `format`; `source` names the input in documents and
// errors (a path or URI), and gives the fallback title. Same errors as
// ExtractFile after the file was read.
absl::StatusOr<ExtractResult> ExtractBytes(std::string_view bytes, DocFormat format, const std::string& source);

// Hex XXH3-128 of the document's title, heading paths and section texts in a
// canonical framing (32 lower-case hex digits). Deterministic across runs and
// machines.
std::string ContentHash(const Document& doc);

// Applies the normalization described above to already-valid UTF-8 text.
std::string NormalizeText(std::string_view text);

}  // namespace tinyrag
