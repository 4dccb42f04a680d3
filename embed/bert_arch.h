// The BERT-family encoder architecture: hyper-parameters, the table of tensor
// names in both conventions (llama.cpp GGUF and Hugging Face safetensors), the
// metadata keys, and the loaded weights. Internal to embed/ (the public API is
// embed/encoder.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/gguf.h"
#include "embed/gemm.h"
#include "model/kernels.h"
#include "model/safetensors.h"
#include "model/tokenizer.h"

namespace tinyrag::embed {

enum class PoolingKind { kMean, kCls };

struct BertConfig {
  int64_t n_vocab = 0;
  int64_t n_embd = 0;      // hidden size E
  int64_t n_layer = 0;
  int64_t n_head = 0;      // E must be a multiple of n_head
  int64_t n_ff = 0;        // intermediate size F
  int64_t n_pos = 0;       // rows of the position embedding table
  int64_t n_token_types = 0;
  float norm_eps = 1e-12f;
  int64_t max_seq_len = 0; // tokens per text, [CLS] and [SEP] included
  PoolingKind pooling = PoolingKind::kMean;
};

// Metadata keys of a llama.cpp BERT GGUF ("bert." prefix).
inline constexpr std::string_view kGgufArch = "bert";
inline constexpr std::string_view kKeyContextLength = "bert.context_length";
inline constexpr std::string_view kKeyEmbeddingLength = "bert.embedding_length";
inline constexpr std::string_view kKeyBlockCount = "bert.block_count";
inline constexpr std::string_view kKeyFeedForwardLength = "bert.feed_forward_length";
inline constexpr std::string_view kKeyHeadCount = "bert.attention.head_count";
inline constexpr std::string_view kKeyLayerNormEps = "bert.attention.layer_norm_epsilon";
inline constexpr std::string_view kKeyPoolingType = "bert.pooling_type";

// One weight in both naming conventions. Names of per-layer tensors hold "#"
// where the layer number goes.
enum class BertTensor {
  kTokenEmbd, kTokenTypes, kPositionEmbd, kEmbdNormW, kEmbdNormB,
  kQW, kQB, kKW, kKB, kVW, kVB, kOutW, kOutB, kAttnNormW, kAttnNormB,
  kUpW, kUpB, kDownW, kDownB, kOutNormW, kOutNormB,
};
struct BertTensorName {
  BertTensor id;
  std::string_view gguf;  // llama.cpp convention
  std::string_view hf;    // Hugging Face BertModel state dict (no "bert." prefix)
  bool per_layer;
};
// Every tensor of the architecture, global ones first.
const std::vector<BertTensorName>& BertTensorNames();
// The name of `t` for layer `layer` (ignored for global tensors).
std::string GgufTensorName(BertTensor t, int64_t layer);
std::string HfTensorName(BertTensor t, int64_t layer);

// Matrices are decoded to f32 and packed for the GEMM at load time (see
// gemm.h): rows = output features, cols = input features.
struct BertLayer {
  PackedMatrix q, k, v, out, up, down;
  std::vector<float> q_b, k_b, v_b, out_b, up_b, down_b;
  std::vector<float> attn_norm_w, attn_norm_b, out_norm_w, out_norm_b;
};

// Everything the forward pass reads. token_embd points into `gguf` (mapped
// file) or into `owned`; both live as long as the BertWeights.
struct BertWeights {
  BertConfig config;
  WeightView token_embd;             // [n_vocab][E], any dequantizable type
  std::string matrix_type;           // stored type of the layer matrices ("F16", ...)
  std::vector<float> position_embd;  // [n_pos][E]
  std::vector<float> token_type0;    // [E]: row 0 (every token has type 0)
  std::vector<float> embd_norm_w, embd_norm_b;
  std::vector<BertLayer> layers;

  std::unique_ptr<GgufFile> gguf;
  std::vector<std::vector<uint8_t>> owned;
};

// Reads a llama.cpp BERT GGUF: config, weights (views into the file).
// InvalidArgument naming the file and the missing key / tensor / bad shape;
// an architecture other than "bert" is an error naming it.
absl::StatusOr<std::unique_ptr<BertWeights>> LoadBertGguf(std::unique_ptr<GgufFile> file);

// Reads weights from a HF safetensors state dict (names with or without the
// "bert." prefix) for `config` (already read from config.json); the word
// embeddings are copied in their own type (F32, F16 or BF16), the rest decoded.
absl::StatusOr<std::unique_ptr<BertWeights>> LoadBertSafetensors(const SafetensorsFile& file,
                                                                 const BertConfig& config);

}  // namespace tinyrag::embed
