// Tests of the byte-level BPE pre-tokenizers. The expected splits follow the
// reference runtime's regular expressions (see model/pretokenize.cpp) worked
// through by hand for each rule set; the end-to-end check against real
// vocabularies is `tinyrag check-fixtures`.
#include "model/pretokenize.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <random>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace tinyrag {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr PreTokenizer kAllRuleSets[] = {
    PreTokenizer::kDefault,     PreTokenizer::kGpt2,       PreTokenizer::kLlama3, PreTokenizer::kQwen2,
    PreTokenizer::kStarCoder,   PreTokenizer::kDeepseekLlm, PreTokenizer::kDeepseekCoder, PreTokenizer::kFalcon,
    PreTokenizer::kMpt,         PreTokenizer::kDeepseekV3, PreTokenizer::kBloom,  PreTokenizer::kViking,
    PreTokenizer::kTekken,      PreTokenizer::kChameleon,
};

struct SplitCase {
  std::string_view text;
  std::vector<std::string_view> pieces;
};

std::string Joined(const std::vector<std::string_view>& pieces) {
  std::string out;
  for (std::string_view p : pieces) out.append(p);
  return out;
}

void ExpectSplits(PreTokenizer rules, const std::vector<SplitCase>& cases) {
  for (const SplitCase& c : cases) {
    const std::vector<std::string_view> got = PreTokenize(rules, c.text);
    EXPECT_THAT(got, ElementsAreArray(c.pieces)) << "text: \"" << c.text << "\"";
    EXPECT_EQ(Joined(got), c.text);
  }
}

TEST(PreTokenizerFromNameTest, MapsEveryAliasToItsRuleSet) {
  const std::pair<std::string_view, PreTokenizer> expected[] = {
      {"", PreTokenizer::kDefault},            {"default", PreTokenizer::kDefault},
      {"gpt-2", PreTokenizer::kGpt2},          {"phi-2", PreTokenizer::kGpt2},
      {"roberta-bpe", PreTokenizer::kGpt2},    {"olmo", PreTokenizer::kGpt2},
      {"jais", PreTokenizer::kGpt2},           {"jina-v2-code", PreTokenizer::kGpt2},
      {"mpt", PreTokenizer::kMpt},             {"llama-bpe", PreTokenizer::kLlama3},
      {"llama3", PreTokenizer::kLlama3},       {"llama-v3", PreTokenizer::kLlama3},
      {"falcon3", PreTokenizer::kLlama3},      {"dbrx", PreTokenizer::kLlama3},
      {"smaug-bpe", PreTokenizer::kLlama3},    {"chatglm-bpe", PreTokenizer::kLlama3},
      {"qwen2", PreTokenizer::kQwen2},         {"deepseek-r1-qwen", PreTokenizer::kQwen2},
      {"megrez", PreTokenizer::kQwen2},        {"stablelm2", PreTokenizer::kQwen2},
      {"starcoder", PreTokenizer::kStarCoder}, {"refact", PreTokenizer::kStarCoder},
      {"smollm", PreTokenizer::kStarCoder},    {"command-r", PreTokenizer::kStarCoder},
      {"codeshell", PreTokenizer::kStarCoder}, {"exaone", PreTokenizer::kStarCoder},
      {"minerva-7b", PreTokenizer::kStarCoder}, {"deepseek-llm", PreTokenizer::kDeepseekLlm},
      {"deepseek-coder", PreTokenizer::kDeepseekCoder}, {"falcon", PreTokenizer::kFalcon},
      {"deepseek-v3", PreTokenizer::kDeepseekV3},     {"bloom", PreTokenizer::kBloom},
      {"poro-chat", PreTokenizer::kBloom},            {"gpt3-finnish", PreTokenizer::kBloom},
      {"viking", PreTokenizer::kViking},              {"tekken", PreTokenizer::kTekken},
      {"chameleon", PreTokenizer::kChameleon},
  };
  for (const auto& [name, rules] : expected) {
    absl::StatusOr<PreTokenizer> got = PreTokenizerFromName(name);
    ASSERT_TRUE(got.ok()) << name << ": " << got.status();
    EXPECT_EQ(*got, rules) << name;
  }
}

TEST(PreTokenizerFromNameTest, UnknownNameIsInvalidArgumentListingSupportedNames) {
  for (std::string_view name : {"gpt2", "GPT-2", "llama", "gpt-4o", " qwen2"}) {
    absl::StatusOr<PreTokenizer> got = PreTokenizerFromName(name);
    ASSERT_FALSE(got.ok()) << name;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(got.status().message()), HasSubstr(std::string(name)));
    EXPECT_THAT(std::string(got.status().message()), HasSubstr("llama-bpe"));
    EXPECT_THAT(std::string(got.status().message()), HasSubstr("deepseek-coder"));
  }
}

// GPT-2: case-sensitive contractions, numbers of any length with an optional
// leading space, a lone white space before a word stays alone.
TEST(PreTokenizeTest, Gpt2Splits) {
  ExpectSplits(PreTokenizer::kGpt2, {
    {"Hello world", {"Hello", " world"}},
    {"I'm sure it's HE'S we'LL 'Re", {"I", "'m", " sure", " it", "'s", " HE", "'", "S", " we", "'", "LL", " '", "Re"}},
    {"1 12 123 1234 1234567", {"1", " 12", " 123", " 1234", " 1234567"}},
    {"x = a+b; // done!!!", {"x", " =", " a", "+", "b", ";", " //", " done", "!!!"}},
    {"  leading spaces", {" ", " leading", " spaces"}},
    {"a  b   c", {"a", " ", " b", "  ", " c"}},
    {"line1\nline2\n\n\nend\n", {"line", "1", "\n", "line", "2", "\n\n", "\n", "end", "\n"}},
    {"tabs\tand\r\nwindows  \n  x", {"tabs", "\t", "and", "\r", "\n", "windows", "  \n ", " x"}},
    {"trailing   ", {"trailing", "   "}},
    {"中文字符 한국어 ひらがな", {"中文字符", " 한국어", " ひらがな"}},
    {"emoji 🙂👍\xf0\x9f\x8f\xbd ok", {"emoji", " 🙂👍\xf0\x9f\x8f\xbd", " ok"}},
    {"café naïve Ωmega", {"café", " naïve", " Ωmega"}},
    {"Зд ра ств уй ٣٤٥ ²½", {"Зд", " ра", " ств", " уй", " ٣٤٥", " ²½"}},
    {"$100 <tag> ~home `code` |pipe|", {"$", "100", " <", "tag", ">", " ~", "home", " `", "code", "`", " |", "pipe", "|"}},
    {"“quoted” — dash… 。，", {"“", "quoted", "”", " —", " dash", "…", " 。，"}},
    {"nbsp\xc2\xa0word ideo\xe3\x80\x80中 em\xe2\x80\x83x", {"nbsp", "\xc2\xa0", "word", " ideo", "\xe3\x80\x80", "中", " em", "\xe2\x80\x83", "x"}},
    {"DON'T don't 's'S' x'", {"DON", "'", "T", " don", "'t", " '", "s", "'", "S", "'", " x", "'"}},
    {"abc123def 4567", {"abc", "123", "def", " 4567"}},
    {"a \n \n b\n\n", {"a", " \n \n", " b", "\n\n"}},
    {"\xff\xfe bad \xc3", {"\xff\xfe", " bad", " \xc3"}},
    {"\xc0\xa0x \xed\xa0\x80 \xf4\x90\x80\x80", {"\xc0\xa0x", " \xed\xa0\x80", " \xf4\x90\x80\x80"}},
    {"", {}},
  });
}

// Llama 3: case-insensitive contractions, digits in groups of up to three,
// any one non-letter (not a newline) may start a word, newlines end the
// white space before them.
TEST(PreTokenizeTest, Llama3Splits) {
  ExpectSplits(PreTokenizer::kLlama3, {
    {"Hello world", {"Hello", " world"}},
    {"I'm sure it's HE'S we'LL 'Re", {"I", "'m", " sure", " it", "'s", " HE", "'S", " we", "'LL", " '", "Re"}},
    {"1 12 123 1234 1234567", {"1", " ", "12", " ", "123", " ", "123", "4", " ", "123", "456", "7"}},
    {"x = a+b; // done!!!", {"x", " =", " a", "+b", ";", " //", " done", "!!!"}},
    {"  leading spaces", {" ", " leading", " spaces"}},
    {"a  b   c", {"a", " ", " b", "  ", " c"}},
    {"line1\nline2\n\n\nend\n", {"line", "1", "\n", "line", "2", "\n\n\n", "end", "\n"}},
    {"tabs\tand\r\nwindows  \n  x", {"tabs", "\tand", "\r\n", "windows", "  \n", " ", " x"}},
    {"trailing   ", {"trailing", "   "}},
    {"中文字符 한국어 ひらがな", {"中文字符", " 한국어", " ひらがな"}},
    {"emoji 🙂👍\xf0\x9f\x8f\xbd ok", {"emoji", " 🙂👍\xf0\x9f\x8f\xbd", " ok"}},
    {"café naïve Ωmega", {"café", " naïve", " Ωmega"}},
    {"Зд ра ств уй ٣٤٥ ²½", {"Зд", " ра", " ств", " уй", " ", "٣٤٥", " ", "²½"}},
    {"$100 <tag> ~home `code` |pipe|", {"$", "100", " <", "tag", ">", " ~", "home", " `", "code", "`", " |", "pipe", "|"}},
    {"“quoted” — dash… 。，", {"“quoted", "”", " —", " dash", "…", " 。，"}},
    {"nbsp\xc2\xa0word ideo\xe3\x80\x80中 em\xe2\x80\x83x", {"nbsp", "\xc2\xa0word", " ideo", "\xe3\x80\x80中", " em", "\xe2\x80\x83x"}},
    {"DON'T don't 's'S' x'", {"DON", "'T", " don", "'t", " '", "s", "'S", "'", " x", "'"}},
    {"abc123def 4567", {"abc", "123", "def", " ", "456", "7"}},
    {"a \n \n b\n\n", {"a", " \n \n", " b", "\n\n"}},
    {"\xff\xfe bad \xc3", {"\xff\xfe", " bad", " \xc3"}},
    {"\xc0\xa0x \xed\xa0\x80 \xf4\x90\x80\x80", {"\xc0\xa0x", " \xed\xa0\x80", " \xf4\x90\x80\x80"}},
    {"", {}},
  });
}

// Qwen2: as Llama 3 but every digit is a piece of its own.
TEST(PreTokenizeTest, Qwen2Splits) {
  ExpectSplits(PreTokenizer::kQwen2, {
    {"Hello world", {"Hello", " world"}},
    {"I'm sure it's HE'S we'LL 'Re", {"I", "'m", " sure", " it", "'s", " HE", "'S", " we", "'LL", " '", "Re"}},
    {"1 12 123 1234 1234567", {"1", " ", "1", "2", " ", "1", "2", "3", " ", "1", "2", "3", "4", " ", "1", "2", "3", "4", "5", "6", "7"}},
    {"x = a+b; // done!!!", {"x", " =", " a", "+b", ";", " //", " done", "!!!"}},
    {"  leading spaces", {" ", " leading", " spaces"}},
    {"a  b   c", {"a", " ", " b", "  ", " c"}},
    {"line1\nline2\n\n\nend\n", {"line", "1", "\n", "line", "2", "\n\n\n", "end", "\n"}},
    {"tabs\tand\r\nwindows  \n  x", {"tabs", "\tand", "\r\n", "windows", "  \n", " ", " x"}},
    {"trailing   ", {"trailing", "   "}},
    {"中文字符 한국어 ひらがな", {"中文字符", " 한국어", " ひらがな"}},
    {"emoji 🙂👍\xf0\x9f\x8f\xbd ok", {"emoji", " 🙂👍\xf0\x9f\x8f\xbd", " ok"}},
    {"café naïve Ωmega", {"café", " naïve", " Ωmega"}},
    {"Зд ра ств уй ٣٤٥ ²½", {"Зд", " ра", " ств", " уй", " ", "٣", "٤", "٥", " ", "²", "½"}},
    {"$100 <tag> ~home `code` |pipe|", {"$", "1", "0", "0", " <", "tag", ">", " ~", "home", " `", "code", "`", " |", "pipe", "|"}},
    {"“quoted” — dash… 。，", {"“quoted", "”", " —", " dash", "…", " 。，"}},
    {"nbsp\xc2\xa0word ideo\xe3\x80\x80中 em\xe2\x80\x83x", {"nbsp", "\xc2\xa0word", " ideo", "\xe3\x80\x80中", " em", "\xe2\x80\x83x"}},
    {"DON'T don't 's'S' x'", {"DON", "'T", " don", "'t", " '", "s", "'S", "'", " x", "'"}},
    {"abc123def 4567", {"abc", "1", "2", "3", "def", " ", "4", "5", "6", "7"}},
    {"a \n \n b\n\n", {"a", " \n \n", " b", "\n\n"}},
    {"\xff\xfe bad \xc3", {"\xff\xfe", " bad", " \xc3"}},
    {"\xc0\xa0x \xed\xa0\x80 \xf4\x90\x80\x80", {"\xc0\xa0x", " \xed\xa0\x80", " \xf4\x90\x80\x80"}},
    {"", {}},
  });
}

// StarCoder / SmolLM / Refact: every digit first, then the GPT-2 rules.
TEST(PreTokenizeTest, StarCoderSplits) {
  ExpectSplits(PreTokenizer::kStarCoder, {
    {"Hello world", {"Hello", " world"}},
    {"I'm sure it's HE'S we'LL 'Re", {"I", "'m", " sure", " it", "'s", " HE", "'", "S", " we", "'", "LL", " '", "Re"}},
    {"1 12 123 1234 1234567", {"1", " ", "1", "2", " ", "1", "2", "3", " ", "1", "2", "3", "4", " ", "1", "2", "3", "4", "5", "6", "7"}},
    {"x = a+b; // done!!!", {"x", " =", " a", "+", "b", ";", " //", " done", "!!!"}},
    {"  leading spaces", {" ", " leading", " spaces"}},
    {"a  b   c", {"a", " ", " b", "  ", " c"}},
    {"line1\nline2\n\n\nend\n", {"line", "1", "\n", "line", "2", "\n\n", "\n", "end", "\n"}},
    {"tabs\tand\r\nwindows  \n  x", {"tabs", "\t", "and", "\r", "\n", "windows", "  \n ", " x"}},
    {"trailing   ", {"trailing", "   "}},
    {"中文字符 한국어 ひらがな", {"中文字符", " 한국어", " ひらがな"}},
    {"emoji 🙂👍\xf0\x9f\x8f\xbd ok", {"emoji", " 🙂👍\xf0\x9f\x8f\xbd", " ok"}},
    {"café naïve Ωmega", {"café", " naïve", " Ωmega"}},
    {"Зд ра ств уй ٣٤٥ ²½", {"Зд", " ра", " ств", " уй", " ", "٣", "٤", "٥", " ", "²", "½"}},
    {"$100 <tag> ~home `code` |pipe|", {"$", "1", "0", "0", " <", "tag", ">", " ~", "home", " `", "code", "`", " |", "pipe", "|"}},
    {"“quoted” — dash… 。，", {"“", "quoted", "”", " —", " dash", "…", " 。，"}},
    {"nbsp\xc2\xa0word ideo\xe3\x80\x80中 em\xe2\x80\x83x", {"nbsp", "\xc2\xa0", "word", " ideo", "\xe3\x80\x80", "中", " em", "\xe2\x80\x83", "x"}},
    {"DON'T don't 's'S' x'", {"DON", "'", "T", " don", "'t", " '", "s", "'", "S", "'", " x", "'"}},
    {"abc123def 4567", {"abc", "1", "2", "3", "def", " ", "4", "5", "6", "7"}},
    {"a \n \n b\n\n", {"a", " \n \n", " b", "\n\n"}},
    {"\xff\xfe bad \xc3", {"\xff\xfe", " bad", " \xc3"}},
    {"\xc0\xa0x \xed\xa0\x80 \xf4\x90\x80\x80", {"\xc0\xa0x", " \xed\xa0\x80", " \xf4\x90\x80\x80"}},
    {"", {}},
  });
}

// Falcon: punctuation and ASCII symbols first, then GPT-2 rules, then
// groups of three ASCII digits from the left.
TEST(PreTokenizeTest, FalconSplits) {
  ExpectSplits(PreTokenizer::kFalcon, {
    {"Hello world", {"Hello", " world"}},
    {"I'm sure it's HE'S we'LL 'Re", {"I", "'", "m", " sure", " it", "'", "s", " HE", "'", "S", " we", "'", "LL", " ", "'", "Re"}},
    {"1 12 123 1234 1234567", {"1", " 12", " ", "123", " ", "123", "4", " ", "123", "456", "7"}},
    {"x = a+b; // done!!!", {"x", " ", "=", " a", "+", "b", ";", " ", "//", " done", "!!!"}},
    {"  leading spaces", {" ", " leading", " spaces"}},
    {"a  b   c", {"a", " ", " b", "  ", " c"}},
    {"line1\nline2\n\n\nend\n", {"line", "1", "\n", "line", "2", "\n\n", "\n", "end", "\n"}},
    {"tabs\tand\r\nwindows  \n  x", {"tabs", "\t", "and", "\r", "\n", "windows", "  \n ", " x"}},
    {"trailing   ", {"trailing", "   "}},
    {"中文字符 한국어 ひらがな", {"中文字符", " 한국어", " ひらがな"}},
    {"emoji 🙂👍\xf0\x9f\x8f\xbd ok", {"emoji", " 🙂👍\xf0\x9f\x8f\xbd", " ok"}},
    {"café naïve Ωmega", {"café", " naïve", " Ωmega"}},
    {"Зд ра ств уй ٣٤٥ ²½", {"Зд", " ра", " ств", " уй", " ٣٤٥", " ²½"}},
    {"$100 <tag> ~home `code` |pipe|", {"$", "100", " ", "<", "tag", ">", " ", "~", "home", " ", "`", "code", "`", " ", "|", "pipe", "|"}},
    {"“quoted” — dash… 。，", {"“", "quoted", "”", " ", "—", " dash", "…", " ", "。，"}},
    {"nbsp\xc2\xa0word ideo\xe3\x80\x80中 em\xe2\x80\x83x", {"nbsp", "\xc2\xa0", "word", " ideo", "\xe3\x80\x80", "中", " em", "\xe2\x80\x83", "x"}},
    {"DON'T don't 's'S' x'", {"DON", "'", "T", " don", "'", "t", " ", "'", "s", "'", "S", "'", " x", "'"}},
    {"abc123def 4567", {"abc", "123", "def", " ", "456", "7"}},
    {"a \n \n b\n\n", {"a", " \n \n", " b", "\n\n"}},
    {"\xff\xfe bad \xc3", {"\xff\xfe", " bad", " \xc3"}},
    {"\xc0\xa0x \xed\xa0\x80 \xf4\x90\x80\x80", {"\xc0\xa0x", " \xed\xa0\x80", " \xf4\x90\x80\x80"}},
    {"", {}},
  });
}

// "default": as Falcon without the backtick, and \p{N}+ separates the space
// GPT-2 puts before a number.
TEST(PreTokenizeTest, DefaultSplits) {
  ExpectSplits(PreTokenizer::kDefault, {
    {"Hello world", {"Hello", " world"}},
    {"I'm sure it's HE'S we'LL 'Re", {"I", "'", "m", " sure", " it", "'", "s", " HE", "'", "S", " we", "'", "LL", " ", "'", "Re"}},
    {"1 12 123 1234 1234567", {"1", " ", "12", " ", "123", " ", "123", "4", " ", "123", "456", "7"}},
    {"x = a+b; // done!!!", {"x", " ", "=", " a", "+", "b", ";", " ", "//", " done", "!!!"}},
    {"  leading spaces", {" ", " leading", " spaces"}},
    {"a  b   c", {"a", " ", " b", "  ", " c"}},
    {"line1\nline2\n\n\nend\n", {"line", "1", "\n", "line", "2", "\n\n", "\n", "end", "\n"}},
    {"tabs\tand\r\nwindows  \n  x", {"tabs", "\t", "and", "\r", "\n", "windows", "  \n ", " x"}},
    {"trailing   ", {"trailing", "   "}},
    {"中文字符 한국어 ひらがな", {"中文字符", " 한국어", " ひらがな"}},
    {"emoji 🙂👍\xf0\x9f\x8f\xbd ok", {"emoji", " 🙂👍\xf0\x9f\x8f\xbd", " ok"}},
    {"café naïve Ωmega", {"café", " naïve", " Ωmega"}},
    {"Зд ра ств уй ٣٤٥ ²½", {"Зд", " ра", " ств", " уй", " ", "٣٤٥", " ", "²½"}},
    {"$100 <tag> ~home `code` |pipe|", {"$", "100", " ", "<", "tag", ">", " ", "~", "home", " `", "code", "`", " ", "|", "pipe", "|"}},
    {"“quoted” — dash… 。，", {"“", "quoted", "”", " ", "—", " dash", "…", " ", "。，"}},
    {"nbsp\xc2\xa0word ideo\xe3\x80\x80中 em\xe2\x80\x83x", {"nbsp", "\xc2\xa0", "word", " ideo", "\xe3\x80\x80", "中", " em", "\xe2\x80\x83", "x"}},
    {"DON'T don't 's'S' x'", {"DON", "'", "T", " don", "'", "t", " ", "'", "s", "'", "S", "'", " x", "'"}},
    {"abc123def 4567", {"abc", "123", "def", " ", "456", "7"}},
    {"a \n \n b\n\n", {"a", " \n \n", " b", "\n\n"}},
    {"\xff\xfe bad \xc3", {"\xff\xfe", " bad", " \xc3"}},
    {"\xc0\xa0x \xed\xa0\x80 \xf4\x90\x80\x80", {"\xc0\xa0x", " \xed\xa0\x80", " \xf4\x90\x80\x80"}},
    {"", {}},
  });
}

// deepseek-llm: newlines alone, then listed letters (so CJK and accents are
// not letters here: "café" splits), punctuation ranges that also span ASCII
// letters, trailing white space, CJK ranges, number runs.
TEST(PreTokenizeTest, DeepseekLlmSplits) {
  ExpectSplits(PreTokenizer::kDeepseekLlm, {
    {"Hello world", {"Hello", " world"}},
    {"I'm sure it's HE'S we'LL 'Re", {"I", "'", "m", " sure", " it", "'", "s", " HE", "'", "S", " we", "'", "LL", " '", "Re"}},
    {"1 12 123 1234 1234567", {"1", " ", "12", " ", "123", " ", "1234", " ", "1234567"}},
    {"x = a+b; // done!!!", {"x", " =", " a", "+", "b", ";", " //", " done", "!!!"}},
    {"  leading spaces", {" ", " leading", " spaces"}},
    {"a  b   c", {"a", " ", " b", "  ", " c"}},
    {"line1\nline2\n\n\nend\n", {"line", "1", "\n", "line", "2", "\n", "\n", "\n", "end", "\n"}},
    {"tabs\tand\r\nwindows  \n  x", {"tabs", "\tand", "\r", "\n", "windows", "  ", "\n", " ", " x"}},
    {"trailing   ", {"trailing", "   "}},
    {"中文字符 한국어 ひらがな", {"中文字符", " ", "한국어", " ", "ひらがな"}},
    {"emoji 🙂👍\xf0\x9f\x8f\xbd ok", {"emoji", " 🙂👍\xf0\x9f\x8f\xbd", " ok"}},
    {"café naïve Ωmega", {"caf", "é", " na", "ï", "ve", " Ω", "mega"}},
    {"Зд ра ств уй ٣٤٥ ²½", {"Зд", " ра", " ств", " уй", " ", "٣٤٥", " ", "²½"}},
    {"$100 <tag> ~home `code` |pipe|", {"$", "100", " <", "tag", ">", " ~", "home", " `", "code", "`", " |", "pipe", "|"}},
    {"“quoted” — dash… 。，", {"“", "quoted", "”", " ", "—", " dash", "…", " ", "。", "，"}},
    {"nbsp\xc2\xa0word ideo\xe3\x80\x80中 em\xe2\x80\x83x", {"nbsp", "\xc2\xa0word", " ideo", "\xe3\x80\x80", "中", " em", "\xe2\x80\x83x"}},
    {"DON'T don't 's'S' x'", {"DON", "'", "T", " don", "'", "t", " '", "s", "'", "S", "'", " x", "'"}},
    {"abc123def 4567", {"abc", "123", "def", " ", "4567"}},
    {"a \n \n b\n\n", {"a", " ", "\n", " ", "\n", " b", "\n", "\n"}},
    {"\xff\xfe bad \xc3", {"\xff\xfe", " bad", " \xc3"}},
    {"\xc0\xa0x \xed\xa0\x80 \xf4\x90\x80\x80", {"\xc0\xa0x", " \xed\xa0\x80 \xf4\x90\x80\x80"}},
    {"", {}},
  });
}

// deepseek-coder: newlines alone, \s?\p{L}+, \s?\p{P}+ (ASCII symbols such as
// $ < > ~ | are not \p{P}), CJK ranges, single digits.
TEST(PreTokenizeTest, DeepseekCoderSplits) {
  ExpectSplits(PreTokenizer::kDeepseekCoder, {
    {"Hello world", {"Hello", " world"}},
    {"I'm sure it's HE'S we'LL 'Re", {"I", "'", "m", " sure", " it", "'", "s", " HE", "'", "S", " we", "'", "LL", " '", "Re"}},
    {"1 12 123 1234 1234567", {"1", " ", "1", "2", " ", "1", "2", "3", " ", "1", "2", "3", "4", " ", "1", "2", "3", "4", "5", "6", "7"}},
    {"x = a+b; // done!!!", {"x", " =", " a", "+", "b", ";", " //", " done", "!!!"}},
    {"  leading spaces", {" ", " leading", " spaces"}},
    {"a  b   c", {"a", " ", " b", "  ", " c"}},
    {"line1\nline2\n\n\nend\n", {"line", "1", "\n", "line", "2", "\n", "\n", "\n", "end", "\n"}},
    {"tabs\tand\r\nwindows  \n  x", {"tabs", "\tand", "\r", "\n", "windows", "  ", "\n", " ", " x"}},
    {"trailing   ", {"trailing", "   "}},
    {"中文字符 한국어 ひらがな", {"中文字符", " ", "한국어", " ", "ひらがな"}},
    {"emoji 🙂👍\xf0\x9f\x8f\xbd ok", {"emoji", " 🙂👍\xf0\x9f\x8f\xbd", " ok"}},
    {"café naïve Ωmega", {"café", " naïve", " Ωmega"}},
    {"Зд ра ств уй ٣٤٥ ²½", {"Зд", " ра", " ств", " уй", " ", "٣", "٤", "٥", " ", "²", "½"}},
    {"$100 <tag> ~home `code` |pipe|", {"$", "1", "0", "0", " <", "tag", "> ~", "home", " `", "code", "` |", "pipe", "|"}},
    {"“quoted” — dash… 。，", {"“", "quoted", "”", " ", "—", " dash", "…", " ", "。", "，"}},
    {"nbsp\xc2\xa0word ideo\xe3\x80\x80中 em\xe2\x80\x83x", {"nbsp", "\xc2\xa0word", " ideo", "\xe3\x80\x80", "中", " em", "\xe2\x80\x83x"}},
    {"DON'T don't 's'S' x'", {"DON", "'", "T", " don", "'", "t", " '", "s", "'", "S", "'", " x", "'"}},
    {"abc123def 4567", {"abc", "1", "2", "3", "def", " ", "4", "5", "6", "7"}},
    {"a \n \n b\n\n", {"a", " ", "\n", " ", "\n", " b", "\n", "\n"}},
    {"\xff\xfe bad \xc3", {"\xff\xfe", " bad", " \xc3"}},
    {"\xc0\xa0x \xed\xa0\x80 \xf4\x90\x80\x80", {"\xc0\xa0x", " \xed\xa0\x80 \xf4\x90\x80\x80"}},
    {"", {}},
  });
}
// Bloom / Poro / GPT-3 Finnish: words run up to white space or one of
// ( ) | . , ! ? … 。 ， 、 । ۔ ، ; nothing else splits them.
TEST(PreTokenizeTest, BloomSplits) {
  ExpectSplits(PreTokenizer::kBloom, {
    {"Hello WORLD, HELLOworld iPhone McDonald's", {"Hello", " WORLD", ",", " HELLOworld", " iPhone", " McDonald's"}},
    {"ÉCOLE naïve Ωmega 中文 カタカナ", {"ÉCOLE", " naïve", " Ωmega", " 中文", " カタカナ"}},
    {"a/b\n\n x~y !abc 12345", {"a/b", "\n\n", " x~y", " !", "abc", " 12345"}},
    {"I'm HE'S (paren) pipe|dot. what?!", {"I'm", " HE'S", " (", "paren", ")", " pipe", "|", "dot", ".", " what", "?!"}},
    {"ह\xe0\xa4\xbfन\xe0\xa5\x8dद\xe0\xa5\x80। اردو۔ عربي، 、", {"ह\xe0\xa4\xbfन\xe0\xa5\x8dद\xe0\xa5\x80", "।", " اردو", "۔", " عربي", "، 、"}},
    {"IMGIMGABZ IMGIMGABCDEZ <sentinel:42> <sentinel:>", {"IMGIMGABZ", " IMGIMGABCDEZ", " <sentinel:42>", " <sentinel:>"}},
    {"tab\there  two  four    five     end", {"tab", "\t", "here", " ", " two", " ", " four", "   ", " five", "    ", " end"}},
    {"\xff\xfe bad \xc3", {"\xff\xfe", " bad", " \xc3"}},
    {"", {}},
  });
}

// Viking: the Bloom rules, then every digit alone.
TEST(PreTokenizeTest, VikingSplits) {
  ExpectSplits(PreTokenizer::kViking, {
    {"Hello WORLD, HELLOworld iPhone McDonald's", {"Hello", " WORLD", ",", " HELLOworld", " iPhone", " McDonald's"}},
    {"ÉCOLE naïve Ωmega 中文 カタカナ", {"ÉCOLE", " naïve", " Ωmega", " 中文", " カタカナ"}},
    {"a/b\n\n x~y !abc 12345", {"a/b", "\n\n", " x~y", " !", "abc", " ", "1", "2", "3", "4", "5"}},
    {"I'm HE'S (paren) pipe|dot. what?!", {"I'm", " HE'S", " (", "paren", ")", " pipe", "|", "dot", ".", " what", "?!"}},
    {"ह\xe0\xa4\xbfन\xe0\xa5\x8dद\xe0\xa5\x80। اردو۔ عربي، 、", {"ह\xe0\xa4\xbfन\xe0\xa5\x8dद\xe0\xa5\x80", "।", " اردو", "۔", " عربي", "، 、"}},
    {"IMGIMGABZ IMGIMGABCDEZ <sentinel:42> <sentinel:>", {"IMGIMGABZ", " IMGIMGABCDEZ", " <sentinel:", "4", "2", ">", " <sentinel:>"}},
    {"tab\there  two  four    five     end", {"tab", "\t", "here", " ", " two", " ", " four", "   ", " five", "    ", " end"}},
    {"\xff\xfe bad \xc3", {"\xff\xfe", " bad", " \xc3"}},
    {"", {}},
  });
}

// deepseek-v3: numbers in threes, kanji/kana runs, then an ASCII mark may
// start an ASCII word, letters keep their combining marks, and ASCII ~ is
// neither punctuation nor symbol (the reference lists ASCII symbols).
TEST(PreTokenizeTest, DeepseekV3Splits) {
  ExpectSplits(PreTokenizer::kDeepseekV3, {
    {"Hello WORLD, HELLOworld iPhone McDonald's", {"Hello", " WORLD", ",", " HELLOworld", " iPhone", " McDonald", "'s"}},
    {"ÉCOLE naïve Ωmega 中文 カタカナ", {"ÉCOLE", " naïve", " Ωmega", " ", "中文", " ", "カタカナ"}},
    {"a/b\n\n x~y !abc 12345", {"a", "/b", "\n\n", " x", "~y", " !", "abc", " ", "123", "45"}},
    {"I'm HE'S (paren) pipe|dot. what?!", {"I", "'m", " HE", "'S", " (", "paren", ")", " pipe", "|dot", ".", " what", "?!"}},
    {"ह\xe0\xa4\xbfन\xe0\xa5\x8dद\xe0\xa5\x80। اردو۔ عربي، 、", {"ह\xe0\xa4\xbfन\xe0\xa5\x8dद\xe0\xa5\x80", "।", " اردو", "۔", " عربي", "،", " 、"}},
    {"IMGIMGABZ IMGIMGABCDEZ <sentinel:42> <sentinel:>", {"IMGIMGABZ", " IMGIMGABCDEZ", " <", "sentinel", ":", "42", ">", " <", "sentinel", ":>"}},
    {"tab\there  two  four    five     end", {"tab", "\there", " ", " two", " ", " four", "   ", " five", "    ", " end"}},
    {"\xff\xfe bad \xc3", {"\xff\xfe", " bad", " \xc3"}},
    {"", {}},
  });
}

// Tekken: words also break before a capital that follows lower case, and a
// non-ASCII letter counts as both cases.
TEST(PreTokenizeTest, TekkenSplits) {
  ExpectSplits(PreTokenizer::kTekken, {
    {"Hello WORLD, HELLOworld iPhone McDonald's", {"Hello", " WORLD", ",", " HELLOworld", " i", "Phone", " Mc", "Donald", "'s"}},
    {"ÉCOLE naïve Ωmega 中文 カタカナ", {"É", "COLE", " naïve", " Ωmega", " 中文", " カタカナ"}},
    {"a/b\n\n x~y !abc 12345", {"a", "/b", "\n\n", " x", "~y", " !", "abc", " ", "1", "2", "3", "4", "5"}},
    {"I'm HE'S (paren) pipe|dot. what?!", {"I", "'m", " HE", "'S", " (", "paren", ")", " pipe", "|dot", ".", " what", "?!"}},
    {"ह\xe0\xa4\xbfन\xe0\xa5\x8dद\xe0\xa5\x80। اردو۔ عربي، 、", {"ह", "\xe0\xa4\xbfन", "\xe0\xa5\x8dद", "\xe0\xa5\x80।", " اردو", "۔", " عربي", "،", " 、"}},
    {"IMGIMGABZ IMGIMGABCDEZ <sentinel:42> <sentinel:>", {"IMGIMGABZ", " IMGIMGABCDEZ", " <", "sentinel", ":", "4", "2", ">", " <", "sentinel", ":>"}},
    {"tab\there  two  four    five     end", {"tab", "\there", " ", " two", " ", " four", "   ", " five", "    ", " end"}},
    {"\xff\xfe bad \xc3", {"\xff\xfe", " bad", " \xc3"}},
    {"", {}},
  });
}

// Chameleon: later stages split what earlier ones matched (a sentinel loses
// its digits and marks), spacing in 4s and 2s, every mark and digit alone.
TEST(PreTokenizeTest, ChameleonSplits) {
  ExpectSplits(PreTokenizer::kChameleon, {
    {"Hello WORLD, HELLOworld iPhone McDonald's", {"Hello", " WORLD", ",", " HELLOworld", " iPhone", " McDonald", "'", "s"}},
    {"ÉCOLE naïve Ωmega 中文 カタカナ", {"ÉCOLE", " naïve", " Ωmega", " 中文", " カタカナ"}},
    {"a/b\n\n x~y !abc 12345", {"a", "/", "b", "\n", "\n", " x", "~", "y", " ", "!", "abc", " ", "1", "2", "3", "4", "5"}},
    {"I'm HE'S (paren) pipe|dot. what?!", {"I", "'", "m", " HE", "'", "S", " ", "(", "paren", ")", " pipe", "|", "dot", ".", " what", "?", "!"}},
    {"ह\xe0\xa4\xbfन\xe0\xa5\x8dद\xe0\xa5\x80। اردو۔ عربي، 、", {"ह", "\xe0\xa4\xbf", "न", "\xe0\xa5\x8d", "द", "\xe0\xa5\x80", "।", " اردو", "۔", " عربي", "،", " ", "、"}},
    {"IMGIMGABZ IMGIMGABCDEZ <sentinel:42> <sentinel:>", {"IMGIMGABZ", " IMGIMGABCDEZ", " ", "<", "sentinel", ":", "4", "2", ">", " ", "<", "sentinel", ":", ">"}},
    {"tab\there  two  four    five     end", {"tab", "\t", "here", "  ", "two", "  ", "four", "    ", "five", "    ", " end"}},
    {"\xff\xfe bad \xc3", {"\xff\xfe", " bad", " \xc3"}},
    {"", {}},
  });
}

TEST(PreTokenizeTest, MptSplitsLikeGpt2) {
  for (std::string_view text : {"I'm sure it's 12345 x = a+b;\n\n  end ", "naïve 中文 🙂 \xff"}) {
    EXPECT_EQ(PreTokenize(PreTokenizer::kMpt, text), PreTokenize(PreTokenizer::kGpt2, text));
  }
}

// Each white space code point, ASCII or not, separates words the same way.
TEST(PreTokenizeTest, UnicodeWhiteSpaceCountsAsSpace) {
  for (std::string_view space : {"\t", "\x0b", "\x0c", "\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\x8a",
                                 "\xe2\x80\xa8", "\xe2\x80\xaf", "\xe3\x80\x80"}) {
    const std::string text = std::string("ab") + std::string(space) + std::string(space) + "cd";
    // Two spaces before a word: the first by \s+(?!\S), the second alone (only
    // U+0020 may prefix a word in GPT-2).
    EXPECT_THAT(PreTokenize(PreTokenizer::kGpt2, text), ElementsAreArray({std::string_view("ab"), space, space,
                                                                          std::string_view("cd")}))
        << text;
  }
  // U+200B (zero width space) and U+001F are not White_Space: they are "other".
  EXPECT_THAT(PreTokenize(PreTokenizer::kGpt2, "a\xe2\x80\x8b\x1f" "b"),
              ElementsAreArray({"a", "\xe2\x80\x8b\x1f", "b"}));
}

// Strings of every byte value, valid or not: the pieces are never empty and
// always concatenate back to the input, for every rule set.
TEST(PreTokenizeTest, PiecesCoverRandomBytesExactly) {
  const std::vector<std::string> alphabet = {
      "a", "Z", "'", "s", "1", " ", "  ", "\n", "\r", "\t", "!", "$", "~", "`", "\xc3\xa9", "\xe4\xb8\xad",
      "\xf0\x9f\x99\x82", "\xe3\x80\x80", "\xc2\xa0", "\xcc\x81", "\xff", "\x80", "\xc3", "\xe2\x82", "\xf0\x9f"};
  std::mt19937 rng(20240601);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string text;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      if (rng() % 4 == 0) {
        text.push_back(static_cast<char>(rng() & 0xFF));
      } else {
        text += alphabet[rng() % alphabet.size()];
      }
    }
    for (PreTokenizer rules : kAllRuleSets) {
      const std::vector<std::string_view> pieces = PreTokenize(rules, text);
      for (std::string_view p : pieces) {
        ASSERT_FALSE(p.empty());
      }
      ASSERT_EQ(Joined(pieces), text);
      // Views point into the caller's text.
      if (!pieces.empty()) {
        EXPECT_EQ(pieces.front().data(), text.data());
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Differential check against a regex engine. The reference runtime states
// each rule set as regular expressions run by an ECMAScript engine; this
// oracle runs the same expressions with std::regex and compares the pieces on
// random text. Unicode categories are handled as the reference does it: each
// non-ASCII code point becomes one byte standing for its category, so that
// \p{L} can be written as a byte class; expressions with literal non-ASCII
// ranges run with std::wregex over the code points instead (non-ASCII white
// space turned into \v so that \s sees it).

enum class OracleMode { kCategories, kCodePoints };
struct OracleStage {
  OracleMode mode;
  std::wstring pattern;  // ASCII unless mode is kCodePoints
};

constexpr char kCatLetter = '\xD2', kCatNumber = '\xD1', kCatPunct = '\xD3', kCatMark = '\xD4',
               kCatSymbol = '\xD5', kCatOther = '\xD0';

bool IsWhiteSpace(uint32_t cp) { return u_isUWhiteSpace(static_cast<UChar32>(cp)); }

char CategoryByte(uint32_t cp) {
  if (cp < 0x80) return static_cast<char>(cp);
  if (IsWhiteSpace(cp)) return '\x0B';
  switch (u_charType(static_cast<UChar32>(cp)) & 0xFF) {
    case U_UPPERCASE_LETTER: case U_LOWERCASE_LETTER: case U_TITLECASE_LETTER: case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      return kCatLetter;
    case U_DECIMAL_DIGIT_NUMBER: case U_LETTER_NUMBER: case U_OTHER_NUMBER:
      return kCatNumber;
    case U_CONNECTOR_PUNCTUATION: case U_DASH_PUNCTUATION: case U_START_PUNCTUATION: case U_END_PUNCTUATION:
    case U_INITIAL_PUNCTUATION: case U_FINAL_PUNCTUATION: case U_OTHER_PUNCTUATION:
      return kCatPunct;
    case U_MATH_SYMBOL: case U_CURRENCY_SYMBOL: case U_MODIFIER_SYMBOL: case U_OTHER_SYMBOL:
      return kCatSymbol;
    case U_NON_SPACING_MARK: case U_ENCLOSING_MARK: case U_COMBINING_SPACING_MARK:
      return kCatMark;
    default:
      return kCatOther;
  }
}

// \p{L}, \p{N}, \p{P}, \p{S}, \p{M} as byte classes (bracketed unless already
// inside []); ASCII symbols are listed as the reference lists them (no ~).
std::string TranslateCategories(std::wstring_view pattern) {
  const std::pair<std::wstring_view, std::string> classes[] = {
      {L"\\p{L}", std::string(1, kCatLetter) + "A-Za-z"},
      {L"\\p{N}", std::string(1, kCatNumber) + "0-9"},
      {L"\\p{P}", std::string(1, kCatPunct) + "!-#%-*,-/:;?@\\[-\\]_{}"},
      {L"\\p{S}", std::string(1, kCatSymbol) + "$+<=>^`|"},
      {L"\\p{M}", std::string(1, kCatMark)},
  };
  std::string out;
  bool in_brackets = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    bool replaced = false;
    for (const auto& [name, bytes] : classes) {
      if (pattern.substr(i, name.size()) == name) {
        if (!in_brackets) out += '[';
        out += bytes;
        if (!in_brackets) out += ']';
        i += name.size() - 1;
        replaced = true;
        break;
      }
    }
    if (replaced) continue;
    const wchar_t c = pattern[i];
    if (c == L'\\' && i + 1 < pattern.size()) {
      out += '\\';
      out += static_cast<char>(pattern[++i]);
      continue;
    }
    if (c == L'[') in_brackets = true;
    if (c == L']') in_brackets = false;
    out += static_cast<char>(c);
  }
  return out;
}

std::vector<OracleStage> OracleStages(PreTokenizer rules) {
  const OracleMode kCat = OracleMode::kCategories, kCp = OracleMode::kCodePoints;
  const std::wstring gpt2 = L"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
  const std::wstring llama3 =
      L"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
      L"| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const std::wstring qwen2 =
      L"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
      L"| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const std::wstring cjk = L"[一-龥ࠀ-一가-퟿]+";
  const std::wstring bloom = L" ?[^(\\s|.,!?…。，、।۔،)]+";
  switch (rules) {
    case PreTokenizer::kGpt2:
    case PreTokenizer::kMpt:
      return {{kCat, gpt2}};
    case PreTokenizer::kLlama3:
      return {{kCat, llama3}};
    case PreTokenizer::kQwen2:
      return {{kCat, qwen2}};
    case PreTokenizer::kStarCoder:
      return {{kCat, L"\\p{N}"}, {kCat, gpt2}};
    case PreTokenizer::kFalcon:
      return {{kCat, L"[\\p{P}\\$\\+<=>\\^~\\|`]+"}, {kCat, gpt2}, {kCp, L"[0-9][0-9][0-9]"}};
    case PreTokenizer::kDefault:
      return {{kCat, L"[\\p{P}\\$\\+<=>\\^~\\|]+"}, {kCat, gpt2}, {kCat, L"\\p{N}+"}, {kCp, L"[0-9][0-9][0-9]"}};
    case PreTokenizer::kDeepseekLlm:
      return {{kCp, L"[\r\n]"},
              {kCp, L"\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1F7Dᾀ-ᾴᾶ-ᾼ\u1FBEῂ-ῄῆ-ῌῐ-\u1FD3ῖ-\u1FDBῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212A-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+"},
              {kCp, L"\\s?[!-/:-~！-／：-～‘-‟　-。]+"},
              {kCp, L"\\s+$"},
              {kCp, cjk},
              {kCat, L"\\p{N}+"}};
    case PreTokenizer::kDeepseekCoder:
      return {{kCp, L"[\r\n]"}, {kCat, L"\\s?\\p{L}+"}, {kCat, L"\\s?\\p{P}+"}, {kCp, cjk}, {kCat, L"\\p{N}"}};
    case PreTokenizer::kDeepseekV3:
      return {{kCat, L"\\p{N}{1,3}"},
              {kCp, L"[一-龥\u3040-ゟ゠-ヿ]+"},
              {kCat, L"[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
                     L"| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}};
    case PreTokenizer::kBloom:
      return {{kCp, bloom}};
    case PreTokenizer::kViking:
      return {{kCp, bloom}, {kCat, L"\\p{N}"}};
    case PreTokenizer::kTekken:
      return {{kCat, L"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+"
                     L"|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*"
                     L"|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}};
    case PreTokenizer::kChameleon:
      return {{kCp, L"<sentinel:[0-9]+>"},
              {kCp, L"(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z"},
              {kCp, L"([\\t\\n]|    |  )"},
              {kCat, L"\\p{N}"},
              {kCat, L"[\\p{P}!-/:-@\\[-`{-~]"},
              {kCat, gpt2}};
  }
  return {};
}

// Pieces (as code point ranges) of every piece of `in`: matches and gaps.
template <typename CharT>
std::vector<std::pair<size_t, size_t>> OracleSplit(const std::basic_string<CharT>& text,
                                                   const std::basic_regex<CharT>& re,
                                                   const std::vector<std::pair<size_t, size_t>>& in) {
  std::vector<std::pair<size_t, size_t>> out;
  for (const auto& [begin, end] : in) {
    size_t prev = begin;
    using It = std::regex_iterator<const CharT*>;
    for (It it(text.data() + begin, text.data() + end, re), stop; it != stop; ++it) {
      const size_t pos = begin + static_cast<size_t>(it->position());
      if (pos > prev) out.emplace_back(prev, pos);
      out.emplace_back(pos, pos + static_cast<size_t>(it->length()));
      prev = pos + static_cast<size_t>(it->length());
    }
    if (prev < end) out.emplace_back(prev, end);
  }
  return out;
}

// Expects valid UTF-8 apart from lone bytes 0x80 and 0xFF, which any decoder
// turns into one U+FFFD each.
std::vector<std::string_view> OraclePreTokenize(PreTokenizer rules, std::string_view text) {
  std::vector<uint32_t> cps;
  std::vector<size_t> offsets;
  for (size_t i = 0; i < text.size();) {
    offsets.push_back(i);
    UChar32 c;
    U8_NEXT(text.data(), i, text.size(), c);
    cps.push_back(c < 0 ? 0xFFFD : static_cast<uint32_t>(c));
  }
  offsets.push_back(text.size());
  std::string collapsed;
  std::wstring wide;
  for (uint32_t cp : cps) {
    collapsed += CategoryByte(cp);
    wide += static_cast<wchar_t>(cp >= 0x80 && IsWhiteSpace(cp) ? 0x0B : cp);
  }
  std::vector<std::pair<size_t, size_t>> pieces;
  if (!cps.empty()) pieces.emplace_back(0, cps.size());
  for (const OracleStage& stage : OracleStages(rules)) {
    if (stage.mode == OracleMode::kCategories) {
      pieces = OracleSplit(collapsed, std::regex(TranslateCategories(stage.pattern)), pieces);
    } else {
      pieces = OracleSplit(wide, std::wregex(stage.pattern), pieces);
    }
  }
  std::vector<std::string_view> out;
  for (const auto& [b, e] : pieces) out.push_back(text.substr(offsets[b], offsets[e] - offsets[b]));
  return out;
}

TEST(PreTokenizeTest, AgreesWithRegexEngineOnRandomText) {
  const std::vector<std::string> alphabet = {
      "a", "Z", "s", "S", "t", "r", "E", "v", "l", "L", "d", "m", "'", "0", "7", " ", " ", " ", "\n", "\r", "\t",
      "\x0b", "!", "$", "+", "<", "~", "`", "|", ".", "(", "_", "-", "\xc3\xa9", "\xc3\x9f", "\xce\xa9", "\xd0\x96",
      "\xd9\xa3", "\xc2\xb2", "\xe2\x85\xab", "\xe4\xb8\xad", "\xed\x95\x9c", "\xe3\x81\xb2", "\xe2\x80\x9c",
      "\xe2\x80\x94", "\xe3\x80\x82", "\xef\xbc\x8c", "\xef\xbc\xa1", "\xe3\x80\x80", "\xc2\xa0", "\xe2\x80\x83",
      "\xc2\x85", "\xcc\x81", "\xe2\x80\x8b", "\xf0\x9f\x99\x82", "\x01", "\xff", "\x80",
      // For deepseek-v3, Bloom, Tekken and Chameleon:
      "/", "\xe0\xa4\xb9", "\xe0\xa4\xbf", "\xe0\xa5\xa4", "\xd8\x8c", "\xe3\x80\x81", "\xe3\x82\xab",
      "IMGIMG", "A", "I", "<sentinel:", ">", "    ", "\xc3\x89"};
  std::mt19937 rng(7);
  for (int iter = 0; iter < 300; ++iter) {
    std::string text;
    const int n = static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    for (PreTokenizer rules : kAllRuleSets) {
      ASSERT_EQ(PreTokenize(rules, text), OraclePreTokenize(rules, text))
          << "rule set " << static_cast<int>(rules) << ", text \"" << text << "\"";
    }
  }
}

TEST(PreTokenizeTest, LongRunsAreSplitWithoutRecursion) {
  const std::string digits(1 << 20, '7');
  EXPECT_EQ(PreTokenize(PreTokenizer::kLlama3, digits).size(), (digits.size() + 2) / 3);
  EXPECT_EQ(PreTokenize(PreTokenizer::kGpt2, digits).size(), 1u);
  const std::string spaces(1 << 20, ' ');
  EXPECT_EQ(PreTokenize(PreTokenizer::kGpt2, spaces).size(), 1u);
  EXPECT_EQ(PreTokenize(PreTokenizer::kDeepseekLlm, spaces + "x").size(), 2u);
}

TEST(PreTokenizeTest, ConcurrentCallsAgree) {
  const std::string text = "Mixed text: naïve café, 中文字符 and 12345 numbers!\n\nDon't STOP 🙂";
  const std::vector<std::string_view> expected = PreTokenize(PreTokenizer::kLlama3, text);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        if (PreTokenize(PreTokenizer::kLlama3, text) != expected) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace tinyrag
