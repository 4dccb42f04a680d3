// What the knowledge base needs from a sentence encoder.
//
// index/ must not depend on embed/ (dependencies point service -> index,
// embed -> model), so ingestion and retrieval reach the encoder through this
// interface: the service wraps embed's Encoder in it, tests use a fake.
//
// An Embedder is also the TokenCounter the Chunker sizes chunks with, so chunks
// are measured in exactly the tokens the encoder will run.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/chunker.h"
#include "index/store.h"

namespace tinyrag {

class Embedder : public TokenCounter {
 public:
  ~Embedder() override = default;

  // The encoder's identity, recorded per collection: a collection refuses
  // vectors of any other encoder. identity().dim equals dim().
  virtual const EncoderIdentity& identity() const = 0;

  // Embedding width.
  virtual int64_t dim() const = 0;

  // Tokens the encoder accepts per text, special tokens included (0: no limit).
  // Longer texts are truncated by the encoder, so the chunker stays below it.
  virtual int64_t max_tokens() const = 0;

  // Embeds every text: a row-major [texts.size()][dim()] matrix in input
  // order, each row L2-normalized (unit length) and finite. An empty input
  // gives an empty vector. Errors are the encoder's (Internal, InvalidArgument).
  // Thread-safe: may be called from several threads at once.
  virtual absl::StatusOr<std::vector<float>> Embed(std::span<const std::string> texts) const = 0;
};

}  // namespace tinyrag
