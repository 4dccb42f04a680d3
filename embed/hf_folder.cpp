// Encoder::LoadHfFolder: a Hugging Face sentence-transformers folder, as a
// clone of the model's repository holds it.
//
// Files read (in the Transformer module's folder, "" unless modules.json says
// otherwise): config.json (required; model_type "bert"), model.safetensors
// (required), vocab.txt or else tokenizer.json (WordPiece vocabulary),
// tokenizer_config.json (lower-casing, model_max_length), and at the top level
// modules.json, the Pooling module's config.json and sentence_bert_config.json
// (max_seq_length).
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "embed/bert_arch.h"
#include "embed/encoder.h"
#include "model/safetensors.h"
#include "model/vocab.h"
#include "nlohmann/json.hpp"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

absl::StatusOr<std::string> ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path.string(), ": cannot open"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<Json> ReadJson(const fs::path& path) {
  auto text = ReadText(path);
  if (!text.ok()) return text.status();
  Json j = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": not a JSON object"));
  }
  return j;
}

// An integer field of a config object; `fallback` when absent (nullopt: required).
absl::StatusOr<int64_t> IntField(const Json& j, const fs::path& file, const char* key,
                                 std::optional<int64_t> fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (fallback) return *fallback;
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": missing \"", key, "\""));
  }
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": \"", key, "\" is not an integer"));
  }
  return it->get<int64_t>();
}

std::string StringField(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool BoolField(const Json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// The hyper-parameters of config.json; rejects what the forward pass does not do.
absl::StatusOr<embed::BertConfig> ReadConfig(const fs::path& file) {
  auto j = ReadJson(file);
  if (!j.ok()) return j.status();
  const std::string model_type = StringField(*j, "model_type");
  if (model_type != "bert") {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": model_type \"", model_type,
                                                   "\" is not a supported encoder (supported: bert)"));
  }
  const std::string act = StringField(*j, "hidden_act");
  if (!act.empty() && act != "gelu") {
    return absl::InvalidArgumentError(
        absl::StrCat(file.string(), ": hidden_act \"", act, "\" is not supported (supported: gelu)"));
  }
  const std::string pos = StringField(*j, "position_embedding_type");
  if (!pos.empty() && pos != "absolute") {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": position_embedding_type \"", pos,
                                                   "\" is not supported (supported: absolute)"));
  }
  embed::BertConfig c;
  struct Field {
    const char* key;
    int64_t* out;
    std::optional<int64_t> fallback;
  };
  for (const Field& f : {Field{"vocab_size", &c.n_vocab, std::nullopt}, Field{"hidden_size", &c.n_embd, std::nullopt},
                         Field{"num_hidden_layers", &c.n_layer, std::nullopt},
                         Field{"num_attention_heads", &c.n_head, std::nullopt},
                         Field{"intermediate_size", &c.n_ff, std::nullopt},
                         Field{"max_position_embeddings", &c.n_pos, std::nullopt},
                         Field{"type_vocab_size", &c.n_token_types, 2}}) {
    auto v = IntField(*j, file, f.key, f.fallback);
    if (!v.ok()) return v.status();
    *f.out = *v;
  }
  auto eps = j->find("layer_norm_eps");
  if (eps != j->end() && eps->is_number()) c.norm_eps = eps->get<float>();
  c.max_seq_len = c.n_pos;
  return c;
}

// Vocabulary lines (id = line number) from vocab.txt, else from tokenizer.json.
absl::StatusOr<std::vector<std::string>> ReadVocabLines(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "vocab.txt", ec)) {
    auto text = ReadText(dir / "vocab.txt");
    if (!text.ok()) return text.status();
    std::vector<std::string> lines;
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(std::move(line));
    }
    return lines;
  }
  const fs::path tj = dir / "tokenizer.json";
  if (!fs::exists(tj, ec)) {
    return absl::NotFoundError(absl::StrCat(dir.string(), ": neither vocab.txt nor tokenizer.json found"));
  }
  auto j = ReadJson(tj);
  if (!j.ok()) return j.status();
  auto model = j->find("model");
  if (model == j->end() || !model->is_object() || StringField(*model, "type") != "WordPiece") {
    return absl::InvalidArgumentError(absl::StrCat(tj.string(), ": model.type is not WordPiece"));
  }
  auto vocab = model->find("vocab");
  if (vocab == model->end() || !vocab->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(tj.string(), ": model.vocab is not an object"));
  }
  std::vector<std::string> lines(vocab->size());
  std::vector<bool> seen(vocab->size(), false);
  for (const auto& [token, id] : vocab->items()) {
    if (!id.is_number_unsigned() || id.get<uint64_t>() >= lines.size() || seen[id.get<uint64_t>()]) {
      return absl::InvalidArgumentError(
          absl::StrCat(tj.string(), ": model.vocab ids must be 0..", lines.size() - 1, " each once (\"", token, "\")"));
    }
    lines[id.get<uint64_t>()] = token;
    seen[id.get<uint64_t>()] = true;
  }
  return lines;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Encoder>> Encoder::LoadHfFolder(const std::string& dir_arg,
                                                              const EncoderLoadOptions& options) {
  const fs::path dir(dir_arg);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return absl::NotFoundError(absl::StrCat(dir_arg, ": no such directory"));

  // modules.json: where the Transformer and Pooling modules live, and whether
  // anything the encoder cannot run (e.g. a Dense projection) follows them.
  fs::path model_dir = dir;
  fs::path pooling_dir = dir / "1_Pooling";
  if (fs::exists(dir / "modules.json", ec)) {
    auto text = ReadText(dir / "modules.json");
    if (!text.ok()) return text.status();
    Json modules = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!modules.is_array()) {
      return absl::InvalidArgumentError(absl::StrCat((dir / "modules.json").string(), ": not a JSON array"));
    }
    for (const Json& m : modules) {
      if (!m.is_object()) continue;
      const std::string type = StringField(m, "type");
      const std::string path = StringField(m, "path");
      if (type.ends_with(".Transformer")) {
        model_dir = dir / path;
      } else if (type.ends_with(".Pooling")) {
        pooling_dir = dir / path;
      } else if (!type.ends_with(".Normalize")) {
        return absl::InvalidArgumentError(absl::StrCat((dir / "modules.json").string(), ": module type \"", type,
                                                       "\" is not supported (Transformer, Pooling, Normalize)"));
      }
    }
  }

  auto config = ReadConfig(model_dir / "config.json");
  if (!config.ok()) return config.status();

  // Pooling: CLS or mean; other modes are refused rather than approximated.
  if (fs::exists(pooling_dir / "config.json", ec)) {
    auto p = ReadJson(pooling_dir / "config.json");
    if (!p.ok()) return p.status();
    const bool cls = BoolField(*p, "pooling_mode_cls_token", false);
    const bool mean = BoolField(*p, "pooling_mode_mean_tokens", false);
    for (const char* other : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                              "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
      if (BoolField(*p, other, false)) {
        return absl::InvalidArgumentError(absl::StrCat((pooling_dir / "config.json").string(), ": ", other,
                                                       " is not supported (mean or CLS pooling)"));
      }
    }
    if (cls == mean) {
      return absl::InvalidArgumentError(absl::StrCat((pooling_dir / "config.json").string(),
                                                     ": exactly one of pooling_mode_cls_token and "
                                                     "pooling_mode_mean_tokens must be true"));
    }
    config->pooling = cls ? embed::PoolingKind::kCls : embed::PoolingKind::kMean;
  }

  // Maximum sequence length: sentence-transformers' setting, else the
  // tokenizer's, else the position table's.
  if (fs::exists(model_dir / "tokenizer_config.json", ec)) {
    auto t = ReadJson(model_dir / "tokenizer_config.json");
    if (!t.ok()) return t.status();
    if (!BoolField(*t, "do_lower_case", true)) {
      return absl::InvalidArgumentError(absl::StrCat((model_dir / "tokenizer_config.json").string(),
                                                     ": cased WordPiece (do_lower_case false) is not supported"));
    }
    auto m = t->find("model_max_length");
    if (m != t->end() && m->is_number_integer() && m->get<int64_t>() > 0) {
      config->max_seq_len = std::min(config->max_seq_len, m->get<int64_t>());
    }
  }
  for (const fs::path& st : {dir / "sentence_bert_config.json", model_dir / "sentence_bert_config.json"}) {
    if (!fs::exists(st, ec)) continue;
    auto s = ReadJson(st);
    if (!s.ok()) return s.status();
    auto v = IntField(*s, st, "max_seq_length", config->max_seq_len);
    if (!v.ok()) return v.status();
    config->max_seq_len = std::min(*v, config->n_pos);
    break;
  }

  auto lines = ReadVocabLines(model_dir);
  if (!lines.ok()) return lines.status();
  if (static_cast<int64_t>(lines->size()) != config->n_vocab) {
    return absl::InvalidArgumentError(absl::StrCat(model_dir.string(), ": vocabulary has ", lines->size(),
                                                   " tokens but config.json says vocab_size ", config->n_vocab));
  }
  auto vocab = Vocab::FromWordPieceVocabTxt(*lines);
  if (!vocab.ok()) return vocab.status();
  auto tokenizer = Tokenizer::Create(*vocab);
  if (!tokenizer.ok()) return tokenizer.status();

  const fs::path weights_path = model_dir / "model.safetensors";
  if (!fs::exists(weights_path, ec)) {
    return absl::NotFoundError(absl::StrCat(weights_path.string(), ": not found (only safetensors weights are read)"));
  }
  auto st = SafetensorsFile::Open(weights_path.string());
  if (!st.ok()) return st.status();
  auto weights = embed::LoadBertSafetensors(**st, *config);
  if (!weights.ok()) return weights.status();

  EncoderInfo info;
  info.format = "safetensors";
  return std::unique_ptr<Encoder>(
      new Encoder(std::move(*weights), std::move(*tokenizer), std::move(info), options.threads));
}

}  // namespace tinyrag
