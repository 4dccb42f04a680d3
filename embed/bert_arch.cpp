// BERT tensor tables and weight loading from GGUF and safetensors.
#include "embed/bert_arch.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "model/quantize.h"
#include "model/tensor_type.h"

namespace tinyrag::embed {
namespace {

using T = BertTensor;

std::string ShapeString(const std::vector<int64_t>& shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

const BertTensorName& Entry(BertTensor t) {
  for (const BertTensorName& e : BertTensorNames()) {
    if (e.id == t) return e;
  }
  return BertTensorNames().front();  // unreachable: every id is in the table
}

// Where a tensor's bytes and GGML-order shape come from, independent of the
// container format.
struct RawTensor {
  std::string name;
  GgmlType type;
  std::vector<int64_t> ggml_shape;  // shape[0] = row length
  std::span<const uint8_t> bytes;
};

// Checks a tensor against the GGML-order shape the config implies.
absl::Status CheckShape(const std::string& file, const RawTensor& t, const std::vector<int64_t>& want) {
  if (t.ggml_shape != want) {
    // Report in the container's own order so the numbers match what tools show.
    return absl::InvalidArgumentError(absl::StrCat(file, ": tensor ", t.name, " has shape ", ShapeString(t.ggml_shape),
                                                   " (row length first), expected ", ShapeString(want)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> ToFloats(const std::string& file, const RawTensor& t) {
  int64_t n = 1;
  for (int64_t d : t.ggml_shape) n *= d;
  auto v = Dequantize(t.type, t.bytes, n);
  if (!v.ok()) return absl::InvalidArgumentError(absl::StrCat(file, ": tensor ", t.name, ": ", v.status().message()));
  return v;
}

// Fills BertWeights from a lookup function that yields each tensor by id and
// layer; shared by the GGUF and safetensors loaders so both check the same.
template <typename Lookup>
absl::Status FillWeights(const std::string& file, BertWeights& w, Lookup&& lookup, bool own_embeddings) {
  const BertConfig& c = w.config;
  const int64_t E = c.n_embd, F = c.n_ff;
  auto get = [&](BertTensor id, int64_t layer, std::vector<int64_t> shape) -> absl::StatusOr<RawTensor> {
    absl::StatusOr<RawTensor> t = lookup(id, layer);
    if (!t.ok()) return t.status();
    if (absl::Status s = CheckShape(file, *t, shape); !s.ok()) return s;
    return t;
  };
  auto vec = [&](BertTensor id, int64_t layer, int64_t n, std::vector<float>& out) -> absl::Status {
    auto t = get(id, layer, {n});
    if (!t.ok()) return t.status();
    auto v = ToFloats(file, *t);
    if (!v.ok()) return v.status();
    out = std::move(*v);
    return absl::OkStatus();
  };
  auto view = [&](const RawTensor& t, int64_t rows, int64_t cols, bool own) -> absl::StatusOr<WeightView> {
    const void* data = t.bytes.data();
    if (own) {  // safetensors data is unaligned and its file may go away
      w.owned.emplace_back(t.bytes.begin(), t.bytes.end());
      data = w.owned.back().data();
    }
    WeightView v = DenseWeights(t.type, rows, cols, data);
    if (absl::Status s = CheckWeights(v); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": tensor ", t.name, ": ", s.message()));
    }
    return v;
  };
  auto mat = [&](BertTensor id, int64_t layer, int64_t rows, int64_t cols, PackedMatrix& out) -> absl::Status {
    auto t = get(id, layer, {cols, rows});
    if (!t.ok()) return t.status();
    auto v = view(*t, rows, cols, /*own=*/false);
    if (!v.ok()) return v.status();
    auto packed = PackWeights(*v);
    if (!packed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": tensor ", t->name, ": ", packed.status().message()));
    }
    if (w.matrix_type.empty()) w.matrix_type = std::string(TypeName(t->type));
    out = std::move(*packed);
    return absl::OkStatus();
  };
#define TRY(expr) \
  if (absl::Status s_ = (expr); !s_.ok()) return s_
  {
    auto t = get(T::kTokenEmbd, -1, {E, c.n_vocab});
    if (!t.ok()) return t.status();
    auto v = view(*t, c.n_vocab, E, own_embeddings);
    if (!v.ok()) return v.status();
    if (!CanConvert(v->type)) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": tensor ", t->name, ": type ",
                                                     std::string(TypeName(v->type)), " cannot be decoded"));
    }
    w.token_embd = *v;
  }
  {
    auto pos = get(T::kPositionEmbd, -1, {E, c.n_pos});
    if (!pos.ok()) return pos.status();
    auto v = ToFloats(file, *pos);
    if (!v.ok()) return v.status();
    w.position_embd = std::move(*v);
    auto types = get(T::kTokenTypes, -1, {E, c.n_token_types});
    if (!types.ok()) return types.status();
    auto tv = ToFloats(file, *types);
    if (!tv.ok()) return tv.status();
    w.token_type0.assign(tv->begin(), tv->begin() + E);
  }
  TRY(vec(T::kEmbdNormW, -1, E, w.embd_norm_w));
  TRY(vec(T::kEmbdNormB, -1, E, w.embd_norm_b));
  w.layers.resize(c.n_layer);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    BertLayer& L = w.layers[l];
    TRY(mat(T::kQW, l, E, E, L.q));
    TRY(vec(T::kQB, l, E, L.q_b));
    TRY(mat(T::kKW, l, E, E, L.k));
    TRY(vec(T::kKB, l, E, L.k_b));
    TRY(mat(T::kVW, l, E, E, L.v));
    TRY(vec(T::kVB, l, E, L.v_b));
    TRY(mat(T::kOutW, l, E, E, L.out));
    TRY(vec(T::kOutB, l, E, L.out_b));
    TRY(vec(T::kAttnNormW, l, E, L.attn_norm_w));
    TRY(vec(T::kAttnNormB, l, E, L.attn_norm_b));
    TRY(mat(T::kUpW, l, F, E, L.up));
    TRY(vec(T::kUpB, l, F, L.up_b));
    TRY(mat(T::kDownW, l, E, F, L.down));
    TRY(vec(T::kDownB, l, E, L.down_b));
    TRY(vec(T::kOutNormW, l, E, L.out_norm_w));
    TRY(vec(T::kOutNormB, l, E, L.out_norm_b));
  }
#undef TRY
  return absl::OkStatus();
}

absl::Status CheckConfig(const std::string& file, const BertConfig& c) {
  auto bad = [&](std::string what) { return absl::InvalidArgumentError(absl::StrCat(file, ": ", what)); };
  if (c.n_vocab <= 0 || c.n_embd <= 0 || c.n_layer <= 0 || c.n_head <= 0 || c.n_ff <= 0 || c.n_pos <= 0 ||
      c.n_token_types <= 0) {
    return bad(absl::StrCat("bad hyper-parameters: vocab ", c.n_vocab, ", width ", c.n_embd, ", layers ", c.n_layer,
                            ", heads ", c.n_head, ", FFN ", c.n_ff, ", positions ", c.n_pos, ", token types ",
                            c.n_token_types));
  }
  if (c.n_embd % c.n_head != 0) return bad(absl::StrCat("width ", c.n_embd, " is not a multiple of ", c.n_head, " heads"));
  if (c.max_seq_len < 2) return bad(absl::StrCat("maximum sequence length ", c.max_seq_len, " is below 2"));
  if (!(c.norm_eps > 0)) return bad("layer norm epsilon must be positive");
  return absl::OkStatus();
}

}  // namespace

const std::vector<BertTensorName>& BertTensorNames() {
  static const std::vector<BertTensorName> kNames = {
      {T::kTokenEmbd, "token_embd.weight", "embeddings.word_embeddings.weight", false},
      {T::kTokenTypes, "token_types.weight", "embeddings.token_type_embeddings.weight", false},
      {T::kPositionEmbd, "position_embd.weight", "embeddings.position_embeddings.weight", false},
      {T::kEmbdNormW, "token_embd_norm.weight", "embeddings.LayerNorm.weight", false},
      {T::kEmbdNormB, "token_embd_norm.bias", "embeddings.LayerNorm.bias", false},
      {T::kQW, "blk.#.attn_q.weight", "encoder.layer.#.attention.self.query.weight", true},
      {T::kQB, "blk.#.attn_q.bias", "encoder.layer.#.attention.self.query.bias", true},
      {T::kKW, "blk.#.attn_k.weight", "encoder.layer.#.attention.self.key.weight", true},
      {T::kKB, "blk.#.attn_k.bias", "encoder.layer.#.attention.self.key.bias", true},
      {T::kVW, "blk.#.attn_v.weight", "encoder.layer.#.attention.self.value.weight", true},
      {T::kVB, "blk.#.attn_v.bias", "encoder.layer.#.attention.self.value.bias", true},
      {T::kOutW, "blk.#.attn_output.weight", "encoder.layer.#.attention.output.dense.weight", true},
      {T::kOutB, "blk.#.attn_output.bias", "encoder.layer.#.attention.output.dense.bias", true},
      {T::kAttnNormW, "blk.#.attn_output_norm.weight", "encoder.layer.#.attention.output.LayerNorm.weight", true},
      {T::kAttnNormB, "blk.#.attn_output_norm.bias", "encoder.layer.#.attention.output.LayerNorm.bias", true},
      {T::kUpW, "blk.#.ffn_up.weight", "encoder.layer.#.intermediate.dense.weight", true},
      {T::kUpB, "blk.#.ffn_up.bias", "encoder.layer.#.intermediate.dense.bias", true},
      {T::kDownW, "blk.#.ffn_down.weight", "encoder.layer.#.output.dense.weight", true},
      {T::kDownB, "blk.#.ffn_down.bias", "encoder.layer.#.output.dense.bias", true},
      {T::kOutNormW, "blk.#.layer_output_norm.weight", "encoder.layer.#.output.LayerNorm.weight", true},
      {T::kOutNormB, "blk.#.layer_output_norm.bias", "encoder.layer.#.output.LayerNorm.bias", true},
  };
  return kNames;
}

std::string GgufTensorName(BertTensor t, int64_t layer) {
  const BertTensorName& e = Entry(t);
  return e.per_layer ? absl::StrReplaceAll(std::string(e.gguf), {{"#", absl::StrCat(layer)}}) : std::string(e.gguf);
}

std::string HfTensorName(BertTensor t, int64_t layer) {
  const BertTensorName& e = Entry(t);
  return e.per_layer ? absl::StrReplaceAll(std::string(e.hf), {{"#", absl::StrCat(layer)}}) : std::string(e.hf);
}

absl::StatusOr<std::unique_ptr<BertWeights>> LoadBertGguf(std::unique_ptr<GgufFile> file) {
  const std::string& path = file->path();
  const std::string arch = file->architecture();
  if (arch != kGgufArch) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": architecture \"", arch,
                                                   "\" is not a supported encoder (supported: bert)"));
  }
  auto w = std::make_unique<BertWeights>();
  BertConfig& c = w->config;
  auto get_int = [&](std::string_view key, int64_t& out) -> absl::Status {
    auto v = file->GetInt(key);
    if (!v.ok()) return v.status();
    out = *v;
    return absl::OkStatus();
  };
  for (auto [key, out] : {std::pair{kKeyEmbeddingLength, &c.n_embd}, std::pair{kKeyBlockCount, &c.n_layer},
                          std::pair{kKeyFeedForwardLength, &c.n_ff}, std::pair{kKeyHeadCount, &c.n_head},
                          std::pair{kKeyContextLength, &c.max_seq_len}}) {
    if (absl::Status s = get_int(key, *out); !s.ok()) return s;
  }
  auto eps = file->GetFloat(kKeyLayerNormEps);
  if (!eps.ok()) return eps.status();
  c.norm_eps = static_cast<float>(*eps);
  // pooling_type: 1 mean, 2 CLS (llama.cpp's enum); absent means mean, as
  // sentence-transformers models default to.
  if (file->Find(kKeyPoolingType) != nullptr) {
    auto p = file->GetInt(kKeyPoolingType);
    if (!p.ok()) return p.status();
    if (*p == 1) {
      c.pooling = PoolingKind::kMean;
    } else if (*p == 2) {
      c.pooling = PoolingKind::kCls;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", std::string(kKeyPoolingType), " ", *p,
                                                     " is not supported (1 = mean, 2 = CLS)"));
    }
  }
  const GgufTensorInfo* embd = file->FindTensor("token_embd.weight");
  const GgufTensorInfo* pos = file->FindTensor("position_embd.weight");
  const GgufTensorInfo* types = file->FindTensor("token_types.weight");
  if (embd == nullptr || pos == nullptr || types == nullptr || embd->shape.size() != 2 || pos->shape.size() != 2 ||
      types->shape.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": needs 2-D tensors token_embd.weight, position_embd.weight and token_types.weight"));
  }
  c.n_vocab = embd->shape[1];
  c.n_pos = pos->shape[1];
  c.n_token_types = types->shape[1];
  if (absl::Status s = CheckConfig(path, c); !s.ok()) return s;
  if (c.max_seq_len > c.n_pos) c.max_seq_len = c.n_pos;

  const GgufFile& f = *file;
  auto lookup = [&](BertTensor id, int64_t layer) -> absl::StatusOr<RawTensor> {
    const std::string name = GgufTensorName(id, layer);
    const GgufTensorInfo* t = f.FindTensor(name);
    if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat(path, ": tensor ", name, " not found"));
    return RawTensor{name, t->type, t->shape, f.TensorData(*t)};
  };
  if (absl::Status s = FillWeights(path, *w, lookup, /*own_embeddings=*/false); !s.ok()) return s;
  w->gguf = std::move(file);
  return w;
}

absl::StatusOr<std::unique_ptr<BertWeights>> LoadBertSafetensors(const SafetensorsFile& file,
                                                                 const BertConfig& config) {
  const std::string& path = file.path();
  if (absl::Status s = CheckConfig(path, config); !s.ok()) return s;
  auto w = std::make_unique<BertWeights>();
  w->config = config;
  if (w->config.max_seq_len > w->config.n_pos) w->config.max_seq_len = w->config.n_pos;
  auto lookup = [&](BertTensor id, int64_t layer) -> absl::StatusOr<RawTensor> {
    const std::string name = HfTensorName(id, layer);
    const SafetensorsTensor* t = file.Find(name);
    if (t == nullptr) t = file.Find("bert." + name);  // BertForXxx checkpoints prefix the encoder
    if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat(path, ": tensor ", name, " not found"));
    GgmlType type = GgmlType::kF32;
    switch (t->dtype) {
      case SafetensorsDtype::kF32: type = GgmlType::kF32; break;
      case SafetensorsDtype::kF16: type = GgmlType::kF16; break;
      case SafetensorsDtype::kBF16: type = GgmlType::kBF16; break;
    }
    // PyTorch order is outermost first; GGML order is the reverse.
    return RawTensor{t->name, type, std::vector<int64_t>(t->shape.rbegin(), t->shape.rend()), file.Data(*t)};
  };
  if (absl::Status s = FillWeights(path, *w, lookup, /*own_embeddings=*/true); !s.ok()) return s;
  return w;
}

}  // namespace tinyrag::embed
