// Extractive answers on hand-made passages: the right sentence, its
// citation, refusal below the support floor, byte limits on UTF-8 text, and
// the confidence features and weights for extractive answers.
#include "service/extractive.h"

#include <filesystem>
#include <functional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/answerer.h"
#include "service/citations.h"

namespace tinyrag {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const std::filesystem::path kRepo = std::filesystem::path(__FILE__).parent_path() / "../..";

Passage P(std::string title, std::string text, double score = 0.02) {
  Passage p;
  p.title = std::move(title);
  p.text = std::move(text);
  p.score = score;
  return p;
}

const std::vector<Passage>& Thermostat() {
  static const std::vector<Passage> ps = {
      P("Refund policy",
        "Refunds\n\nYou can return the thermostat within 30 days of delivery for a full refund. "
        "Shipping costs are not refunded. Opened units must include the wall plate."),
      P("Error codes",
        "E42 means the thermostat lost contact with the boiler relay. Check that the relay LED is green. "
        "E17 means the temperature sensor is out of range."),
      P("Wi-Fi setup",
        "How do I connect to Wi-Fi?\n\nOpen the app and choose Add device. The thermostat only supports 2.4 GHz "
        "networks.")};
  return ps;
}

absl::StatusOr<ExtractiveAnswer> Ask(std::string_view q, const ExtractiveOptions& o = {}) {
  return ExtractAnswer(q, Thermostat(), nullptr, o);
}

TEST(ExtractiveTest, PicksTheSentenceThatAnswersAndCitesItsPassage) {
  auto a = Ask("What does error E42 mean on my thermostat?");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->no_answer);
  EXPECT_EQ(a->answer, "E42 means the thermostat lost contact with the boiler relay [2].");
  EXPECT_THAT(a->cited, ElementsAre(2));
  ASSERT_EQ(a->chosen.size(), 1u);
  EXPECT_EQ(a->chosen[0].passage, 2);
  EXPECT_EQ(Thermostat()[1].text.substr(a->chosen[0].begin, 3), "E42");
  EXPECT_GT(a->chosen[0].support, 0.5);
  // The citation parses back to the passage it names.
  const ParsedCitations c = ParseCitations(a->answer, 3);
  EXPECT_THAT(c.cited, ElementsAre(2));

  auto refund = Ask("how many days do I have to return it for a refund");
  ASSERT_TRUE(refund.ok());
  EXPECT_THAT(refund->answer, HasSubstr("within 30 days of delivery for a full refund [1]."));
  EXPECT_THAT(refund->cited, ElementsAre(1));
}

TEST(ExtractiveTest, AFaqQuestionIsContextForItsAnswerNotTheAnswer) {
  auto a = Ask("How can I connect the thermostat to wifi?");
  ASSERT_TRUE(a.ok());
  EXPECT_THAT(a->answer, Not(HasSubstr("How do I connect")));
  EXPECT_THAT(a->cited, ElementsAre(3));
}

TEST(ExtractiveTest, RefusesBelowTheSupportFloor) {
  auto a = Ask("Does the mobile app support dark mode on tablets?");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->no_answer);
  EXPECT_EQ(a->answer, kNoAnswerSentence);
  EXPECT_TRUE(IsNoAnswer(a->answer));
  EXPECT_TRUE(a->cited.empty());
  EXPECT_TRUE(a->chosen.empty());
  EXPECT_LT(a->best.support, ExtractiveOptions{}.min_support);
  EXPECT_GT(a->sentences_scored, 5);
  // The same question answers once the floor is low enough: the floor decides.
  ExtractiveOptions low;
  low.min_support = 0.0;
  auto b = Ask("Does the mobile app support dark mode on tablets?", low);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->no_answer);
}

TEST(ExtractiveTest, EmptyInputsGiveNoAnswer) {
  const std::vector<Passage> blank = {P("", ""), P("Heading only", "Short heading")};
  const std::vector<absl::StatusOr<ExtractiveAnswer>> answers = {
      ExtractAnswer("error E42", {}, nullptr),             // no passages
      ExtractAnswer("the and of", Thermostat(), nullptr),  // no content words in the question
      ExtractAnswer("error E42", blank, nullptr)};         // no candidate sentence
  for (const auto& a : answers) {
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_TRUE(a->no_answer);
    EXPECT_EQ(a->answer, kNoAnswerSentence);
    EXPECT_EQ(a->sentences_scored, 0);
  }
}

TEST(ExtractiveTest, ASecondSentenceJoinsWhenItCoversMoreOfTheQuestion) {
  auto a = Ask("What do E42 and E17 mean?");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->answer,
            "E42 means the thermostat lost contact with the boiler relay [2]. "
            "E17 means the temperature sensor is out of range [2].");
  EXPECT_EQ(a->chosen.size(), 2u);
  EXPECT_GT(a->coverage, a->best.coverage);
  // Not when the byte limit leaves no room.
  ExtractiveOptions tight;
  tight.max_answer_bytes = 80;
  auto b = Ask("What do E42 and E17 mean?", tight);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->chosen.size(), 1u);
  EXPECT_LE(b->answer.size(), 80u);
}

TEST(ExtractiveTest, ALeadInTakesTheStepAfterIt) {
  const std::vector<Passage> ps = {P("Factory reset", "To factory reset the thermostat:\n\n"
                                                      "- Hold the dial down for 12 seconds until the ring blinks red.\n"
                                                      "- Release it and wait for the reboot.")};
  auto a = ExtractAnswer("how do I factory reset the thermostat", ps, nullptr);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->answer,
            "To factory reset the thermostat: [1] Hold the dial down for 12 seconds until the ring blinks red [1].");
}

TEST(ExtractiveTest, WrappedLinesJoinButListItemsAndMarkupDoNot) {
  // Source files wrapped at a fixed width: one sentence over two lines, then list items.
  const std::vector<Passage> ps = {P("Calora Plus", "Calora Plus costs **3.99 euros** per month or 39 euros per year,\n"
                                                   "including VAT, for one home.\n"
                                                   "- History is kept for `3 years`.\n"
                                                   "- Energy reports arrive monthly.")};
  auto a = ExtractAnswer("how much does calora plus cost per year", ps, nullptr);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->answer, "Calora Plus costs 3.99 euros per month or 39 euros per year, including VAT, for one home [1].");
  // The offsets still index the passage as given.
  EXPECT_EQ(ps[0].text.substr(a->chosen[0].begin, 11), "Calora Plus");
  auto b = ExtractAnswer("how long is history kept", ps, nullptr);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->answer, "History is kept for 3 years [1].");
}

TEST(ExtractiveTest, LongUtf8SentencesAreCutAtAWordBoundary) {
  std::string sentence = "Die Rückerstattung für das Thermostat gilt";
  while (sentence.size() < 900) sentence += " während dreißig Tage für Kunden in Österreich und Großbritannien";
  sentence += ".";
  const std::vector<Passage> ps = {P("Rückerstattung", sentence)};
  ExtractiveOptions o;
  o.max_answer_bytes = 120;
  auto a = ExtractAnswer("Rückerstattung Thermostat Österreich", ps, nullptr, o);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_FALSE(a->no_answer);
  EXPECT_LE(a->answer.size(), 120u);
  EXPECT_TRUE(CheckUtf8(a->answer, "answer").ok());
  EXPECT_THAT(a->answer, HasSubstr("\xE2\x80\xA6 [1]"));
  // Invalid UTF-8 in a passage does not break sentence splitting or scoring.
  const std::vector<Passage> bad = {P("x", "Error \xFF\xFE E42 means the relay is offline. Another line.")};
  auto b = ExtractAnswer("what is E42", bad, nullptr);
  ASSERT_TRUE(b.ok());
  EXPECT_THAT(b->cited, ElementsAre(1));
}

// A bag-of-words "encoder": one dimension per hashed content word.
absl::StatusOr<std::vector<std::vector<float>>> BagOfWords(std::span<const std::string> texts) {
  std::vector<std::vector<float>> out;
  for (const std::string& t : texts) {
    std::vector<float> v(64, 0.0f);
    for (const std::string& w : ContentWords(t)) v[std::hash<std::string>{}(w) % 64] += 1;
    out.push_back(std::move(v));
  }
  return out;
}

TEST(ExtractiveTest, TheEncoderAddsSimilarityAndItsErrorsAreReturned) {
  int calls = 0;
  EmbedTextsFn counting = [&](std::span<const std::string> texts) {
    ++calls;
    return BagOfWords(texts);
  };
  auto a = ExtractAnswer("What does error E42 mean on my thermostat?", Thermostat(), counting);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_THAT(a->cited, ElementsAre(2));
  EXPECT_GT(a->best.similarity, 0.3);
  EmbedTextsFn wrong_count = [](std::span<const std::string>) -> absl::StatusOr<std::vector<std::vector<float>>> {
    return std::vector<std::vector<float>>{{1.0f}};
  };
  EXPECT_EQ(ExtractAnswer("error E42", Thermostat(), wrong_count).status().code(),
            absl::StatusCode::kInvalidArgument);
  EmbedTextsFn down = [](std::span<const std::string>) -> absl::StatusOr<std::vector<std::vector<float>>> {
    return absl::UnavailableError("encoder down");
  };
  EXPECT_EQ(ExtractAnswer("error E42", Thermostat(), down).status().code(), absl::StatusCode::kUnavailable);
}

TEST(ExtractiveTest, OptionsOutOfRangeAreInvalid) {
  ExtractiveOptions o;
  o.semantic_weight = 1.5;
  EXPECT_EQ(Ask("E42", o).status().code(), absl::StatusCode::kInvalidArgument);
  o = {};
  o.max_answer_bytes = 4;
  EXPECT_EQ(Ask("E42", o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExtractiveTest, DeterministicAcrossCalls) {
  auto a = Ask("What does error E42 mean on my thermostat?");
  auto b = Ask("What does error E42 mean on my thermostat?");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->answer, b->answer);
  EXPECT_EQ(a->best.support, b->best.support);
}

TEST(ExtractiveTest, ConfidenceFeaturesAndDefaultExtractiveWeights) {
  std::vector<Passage> ps = Thermostat();
  ps[0].score = 0.0325;
  ps[0].lexical_score = 9.0;
  ps[1].score = 0.03;
  auto good = ExtractAnswer("What does error E42 mean on my thermostat?", ps, nullptr);
  auto none = ExtractAnswer("Does the mobile app support dark mode on tablets?", ps, nullptr);
  ASSERT_TRUE(good.ok() && none.ok());
  const ConfidenceFeatures fg = ExtractiveConfidenceFeatures(ps, *good);
  EXPECT_DOUBLE_EQ(fg.best_fused, 0.0325);
  EXPECT_DOUBLE_EQ(fg.best_lexical, 9.0);
  EXPECT_EQ(fg.mean_logprob, 0);
  EXPECT_EQ(fg.no_answer, 0);
  EXPECT_DOUBLE_EQ(fg.lexical_support, good->coverage);
  const ConfidenceFeatures fn = ExtractiveConfidenceFeatures(ps, *none);
  EXPECT_EQ(fn.no_answer, 1);

  auto model = ConfidenceModel::Load((kRepo / "data/confidence_defaults.json").string());
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_TRUE(model->extractive.has_value());
  EXPECT_THAT(model->extractive->note, HasSubstr("HAND-SET PRIORS"));
  EXPECT_GT(model->extractive->Score(fg).confidence, 0.5);
  EXPECT_LT(model->extractive->Score(fn).confidence, 0.1);
}

}  // namespace
}  // namespace tinyrag
