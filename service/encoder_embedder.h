// The knowledge base's Embedder (index/embedder.h) over embed's Encoder: the
// one place where index/ meets embed/, on the service side of the dependency
// direction (service -> index, embed).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "embed/encoder.h"
#include "index/chunker.h"
#include "index/embedder.h"

namespace tinyrag {

class EncoderEmbedder final : public Embedder {
 public:
  // Loads the encoder at `path` (a .gguf file or a sentence-transformers
  // folder) and hashes its file(s) for the identity: name = the absolute path
  // (so `search` can load it again), file_hash = XXH3-128 of the bytes (of
  // every file, with its relative name, for a folder). Errors are the
  // encoder's load errors, or Internal when a file cannot be read.
  // `threads` as in EncoderLoadOptions; `batch_size` texts per forward pass.
  static absl::StatusOr<std::unique_ptr<EncoderEmbedder>> Load(const std::string& path, int threads = 0,
                                                               int batch_size = 32);

  // XXH3-128 (hex) of the model at `path`, as used in identity().file_hash.
  static absl::StatusOr<std::string> HashModel(const std::string& path);

  const EncoderIdentity& identity() const override { return identity_; }
  int64_t dim() const override { return encoder_->dim(); }
  int64_t max_tokens() const override { return encoder_->info().max_seq_len; }
  absl::StatusOr<std::vector<float>> Embed(std::span<const std::string> texts) const override;
  int64_t CountTokens(std::string_view text) const override { return counter_.CountTokens(text); }
  int64_t SpecialTokens() const override { return counter_.SpecialTokens(); }

  const Encoder& encoder() const { return *encoder_; }

 private:
  EncoderEmbedder(std::unique_ptr<Encoder> encoder, EncoderIdentity identity, int batch_size)
      : encoder_(std::move(encoder)),
        counter_(encoder_->tokenizer()),
        identity_(std::move(identity)),
        batch_size_(batch_size) {}

  std::unique_ptr<Encoder> encoder_;
  TokenizerTokenCounter counter_;
  EncoderIdentity identity_;
  int batch_size_;
};

}  // namespace tinyrag
