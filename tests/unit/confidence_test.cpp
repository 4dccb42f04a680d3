// Confidence features (retrieval, generation, groundedness with a fake
// encoder) and the logistic model with its JSON weights file.
#include "service/confidence.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tinyrag {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const std::filesystem::path kRepo = std::filesystem::path(__FILE__).parent_path() / "../..";

Passage P(std::string text, double score, std::optional<double> dense, std::optional<double> lexical) {
  Passage p;
  p.title = "T";
  p.text = std::move(text);
  p.score = score;
  p.dense_score = dense;
  p.lexical_score = lexical;
  return p;
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

TEST(ConfidenceTest, RetrievalFeatures) {
  ConfidenceFeatures f;
  const std::vector<Passage> ps = {P("a", 0.03, 0.8, std::nullopt), P("b", 0.02, std::nullopt, 7.5),
                                   P("c", 0.01, 0.5, 9.0)};
  SetRetrievalFeatures(ps, f);
  EXPECT_DOUBLE_EQ(f.best_fused, 0.03);
  EXPECT_DOUBLE_EQ(f.best_dense, 0.8);
  EXPECT_DOUBLE_EQ(f.best_lexical, 9.0);
  EXPECT_NEAR(f.fused_margin, 0.01, 1e-12);
  SetRetrievalFeatures(std::span<const Passage>(ps).first(1), f);
  EXPECT_DOUBLE_EQ(f.fused_margin, 0.03);
  EXPECT_DOUBLE_EQ(f.best_lexical, 0);
  // Negative scores are kept, not floored at the "absent" value.
  SetRetrievalFeatures(std::vector<Passage>{P("a", 0.01, -0.2, -1.0)}, f);
  EXPECT_DOUBLE_EQ(f.best_dense, -0.2);
  EXPECT_DOUBLE_EQ(f.best_lexical, -1.0);
  SetRetrievalFeatures({}, f);
  EXPECT_EQ(f.best_fused, 0);
  EXPECT_EQ(f.fused_margin, 0);
}

TEST(ConfidenceTest, GenerationFeatures) {
  ConfidenceFeatures f;
  const std::vector<float> lp = {-0.5f, -2.0f, -0.5f};
  SetGenerationFeatures(lp, false, f);
  EXPECT_DOUBLE_EQ(f.mean_logprob, -1.0);
  EXPECT_DOUBLE_EQ(f.min_logprob, -2.0);
  EXPECT_EQ(f.no_answer, 0);
  SetGenerationFeatures({}, true, f);
  EXPECT_EQ(f.mean_logprob, 0);
  EXPECT_EQ(f.no_answer, 1);
}

TEST(ConfidenceTest, ContentWordsFoldCaseAndDropFunctionWords) {
  EXPECT_THAT(ContentWords("The Eiffel TOWER is in Paris, and it's 330 m tall. Straße"),
              ElementsAre("eiffel", "tower", "paris", "330", "tall", "strasse"));
}

TEST(ConfidenceTest, GroundednessFollowsTheCitedPassages) {
  const std::vector<Passage> ps = {P("The Eiffel Tower stands in Paris and is 330 metres tall.", 0.03, 0.9, 5),
                                   P("Bananas grow in tropical regions on large plants.", 0.02, 0.3, 1)};
  auto features = [&](const std::string& answer, const EmbedTextsFn& embed) {
    ConfidenceFeatures f;
    const absl::Status s = SetGroundednessFeatures(answer, ParseCitations(answer, 2), ps, embed, f);
    EXPECT_TRUE(s.ok()) << s;
    return f;
  };
  const ConfidenceFeatures good = features("The Eiffel Tower stands in Paris [1]. It is 330 metres tall [1].", BagOfWords);
  EXPECT_DOUBLE_EQ(good.lexical_support, 1.0);
  EXPECT_GT(good.semantic_support, 0.5);
  // Citing the wrong passage: little support.
  const ConfidenceFeatures wrong = features("The Eiffel Tower stands in Paris [2].", BagOfWords);
  EXPECT_LT(wrong.lexical_support, 0.3);
  EXPECT_LT(wrong.semantic_support, good.semantic_support);
  // A sentence without its own marker leans on the answer's citations.
  const ConfidenceFeatures inherit = features("Bananas grow on plants. They grow in tropical regions [2].", BagOfWords);
  EXPECT_DOUBLE_EQ(inherit.lexical_support, 1.0);
  // No citations, or no encoder: 0.
  EXPECT_EQ(features("The Eiffel Tower stands in Paris.", BagOfWords).lexical_support, 0);
  EXPECT_EQ(features("The Eiffel Tower stands in Paris [1].", nullptr).semantic_support, 0);
  // A broken encoder is an error.
  ConfidenceFeatures f;
  auto short_embed = [](std::span<const std::string>) -> absl::StatusOr<std::vector<std::vector<float>>> {
    return std::vector<std::vector<float>>{{1.0f}};
  };
  EXPECT_EQ(SetGroundednessFeatures("Paris [1].", ParseCitations("Paris [1].", 2), ps, short_embed, f).code(),
            absl::StatusCode::kInvalidArgument);
  auto failing = [](std::span<const std::string>) -> absl::StatusOr<std::vector<std::vector<float>>> {
    return absl::UnavailableError("encoder down");
  };
  EXPECT_EQ(SetGroundednessFeatures("Paris [1].", ParseCitations("Paris [1].", 2), ps, failing, f).code(),
            absl::StatusCode::kUnavailable);
}

TEST(ConfidenceTest, ScoreIsASigmoidOfTheContributions) {
  ConfidenceModel m;
  m.bias = -1;
  m.weights = {10, 1, 0.1, 5, 2, 0.5, -4, 1, 1};
  ConfidenceFeatures f;
  f.best_fused = 0.03;
  f.best_dense = 0.7;
  f.mean_logprob = -0.4;
  f.no_answer = 1;
  f.lexical_support = 0.5;
  const ConfidenceScore s = m.Score(f);
  double sum = s.bias;
  for (double c : s.contributions) sum += c;
  EXPECT_DOUBLE_EQ(s.logit, sum);
  EXPECT_NEAR(s.logit, -1 + 0.3 + 0.7 - 0.8 - 4 + 0.5, 1e-12);
  EXPECT_NEAR(s.confidence, 1 / (1 + std::exp(-s.logit)), 1e-12);
  EXPECT_DOUBLE_EQ(s.contributions[6], -4);
  f.best_dense = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(std::isfinite(m.Score(f).confidence));
  f.min_logprob = -1e9;
  const double c = m.Score(f).confidence;
  EXPECT_GE(c, 0.0);
  EXPECT_LE(c, 1.0);
}

TEST(ConfidenceTest, JsonRoundTripAndErrors) {
  ConfidenceModel m;
  m.bias = 0.25;
  m.weights = {1, 2, 3, 4, 5, 6, 7, 8, 9.5};
  m.note = "test";
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "tinyrag_confidence_test.json";
  ASSERT_TRUE(m.Save(path.string()).ok());
  auto back = ConfidenceModel::Load(path.string());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->weights, m.weights);
  EXPECT_EQ(back->bias, m.bias);
  EXPECT_EQ(back->note, "test");
  std::filesystem::remove(path);

  EXPECT_EQ(ConfidenceModel::Load("/nonexistent/x.json").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ConfidenceModel::FromJson("{").status().message(), HasSubstr("not a JSON object"));
  std::string json = m.ToJson();
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string j = json;
    j.replace(j.find(from), from.size(), to);
    return ConfidenceModel::FromJson(j).status();
  };
  EXPECT_THAT(edit("\"best_dense\"", "\"best_denser\"").message(), HasSubstr("unknown feature \"best_denser\""));
  EXPECT_THAT(edit("\"bias\"", "\"biass\"").message(), HasSubstr("unknown key"));
  EXPECT_THAT(edit("\"no_answer\": 7.0,", "").message(), HasSubstr("no weight for feature \"no_answer\""));
  EXPECT_THAT(edit("9.5", "\"x\"").message(), HasSubstr("not a finite number"));
}

TEST(ConfidenceTest, ExtractiveWeightSetRoundTripsAndIsOptional) {
  ConfidenceModel m;
  m.bias = -1;
  m.weights = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  // Without the set (as `calibrate` writes it) the key is absent and loads back absent.
  EXPECT_THAT(m.ToJson(), Not(HasSubstr("extractive")));
  auto plain = ConfidenceModel::FromJson(m.ToJson());
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->extractive.has_value());

  ConfidenceWeights e;
  e.bias = -4;
  e.weights = {40, 2, 0.05, 20, 0, 0, -6, 4, 2.5};
  e.note = "extractive priors";
  m.extractive = e;
  auto back = ConfidenceModel::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(back->extractive.has_value());
  EXPECT_EQ(back->extractive->weights, e.weights);
  EXPECT_EQ(back->extractive->bias, -4);
  EXPECT_EQ(back->extractive->note, "extractive priors");
  EXPECT_EQ(back->weights, m.weights);

  // The two sets score independently.
  ConfidenceFeatures f;
  f.lexical_support = 1;
  EXPECT_DOUBLE_EQ(back->Score(f).logit, -1 + 8);
  EXPECT_DOUBLE_EQ(back->extractive->Score(f).logit, -4 + 4);

  const std::string json = m.ToJson();
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string j = json;
    j.replace(j.rfind(from), from.size(), to);  // the last occurrence is inside "extractive"
    return ConfidenceModel::FromJson(j).status();
  };
  EXPECT_THAT(edit("\"semantic_support\"", "\"semantic\"").message(),
              HasSubstr("extractive: unknown feature \"semantic\""));
  EXPECT_THAT(edit("\"bias\": -4.0", "\"bias\": \"x\"").message(), HasSubstr("extractive: \"bias\""));
  EXPECT_THAT(edit("\"note\": \"extractive priors\"", "\"extractive\": {}").message(),
              HasSubstr("extractive: unknown key \"extractive\""));
  EXPECT_TRUE(edit("\"note\": \"extractive priors\",", "").ok()) << "the note is optional";
  std::string not_object = plain->ToJson();
  not_object.insert(not_object.rfind('}'), ", \"extractive\": 3");
  EXPECT_THAT(ConfidenceModel::FromJson(not_object).status().message(),
              HasSubstr("extractive: not a JSON object"));
}

TEST(ConfidenceTest, DefaultPriorsSeparateASupportedAnswerFromARefusal) {
  auto m = ConfidenceModel::Load((kRepo / "data/confidence_defaults.json").string());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(m->note, HasSubstr("HAND-SET PRIORS"));
  ASSERT_TRUE(m->extractive.has_value());
  EXPECT_EQ(m->extractive->weights[4], 0) << "extractive answers have no log-probs";
  EXPECT_EQ(m->extractive->weights[5], 0);
  ConfidenceFeatures good;
  good.best_fused = 0.032;
  good.best_dense = 0.65;
  good.best_lexical = 10;
  good.fused_margin = 0.005;
  good.mean_logprob = -0.4;
  good.min_logprob = -4;
  good.lexical_support = 0.9;
  good.semantic_support = 0.8;
  ConfidenceFeatures refusal = good;
  refusal.no_answer = 1;
  ConfidenceFeatures weak;
  weak.best_fused = 0.016;
  weak.best_dense = 0.2;
  weak.best_lexical = 1;
  weak.mean_logprob = -2.5;
  weak.min_logprob = -9;
  EXPECT_GT(m->Score(good).confidence, 0.6);
  EXPECT_LT(m->Score(refusal).confidence, 0.1);
  EXPECT_LT(m->Score(weak).confidence, 0.1);
}

}  // namespace
}  // namespace tinyrag
