// Checking the encoder against a fixtures entry with reference embeddings
// (../shared/fixtures/README.md, kind `embeddings`): used by
// `tinyrag check-fixtures --only embeddings` and by tests.
#pragma once

#include <filesystem>
#include <optional>

#include "absl/status/statusor.h"
#include "model/fixtures.h"

namespace tinyrag::embed {

struct EmbeddingsCheck {
  int cases = 0;
  int ids_exact = 0;          // cases whose token ids equal .embed.ids
  std::optional<int> first_id_mismatch;
  double min_cos = 1.0;       // over cases, our pooled (not normalized) vs the reference
  int worst_case = 0;
  double min_cos_required = 0.9999;  // 0.999 when some weight is quantized

  bool pass() const { return cases > 0 && ids_exact == cases && min_cos >= min_cos_required; }
};

// Loads `dir / entry.model_file`, tokenizes the entry's texts (specials added
// and parsed, as the fixtures were made) and compares ids with the reference
// ids, then embeds the reference ids and compares cosines case by case.
// Errors: unreadable or inconsistent fixture files, or a model that fails to load.
absl::StatusOr<EmbeddingsCheck> CheckEmbeddingsFixture(const std::filesystem::path& dir,
                                                       const fixtures::ManifestEntry& entry, int threads);

}  // namespace tinyrag::embed
