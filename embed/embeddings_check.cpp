#include "embed/embeddings_check.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "embed/encoder.h"

namespace tinyrag::embed {

absl::StatusOr<EmbeddingsCheck> CheckEmbeddingsFixture(const std::filesystem::path& dir,
                                                       const fixtures::ManifestEntry& e, int threads) {
  if (!e.embeddings) return absl::InvalidArgumentError(absl::StrCat(e.model_file, ": no embeddings reference"));
  const fixtures::EmbeddingsRef& ref = *e.embeddings;
  if (ref.shape.size() != 2 || ref.dtype != "float32" || !ref.pooled || ref.normalized) {
    return absl::InvalidArgumentError(
        absl::StrCat(e.model_file, ": embeddings reference must be pooled, not normalized float32 [cases][dim]"));
  }
  auto encoder = Encoder::Load((dir / e.model_file).string(), EncoderLoadOptions{.threads = threads});
  if (!encoder.ok()) return encoder.status();
  const int64_t n_cases = ref.shape[0], dim = ref.shape[1];
  if (dim != (*encoder)->dim()) {
    return absl::InvalidArgumentError(
        absl::StrCat(e.model_file, ": reference width ", dim, " but the model's is ", (*encoder)->dim()));
  }
  auto expected = fixtures::ReadFloat32File(dir / ref.embed_file, static_cast<size_t>(n_cases * dim));
  if (!expected.ok()) return expected.status();
  auto ids_text = fixtures::ReadFile(dir / ref.ids_file);
  if (!ids_text.ok()) return ids_text.status();
  auto ids = fixtures::ParseTokenLines(*ids_text);
  if (!ids.ok()) return ids.status();
  if (static_cast<int64_t>(ids->size()) != n_cases) {
    return absl::InvalidArgumentError(
        absl::StrCat(ref.ids_file, ": ", ids->size(), " cases, the reference has ", n_cases));
  }

  EmbeddingsCheck check;
  check.cases = static_cast<int>(n_cases);
  for (const std::string& type : e.tensor_types) {
    if (type != "F32" && type != "F16" && type != "BF16") check.min_cos_required = 0.999;
  }
  if (!e.texts_file.empty()) {
    auto texts = fixtures::ReadFile(dir / e.texts_file);
    if (!texts.ok()) return texts.status();
    const std::vector<std::string> cases =
        fixtures::SplitCases(*texts, fixtures::kCaseSeparator, /*drop_empty_last=*/false);
    if (static_cast<int64_t>(cases.size()) != n_cases) {
      return absl::InvalidArgumentError(
          absl::StrCat(e.texts_file, ": ", cases.size(), " cases, the reference has ", n_cases));
    }
    for (int64_t i = 0; i < n_cases; ++i) {
      if ((*encoder)->Tokenize(cases[i], /*parse_special=*/true) == (*ids)[i]) {
        ++check.ids_exact;
      } else if (!check.first_id_mismatch) {
        check.first_id_mismatch = static_cast<int>(i);
      }
    }
  } else {
    check.ids_exact = check.cases;  // nothing to tokenize: the ids are the input
  }

  auto got = (*encoder)->EmbedIds(*ids, EmbedOptions{.normalize = false});
  if (!got.ok()) return got.status();
  for (int64_t i = 0; i < n_cases; ++i) {
    const float* a = got->values.data() + i * dim;
    const float* b = expected->data() + i * dim;
    double ab = 0, aa = 0, bb = 0;
    for (int64_t j = 0; j < dim; ++j) {
      ab += static_cast<double>(a[j]) * b[j];
      aa += static_cast<double>(a[j]) * a[j];
      bb += static_cast<double>(b[j]) * b[j];
    }
    const double cos = ab / std::max(std::sqrt(aa * bb), 1e-30);
    if (i == 0 || cos < check.min_cos) {
      check.min_cos = cos;
      check.worst_case = static_cast<int>(i);
    }
  }
  return check;
}

}  // namespace tinyrag::embed
