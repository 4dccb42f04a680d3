#include "generate/decoder_model.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/quantize.h"

namespace tinyrag {

// Reads hyperparameters and tensors of one file, turning every problem into an
// error that names the file.
class DecoderModelLoader {
 public:
  DecoderModelLoader(const GgufFile& file, const ArchSpec& arch) : file_(file), arch_(arch) {}

  absl::Status Error(const std::string& problem) const {
    return absl::InvalidArgumentError(absl::StrCat(file_.path(), ": ", problem));
  }
  std::string Key(std::string_view pattern) const { return FillName(pattern, arch_.name); }

  absl::StatusOr<int64_t> RequiredInt(std::string_view pattern) const {
    auto v = file_.GetInt(Key(pattern));
    if (!v.ok()) return Error(absl::StrCat("metadata ", v.status().message()));
    if (*v <= 0) return Error(absl::StrCat("metadata ", Key(pattern), " must be positive, got ", *v));
    return *v;
  }
  absl::StatusOr<int64_t> OptionalInt(std::string_view pattern, int64_t fallback) const {
    if (file_.Find(Key(pattern)) == nullptr) return fallback;
    return RequiredInt(pattern);
  }
  absl::StatusOr<double> OptionalFloat(std::string_view pattern, double fallback) const {
    if (file_.Find(Key(pattern)) == nullptr) return fallback;
    auto v = file_.GetFloat(Key(pattern));
    if (!v.ok()) return Error(absl::StrCat("metadata ", v.status().message()));
    return *v;
  }

  absl::StatusOr<const GgufTensorInfo*> Tensor(std::string_view pattern, int layer) const {
    const std::string name = layer < 0 ? std::string(pattern) : FillName(pattern, absl::StrCat(layer));
    const GgufTensorInfo* t = file_.FindTensor(name);
    if (t == nullptr) return Error(absl::StrCat("missing tensor ", name, " (architecture ", std::string(arch_.name), ")"));
    return t;
  }

  absl::Status CheckShape(const GgufTensorInfo& t, std::vector<int64_t> want) const {
    if (t.shape != want) {
      return Error(absl::StrCat("tensor ", t.name, " has shape [", absl::StrJoin(t.shape, ", "), "], expected [",
                                absl::StrJoin(want, ", "), "]"));
    }
    return absl::OkStatus();
  }

  // A matrix of `rows` rows of `cols` values (GGML shape [cols, rows]). Where
  // the CPU's decode kernels run faster on the quad layout, a copy in it (in
  // arena_) replaces the mapped tensor, whose pages are given back: resident
  // memory stays that of the file.
  absl::StatusOr<WeightView> Matrix(const GgufTensorInfo& t, int64_t rows, int64_t cols) {
    if (absl::Status s = CheckShape(t, {cols, rows}); !s.ok()) return s;
    WeightView w = DenseWeights(t.type, rows, cols, file_.TensorData(t).data());
    if (absl::Status s = CheckWeights(w); !s.ok()) return Error(absl::StrCat("tensor ", t.name, ": ", s.message()));
    bytes_ += t.nbytes;
    if (PrefersQuadLayout(w)) {
      if (uint8_t* copy = arena_.Allocate(t.nbytes); copy != nullptr) {
        w = CopyToQuadLayout(w, copy);
        file_.ReleaseTensorPages(t);
      }
    }
    return w;
  }
  absl::StatusOr<WeightView> Matrix(std::string_view pattern, int layer, int64_t rows, int64_t cols) {
    auto t = Tensor(pattern, layer);
    if (!t.ok()) return t.status();
    return Matrix(**t, rows, cols);
  }

  // A 1-D tensor of `n` values converted to f32.
  absl::StatusOr<std::vector<float>> Vector(std::string_view pattern, int layer, int64_t n) {
    auto t = Tensor(pattern, layer);
    if (!t.ok()) return t.status();
    if (absl::Status s = CheckShape(**t, {n}); !s.ok()) return s;
    if (!CanConvert((*t)->type)) {
      return Error(absl::StrCat("tensor ", (*t)->name, " has unsupported type ", std::string(TypeName((*t)->type))));
    }
    auto v = Dequantize((*t)->type, file_.TensorData(**t), n);
    if (!v.ok()) return Error(absl::StrCat("tensor ", (*t)->name, ": ", v.status().message()));
    bytes_ += (*t)->nbytes;
    return std::move(*v);
  }

  absl::Status ReadConfig(DecoderConfig& c) const;
  absl::Status ReadWeights(DecoderModel& m);

 private:
  const GgufFile& file_;
  const ArchSpec& arch_;
  uint64_t bytes_ = 0;
  // Sized for the whole file; without it (a failed reservation) the
  // matrices keep the file's layout.
  WeightArena arena_ = WeightArena::Reserve(file_.file_size()).value_or(WeightArena());
  friend class DecoderModel;
};

#define TINYRAG_ASSIGN(lhs, expr)        \
  do {                                   \
    auto tinyrag_v_ = (expr);            \
    if (!tinyrag_v_.ok()) return tinyrag_v_.status(); \
    lhs = std::move(*tinyrag_v_);        \
  } while (0)

absl::Status DecoderModelLoader::ReadConfig(DecoderConfig& c) const {
  const ArchMetadataKeys& k = arch_.keys;
  c.arch = std::string(arch_.name);
  c.rope_style = arch_.rope_style;
  TINYRAG_ASSIGN(c.n_ctx_train, RequiredInt(k.context_length));
  TINYRAG_ASSIGN(c.n_embd, RequiredInt(k.embedding_length));
  TINYRAG_ASSIGN(c.n_layer, RequiredInt(k.block_count));
  TINYRAG_ASSIGN(c.n_ff, RequiredInt(k.feed_forward_length));
  TINYRAG_ASSIGN(c.n_head, RequiredInt(k.head_count));
  TINYRAG_ASSIGN(c.n_head_kv, OptionalInt(k.head_count_kv, c.n_head));
  if (c.n_head % c.n_head_kv != 0) {
    return Error(absl::StrCat("head_count ", c.n_head, " is not a multiple of head_count_kv ", c.n_head_kv));
  }
  TINYRAG_ASSIGN(c.head_dim, OptionalInt(k.key_length, c.n_embd / c.n_head));
  int64_t value_length = 0;
  TINYRAG_ASSIGN(value_length, OptionalInt(k.value_length, c.head_dim));
  if (value_length != c.head_dim) {
    return Error(absl::StrCat("value_length ", value_length, " differs from key_length ", c.head_dim,
                              " (not supported)"));
  }
  TINYRAG_ASSIGN(c.n_rot, OptionalInt(k.rope_dimensions, c.head_dim));
  if (c.n_rot > c.head_dim || c.n_rot % 2 != 0) {
    return Error(absl::StrCat("rope dimension count ", c.n_rot, " must be even and at most the head size ",
                              c.head_dim));
  }
  double eps = 0, base = 0;
  TINYRAG_ASSIGN(eps, OptionalFloat(k.rms_epsilon, 1e-5));
  TINYRAG_ASSIGN(base, OptionalFloat(k.rope_freq_base, 10000.0));
  c.rms_eps = static_cast<float>(eps);
  c.rope_freq_base = static_cast<float>(base);
  // Linear RoPE scaling: positions shrink by the factor. YaRN and others change
  // more than the positions and are refused rather than silently ignored.
  std::string scaling = "none";
  if (const GgufValue* v = file_.Find(Key(k.rope_scaling_type)); v != nullptr) {
    auto s = file_.GetString(Key(k.rope_scaling_type));
    if (!s.ok()) return Error(absl::StrCat("metadata ", s.status().message()));
    scaling = *s;
  }
  double factor = 0;
  if (scaling == "linear") {
    TINYRAG_ASSIGN(factor, OptionalFloat(k.rope_scaling_factor, 1.0));
  } else if (scaling == "none") {
    TINYRAG_ASSIGN(factor, OptionalFloat(k.rope_scale_linear, 1.0));
  } else {
    return Error(absl::StrCat("RoPE scaling type \"", scaling, "\" is not supported (none, linear)"));
  }
  if (!(factor > 0)) return Error(absl::StrCat("RoPE scaling factor must be positive, got ", factor));
  c.rope_freq_scale = static_cast<float>(1.0 / factor);
  return absl::OkStatus();
}

absl::Status DecoderModelLoader::ReadWeights(DecoderModel& m) {
  const ArchTensorNames& n = arch_.tensors;
  DecoderConfig& c = m.config_;
  auto embd = Tensor(n.token_embd, -1);
  if (!embd.ok()) return embd.status();
  if ((*embd)->shape.size() != 2 || (*embd)->shape[0] != c.n_embd) {
    return Error(absl::StrCat("tensor ", (*embd)->name, " has shape [", absl::StrJoin((*embd)->shape, ", "),
                              "], expected [", c.n_embd, ", n_vocab]"));
  }
  c.n_vocab = (*embd)->shape[1];
  TINYRAG_ASSIGN(m.token_embd_, Matrix(**embd, c.n_vocab, c.n_embd));
  TINYRAG_ASSIGN(m.output_norm_, Vector(n.output_norm, -1, c.n_embd));
  if (file_.FindTensor(n.output) != nullptr) {
    TINYRAG_ASSIGN(m.output_, Matrix(n.output, -1, c.n_vocab, c.n_embd));
  } else {
    m.output_ = m.token_embd_;
    c.tied_output = true;
  }
  if (!n.rope_freqs.empty() && file_.FindTensor(n.rope_freqs) != nullptr) {
    TINYRAG_ASSIGN(m.rope_freq_factors_, Vector(n.rope_freqs, -1, c.n_rot / 2));
  }
  const int64_t q_dim = c.n_head * c.head_dim, kv_dim = c.n_head_kv * c.head_dim;
  m.layers_.resize(c.n_layer);
  for (int i = 0; i < c.n_layer; ++i) {
    DecoderLayer& l = m.layers_[i];
    TINYRAG_ASSIGN(l.attn_norm, Vector(n.attn_norm, i, c.n_embd));
    TINYRAG_ASSIGN(l.wq, Matrix(n.attn_q, i, q_dim, c.n_embd));
    TINYRAG_ASSIGN(l.wk, Matrix(n.attn_k, i, kv_dim, c.n_embd));
    TINYRAG_ASSIGN(l.wv, Matrix(n.attn_v, i, kv_dim, c.n_embd));
    TINYRAG_ASSIGN(l.wo, Matrix(n.attn_output, i, c.n_embd, q_dim));
    if (!n.attn_q_bias.empty()) {
      TINYRAG_ASSIGN(l.bq, Vector(n.attn_q_bias, i, q_dim));
      TINYRAG_ASSIGN(l.bk, Vector(n.attn_k_bias, i, kv_dim));
      TINYRAG_ASSIGN(l.bv, Vector(n.attn_v_bias, i, kv_dim));
    }
    if (!n.attn_q_norm.empty()) {
      TINYRAG_ASSIGN(l.q_norm, Vector(n.attn_q_norm, i, c.head_dim));
      TINYRAG_ASSIGN(l.k_norm, Vector(n.attn_k_norm, i, c.head_dim));
    }
    TINYRAG_ASSIGN(l.ffn_norm, Vector(n.ffn_norm, i, c.n_embd));
    TINYRAG_ASSIGN(l.w_gate, Matrix(n.ffn_gate, i, c.n_ff, c.n_embd));
    TINYRAG_ASSIGN(l.w_up, Matrix(n.ffn_up, i, c.n_ff, c.n_embd));
    TINYRAG_ASSIGN(l.w_down, Matrix(n.ffn_down, i, c.n_embd, c.n_ff));
  }
  m.weight_bytes_ = bytes_;
  m.converted_weights_ = std::move(arena_);
  return absl::OkStatus();
}

#undef TINYRAG_ASSIGN

absl::StatusOr<std::unique_ptr<DecoderModel>> DecoderModel::Load(const std::string& path) {
  auto file = GgufFile::Open(path);
  if (!file.ok()) return file.status();
  std::shared_ptr<GgufFile> owned(std::move(*file));
  auto model = FromGguf(owned);
  // The vocabulary holds what it needs of the tokenizer arrays; their copies in
  // the metadata would stay resident for the model's life. Nothing else has
  // the file yet.
  if (model.ok()) owned->ReleaseLargeArrays(kKeptArrayElements);
  return model;
}

absl::StatusOr<std::unique_ptr<DecoderModel>> DecoderModel::FromGguf(std::shared_ptr<const GgufFile> file) {
  const std::string arch_name = file->architecture();
  auto arch = FindArch(arch_name);
  if (!arch.ok()) return absl::InvalidArgumentError(absl::StrCat(file->path(), ": ", arch.status().message()));
  std::unique_ptr<DecoderModel> m(new DecoderModel());
  m->file_ = std::move(file);
  m->arch_ = *arch;
  DecoderModelLoader loader(*m->file_, **arch);
  if (absl::Status s = loader.ReadConfig(m->config_); !s.ok()) return s;
  if (absl::Status s = loader.ReadWeights(*m); !s.ok()) return s;
  auto tokenizer = Tokenizer::FromGguf(*m->file_);
  if (!tokenizer.ok()) return tokenizer.status();
  m->tokenizer_ = std::move(*tokenizer);
  return m;
}

}  // namespace tinyrag
