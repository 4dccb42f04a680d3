// Random-weight models (see model/mkmodel.h).
//
// Weight scales. The decoders are pre-norm with a final RMSNorm whose gains
// are ~1, so the hidden state h reaching the output projection has RMS ~1 per
// component whatever the layers did. A logit is sum_i W[j][i] * h[i] over
// n_embd terms with W iid of std s, so its std is s * sqrt(n_embd): s =
// 3 / sqrt(n_embd) gives logits of std ~3 (peaked, not flat) for any input.
// With tied embeddings that same matrix is the input embedding (the first
// RMSNorm rescales it). Projections reading a normalized vector use
// 1 / sqrt(fan_in), so q, k, v and FFN activations have unit scale and
// attention scores q.k / sqrt(head_dim) have std ~1 (attention is neither
// uniform nor one-hot). Norm gains are 1 + 0.02 z, biases 0.1 z (Qwen2's QKV
// biases) or 0.02 z (BERT). tests/unit/mkmodel_test.cpp measures the logit std.
#include "model/mkmodel.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <memory>
#include <thread>

#include "absl/strings/str_format.h"
#include "model/quantize.h"
#include "model/thread_pool.h"

namespace tinyrag {
namespace {

struct TypeInfo {
  MkmodelType type;
  std::string_view name;
  uint32_t file_type;  // LLAMA_FTYPE
  GgmlType base;       // storage type of the big matrices before llama.cpp's adjustments
};

constexpr TypeInfo kTypes[] = {
    {MkmodelType::kF32, "f32", 0, GgmlType::kF32},
    {MkmodelType::kF16, "f16", 1, GgmlType::kF16},
    {MkmodelType::kQ8_0, "q8_0", 7, GgmlType::kQ8_0},
    {MkmodelType::kQ4_0, "q4_0", 2, GgmlType::kQ4_0},
    {MkmodelType::kQ4_K_M, "q4_k_m", 15, GgmlType::kQ4_K},
    {MkmodelType::kQ5_K_M, "q5_k_m", 17, GgmlType::kQ5_K},
    {MkmodelType::kQ6_K, "q6_k", 18, GgmlType::kQ6_K},
};

const TypeInfo& Info(MkmodelType type) {
  for (const TypeInfo& t : kTypes) {
    if (t.type == type) return t;
  }
  return kTypes[0];  // unreachable: every enumerator is in the table
}

// ---- deterministic random values -------------------------------------------

uint64_t Mix64(uint64_t z) {  // SplitMix64's finalizer
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Approximately standard normal from 64 random bits: the sum of four 16-bit
// uniforms (Irwin-Hall), centred and scaled to unit variance. Integer sums and
// one multiplication: the same floats on every platform and library version.
inline float Gaussish(uint64_t bits) {
  const int32_t sum = static_cast<int32_t>((bits & 0xffff) + ((bits >> 16) & 0xffff) +
                                           ((bits >> 32) & 0xffff) + (bits >> 48));
  constexpr float kScale = 1.7320508f / 65536.0f;  // 1 / std of the sum: sqrt(3) / 2^16
  return static_cast<float>(sum - 2 * 65535) * kScale;
}

// ---- tensor list -------------------------------------------------------------

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  WeightInit init;
  float scale;
  std::vector<float> fixed;
};

std::string Blk(int64_t layer, std::string_view rest) {
  return absl::StrFormat("blk.%d.%s", layer, rest);
}

// Llama 3 frequency factors (the rope_freqs tensor), as llama.cpp's converter
// derives them from rope_scaling.
std::vector<float> Llama3RopeFactors(const ModelPreset& p) {
  std::vector<float> out;
  const double low_wavelen = static_cast<double>(p.rope_original_ctx) / p.rope_low_freq_factor;
  const double high_wavelen = static_cast<double>(p.rope_original_ctx) / p.rope_high_freq_factor;
  for (int64_t i = 0; i < p.head_dim; i += 2) {
    const float freq = 1.0f / std::pow(static_cast<float>(p.rope_base),
                                       static_cast<float>(i) / static_cast<float>(p.head_dim));
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(static_cast<float>(p.rope_scale_factor));
    } else {
      const double smooth = (p.rope_original_ctx / wavelen - p.rope_low_freq_factor) /
                            (p.rope_high_freq_factor - p.rope_low_freq_factor);
      out.push_back(static_cast<float>(1 / ((1 - smooth) / p.rope_scale_factor + smooth)));
    }
  }
  return out;
}

std::vector<TensorSpec> DecoderTensors(const ModelPreset& p) {
  const int64_t e = p.n_embd, q = p.n_head * p.head_dim, kv = p.n_head_kv * p.head_dim;
  const float in_scale = 1.0f / std::sqrt(static_cast<float>(e));
  const float out_scale = 3.0f / std::sqrt(static_cast<float>(e));
  constexpr float kGainNoise = 0.02f;
  std::vector<TensorSpec> t;
  t.push_back({"token_embd.weight", {e, p.n_vocab}, WeightInit::kNormal,
               p.tied_embeddings ? out_scale : 1.0f, {}});
  if (!p.tied_embeddings) t.push_back({"output.weight", {e, p.n_vocab}, WeightInit::kNormal, out_scale, {}});
  t.push_back({"output_norm.weight", {e}, WeightInit::kGain, kGainNoise, {}});
  if (p.rope_scale_factor > 0) {
    t.push_back({"rope_freqs.weight", {p.head_dim / 2}, WeightInit::kFixed, 0.0f, Llama3RopeFactors(p)});
  }
  for (int64_t l = 0; l < p.n_layer; ++l) {
    t.push_back({Blk(l, "attn_norm.weight"), {e}, WeightInit::kGain, kGainNoise, {}});
    t.push_back({Blk(l, "attn_q.weight"), {e, q}, WeightInit::kNormal, in_scale, {}});
    t.push_back({Blk(l, "attn_k.weight"), {e, kv}, WeightInit::kNormal, in_scale, {}});
    t.push_back({Blk(l, "attn_v.weight"), {e, kv}, WeightInit::kNormal, in_scale, {}});
    t.push_back({Blk(l, "attn_output.weight"), {q, e}, WeightInit::kNormal,
                 1.0f / std::sqrt(static_cast<float>(q)), {}});
    if (p.qkv_bias) {
      t.push_back({Blk(l, "attn_q.bias"), {q}, WeightInit::kNormal, 0.1f, {}});
      t.push_back({Blk(l, "attn_k.bias"), {kv}, WeightInit::kNormal, 0.1f, {}});
      t.push_back({Blk(l, "attn_v.bias"), {kv}, WeightInit::kNormal, 0.1f, {}});
    }
    if (p.qk_norm) {
      t.push_back({Blk(l, "attn_q_norm.weight"), {p.head_dim}, WeightInit::kGain, kGainNoise, {}});
      t.push_back({Blk(l, "attn_k_norm.weight"), {p.head_dim}, WeightInit::kGain, kGainNoise, {}});
    }
    t.push_back({Blk(l, "ffn_norm.weight"), {e}, WeightInit::kGain, kGainNoise, {}});
    t.push_back({Blk(l, "ffn_gate.weight"), {e, p.n_ff}, WeightInit::kNormal, in_scale, {}});
    t.push_back({Blk(l, "ffn_up.weight"), {e, p.n_ff}, WeightInit::kNormal, in_scale, {}});
    t.push_back({Blk(l, "ffn_down.weight"), {p.n_ff, e}, WeightInit::kNormal,
                 1.0f / std::sqrt(static_cast<float>(p.n_ff)), {}});
  }
  return t;
}

// BERT is post-norm: every sum is followed by a LayerNorm, so only the
// projections' 1 / sqrt(fan_in) scales matter for keeping activations O(1).
std::vector<TensorSpec> BertTensors(const ModelPreset& p) {
  const int64_t e = p.n_embd;
  const float in_scale = 1.0f / std::sqrt(static_cast<float>(e));
  const float ff_scale = 1.0f / std::sqrt(static_cast<float>(p.n_ff));
  constexpr float kGainNoise = 0.02f, kBias = 0.02f;
  std::vector<TensorSpec> t;
  t.push_back({"token_embd.weight", {e, p.n_vocab}, WeightInit::kNormal, 1.0f, {}});
  t.push_back({"token_types.weight", {e, p.token_type_count}, WeightInit::kNormal, 0.5f, {}});
  t.push_back({"position_embd.weight", {e, p.n_ctx}, WeightInit::kNormal, 0.5f, {}});
  t.push_back({"token_embd_norm.weight", {e}, WeightInit::kGain, kGainNoise, {}});
  t.push_back({"token_embd_norm.bias", {e}, WeightInit::kNormal, kBias, {}});
  for (int64_t l = 0; l < p.n_layer; ++l) {
    for (std::string_view proj : {"attn_q", "attn_k", "attn_v", "attn_output"}) {
      t.push_back({Blk(l, std::string(proj) + ".weight"), {e, e}, WeightInit::kNormal, in_scale, {}});
      t.push_back({Blk(l, std::string(proj) + ".bias"), {e}, WeightInit::kNormal, kBias, {}});
    }
    t.push_back({Blk(l, "attn_output_norm.weight"), {e}, WeightInit::kGain, kGainNoise, {}});
    t.push_back({Blk(l, "attn_output_norm.bias"), {e}, WeightInit::kNormal, kBias, {}});
    t.push_back({Blk(l, "ffn_up.weight"), {e, p.n_ff}, WeightInit::kNormal, in_scale, {}});
    t.push_back({Blk(l, "ffn_up.bias"), {p.n_ff}, WeightInit::kNormal, kBias, {}});
    t.push_back({Blk(l, "ffn_down.weight"), {p.n_ff, e}, WeightInit::kNormal, ff_scale, {}});
    t.push_back({Blk(l, "ffn_down.bias"), {e}, WeightInit::kNormal, kBias, {}});
    t.push_back({Blk(l, "layer_output_norm.weight"), {e}, WeightInit::kGain, kGainNoise, {}});
    t.push_back({Blk(l, "layer_output_norm.bias"), {e}, WeightInit::kNormal, kBias, {}});
  }
  return t;
}

// llama.cpp's file order: tensors outside blocks first, then block by block,
// by name within each group (how llama-quantize writes its output).
int64_t LayerOf(const std::string& name) {
  int64_t layer = -1;
  if (name.starts_with("blk.")) std::from_chars(name.data() + 4, name.data() + name.size(), layer);
  return layer;
}

bool Contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// A tensor llama.cpp quantizes: a matrix whose name ends in "weight", except
// norms, position embeddings and token types (kept in F32 by the converter).
bool IsQuantizable(const TensorSpec& t) {
  const std::string_view n = t.name;
  return n.ends_with("weight") && t.shape.size() >= 2 && !Contains(n, "_norm.weight") &&
         n != "position_embd.weight" && n != "token_types.weight";
}

// Per-tensor type choice of llama.cpp (convert_hf_to_gguf.py for F32/F16/Q8_0,
// llama_tensor_get_type in src/llama-quant.cpp for the k-quant mixes).
class TypeChooser {
 public:
  TypeChooser(MkmodelType type, int64_t n_layer, int64_t n_attn_v, bool has_output)
      : type_(type), n_layer_(n_layer), n_attn_v_(n_attn_v), has_output_(has_output) {}

  absl::StatusOr<GgmlType> Choose(const TensorSpec& t) {
    if (!IsQuantizable(t)) return GgmlType::kF32;
    const int64_t row = t.shape[0];
    const GgmlType base = Info(type_).base;
    if (type_ == MkmodelType::kF32 || type_ == MkmodelType::kF16) return base;
    if (type_ == MkmodelType::kQ8_0) {  // the converter falls back to F16
      return row % Traits(base).block_elems == 0 ? base : GgmlType::kF16;
    }
    GgmlType type = base;
    const bool k_mix = type_ == MkmodelType::kQ4_K_M || type_ == MkmodelType::kQ5_K_M;
    if (t.name == "output.weight" || (!has_output_ && t.name == "token_embd.weight")) {
      type = row % Traits(base).block_elems != 0 ? GgmlType::kQ8_0 : GgmlType::kQ6_K;
    } else if (t.name == "token_embd.weight") {
      // untied input embedding: the base type
    } else if (Contains(t.name, "attn_v.weight")) {
      if (k_mix && UseMoreBits(i_attn_v_, n_attn_v_)) type = GgmlType::kQ6_K;
      ++i_attn_v_;
    } else if (Contains(t.name, "ffn_down")) {
      if (k_mix && UseMoreBits(i_ffn_down_, n_layer_)) type = GgmlType::kQ6_K;
      ++i_ffn_down_;
    }
    if (row % Traits(type).block_elems == 0) return type;
    // Rows that do not fill the super-blocks take llama.cpp's fallback types.
    switch (type) {
      case GgmlType::kQ4_K: type = GgmlType::kQ5_0; break;
      case GgmlType::kQ5_K: type = GgmlType::kQ5_1; break;
      case GgmlType::kQ6_K: type = GgmlType::kQ8_0; break;
      default:
        return absl::InvalidArgumentError(absl::StrFormat(
            "tensor %s: rows of %d values cannot be stored as %s", t.name, row, TypeName(type)));
    }
    return row % Traits(type).block_elems == 0 ? type : GgmlType::kF16;
  }

 private:
  // The layers that get more bits in the _M mixes: the first and last eighth
  // and every third one in between.
  static bool UseMoreBits(int64_t i, int64_t n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
  }

  MkmodelType type_;
  int64_t n_layer_, n_attn_v_;
  bool has_output_;
  int64_t i_attn_v_ = 0, i_ffn_down_ = 0;
};

void Set(std::vector<GgufKeyValue>& kv, std::string key, GgufValue value) {
  kv.push_back({std::move(key), std::move(value)});
}

GgufValue U32(int64_t v) { return GgufValue::U32(static_cast<uint32_t>(v)); }

std::vector<GgufKeyValue> ModelMetadata(const ModelPreset& p, MkmodelType type, uint64_t seed) {
  std::vector<GgufKeyValue> kv;
  const std::string a(p.arch);
  Set(kv, "general.architecture", GgufValue::String(a));
  Set(kv, "general.type", GgufValue::String("model"));
  Set(kv, "general.name", GgufValue::String(std::string(p.display_name)));
  Set(kv, "general.description",
      GgufValue::String(absl::StrFormat(
          "Random weights (tinyrag mkmodel --preset %s --seed %d) with the shapes and metadata of %s",
          p.name, seed, p.display_name)));
  Set(kv, "general.size_label", GgufValue::String(std::string(p.size_label)));
  Set(kv, a + ".block_count", U32(p.n_layer));
  Set(kv, a + ".context_length", U32(p.n_ctx));
  Set(kv, a + ".embedding_length", U32(p.n_embd));
  Set(kv, a + ".feed_forward_length", U32(p.n_ff));
  Set(kv, a + ".attention.head_count", U32(p.n_head));
  if (p.arch == "bert") {
    Set(kv, a + ".attention.layer_norm_epsilon", GgufValue::F32(static_cast<float>(p.norm_eps)));
  } else {
    Set(kv, a + ".attention.head_count_kv", U32(p.n_head_kv));
    Set(kv, a + ".rope.freq_base", GgufValue::F32(static_cast<float>(p.rope_base)));
    Set(kv, a + ".attention.layer_norm_rms_epsilon", GgufValue::F32(static_cast<float>(p.norm_eps)));
  }
  if (p.head_dim_keys) {
    Set(kv, a + ".attention.key_length", U32(p.head_dim));
    Set(kv, a + ".attention.value_length", U32(p.head_dim));
  }
  Set(kv, "general.file_type", GgufValue::U32(Info(type).file_type));
  if (p.arch == "llama") {
    Set(kv, a + ".vocab_size", U32(p.n_vocab));
    Set(kv, a + ".rope.dimension_count", U32(p.head_dim));
  }
  if (p.arch == "bert") {
    Set(kv, a + ".attention.causal", GgufValue::Bool(false));
    Set(kv, a + ".pooling_type", U32(p.pooling_type));
  }
  for (GgufKeyValue& t : TokenizerMetadata(p)) kv.push_back(std::move(t));
  Set(kv, "general.quantization_version", GgufValue::U32(2));
  return kv;
}

void FillTensor(const PlannedTensor& t, uint64_t seed, ThreadPool& pool, std::span<uint8_t> out) {
  const int64_t row_len = t.shape[0];
  int64_t rows = 1;
  for (size_t d = 1; d < t.shape.size(); ++d) rows *= t.shape[d];
  const int64_t row_bytes = RowBytes(t.type, row_len);
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / row_len);
  pool.ParallelForRange(rows, grain, [&](int64_t begin, int64_t end, int) {
    std::vector<float> values(static_cast<size_t>(row_len));
    for (int64_t r = begin; r < end; ++r) {
      GenerateRow(t, seed, r, values.data());
      QuantizeRow(t.type, values.data(), out.data() + r * row_bytes, row_len);
    }
  });
}

}  // namespace

std::optional<MkmodelType> ParseMkmodelType(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const TypeInfo& t : kTypes) {
    if (t.name == lower) return t.type;
  }
  return std::nullopt;
}

const std::vector<std::string_view>& MkmodelTypeNames() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> n;
    for (const TypeInfo& t : kTypes) n.push_back(t.name);
    return n;
  }();
  return names;
}

uint32_t FileTypeId(MkmodelType type) { return Info(type).file_type; }

absl::StatusOr<ModelPlan> PlanModel(const ModelPreset& preset, MkmodelType type, uint64_t seed) {
  std::vector<TensorSpec> specs = preset.arch == "bert" ? BertTensors(preset) : DecoderTensors(preset);
  std::stable_sort(specs.begin(), specs.end(), [](const TensorSpec& a, const TensorSpec& b) {
    const int64_t la = LayerOf(a.name), lb = LayerOf(b.name);
    return la != lb ? la < lb : a.name < b.name;
  });
  int64_t n_attn_v = 0;
  bool has_output = false;
  for (const TensorSpec& t : specs) {
    n_attn_v += Contains(t.name, "attn_v.weight") ? 1 : 0;
    has_output = has_output || t.name == "output.weight";
  }
  TypeChooser chooser(type, preset.n_layer, n_attn_v, has_output);
  ModelPlan plan;
  plan.seed = seed;
  plan.metadata = ModelMetadata(preset, type, seed);
  for (TensorSpec& s : specs) {
    absl::StatusOr<GgmlType> storage = chooser.Choose(s);
    if (!storage.ok()) return storage.status();
    plan.tensors.push_back(PlannedTensor{std::move(s.name), *storage, std::move(s.shape), s.init,
                                         s.scale, std::move(s.fixed)});
  }
  return plan;
}

void GenerateRow(const PlannedTensor& t, uint64_t seed, int64_t row, float* out) {
  const int64_t n = t.shape[0];
  if (t.init == WeightInit::kFixed) {
    std::copy_n(t.fixed.begin() + row * n, n, out);
    return;
  }
  // One independent stream per (seed, tensor, row): rows can be made in any
  // order on any thread and still give the same values.
  uint64_t state = Mix64(Mix64(seed ^ 0x6d6b6d6f64656cull) ^ Fnv1a(t.name)) +
                   static_cast<uint64_t>(row) * 0xd1b54a32d192ed03ull;
  const float offset = t.init == WeightInit::kGain ? 1.0f : 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    state += 0x9e3779b97f4a7c15ull;
    out[i] = offset + t.scale * Gaussish(Mix64(state));
  }
}

absl::Status WriteModel(const ModelPlan& plan, const std::string& path, int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadPool pool(threads);
  GgufWriter writer(3, 32);
  for (const GgufKeyValue& kv : plan.metadata) writer.SetValue(kv.key, kv.value);
  for (const PlannedTensor& t : plan.tensors) {
    absl::Status added = writer.AddTensorWithFiller(
        t.name, t.type, t.shape,
        [&t, &pool, seed = plan.seed](std::span<uint8_t> out) { FillTensor(t, seed, pool, out); });
    if (!added.ok()) return added;
  }
  return writer.WriteFile(path);
}

}  // namespace tinyrag
