// File reading, the encoding policy, normalization, hashing, and the two
// formats without structure of their own (plain text, JSON Lines). Markdown,
// HTML and PDF live in extract_markdown.cpp, extract_html.cpp, extract_pdf.cpp.
#include "index/extract.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "index/extract_internal.h"
#include "unicode/normalizer2.h"
#include "unicode/unistr.h"
#include "unicode/ustring.h"
#include "xxhash.h"

namespace tinyrag {
namespace extract_internal {

absl::StatusOr<std::string> CheckText(std::string_view bytes, const std::string& source, bool repair,
                                      int64_t* repaired) {
  if (repaired != nullptr) *repaired = 0;
  auto starts_with = [&](std::string_view prefix) { return bytes.substr(0, prefix.size()) == prefix; };
  if (starts_with(std::string_view("\x00\x00\xFE\xFF", 4)) || starts_with("\xFF\xFE") || starts_with("\xFE\xFF")) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": UTF-16/UTF-32 text is not supported; convert the file to UTF-8"));
  }
  if (starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
  if (bytes.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": binary data (NUL byte), not UTF-8 text"));
  }
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": text larger than 2 GiB"));
  }
  // ICU counts the invalid sequences while converting; the UTF-16 copy is
  // only needed when there is something to repair.
  UErrorCode status = U_ZERO_ERROR;
  int32_t utf16_len = 0;
  int32_t subs = 0;
  u_strFromUTF8WithSub(nullptr, 0, &utf16_len, bytes.data(), static_cast<int32_t>(bytes.size()), 0xFFFD, &subs,
                       &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status)) {
    return absl::InternalError(absl::StrCat(source, ": UTF-8 check failed: ", u_errorName(status)));
  }
  if (subs == 0) return std::string(bytes);
  if (static_cast<double>(subs) > 0.01 * static_cast<double>(bytes.size())) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not UTF-8 text (", subs,
                                                   " invalid byte sequences); convert the file to UTF-8"));
  }
  if (!repair) return std::string(bytes);
  std::u16string utf16(static_cast<size_t>(utf16_len), u'\0');
  status = U_ZERO_ERROR;
  u_strFromUTF8WithSub(utf16.data(), utf16_len, &utf16_len, bytes.data(), static_cast<int32_t>(bytes.size()),
                       0xFFFD, &subs, &status);
  if (U_FAILURE(status)) {
    return absl::InternalError(absl::StrCat(source, ": UTF-8 repair failed: ", u_errorName(status)));
  }
  if (repaired != nullptr) *repaired = subs;
  std::string out;
  icu::UnicodeString(false, utf16.data(), utf16_len).toUTF8String(out);
  return out;
}

std::string StemOf(std::string_view source) {
  std::string_view name = source;
  const size_t slash = name.find_last_of('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  const size_t dot = name.find_last_of('.');
  if (dot != std::string_view::npos && dot > 0) name = name.substr(0, dot);
  return name.empty() ? std::string(source) : std::string(name);
}

std::string_view StripTrailingWhitespace(std::string_view text) {
  while (!text.empty() && absl::ascii_isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

std::string_view StripWhitespace(std::string_view text) {
  while (!text.empty() && absl::ascii_isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  return StripTrailingWhitespace(text);
}

std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

absl::Status FinishDocument(Document& doc) {
  doc.title = OneLine(NormalizeText(doc.title));
  std::vector<Section> kept;
  for (Section& section : doc.sections) {
    section.text = NormalizeText(section.text);
    if (section.text.empty()) continue;
    for (std::string& heading : section.heading_path) heading = OneLine(NormalizeText(heading));
    kept.push_back(std::move(section));
  }
  doc.sections = std::move(kept);
  if (doc.sections.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(doc.source, ": no text to index"));
  }
  if (doc.title.empty()) doc.title = doc.external_id.empty() || doc.external_id == doc.source
                                         ? StemOf(doc.source)
                                         : doc.external_id;
  doc.content_hash = ContentHash(doc);
  return absl::OkStatus();
}

}  // namespace extract_internal

namespace {

using extract_internal::CheckText;
using extract_internal::FinishDocument;

// Reads a whole regular file; errors name the path and the system's reason.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path, int64_t max_bytes) {
  auto errno_status = [&](int err, std::string_view what) {
    std::string msg = absl::StrCat(path, ": ", std::string(what), ": ", std::strerror(err));
    if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(msg);
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
    return absl::InternalError(msg);
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status(errno, "cannot open");
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno_status(errno, "cannot stat");
  if (!S_ISREG(st.st_mode)) return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  if (st.st_size > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": file of ", st.st_size, " bytes is larger than the limit of ", max_bytes));
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status(errno, "read failed");
    if (n == 0) break;  // the file shrank while being read
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

absl::StatusOr<Document> ExtractPlainText(std::string_view bytes, const std::string& source) {
  int64_t repaired = 0;
  auto text = CheckText(bytes, source, /*repair=*/true, &repaired);
  if (!text.ok()) return text.status();
  Document doc;
  doc.source = source;
  doc.external_id = source;
  doc.sections.push_back(Section{{}, std::move(*text)});
  doc.metadata["format"] = DocFormatName(DocFormat::kText);
  if (repaired > 0) doc.metadata["utf8_repaired"] = repaired;
  if (absl::Status s = FinishDocument(doc); !s.ok()) return s;
  return doc;
}

// One JSON Lines record -> a document, or the reason the line is skipped.
absl::StatusOr<Document> JsonlLine(std::string_view line, const std::string& source) {
  nlohmann::json record;
  try {
    record = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", e.what()));
  }
  if (!record.is_object()) return absl::InvalidArgumentError("not a JSON object");
  Document doc;
  doc.source = source;
  auto id = record.find("id");
  if (id == record.end()) return absl::InvalidArgumentError("missing \"id\"");
  if (id->is_string()) {
    doc.external_id = id->get<std::string>();
  } else if (id->is_number_integer()) {
    doc.external_id = id->dump();
  } else {
    return absl::InvalidArgumentError("\"id\" must be a string or an integer");
  }
  if (doc.external_id.empty()) return absl::InvalidArgumentError("\"id\" is empty");
  auto text = record.find("text");
  if (text == record.end()) return absl::InvalidArgumentError("missing \"text\"");
  if (!text->is_string()) return absl::InvalidArgumentError("\"text\" must be a string");
  auto title = record.find("title");
  if (title != record.end() && !title->is_null()) {
    if (!title->is_string()) return absl::InvalidArgumentError("\"title\" must be a string");
    doc.title = title->get<std::string>();
  }
  auto metadata = record.find("metadata");
  if (metadata != record.end() && !metadata->is_null()) {
    if (!metadata->is_object()) return absl::InvalidArgumentError("\"metadata\" must be an object");
    doc.metadata = *metadata;
  }
  if (!doc.metadata.contains("format")) doc.metadata["format"] = DocFormatName(DocFormat::kJsonl);
  doc.sections.push_back(Section{{}, text->get<std::string>()});
  if (absl::Status s = FinishDocument(doc); !s.ok()) return absl::InvalidArgumentError("\"text\" is empty");
  return doc;
}

absl::StatusOr<ExtractResult> ExtractJsonl(std::string_view bytes, const std::string& source) {
  // No repair: a line with invalid UTF-8 is reported by the JSON parser and
  // skipped like any other bad line.
  auto text = CheckText(bytes, source, /*repair=*/false, nullptr);
  if (!text.ok()) return text.status();
  ExtractResult result;
  std::unordered_map<std::string, int64_t> first_line_of_id;
  std::string_view rest = *text;
  int64_t line_no = 0;
  int64_t non_blank = 0;
  while (!rest.empty()) {
    ++line_no;
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (extract_internal::StripWhitespace(line).empty()) continue;
    ++non_blank;
    auto doc = JsonlLine(line, source);
    if (!doc.ok()) {
      result.issues.push_back({source, line_no, std::string(doc.status().message())});
      continue;
    }
    auto [it, inserted] = first_line_of_id.emplace(doc->external_id, line_no);
    if (!inserted) {
      result.issues.push_back(
          {source, line_no, absl::StrCat("duplicate id \"", doc->external_id, "\" (first on line ", it->second, ")")});
      continue;
    }
    result.documents.push_back(std::move(*doc));
  }
  if (result.documents.empty()) {
    std::string why = non_blank == 0 ? "no records" : absl::StrCat("none of its ", non_blank, " lines is a valid record");
    if (!result.issues.empty()) {
      absl::StrAppend(&why, " (line ", result.issues.front().line, ": ", result.issues.front().message, ")");
    }
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", why));
  }
  return result;
}

}  // namespace

std::string_view DocFormatName(DocFormat format) {
  switch (format) {
    case DocFormat::kText: return "txt";
    case DocFormat::kMarkdown: return "markdown";
    case DocFormat::kHtml: return "html";
    case DocFormat::kPdf: return "pdf";
    case DocFormat::kJsonl: return "jsonl";
  }
  return "unknown";
}

absl::StatusOr<DocFormat> FormatFromPath(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const size_t dot = name.find_last_of('.');
  const std::string ext = dot == std::string_view::npos ? "" : absl::AsciiStrToLower(std::string(name.substr(dot + 1)));
  static const std::pair<std::string_view, DocFormat> kExtensions[] = {
      {"txt", DocFormat::kText},  {"text", DocFormat::kText}, {"md", DocFormat::kMarkdown},
      {"markdown", DocFormat::kMarkdown}, {"html", DocFormat::kHtml}, {"htm", DocFormat::kHtml},
      {"pdf", DocFormat::kPdf},   {"jsonl", DocFormat::kJsonl},
  };
  for (const auto& [e, format] : kExtensions) {
    if (ext == e) return format;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      std::string(path), ": unsupported file type", ext.empty() ? "" : absl::StrCat(" \".", ext, "\""),
      " (supported: .txt .text .md .markdown .html .htm .pdf .jsonl)"));
}

absl::StatusOr<ExtractResult> ExtractBytes(std::string_view bytes, DocFormat format, const std::string& source) {
  absl::StatusOr<Document> doc;
  switch (format) {
    case DocFormat::kJsonl:
      return ExtractJsonl(bytes, source);
    case DocFormat::kText:
      doc = ExtractPlainText(bytes, source);
      break;
    case DocFormat::kMarkdown:
    case DocFormat::kHtml: {
      int64_t repaired = 0;
      auto text = CheckText(bytes, source, /*repair=*/true, &repaired);
      if (!text.ok()) return text.status();
      if (format == DocFormat::kMarkdown) {
        doc = extract_internal::ExtractMarkdown(*text, source);
      } else {
        doc = extract_internal::ExtractHtml(*text, source);
      }
      if (doc.ok() && repaired > 0) doc->metadata["utf8_repaired"] = repaired;
      if (doc.ok()) {
        if (absl::Status s = FinishDocument(*doc); !s.ok()) return s;
      }
      break;
    }
    case DocFormat::kPdf:
      doc = extract_internal::ExtractPdf(bytes, source);
      if (doc.ok()) {
        if (absl::Status s = FinishDocument(*doc); !s.ok()) return s;
      }
      break;
  }
  if (!doc.ok()) return doc.status();
  ExtractResult result;
  result.documents.push_back(std::move(*doc));
  return result;
}

absl::StatusOr<ExtractResult> ExtractFile(const std::string& path, const ExtractOptions& options) {
  auto format = FormatFromPath(path);
  if (!format.ok()) return format.status();
  auto bytes = ReadFileBytes(path, options.max_file_bytes);
  if (!bytes.ok()) return bytes.status();
  return ExtractBytes(*bytes, *format, path);
}

std::string ContentHash(const Document& doc) {
  // Normalized text holds no control characters other than \n and \t, so
  // these separators cannot occur inside the framed strings.
  std::string framed = doc.title;
  framed.push_back('\x1e');
  for (const Section& section : doc.sections) {
    for (const std::string& heading : section.heading_path) {
      framed += heading;
      framed.push_back('\x1f');
    }
    framed.push_back('\x1d');
    framed += section.text;
    framed.push_back('\x1e');
  }
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(framed.data(), framed.size()));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * sizeof(canonical.digest));
  for (unsigned char byte : canonical.digest) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 15]);
  }
  return hex;
}

std::string NormalizeText(std::string_view text) {
  std::string nfc;
  const bool ascii = std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (!ascii) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* normalizer = icu::Normalizer2::getNFCInstance(status);
    const icu::UnicodeString source = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), text.size()));
    if (U_SUCCESS(status) && normalizer->quickCheck(source, status) != UNORM_YES && U_SUCCESS(status)) {
      icu::UnicodeString normalized = normalizer->normalize(source, status);
      if (U_SUCCESS(status)) normalized.toUTF8String(nfc);
    }
    if (!nfc.empty()) text = nfc;
  }

  // Character pass: line ends, control characters; then a line pass: trailing
  // white space, blank-line runs.
  std::string cleaned;
  cleaned.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r') {
      cleaned.push_back('\n');
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\f' || c == '\v') {
      cleaned += "\n\n";
    } else if (c < 0x20 && c != '\n' && c != '\t') {
      continue;
    } else if (c == 0x7f) {
      continue;
    } else if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      ++i;  // C1 control character U+0080..U+009F
    } else if (text.substr(i, 3) == "\xE2\x80\xA8") {  // U+2028 LINE SEPARATOR
      cleaned.push_back('\n');
      i += 2;
    } else if (text.substr(i, 3) == "\xE2\x80\xA9") {  // U+2029 PARAGRAPH SEPARATOR
      cleaned += "\n\n";
      i += 2;
    } else if (text.substr(i, 3) == "\xEF\xBB\xBF") {  // stray BOM / zero-width no-break space
      i += 2;
    } else {
      cleaned.push_back(static_cast<char>(c));
    }
  }

  std::string out;
  out.reserve(cleaned.size());
  size_t pending_newlines = 0;
  size_t pos = 0;
  while (pos <= cleaned.size()) {
    size_t end = cleaned.find('\n', pos);
    if (end == std::string::npos) end = cleaned.size();
    std::string_view line(cleaned.data() + pos, end - pos);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty()) {
      if (!out.empty()) ++pending_newlines;
    } else {
      if (!out.empty()) out.append(std::min<size_t>(pending_newlines + 1, 2), '\n');
      pending_newlines = 0;
      out.append(line);
    }
    pos = end + 1;
  }
  return out;
}

}  // namespace tinyrag
