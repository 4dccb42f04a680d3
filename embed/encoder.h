// Sentence embeddings with a BERT-family encoder (all-MiniLM-L6-v2, bge-small,
// e5-small, gte-small, ...).
//
// An Encoder loads from either
//  (a) a GGUF file in llama.cpp's convention (architecture "bert"), or
//  (b) a Hugging Face sentence-transformers folder: config.json,
//      model.safetensors, vocab.txt or tokenizer.json, and when present
//      tokenizer_config.json, modules.json, the pooling module's config.json
//      (1_Pooling/config.json) and sentence_bert_config.json (max_seq_length).
// Texts are tokenized with [CLS] ... [SEP], truncated to the model's maximum
// sequence length (reported per text), run through the post-LN transformer,
// pooled (mean over the text's tokens, or [CLS]) and L2-normalized unless the
// caller asks otherwise.
//
// Thread safety: an Encoder is immutable after loading. Embed/EmbedIds may be
// called from any number of threads at once: each call allocates its own
// activation buffers (once per call, sized for its largest batch), and the
// shared ThreadPool serializes the parallel sections of concurrent calls.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/thread_pool.h"
#include "model/tokenizer.h"

namespace tinyrag {

namespace embed {
struct BertWeights;
}  // namespace embed

struct EncoderLoadOptions {
  // Threads for the forward pass, the caller included (0: all hardware threads).
  int threads = 0;
};

struct EncoderInfo {
  std::string format;        // "gguf" or "safetensors"
  std::string weight_type;   // storage type of the attention/FFN matrices ("F16", "Q8_0", ...)
  int64_t dim = 0;           // embedding width
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_ff = 0;
  int64_t n_vocab = 0;
  int64_t max_seq_len = 0;   // tokens per text, [CLS] and [SEP] included
  std::string pooling;       // "mean" or "cls"
};

struct EmbedOptions {
  bool normalize = true;  // L2-normalize each embedding (sentence-transformers' default)
  // Recognize special-token text such as "[MASK]" in the input. Off by default
  // so user text cannot inject control tokens.
  bool parse_special = false;
  // Texts per forward pass (texts are sorted by length first, so a batch
  // holds texts of similar length). Values < 1 mean 1.
  int batch_size = 32;
};

// The result of encoding n texts: one contiguous row-major [n][dim] matrix in
// input order, plus per text the number of tokens encoded and whether the text
// was cut to fit the maximum sequence length.
struct Embeddings {
  int64_t n = 0;
  int64_t dim = 0;
  std::vector<float> values;        // [n][dim]
  std::vector<int32_t> n_tokens;    // tokens run through the model, specials included
  std::vector<uint8_t> truncated;   // 1 when the text's tokens were cut

  std::span<const float> row(int64_t i) const { return {values.data() + i * dim, static_cast<size_t>(dim)}; }
};

class Encoder {
 public:
  // Loads `path`: a directory is read as a sentence-transformers folder, a
  // file as GGUF. Errors name the file and the problem: NotFound for a missing
  // path or required file (config.json, model.safetensors, vocab), InvalidArgument
  // for an unsupported architecture, a missing or misshapen tensor, a bad
  // config value or a corrupt file.
  static absl::StatusOr<std::unique_ptr<Encoder>> Load(const std::string& path,
                                                      const EncoderLoadOptions& options = {});
  static absl::StatusOr<std::unique_ptr<Encoder>> LoadGguf(const std::string& path,
                                                          const EncoderLoadOptions& options = {});
  static absl::StatusOr<std::unique_ptr<Encoder>> LoadHfFolder(const std::string& dir,
                                                              const EncoderLoadOptions& options = {});

  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  const EncoderInfo& info() const { return info_; }
  int64_t dim() const { return info_.dim; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  int threads() const { return pool_->num_threads(); }

  // The ids the encoder runs for `text`: [CLS] pieces [SEP], cut to
  // max_seq_len (keeping [SEP] last) when longer; `*truncated` (optional)
  // tells whether it was cut. Thread-safe.
  std::vector<TokenId> Tokenize(std::string_view text, bool parse_special = false, bool* truncated = nullptr) const;

  // Embeds every text. An empty list gives n = 0. Thread-safe.
  absl::StatusOr<Embeddings> Embed(std::span<const std::string> texts, const EmbedOptions& options = {}) const;

  // Embeds token id sequences as given (no tokenization; sequences longer
  // than max_seq_len are cut like Tokenize does). InvalidArgument for an
  // empty sequence or an id outside the vocabulary. Thread-safe.
  absl::StatusOr<Embeddings> EmbedIds(std::span<const std::vector<TokenId>> ids,
                                      const EmbedOptions& options = {}) const;

 private:
  Encoder(std::unique_ptr<embed::BertWeights> weights, std::unique_ptr<Tokenizer> tokenizer, EncoderInfo info,
          int threads);

  std::unique_ptr<embed::BertWeights> weights_;
  std::unique_ptr<Tokenizer> tokenizer_;
  EncoderInfo info_;
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace tinyrag
