// The sample knowledge base (data/kb) and its labelled questions
// (data/questions.jsonl): every document extracts into non-empty text of the
// promised size, HTML pages lose their scripts, styles and navigation, and
// the question file is well-formed with gold documents that exist.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/extract.h"
#include "nlohmann/json.hpp"
#include "service/extractive.h"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kRepo = fs::path(__FILE__).parent_path() / "../..";
const fs::path kKb = kRepo / "data/kb";

// Knowledge-base documents: every file under data/kb except its README.
std::vector<fs::path> KbFiles() {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(kKb)) {
    if (e.is_regular_file() && e.path() != kKb / "README.md") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string AllText(const Document& d) {
  std::string text;
  for (const Section& s : d.sections) text += s.text + "\n";
  return text;
}

size_t Words(const std::string& text) {
  size_t n = 0;
  bool in = false;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t';
    if (!space && !in) ++n;
    in = !space;
  }
  return n;
}

TEST(DataKbTest, AtLeastFortyDocumentsInThreeFormats) {
  const std::vector<fs::path> files = KbFiles();
  EXPECT_GE(files.size(), 40u);
  std::map<std::string, int> by_extension;
  for (const fs::path& f : files) ++by_extension[f.extension().string()];
  EXPECT_GE(by_extension[".md"], 5);
  EXPECT_GE(by_extension[".html"], 5);
  EXPECT_GE(by_extension[".txt"], 5);
  EXPECT_EQ(by_extension[".md"] + by_extension[".html"] + by_extension[".txt"], static_cast<int>(files.size()))
      << "only .md, .html and .txt belong in data/kb";
}

TEST(DataKbTest, EveryDocumentExtractsIntoTextOfTheIntendedSize) {
  for (const fs::path& f : KbFiles()) {
    SCOPED_TRACE(f.string());
    absl::StatusOr<ExtractResult> r = ExtractFile(f.string());
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->documents.size(), 1u);
    EXPECT_TRUE(r->issues.empty());
    const Document& d = r->documents[0];
    EXPECT_FALSE(d.title.empty());
    EXPECT_FALSE(d.metadata.contains("utf8_repaired"));
    const std::string text = AllText(d);
    const size_t words = Words(text);
    EXPECT_GE(words, 150u);
    EXPECT_LE(words, 900u);
    if (f.extension() == ".html") {
      // What a browser would not show as the article must not reach the index.
      EXPECT_THAT(text, Not(HasSubstr("function")));
      EXPECT_THAT(text, Not(HasSubstr("{")));
      EXPECT_THAT(text, Not(HasSubstr("<")));
      EXPECT_GE(d.sections.size(), 2u) << "h1-h6 headings should give sections";
    }
    if (f.extension() == ".md") {
      EXPECT_THAT(text, Not(HasSubstr("\n# "))) << "headings belong in heading paths";
      EXPECT_GE(d.sections.size(), 2u);
    }
  }
}

TEST(DataKbTest, QuestionsAreWellFormedAndTheirGoldDocumentsExist) {
  std::ifstream in(kRepo / "data/questions.jsonl");
  ASSERT_TRUE(in) << "data/questions.jsonl missing";
  std::set<std::string> ids, questions;
  int answerable = 0, unanswerable = 0, line_no = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    SCOPED_TRACE(::testing::Message() << "data/questions.jsonl:" << line_no);
    const nlohmann::json q = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(q.is_object()) << "not a JSON object: " << line;
    for (const auto& [key, value] : q.items()) {
      EXPECT_TRUE(key == "id" || key == "question" || key == "answerable" || key == "gold_documents" ||
                  key == "answer")
          << "unknown key " << key;
    }
    ASSERT_TRUE(q.contains("id") && q["id"].is_string());
    ASSERT_TRUE(q.contains("question") && q["question"].is_string());
    ASSERT_TRUE(q.contains("answerable") && q["answerable"].is_boolean());
    ASSERT_TRUE(q.contains("gold_documents") && q["gold_documents"].is_array());
    EXPECT_TRUE(ids.insert(q["id"].get<std::string>()).second) << "duplicate id";
    EXPECT_TRUE(questions.insert(q["question"].get<std::string>()).second) << "duplicate question";
    EXPECT_GE(q["question"].get<std::string>().size(), 10u);
    if (q["answerable"].get<bool>()) {
      ++answerable;
      ASSERT_TRUE(q.contains("answer") && q["answer"].is_string());
      EXPECT_FALSE(q["answer"].get<std::string>().empty());
      EXPECT_FALSE(q["gold_documents"].empty());
      for (const auto& g : q["gold_documents"]) {
        ASSERT_TRUE(g.is_string());
        const std::string rel = g.get<std::string>();
        EXPECT_FALSE(fs::path(rel).is_absolute()) << rel;
        EXPECT_THAT(rel, Not(HasSubstr(".."))) << rel;
        EXPECT_TRUE(fs::is_regular_file(kKb / rel)) << "gold document " << rel << " is not in data/kb";
      }
    } else {
      ++unanswerable;
      EXPECT_TRUE(q["gold_documents"].empty());
      EXPECT_FALSE(q.contains("answer"));
    }
  }
  EXPECT_GE(answerable + unanswerable, 60);
  // About two thirds answerable.
  EXPECT_GE(answerable, 2 * (answerable + unanswerable) / 3 - 3);
  EXPECT_GE(unanswerable, (answerable + unanswerable) / 4);
}

// Extractive answers on real support text: given the sections of an
// answerable question's gold documents as passages, the extractor answers
// (rather than refusing) for most questions, quoting a gold passage.
TEST(DataKbTest, ExtractiveAnswersMostQuestionsFromTheirGoldDocuments) {
  std::ifstream in(kRepo / "data/questions.jsonl");
  ASSERT_TRUE(in);
  int answerable = 0, answered = 0;
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json q = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!q.is_object() || !q.value("answerable", false)) continue;
    std::vector<Passage> passages;
    for (const auto& g : q["gold_documents"]) {
      absl::StatusOr<ExtractResult> r = ExtractFile((kKb / g.get<std::string>()).string());
      ASSERT_TRUE(r.ok()) << r.status();
      for (const Section& section : r->documents[0].sections) {
        Passage p;
        p.title = r->documents[0].title;
        p.text = section.text;
        passages.push_back(std::move(p));
      }
    }
    absl::StatusOr<ExtractiveAnswer> a = ExtractAnswer(q["question"].get<std::string>(), passages, nullptr);
    ASSERT_TRUE(a.ok()) << a.status();
    ++answerable;
    if (!a->no_answer) {
      ++answered;
      EXPECT_FALSE(a->cited.empty());
      EXPECT_LE(a->cited.back(), static_cast<int>(passages.size()));
    }
  }
  ASSERT_GT(answerable, 0);
  EXPECT_GE(answered, answerable * 3 / 4) << answered << " of " << answerable << " answered";
}

}  // namespace
}  // namespace tinyrag
