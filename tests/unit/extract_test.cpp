// Text extraction: every format from files written in a temporary folder,
// the encoding policy, normalization, content hashes, and errors (never a
// crash) on unreadable, unsupported, binary and damaged input.
#include "index/extract.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

class ExtractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tinyrag_extract_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir_, ec);
  }
  std::string Write(const std::string& name, std::string_view bytes) {
    const fs::path path = dir_ / name;
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path.string();
  }
  // The single document of a file that must extract cleanly.
  Document One(const std::string& name, std::string_view bytes) {
    auto result = ExtractFile(Write(name, bytes));
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok() || result->documents.size() != 1) {
      ADD_FAILURE() << name << ": expected one document";
      return {};
    }
    EXPECT_TRUE(result->issues.empty());
    return result->documents[0];
  }

  fs::path dir_;
};

std::vector<std::vector<std::string>> Paths(const Document& doc) {
  std::vector<std::vector<std::string>> paths;
  for (const Section& s : doc.sections) paths.push_back(s.heading_path);
  return paths;
}

std::string AllText(const Document& doc) {
  std::string all;
  for (const Section& s : doc.sections) all += s.text + "\n\n";
  return all;
}

TEST_F(ExtractTest, PlainTextIsNormalized) {
  const Document doc = One("notes.txt", "First line  \r\nsecond line\r\n\r\n\r\n\r\nNext\tparagraph.\x01\n\n\n");
  EXPECT_EQ(doc.source, (dir_ / "notes.txt").string());
  EXPECT_EQ(doc.external_id, doc.source);
  EXPECT_EQ(doc.title, "notes");
  ASSERT_EQ(doc.sections.size(), 1u);
  EXPECT_TRUE(doc.sections[0].heading_path.empty());
  EXPECT_EQ(doc.sections[0].text, "First line\nsecond line\n\nNext\tparagraph.");
  EXPECT_EQ(doc.metadata["format"], "txt");
  EXPECT_EQ(doc.content_hash.size(), 32u);
  EXPECT_EQ(doc.content_hash.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST_F(ExtractTest, NormalizationComposesAndDropsControls) {
  // e + combining acute -> é (NFC); BOM inside text, C1 control, form feed.
  EXPECT_EQ(NormalizeText("cafe\xCC\x81 \xEF\xBB\xBFok\xC2\x85!\fnext"), "caf\xC3\xA9 ok!\n\nnext");
  EXPECT_EQ(NormalizeText("\n\n  \na\n \n \nb  \n\n"), "a\n\nb");
  EXPECT_EQ(NormalizeText(""), "");
}

TEST_F(ExtractTest, ContentHashFollowsTextNotLineEndingsOrMetadata) {
  const Document a = One("a.txt", "Alpha beta.\n\nGamma.\n");
  const Document b = One("b.txt", "Alpha beta.\r\n\r\nGamma.\r\n");
  Document b_same_title = b;
  b_same_title.title = a.title;
  EXPECT_EQ(ContentHash(b_same_title), a.content_hash);  // same title and text
  EXPECT_NE(a.content_hash, b.content_hash);              // titles "a" and "b" differ
  Document changed = a;
  changed.sections[0].text += " More.";
  EXPECT_NE(ContentHash(changed), a.content_hash);
  Document moved = a;  // same text under another heading is another document
  moved.sections[0].heading_path = {"Intro"};
  EXPECT_NE(ContentHash(moved), a.content_hash);
  Document meta = a;
  meta.metadata["team"] = "support";
  EXPECT_EQ(ContentHash(meta), a.content_hash);
  EXPECT_EQ(ContentHash(a), ContentHash(a));
}

TEST_F(ExtractTest, MarkdownKeepsHeadingPaths) {
  const Document doc = One("guide.md",
                           "Intro text before any heading.\n"
                           "\n"
                           "# Guide\n"
                           "Welcome.\n"
                           "## Install ##\n"
                           "Pick a platform.\n"
                           "### Linux\n"
                           "Run the installer.\n"
                           "```sh\n"
                           "# not a heading: a shell comment\n"
                           "make install\n"
                           "```\n"
                           "### macOS\n"
                           "Use the package.\n"
                           "\n"
                           "Usage notes\n"
                           "-----------\n"
                           "Setext heading above.\n"
                           "\n"
                           "---\n"
                           "\n"
                           "# Reference\n"
                           "#hashtag is text\n");
  EXPECT_EQ(doc.title, "Guide");
  EXPECT_THAT(Paths(doc), ElementsAre(std::vector<std::string>{}, std::vector<std::string>{"Guide"},
                                      std::vector<std::string>{"Guide", "Install"},
                                      std::vector<std::string>{"Guide", "Install", "Linux"},
                                      std::vector<std::string>{"Guide", "Install", "macOS"},
                                      std::vector<std::string>{"Guide", "Usage notes"},
                                      std::vector<std::string>{"Reference"}));
  EXPECT_EQ(doc.sections[0].text, "Intro text before any heading.");
  EXPECT_EQ(doc.sections[3].text, "Run the installer.\n```sh\n# not a heading: a shell comment\nmake install\n```");
  EXPECT_EQ(doc.sections[4].text, "Use the package.");
  EXPECT_EQ(doc.sections[5].text, "Setext heading above.");
  EXPECT_EQ(doc.sections[6].text, "#hashtag is text");
  EXPECT_EQ(doc.metadata["format"], "markdown");
}

TEST_F(ExtractTest, MarkdownFrontMatterGivesTitle) {
  const Document doc = One("page.markdown", "---\ntitle: \"Release notes\"\ntags: [a]\n---\nBody text.\n");
  EXPECT_EQ(doc.title, "Release notes");
  ASSERT_EQ(doc.sections.size(), 1u);
  EXPECT_EQ(doc.sections[0].text, "Body text.");
}

TEST_F(ExtractTest, MarkdownWithoutHeadingsFallsBackToFileName) {
  const Document doc = One("faq.MD", "Just text.\n");
  EXPECT_EQ(doc.title, "faq");
}

TEST_F(ExtractTest, HtmlDropsScriptsAndKeepsStructure) {
  const Document doc = One("page.html", R"(<!DOCTYPE html>
<html><head><title>  Support   Center </title><style>body { color: red }</style>
<script>var secret = "SCRIPT_TEXT";</script></head>
<body>
<nav><a href="/">Home</a> NAV_TEXT</nav>
<noscript>NOSCRIPT_TEXT</noscript>
<template><p>TEMPLATE_TEXT</p></template>
<div hidden>HIDDEN_TEXT</div><div role="navigation">ROLE_NAV</div><span style="display: none">STYLE_HIDDEN</span>
<h1>Accounts</h1>
<p>Reset your <b>password</b> from the
   login page &amp; wait.</p><p>Second&nbsp;paragraph.</p>
<h2>Billing<a class="headerlink" href="#billing">¶</a></h2>
<ul><li>Cards</li><li><p>Invoices</p><ul><li>Nested</li></ul></li><li></li><li>Last</li></ul>
<table><tr><th>Plan</th><td>Price</td></tr></table>
<pre>  keep   this
spacing</pre>
<script>document.write("LATE_SCRIPT")</script>
<footer>FOOTER_TEXT</footer>
</body></html>)");
  EXPECT_EQ(doc.title, "Support Center");
  EXPECT_THAT(Paths(doc), ElementsAre(std::vector<std::string>{"Accounts"},
                                      std::vector<std::string>{"Accounts", "Billing"}));
  EXPECT_EQ(doc.sections[0].text, "Reset your password from the login page & wait.\n\nSecond paragraph.");
  EXPECT_EQ(doc.sections[1].text, "- Cards\n- Invoices\n- Nested\n-\n- Last\n\nPlan | Price\n\n  keep   this\nspacing");
  const std::string all = AllText(doc);
  for (const char* noise : {"SCRIPT_TEXT", "color: red", "NAV_TEXT", "NOSCRIPT_TEXT", "TEMPLATE_TEXT", "HIDDEN_TEXT",
                            "STYLE_HIDDEN", "ROLE_NAV", "\xC2\xB6", "LATE_SCRIPT", "FOOTER_TEXT", "Home"}) {
    EXPECT_THAT(all, Not(HasSubstr(noise)));
  }
  EXPECT_EQ(doc.metadata["format"], "html");
}

TEST_F(ExtractTest, HtmlTitleFallsBackToFirstH1AndToleratesBrokenMarkup) {
  const Document doc = One("broken.htm", "<body><h1>Main <i>topic</i></h1><p>unclosed <b>bold<p>next<div>tail");
  EXPECT_EQ(doc.title, "Main topic");
  ASSERT_EQ(doc.sections.size(), 1u);
  EXPECT_EQ(doc.sections[0].heading_path, std::vector<std::string>{"Main topic"});
  EXPECT_EQ(doc.sections[0].text, "unclosed bold\n\nnext\n\ntail");
}

// The walk is iterative; 4000 levels keep the test fast (gumbo's own time
// grows with the square of the nesting depth: 20000 levels take ~8 s).
TEST_F(ExtractTest, HtmlDeepNestingDoesNotCrash) {
  std::string html = "<html><body>";
  for (int i = 0; i < 4000; ++i) html += "<div>";
  html += "deep text";
  auto result = ExtractBytes(html, DocFormat::kHtml, "deep.html");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(AllText(result->documents[0]), HasSubstr("deep text"));
}

// A minimal valid PDF: two pages, Helvetica text, an Info title. Offsets in
// the cross-reference table are computed, so poppler needs no repair.
std::string TinyPdf() {
  const std::vector<std::string> page_streams = {
      "BT /F1 12 Tf 72 720 Td (The first paragraph starts here and) Tj 0 -14 Td (goes on to a hyphen-) Tj "
      "0 -14 Td (ated word.) Tj 0 -40 Td (A second paragraph after a gap.) Tj ET",
      "BT /F1 12 Tf 72 720 Td (Page two has its own text.) Tj 0 -40 Td (Contents . . . . . . . . . 7) Tj ET"};
  std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R /Resources << /Font << /F1 7 0 R >> >> >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R /Resources << /Font << /F1 7 0 R >> >> >>",
  };
  for (const std::string& s : page_streams) {
    objects.push_back("<< /Length " + std::to_string(s.size()) + " >>\nstream\n" + s + "\nendstream");
  }
  objects.push_back("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  objects.push_back("<< /Title (Tiny Manual) >>");
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t off : offsets) {
    char line[32];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", off);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) + " /Root 1 0 R /Info 8 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

TEST_F(ExtractTest, PdfTextByPageWithParagraphs) {
  const Document doc = One("manual.pdf", TinyPdf());
  EXPECT_EQ(doc.title, "Tiny Manual");
  EXPECT_EQ(doc.metadata["format"], "pdf");
  EXPECT_EQ(doc.metadata["pages"], 2);
  ASSERT_EQ(doc.sections.size(), 1u);
  EXPECT_EQ(doc.sections[0].text,
            "The first paragraph starts here and goes on to a hyphenated word.\n\n"
            "A second paragraph after a gap.\n\nPage two has its own text.\n\nContents ... 7");
}

TEST_F(ExtractTest, DamagedPdfIsAnError) {
  const std::string pdf = TinyPdf();
  for (const std::string& bytes : {std::string("%PDF-1.4\nnot really"), std::string("hello"), pdf.substr(0, 200)}) {
    auto result = ExtractFile(Write("bad.pdf", bytes));
    ASSERT_FALSE(result.ok());
    EXPECT_THAT(result.status().message(), HasSubstr("bad.pdf"));
  }
}

TEST_F(ExtractTest, JsonlReportsBadLinesAndKeepsTheRest) {
  const std::string path = Write("docs.jsonl",
                                 "{\"id\": \"a1\", \"title\": \"Refunds\", \"text\": \"Refunds take 5 days.\", "
                                 "\"metadata\": {\"lang\": \"en\", \"tier\": 2}}\n"
                                 "{\"id\": \"a2\", \"text\": \"No title here.\"}\n"
                                 "\n"
                                 "{not json}\n"
                                 "{\"title\": \"no id\", \"text\": \"x\"}\n"
                                 "{\"id\": 7, \"text\": \"Integer id.\"}\n"
                                 "{\"id\": \"a3\"}\n"
                                 "{\"id\": \"a4\", \"text\": \"x\", \"metadata\": [1]}\n"
                                 "{\"id\": \"a1\", \"text\": \"duplicate\"}\n"
                                 "{\"id\": \"a5\", \"text\": \"bad \xff byte\"}\n"
                                 "[1, 2]\n"
                                 "{\"id\": \"a6\", \"text\": \"   \"}\n");
  auto result = ExtractFile(path);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->documents.size(), 3u);
  const Document& first = result->documents[0];
  EXPECT_EQ(first.external_id, "a1");
  EXPECT_EQ(first.source, path);
  EXPECT_EQ(first.title, "Refunds");
  EXPECT_EQ(first.metadata["lang"], "en");
  EXPECT_EQ(first.metadata["tier"], 2);
  EXPECT_EQ(first.metadata["format"], "jsonl");
  EXPECT_EQ(first.sections[0].text, "Refunds take 5 days.");
  EXPECT_EQ(result->documents[1].title, "a2");  // falls back to the id
  EXPECT_EQ(result->documents[2].external_id, "7");

  std::vector<int64_t> lines;
  for (const ExtractIssue& issue : result->issues) {
    lines.push_back(issue.line);
    EXPECT_EQ(issue.source, path);
  }
  EXPECT_THAT(lines, ElementsAre(4, 5, 7, 8, 9, 10, 11, 12));
  EXPECT_THAT(result->issues[0].message, HasSubstr("invalid JSON"));
  EXPECT_THAT(result->issues[1].message, HasSubstr("missing \"id\""));
  EXPECT_THAT(result->issues[2].message, HasSubstr("missing \"text\""));
  EXPECT_THAT(result->issues[3].message, HasSubstr("\"metadata\" must be an object"));
  EXPECT_THAT(result->issues[4].message, HasSubstr("duplicate id \"a1\" (first on line 1)"));
  EXPECT_THAT(result->issues[5].message, HasSubstr("invalid JSON"));
  EXPECT_THAT(result->issues[6].message, HasSubstr("not a JSON object"));
  EXPECT_THAT(result->issues[7].message, HasSubstr("empty"));
}

TEST_F(ExtractTest, JsonlWithNoGoodLineIsAnError) {
  auto result = ExtractFile(Write("bad.jsonl", "{oops\n{\"id\": 1}\n"));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("bad.jsonl"));
  EXPECT_THAT(result.status().message(), HasSubstr("line 1"));
  EXPECT_FALSE(ExtractFile(Write("empty.jsonl", "\n\n")).ok());
}

TEST_F(ExtractTest, UnsupportedAndUnreadableFilesAreErrors) {
  auto unsupported = ExtractFile(Write("sheet.xlsx", "PK\x03\x04"));
  ASSERT_FALSE(unsupported.ok());
  EXPECT_EQ(unsupported.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unsupported.status().message(), HasSubstr("sheet.xlsx"));
  EXPECT_THAT(unsupported.status().message(), HasSubstr("unsupported"));
  EXPECT_FALSE(ExtractFile(Write("README", "no extension")).ok());

  const std::string missing = (dir_ / "missing.txt").string();
  auto not_found = ExtractFile(missing);
  ASSERT_FALSE(not_found.ok());
  EXPECT_EQ(not_found.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(not_found.status().message(), HasSubstr(missing));

  fs::create_directories(dir_ / "folder.txt");
  EXPECT_FALSE(ExtractFile((dir_ / "folder.txt").string()).ok());

  auto too_big = ExtractFile(Write("big.txt", std::string(1000, 'x')), ExtractOptions{.max_file_bytes = 100});
  ASSERT_FALSE(too_big.ok());
  EXPECT_THAT(too_big.status().message(), HasSubstr("larger than the limit"));

  const std::string locked = Write("locked.txt", "secret");
  ::chmod(locked.c_str(), 0);
  if (::geteuid() != 0) {  // root reads it anyway
    auto denied = ExtractFile(locked);
    ASSERT_FALSE(denied.ok());
    EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(denied.status().message(), HasSubstr("locked.txt"));
  }
}

TEST_F(ExtractTest, BinaryAndBadEncodingsAreRejected) {
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"nul.txt", std::string("text\0more", 9)},
           {"utf16.md", std::string("\xFF\xFEh\0i\0", 6)},
           {"latin1.txt", "Caf\xE9 cr\xE8me br\xFBl\xE9" "e"},
           {"empty.txt", ""},
           {"blank.html", "<html><body> <script>x()</script> </body></html>"}}) {
    auto result = ExtractFile(Write(name, bytes));
    ASSERT_FALSE(result.ok()) << name;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(result.status().message(), HasSubstr(name));
  }
}

TEST_F(ExtractTest, StrayInvalidBytesAreRepaired) {
  std::string text = "\xEF\xBB\xBF";  // BOM, dropped
  for (int i = 0; i < 30; ++i) text += "A long enough line of valid text. ";
  text += "bad\xC3(byte";
  const Document doc = One("mostly.txt", text);
  EXPECT_EQ(doc.metadata["utf8_repaired"], 1);
  EXPECT_THAT(doc.sections[0].text, HasSubstr("bad\xEF\xBF\xBD(byte"));
  EXPECT_EQ(doc.sections[0].text.rfind("A long", 0), 0u);
}

TEST_F(ExtractTest, RandomBytesNeverCrash) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> byte(0, 255);
  for (DocFormat format : {DocFormat::kText, DocFormat::kMarkdown, DocFormat::kHtml, DocFormat::kPdf,
                           DocFormat::kJsonl}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::string bytes(static_cast<size_t>(trial * 37), '\0');
      for (char& c : bytes) c = static_cast<char>(byte(rng));
      if (format == DocFormat::kPdf) {
        std::string pdf = "%PDF-1.4\n";
        pdf += bytes;
        bytes = std::move(pdf);
      }
      auto result = ExtractBytes(bytes, format, "random");
      if (!result.ok()) {
        EXPECT_THAT(result.status().message(), HasSubstr("random"));
      }
    }
  }
}

TEST_F(ExtractTest, FormatFromExtension) {
  EXPECT_EQ(*FormatFromPath("a/b/Guide.HTM"), DocFormat::kHtml);
  EXPECT_EQ(*FormatFromPath("x.jsonl"), DocFormat::kJsonl);
  EXPECT_EQ(*FormatFromPath("notes.text"), DocFormat::kText);
  EXPECT_FALSE(FormatFromPath("archive.tar.gz").ok());
  EXPECT_FALSE(FormatFromPath("dir.md/file").ok());
}

}  // namespace
}  // namespace tinyrag
