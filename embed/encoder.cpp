// Encoder: loading from GGUF, tokenization with truncation, and batched
// embedding (sort by length, batch, forward, pool, normalize).
#include "embed/encoder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <thread>

#include "absl/strings/str_cat.h"
#include "embed/bert_arch.h"
#include "embed/bert_forward.h"
#include "model/gguf.h"
#include "model/tensor_type.h"

namespace tinyrag {

namespace {

int ResolveThreads(int threads) {
  if (threads > 0) return threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

Encoder::Encoder(std::unique_ptr<embed::BertWeights> weights, std::unique_ptr<Tokenizer> tokenizer, EncoderInfo info,
                 int threads)
    : weights_(std::move(weights)),
      tokenizer_(std::move(tokenizer)),
      info_(std::move(info)),
      pool_(std::make_unique<ThreadPool>(ResolveThreads(threads))) {
  const embed::BertConfig& c = weights_->config;
  info_.weight_type = weights_->matrix_type;
  info_.dim = c.n_embd;
  info_.n_layer = c.n_layer;
  info_.n_head = c.n_head;
  info_.n_ff = c.n_ff;
  info_.n_vocab = c.n_vocab;
  info_.max_seq_len = c.max_seq_len;
  info_.pooling = c.pooling == embed::PoolingKind::kCls ? "cls" : "mean";
}

Encoder::~Encoder() = default;

absl::StatusOr<std::unique_ptr<Encoder>> Encoder::Load(const std::string& path, const EncoderLoadOptions& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return LoadHfFolder(path, options);
  return LoadGguf(path, options);
}

absl::StatusOr<std::unique_ptr<Encoder>> Encoder::LoadGguf(const std::string& path,
                                                          const EncoderLoadOptions& options) {
  auto file = GgufFile::Open(path);
  if (!file.ok()) return file.status();
  auto tokenizer = Tokenizer::FromGguf(**file);
  if (!tokenizer.ok()) return tokenizer.status();
  if ((*tokenizer)->kind() != TokenizerKind::kWordPiece) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": the encoder needs a WordPiece (bert) tokenizer, not ",
                                                   std::string(TokenizerKindName((*tokenizer)->kind()))));
  }
  auto weights = embed::LoadBertGguf(std::move(*file));
  if (!weights.ok()) return weights.status();
  if ((*tokenizer)->vocab().size() != (*weights)->config.n_vocab) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": vocabulary has ", (*tokenizer)->vocab().size(),
                                                   " tokens but token_embd.weight has ",
                                                   (*weights)->config.n_vocab, " rows"));
  }
  EncoderInfo info;
  info.format = "gguf";
  return std::unique_ptr<Encoder>(
      new Encoder(std::move(*weights), std::move(*tokenizer), std::move(info), options.threads));
}

std::vector<TokenId> Encoder::Tokenize(std::string_view text, bool parse_special, bool* truncated) const {
  std::vector<TokenId> ids = tokenizer_->Encode(text, EncodeOptions{.add_special = true, .parse_special = parse_special});
  const size_t max = static_cast<size_t>(info_.max_seq_len);
  const bool cut = ids.size() > max;
  if (cut) {
    // Keep the final [SEP]: the model was trained on sequences ending with it.
    const TokenId last = ids.back();
    ids.resize(max);
    ids.back() = last;
  }
  if (truncated != nullptr) *truncated = cut;
  return ids;
}

absl::StatusOr<Embeddings> Encoder::Embed(std::span<const std::string> texts, const EmbedOptions& options) const {
  std::vector<std::vector<TokenId>> ids(texts.size());
  std::vector<uint8_t> cut(texts.size(), 0);
  for (size_t i = 0; i < texts.size(); ++i) {
    bool truncated = false;
    ids[i] = Tokenize(texts[i], options.parse_special, &truncated);
    cut[i] = truncated ? 1 : 0;
  }
  auto out = EmbedIds(ids, options);
  if (!out.ok()) return out.status();
  out->truncated = std::move(cut);
  return out;
}

absl::StatusOr<Embeddings> Encoder::EmbedIds(std::span<const std::vector<TokenId>> ids,
                                             const EmbedOptions& options) const {
  const embed::BertConfig& c = weights_->config;
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t E = c.n_embd;
  Embeddings out;
  out.n = n;
  out.dim = E;
  out.values.assign(static_cast<size_t>(n * E), 0.0f);
  out.n_tokens.resize(n);
  out.truncated.assign(n, 0);
  if (n == 0) return out;

  // Views of the (possibly cut) sequences.
  std::vector<std::span<const TokenId>> seqs(n);
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i].empty()) return absl::InvalidArgumentError(absl::StrCat("embed: sequence ", i, " is empty"));
    for (TokenId id : ids[i]) {
      if (id < 0 || id >= c.n_vocab) {
        return absl::InvalidArgumentError(absl::StrCat("embed: token id ", id, " of sequence ", i,
                                                       " is outside the vocabulary (", c.n_vocab, ")"));
      }
    }
    const size_t len = std::min(ids[i].size(), static_cast<size_t>(c.max_seq_len));
    seqs[i] = std::span<const TokenId>(ids[i].data(), len);
    if (len < ids[i].size()) out.truncated[i] = 1;
    out.n_tokens[i] = static_cast<int32_t>(len);
  }

  // Longest first, so each batch holds texts of similar length and the
  // first batch sizes the scratch for all of them.
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return seqs[a].size() > seqs[b].size(); });
  const int64_t batch = std::max(1, options.batch_size);
  int64_t max_tokens = 0;
  for (int64_t b = 0; b < n; b += batch) {
    int64_t tokens = 0;
    for (int64_t i = b; i < std::min(n, b + batch); ++i) tokens += static_cast<int64_t>(seqs[order[i]].size());
    max_tokens = std::max(max_tokens, tokens);
  }
  embed::ForwardScratch scratch(c, max_tokens, static_cast<int64_t>(seqs[order[0]].size()), pool_->num_threads());

  std::vector<float> pooled(static_cast<size_t>(batch * E));
  std::vector<std::span<const TokenId>> group;
  for (int64_t b = 0; b < n; b += batch) {
    const int64_t end = std::min(n, b + batch);
    group.clear();
    for (int64_t i = b; i < end; ++i) group.push_back(seqs[order[i]]);
    if (auto s = embed::ForwardBatch(*weights_, group, *pool_, scratch, pooled.data()); !s.ok()) return s;
    for (int64_t i = b; i < end; ++i) {
      float* dst = out.values.data() + order[i] * E;
      const float* src = pooled.data() + (i - b) * E;
      double norm2 = 0.0;
      for (int64_t j = 0; j < E; ++j) norm2 += static_cast<double>(src[j]) * src[j];
      // As sentence-transformers' Normalize: divide by max(norm, 1e-12).
      const float inv = options.normalize ? static_cast<float>(1.0 / std::max(std::sqrt(norm2), 1e-12)) : 1.0f;
      for (int64_t j = 0; j < E; ++j) dst[j] = src[j] * inv;
    }
  }
  return out;
}

}  // namespace tinyrag
