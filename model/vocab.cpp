#include "model/vocab.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/gguf.h"

namespace tinyrag {
namespace {

constexpr std::string_view kWordStart = "\xE2\x96\x81";  // U+2581, marks a word start / space

uint32_t AttrFromType(TokenType type) {
  switch (type) {
    case TokenType::kNormal: return Vocab::kAttrNormal;
    case TokenType::kUnknown: return Vocab::kAttrUnknown;
    case TokenType::kControl: return Vocab::kAttrControl;
    case TokenType::kUserDefined: return Vocab::kAttrUserDefined;
    case TokenType::kUnused: return Vocab::kAttrUnused;
    case TokenType::kByte: return Vocab::kAttrByte;
    case TokenType::kUndefined: return 0;
  }
  return 0;
}

// Per-kind defaults of the reference runtime (llama.cpp's vocabulary loader).
struct KindDefaults {
  TokenId bos, eos, unk, sep, pad, mask;
  bool add_bos, add_eos, add_space_prefix, clean_spaces;
};

KindDefaults DefaultsFor(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::kSentencePiece:
      return {1, 2, 0, kNoToken, kNoToken, kNoToken, true, false, true, false};
    case TokenizerKind::kWordPiece:
      return {101, kNoToken, 100, 102, 0, 103, true, false, false, true};
    case TokenizerKind::kByteLevelBpe:
      return {11, 11, kNoToken, kNoToken, kNoToken, kNoToken, false, false, false, true};
  }
  return {};
}

// Byte-level BPE pre-tokenizer names that change other defaults.
void ApplyPreDefaults(std::string_view pre, bool& add_bos, bool& clean_spaces, bool& ignore_merges) {
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3" ||
      pre == "tekken") {
    ignore_merges = true;
    add_bos = true;
  }
  if (pre == "tekken" || pre == "chameleon") add_bos = true;
  static constexpr std::array<std::string_view, 10> kNoCleanSpaces = {
      "deepseek-llm", "deepseek-coder", "deepseek-v3", "command-r", "qwen2",
      "deepseek-r1-qwen", "poro-chat", "viking", "tekken", "smollm"};
  if (std::find(kNoCleanSpaces.begin(), kNoCleanSpaces.end(), pre) != kNoCleanSpaces.end() ||
      pre == "chameleon") {
    clean_spaces = false;
  }
}

}  // namespace

std::string_view TokenizerKindName(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::kWordPiece: return "bert (WordPiece)";
    case TokenizerKind::kSentencePiece: return "llama (SentencePiece BPE)";
    case TokenizerKind::kByteLevelBpe: return "gpt2 (byte-level BPE)";
  }
  return "?";
}

TokenId Vocab::Find(std::string_view text) const {
  // Debian's abseil has its own string_view type: convert for the heterogeneous lookup.
  auto it = token_to_id_.find(absl::string_view(text.data(), text.size()));
  return it == token_to_id_.end() ? kNoToken : it->second;
}

namespace {
uint64_t PairKey(TokenId left, TokenId right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}
}  // namespace

std::optional<Vocab::Merge> Vocab::MergeOfTokens(TokenId left, TokenId right) const {
  auto it = token_merges_.find(PairKey(left, right));
  if (it == token_merges_.end()) return std::nullopt;
  return it->second;
}

std::optional<Vocab::Merge> Vocab::MergeOfTexts(std::string_view left, std::string_view right,
                                                std::string& scratch) const {
  if (text_merges_.empty()) return std::nullopt;
  scratch.assign(left);
  scratch.push_back(' ');
  scratch.append(right);
  auto it = text_merges_.find(scratch);
  if (it == text_merges_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::shared_ptr<const Vocab>> Vocab::Create(VocabSpec spec) {
  const size_t n = spec.tokens.size();
  if (n == 0) return absl::InvalidArgumentError("vocabulary has no tokens");
  if (n > static_cast<size_t>(INT32_MAX)) return absl::InvalidArgumentError("vocabulary too large");
  if (!spec.scores.empty() && spec.scores.size() != n) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "vocabulary has %d tokens but %d scores", n, spec.scores.size()));
  }
  if (!spec.types.empty() && spec.types.size() != n) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "vocabulary has %d tokens but %d token types", n, spec.types.size()));
  }

  std::shared_ptr<Vocab> v(new Vocab());
  v->kind_ = spec.kind;
  v->pre_ = spec.pre;
  v->scores_ = std::move(spec.scores);
  v->tokens_ = std::move(spec.tokens);
  v->attrs_.resize(n, kAttrNormal);
  v->token_to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string& t = v->tokens_[i];
    // An empty token could never be produced or matched; give it a unique
    // placeholder so ids stay aligned (the reference runtime does the same).
    if (t.empty()) t = absl::StrCat("[EMPTY_", i, "]");
    // The key views tokens_[i], which is never modified again.
    v->token_to_id_[absl::string_view(t.data(), t.size())] = static_cast<TokenId>(i);  // a duplicate text maps to its last id
    v->max_token_bytes_ = std::max(v->max_token_bytes_, t.size());
    if (!spec.types.empty()) v->attrs_[i] = AttrFromType(spec.types[i]);
  }

  v->token_merges_.reserve(spec.merges.size());
  for (size_t r = 0; r < spec.merges.size(); ++r) {
    const std::string& m = spec.merges[r];
    const size_t space = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
    if (space == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrFormat("merge %d (\"%s\") is not of the form \"left right\"", r, m));
    }
    const std::string_view left = std::string_view(m).substr(0, space);
    const std::string_view right = std::string_view(m).substr(space + 1);
    const TokenId l = v->Find(left), r_id = v->Find(right);
    const Merge merge{static_cast<int32_t>(r), v->Find(std::string(left) + std::string(right))};
    // For a repeated rule the first (best) rank wins.
    if (l != kNoToken && r_id != kNoToken) {
      v->token_merges_.try_emplace(PairKey(l, r_id), merge);
    } else {
      v->text_merges_.try_emplace(m, merge);
    }
  }

  std::fill(std::begin(v->byte_tokens_), std::end(v->byte_tokens_), kNoToken);
  if (spec.kind == TokenizerKind::kSentencePiece) {
    for (int b = 0; b < 256; ++b) v->byte_tokens_[b] = v->Find(absl::StrFormat("<0x%02X>", b));
    v->words_are_independent_ = std::none_of(v->tokens_.begin(), v->tokens_.end(), [](const std::string& t) {
      for (size_t at = t.find(kWordStart, 1); at != std::string::npos; at = t.find(kWordStart, at + 1)) {
        if (at < kWordStart.size() || t.compare(at - kWordStart.size(), kWordStart.size(), kWordStart) != 0) {
          return true;  // a ▁ preceded by something other than ▁
        }
      }
      return false;
    });
  }

  const KindDefaults d = DefaultsFor(spec.kind);
  bool add_bos = d.add_bos, clean_spaces = d.clean_spaces, ignore_merges = false;
  if (spec.kind == TokenizerKind::kByteLevelBpe) ApplyPreDefaults(spec.pre, add_bos, clean_spaces, ignore_merges);
  v->ignore_merges_ = ignore_merges;
  v->clean_spaces_ = clean_spaces;
  v->add_bos_ = spec.add_bos.value_or(add_bos);
  v->add_eos_ = spec.add_eos.value_or(d.add_eos);
  v->add_space_prefix_ = spec.add_space_prefix.value_or(d.add_space_prefix);

  // An id out of range is ignored in favour of the default (reference behaviour:
  // some converters write 0xFFFFFFFF for "none").
  auto pick = [n](std::optional<TokenId> given, TokenId fallback) {
    TokenId id = (given && *given >= 0 && static_cast<size_t>(*given) < n) ? *given : fallback;
    return (id >= 0 && static_cast<size_t>(id) < n) ? id : kNoToken;
  };
  // BERT's [CLS] plays the part of BOS.
  std::optional<TokenId> bos = spec.bos;
  if (spec.kind == TokenizerKind::kWordPiece && spec.cls && !(bos && *bos >= 0 && static_cast<size_t>(*bos) < n)) {
    bos = spec.cls;
  }
  v->bos_ = pick(bos, d.bos);
  v->eos_ = pick(spec.eos, d.eos);
  v->unk_ = pick(spec.unk, d.unk);
  v->sep_ = pick(spec.sep, d.sep);
  v->pad_ = pick(spec.pad, d.pad);
  v->mask_ = pick(spec.mask, d.mask);
  v->eot_ = pick(spec.eot, kNoToken);
  if (v->add_bos_ && v->bos_ == kNoToken) {
    return absl::InvalidArgumentError("vocabulary adds BOS but has no valid BOS token id");
  }
  if (v->add_eos_ && v->eos_ == kNoToken) {
    return absl::InvalidArgumentError("vocabulary adds EOS but has no valid EOS token id");
  }

  // Tokens that look like control tokens are treated as such even when the
  // converter typed them otherwise (the reference runtime overrides them too;
  // this decides whether their text is matched without parse_special).
  auto force_control = [&](TokenId id) {
    v->attrs_[id] = (v->attrs_[id] & ~(kAttrNormal | kAttrUserDefined)) | kAttrControl;
  };
  // For an id slot without metadata, the first candidate text (in sorted order) present wins.
  auto detect_slot = [&](std::optional<TokenId> given, std::initializer_list<std::string_view> names) {
    if (given && *given >= 0 && static_cast<size_t>(*given) < n) return pick(given, kNoToken);
    std::vector<std::string_view> sorted(names);
    std::sort(sorted.begin(), sorted.end());
    for (std::string_view name : sorted) {
      const TokenId id = v->Find(name);
      if (id != kNoToken) {
        force_control(id);
        return id;
      }
    }
    return kNoToken;
  };
  const std::string_view kEndOfSentenceDs = "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
  if (!(spec.eot && *spec.eot >= 0 && static_cast<size_t>(*spec.eot) < n)) {
    v->eot_ = detect_slot(std::nullopt, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                         "<|endoftext|>", "<EOT>", kEndOfSentenceDs});
  }
  const TokenId eom = detect_slot(spec.eom, {"<|eom_id|>"});
  const std::string_view kFimBeginDs = "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>";
  const std::string_view kFimHoleDs = "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "hole\xEF\xBD\x9C>";
  const std::string_view kFimEndDs = "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>";
  detect_slot(spec.fim_pre, {"<|fim_prefix|>", "<fim-prefix>", kFimBeginDs, "<PRE>"});
  detect_slot(spec.fim_suf, {"<|fim_suffix|>", "<fim-suffix>", kFimHoleDs, "<SUF>"});
  detect_slot(spec.fim_mid, {"<|fim_middle|>", "<fim-middle>", kFimEndDs, "<MID>"});
  const TokenId fim_pad = detect_slot(spec.fim_pad, {"<|fim_pad|>", "<fim-pad>", "<PAD>"});
  const TokenId fim_rep = detect_slot(spec.fim_rep, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"});
  const TokenId fim_sep = detect_slot(spec.fim_sep, {"<|file_sep|>"});

  std::vector<TokenId> eog;
  for (TokenId id : {fim_pad, fim_rep, fim_sep, v->eos_, v->eot_, eom}) {
    if (id != kNoToken) eog.push_back(id);
  }
  for (std::string_view name : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                "<|endoftext|>", "<|eom_id|>", "<EOT>"}) {
    const TokenId id = v->Find(name);
    if (id != kNoToken) {
      force_control(id);
      eog.push_back(id);
    }
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  v->eog_ = std::move(eog);

  for (size_t i = 0; i < n; ++i) {
    if (v->attrs_[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) {
      v->special_by_length_.push_back(static_cast<TokenId>(i));
    }
  }
  std::stable_sort(v->special_by_length_.begin(), v->special_by_length_.end(),
                   [&](TokenId a, TokenId b) { return v->tokens_[a].size() > v->tokens_[b].size(); });

  // Per-model token attributes the GGUF does not store (reference runtime rules).
  const std::string name = absl::AsciiStrToLower(spec.model_name);
  auto set_attr = [&](std::string_view text, uint32_t attr, bool on) {
    const TokenId id = v->Find(text);
    if (id == kNoToken) return;
    v->attrs_[id] = on ? (v->attrs_[id] | attr) : (v->attrs_[id] & ~attr);
  };
  if (absl::StrContains(spec.pre, "jina-v2-de") || absl::StrContains(spec.pre, "jina-v2-es") ||
      absl::StrContains(spec.pre, "jina-v2-code")) {
    set_attr("<mask>", kAttrLStrip, true);
  } else if (absl::StrContains(name, "phi-3") || absl::StrContains(name, "phi3")) {
    for (TokenId id : v->special_by_length_) v->attrs_[id] |= kAttrRStrip;
    set_attr("</s>", kAttrRStrip, true);
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set_attr(t, kAttrRStrip, false);
  }
  return std::shared_ptr<const Vocab>(std::move(v));
}

absl::StatusOr<std::shared_ptr<const Vocab>> Vocab::FromGguf(const GgufFile& file) {
  VocabSpec spec;
  auto model = file.GetString("tokenizer.ggml.model");
  if (!model.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(file.path(), ": no tokenizer: ", model.status().message()));
  }
  if (*model == "bert") {
    spec.kind = TokenizerKind::kWordPiece;
  } else if (*model == "llama") {
    spec.kind = TokenizerKind::kSentencePiece;
  } else if (*model == "gpt2") {
    spec.kind = TokenizerKind::kByteLevelBpe;
  } else {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: unsupported tokenizer.ggml.model \"%s\" (supported: bert, llama, gpt2)", file.path(), *model));
  }
  auto fail = [&](std::string_view key, const absl::Status& s) {
    return absl::InvalidArgumentError(absl::StrCat(file.path(), ": ", std::string(key), ": ", s.message()));
  };
  if (file.Find("tokenizer.ggml.pre")) {
    auto pre = file.GetString("tokenizer.ggml.pre");
    if (!pre.ok()) return fail("tokenizer.ggml.pre", pre.status());
    spec.pre = *pre;
  }
  if (file.Find("general.name")) {
    if (auto name = file.GetString("general.name"); name.ok()) spec.model_name = *name;
  }

  auto tokens = file.GetArray("tokenizer.ggml.tokens");
  if (!tokens.ok()) return fail("tokenizer.ggml.tokens", tokens.status());
  if ((*tokens)->type != GgufValueType::kString) {
    return absl::InvalidArgumentError(absl::StrCat(file.path(), ": tokenizer.ggml.tokens is not an array of strings"));
  }
  spec.tokens = (*tokens)->strings;

  if (file.Find("tokenizer.ggml.scores")) {
    auto scores = file.GetArray("tokenizer.ggml.scores");
    if (!scores.ok()) return fail("tokenizer.ggml.scores", scores.status());
    if ((*scores)->type != GgufValueType::kFloat32 && (*scores)->type != GgufValueType::kFloat64) {
      return absl::InvalidArgumentError(absl::StrCat(file.path(), ": tokenizer.ggml.scores is not an array of floats"));
    }
    spec.scores.assign((*scores)->floats.begin(), (*scores)->floats.end());
  }
  if (file.Find("tokenizer.ggml.token_type")) {
    auto types = file.GetArray("tokenizer.ggml.token_type");
    if (!types.ok()) return fail("tokenizer.ggml.token_type", types.status());
    if ((*types)->ints.size() != (*types)->size()) {
      return absl::InvalidArgumentError(absl::StrCat(file.path(), ": tokenizer.ggml.token_type is not an array of integers"));
    }
    spec.types.reserve((*types)->ints.size());
    for (int64_t t : (*types)->ints) {
      // Unknown type values count as "undefined", as in the reference runtime.
      spec.types.push_back(t >= 0 && t <= 6 ? static_cast<TokenType>(t) : TokenType::kUndefined);
    }
  }
  if (spec.kind == TokenizerKind::kByteLevelBpe) {
    auto merges = file.GetArray("tokenizer.ggml.merges");
    if (!merges.ok()) return fail("tokenizer.ggml.merges", merges.status());
    if ((*merges)->type != GgufValueType::kString) {
      return absl::InvalidArgumentError(absl::StrCat(file.path(), ": tokenizer.ggml.merges is not an array of strings"));
    }
    spec.merges = (*merges)->strings;
  }

  struct IdKey {
    std::string_view key;
    std::optional<TokenId>* slot;
  };
  const IdKey id_keys[] = {
      {"tokenizer.ggml.bos_token_id", &spec.bos},       {"tokenizer.ggml.eos_token_id", &spec.eos},
      {"tokenizer.ggml.eot_token_id", &spec.eot},       {"tokenizer.ggml.eom_token_id", &spec.eom},
      {"tokenizer.ggml.unknown_token_id", &spec.unk},   {"tokenizer.ggml.seperator_token_id", &spec.sep},
      {"tokenizer.ggml.padding_token_id", &spec.pad},   {"tokenizer.ggml.cls_token_id", &spec.cls},
      {"tokenizer.ggml.mask_token_id", &spec.mask},     {"tokenizer.ggml.fim_pre_token_id", &spec.fim_pre},
      {"tokenizer.ggml.fim_suf_token_id", &spec.fim_suf}, {"tokenizer.ggml.fim_mid_token_id", &spec.fim_mid},
      {"tokenizer.ggml.fim_pad_token_id", &spec.fim_pad}, {"tokenizer.ggml.fim_rep_token_id", &spec.fim_rep},
      {"tokenizer.ggml.fim_sep_token_id", &spec.fim_sep}, {"tokenizer.ggml.prefix_token_id", &spec.fim_pre},
      {"tokenizer.ggml.suffix_token_id", &spec.fim_suf}, {"tokenizer.ggml.middle_token_id", &spec.fim_mid},
  };
  for (const IdKey& k : id_keys) {
    if (!file.Find(k.key)) continue;
    auto id = file.GetInt(k.key);
    if (!id.ok()) return fail(k.key, id.status());
    // Out-of-range ids (e.g. 0xFFFFFFFF for "none") are dropped by Create.
    *k.slot = (*id >= 0 && *id <= INT32_MAX) ? static_cast<TokenId>(*id) : kNoToken;
  }
  struct BoolKey {
    std::string_view key;
    std::optional<bool>* slot;
  };
  const BoolKey bool_keys[] = {{"tokenizer.ggml.add_bos_token", &spec.add_bos},
                               {"tokenizer.ggml.add_eos_token", &spec.add_eos},
                               {"tokenizer.ggml.add_space_prefix", &spec.add_space_prefix}};
  for (const BoolKey& k : bool_keys) {
    if (!file.Find(k.key)) continue;
    auto b = file.GetBool(k.key);
    if (!b.ok()) return fail(k.key, b.status());
    *k.slot = *b;
  }
  auto vocab = Create(std::move(spec));
  if (!vocab.ok()) return absl::InvalidArgumentError(absl::StrCat(file.path(), ": ", vocab.status().message()));
  return vocab;
}

absl::StatusOr<std::shared_ptr<const Vocab>> Vocab::FromWordPieceVocabTxt(const std::vector<std::string>& lines) {
  VocabSpec spec;
  spec.kind = TokenizerKind::kWordPiece;
  spec.tokens.reserve(lines.size());
  spec.types.reserve(lines.size());
  for (const std::string& raw : lines) {
    std::string_view line = raw;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const bool bracketed = line.size() >= 2 && line.front() == '[' && line.back() == ']';
    if (bracketed) {
      spec.tokens.emplace_back(line);
    } else if (line.substr(0, 2) == "##") {
      spec.tokens.emplace_back(line.substr(2));
    } else {
      spec.tokens.push_back(std::string(kWordStart) + std::string(line));
    }
    spec.types.push_back(TokenType::kNormal);
  }
  struct Special {
    std::string_view text;
    std::optional<TokenId>* slot;
  };
  const Special specials[] = {{"[PAD]", &spec.pad}, {"[UNK]", &spec.unk}, {"[CLS]", &spec.cls},
                              {"[SEP]", &spec.sep}, {"[MASK]", &spec.mask}};
  for (const Special& s : specials) {
    for (size_t i = 0; i < spec.tokens.size(); ++i) {
      if (spec.tokens[i] == s.text) {
        *s.slot = static_cast<TokenId>(i);
        spec.types[i] = TokenType::kControl;
        break;
      }
    }
  }
  if (!spec.unk) return absl::InvalidArgumentError("vocab.txt has no [UNK] token");
  if (!spec.cls || !spec.sep) return absl::InvalidArgumentError("vocab.txt has no [CLS] or [SEP] token");
  return Create(std::move(spec));
}

}  // namespace tinyrag
