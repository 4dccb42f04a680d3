// Random-weight GGUF models with the exact layout of real ones (tinyrag mkmodel).
//
// A ModelPlan lists the metadata and tensors (names, GGML shapes, storage
// types) a real file of the preset has, with the mixed storage types chosen
// by llama.cpp's rules for the requested file type. WriteModel then fills
// every tensor with deterministic pseudo-random values: the same plan and
// seed always give the same bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/gguf.h"
#include "model/model_presets.h"
#include "model/tensor_type.h"

namespace tinyrag {

// The file types mkmodel writes (llama.cpp's LLAMA_FTYPE names).
enum class MkmodelType { kF32, kF16, kQ8_0, kQ4_0, kQ4_K_M, kQ5_K_M, kQ6_K };

// Parses "f32", "F16", "q4_k_m", ... (case-insensitive); nullopt when unknown.
std::optional<MkmodelType> ParseMkmodelType(std::string_view name);
// Lower-case names of every MkmodelType, in enum order.
const std::vector<std::string_view>& MkmodelTypeNames();
// general.file_type value (LLAMA_FTYPE) of a file type.
uint32_t FileTypeId(MkmodelType type);

// How a tensor's values are drawn.
enum class WeightInit {
  kNormal,  // scale * z, z approximately standard normal
  kGain,    // 1 + scale * z (norm weights)
  kFixed,   // `fixed` holds the values (rope_freqs)
};

struct PlannedTensor {
  std::string name;
  GgmlType type = GgmlType::kF32;
  std::vector<int64_t> shape;  // GGML order: shape[0] is the row length
  WeightInit init = WeightInit::kNormal;
  float scale = 0.0f;
  std::vector<float> fixed;  // kFixed only: every value, row-major
};

struct ModelPlan {
  uint64_t seed = 0;
  std::vector<GgufKeyValue> metadata;
  std::vector<PlannedTensor> tensors;  // in file order
};

// The plan of a preset in a file type. InvalidArgument when a tensor row
// cannot be stored in the chosen type (not the case for the built-in presets).
absl::StatusOr<ModelPlan> PlanModel(const ModelPreset& preset, MkmodelType type, uint64_t seed);

// Row `row` of tensor `t` as float values (t.shape[0] of them) into `out`.
// Depends only on (seed, t.name, row, t.init, t.scale): thread-safe.
void GenerateRow(const PlannedTensor& t, uint64_t seed, int64_t row, float* out);

// Writes the planned file to `path` (atomically: a temporary file renamed into
// place), quantizing rows on up to `threads` threads (0: all hardware
// threads). Errors name the path when it cannot be written.
absl::Status WriteModel(const ModelPlan& plan, const std::string& path, int threads = 0);

}  // namespace tinyrag
