// Citation markers in generated answers and the "I don't know" answer.
#include "service/citations.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/prompt.h"

namespace tinyrag {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(CitationsTest, SingleListsAndRanges) {
  const std::string a = "Paris is the capital [1]. It is large [2, 3]; old [1-2] and rich [4 – 5].";
  const ParsedCitations c = ParseCitations(a, 5);
  ASSERT_EQ(c.markers.size(), 4u);
  EXPECT_THAT(c.markers[0].passages, ElementsAre(1));
  EXPECT_EQ(a.substr(c.markers[0].begin, c.markers[0].end - c.markers[0].begin), "[1]");
  EXPECT_THAT(c.markers[1].passages, ElementsAre(2, 3));
  EXPECT_THAT(c.markers[2].passages, ElementsAre(1, 2));
  EXPECT_THAT(c.markers[3].passages, ElementsAre(4, 5));
  EXPECT_THAT(c.cited, ElementsAre(1, 2, 3, 4, 5));
  EXPECT_EQ(c.out_of_range, 0);
}

TEST(CitationsTest, OutOfRangeNumbersAreDroppedAndCounted) {
  const ParsedCitations c = ParseCitations("A [0]. B [3]. C [2-6]. D [5;1]. E [1-999999999999].", 3);
  EXPECT_THAT(c.cited, ElementsAre(1, 2, 3));
  ASSERT_EQ(c.markers.size(), 5u);
  EXPECT_THAT(c.markers[0].passages, IsEmpty());
  EXPECT_EQ(c.markers[0].out_of_range, 1);
  EXPECT_THAT(c.markers[2].passages, ElementsAre(2, 3));
  EXPECT_EQ(c.markers[2].out_of_range, 3);
  EXPECT_THAT(c.markers[3].passages, ElementsAre(1));
  EXPECT_THAT(c.markers[4].passages, ElementsAre(1, 2, 3));
  EXPECT_GT(c.markers[4].out_of_range, 1000);
  // A reversed range is read in order.
  EXPECT_THAT(ParseCitations("x [3-1]", 3).cited, ElementsAre(1, 2, 3));
}

TEST(CitationsTest, OtherBracketsAreText) {
  const ParsedCitations c = ParseCitations("see [note] and [1a] and [] and [1, x] and [2 and [[3]] [", 5);
  ASSERT_EQ(c.markers.size(), 1u);
  EXPECT_THAT(c.cited, ElementsAre(3));
  EXPECT_THAT(ParseCitations("", 5).markers, IsEmpty());
  EXPECT_THAT(ParseCitations("[1]", 0).cited, IsEmpty());
}

TEST(CitationsTest, StripRemovesMarkersAndTheirSpaces) {
  const std::string a = "Paris [1]. Rome [2, 3] is old.";
  EXPECT_EQ(StripCitations(a, ParseCitations(a, 3)), "Paris. Rome is old.");
}

TEST(CitationsTest, NoAnswerIsRecognizedRobustly) {
  EXPECT_TRUE(IsNoAnswer(kNoAnswerSentence));
  EXPECT_TRUE(IsNoAnswer("  i DON’T know based on the provided passages  "));
  EXPECT_TRUE(IsNoAnswer("I don't know based on the provided passages [1]."));
  EXPECT_TRUE(IsNoAnswer("I dont know, based on the provided passages!"));
  EXPECT_TRUE(IsNoAnswer("I don't know."));
  EXPECT_TRUE(IsNoAnswer("I do not know"));
  EXPECT_FALSE(IsNoAnswer("I don't know why, but Paris is the capital [1]."));
  EXPECT_FALSE(IsNoAnswer("Paris is the capital of France [1]."));
  EXPECT_FALSE(IsNoAnswer(""));
  EXPECT_FALSE(IsNoAnswer("..."));
}

}  // namespace
}  // namespace tinyrag
