// Real model shapes and tokenizer conventions (see model/model_presets.h).
//
// Hyperparameters are those of the models' Hugging Face config.json files:
//
// | preset         | source model                          | vocab  | embd | layers | heads/kv | head | ffn  | ctx    | rope base | eps   | tied |
// |----------------|---------------------------------------|--------|------|--------|----------|------|------|--------|-----------|-------|------|
// | qwen2.5-0.5b   | Qwen/Qwen2.5-0.5B-Instruct            | 151936 | 896  | 24     | 14/2     | 64   | 4864 | 32768  | 1e6       | 1e-6  | yes  |
// | smollm2-135m   | HuggingFaceTB/SmolLM2-135M-Instruct   | 49152  | 576  | 30     | 9/3      | 64   | 1536 | 8192   | 1e5       | 1e-5  | yes  |
// | smollm2-360m   | HuggingFaceTB/SmolLM2-360M-Instruct   | 49152  | 960  | 32     | 15/5     | 64   | 2560 | 8192   | 1e5       | 1e-5  | yes  |
// | tinyllama-1.1b | TinyLlama/TinyLlama-1.1B-Chat-v1.0    | 32000  | 2048 | 22     | 32/4     | 64   | 5632 | 2048   | 1e4       | 1e-5  | no   |
// | llama3.2-1b    | meta-llama/Llama-3.2-1B-Instruct      | 128256 | 2048 | 16     | 32/8     | 64   | 8192 | 131072 | 5e5       | 1e-5  | yes  |
// | qwen3-0.6b     | Qwen/Qwen3-0.6B                       | 151936 | 1024 | 28     | 16/8     | 128  | 3072 | 40960  | 1e6       | 1e-6  | yes  |
// | minilm-l6      | sentence-transformers/all-MiniLM-L6-v2| 30522  | 384  | 6      | 12       | 32   | 1536 | 512    | -         | 1e-12 | -    |
//
// Llama 3.2 1B: rope_scaling {rope_type llama3, factor 32, low_freq_factor 1,
// high_freq_factor 4, original_max_position_embeddings 8192} and head_dim 64
// in config.json; Qwen3 0.6B: head_dim 128 (not 1024/16), q/k RMS norms, no
// QKV bias; Qwen2.5: QKV biases. MiniLM: BertModel, type_vocab_size 2, mean
// pooling (1_Pooling/config.json). Metadata follows llama.cpp's converter
// (convert_hf_to_gguf.py): key_length/value_length only when config.json has
// head_dim, llama.vocab_size and rope.dimension_count for llama, no rope
// scaling keys for Llama 3 (its scaling is the rope_freqs tensor).
#include "model/model_presets.h"

#include <string>

#include "model/synthetic_vocab.h"

namespace tinyrag {
namespace {

std::vector<ModelPreset> BuildPresets() {
  std::vector<ModelPreset> p;
  {
    ModelPreset m;
    m.name = "qwen2.5-0.5b";
    m.arch = "qwen2";
    m.display_name = "Qwen2.5 0.5B Instruct";
    m.size_label = "0.5B";
    m.n_vocab = 151936, m.n_embd = 896, m.n_layer = 24, m.n_head = 14, m.n_head_kv = 2;
    m.head_dim = 64, m.n_ff = 4864, m.n_ctx = 32768, m.rope_base = 1e6, m.norm_eps = 1e-6;
    m.tied_embeddings = true, m.qkv_bias = true;
    m.tokenizer = PresetTokenizer::kQwen25;
    p.push_back(m);
  }
  {
    ModelPreset m;
    m.name = "smollm2-135m";
    m.arch = "llama";
    m.display_name = "SmolLM2 135M Instruct";
    m.size_label = "135M";
    m.n_vocab = 49152, m.n_embd = 576, m.n_layer = 30, m.n_head = 9, m.n_head_kv = 3;
    m.head_dim = 64, m.n_ff = 1536, m.n_ctx = 8192, m.rope_base = 1e5, m.norm_eps = 1e-5;
    m.tied_embeddings = true;
    m.tokenizer = PresetTokenizer::kSmolLM;
    p.push_back(m);
  }
  {
    ModelPreset m;
    m.name = "smollm2-360m";
    m.arch = "llama";
    m.display_name = "SmolLM2 360M Instruct";
    m.size_label = "360M";
    m.n_vocab = 49152, m.n_embd = 960, m.n_layer = 32, m.n_head = 15, m.n_head_kv = 5;
    m.head_dim = 64, m.n_ff = 2560, m.n_ctx = 8192, m.rope_base = 1e5, m.norm_eps = 1e-5;
    m.tied_embeddings = true;
    m.tokenizer = PresetTokenizer::kSmolLM;
    p.push_back(m);
  }
  {
    ModelPreset m;
    m.name = "tinyllama-1.1b";
    m.arch = "llama";
    m.display_name = "TinyLlama 1.1B Chat v1.0";
    m.size_label = "1.1B";
    m.n_vocab = 32000, m.n_embd = 2048, m.n_layer = 22, m.n_head = 32, m.n_head_kv = 4;
    m.head_dim = 64, m.n_ff = 5632, m.n_ctx = 2048, m.rope_base = 1e4, m.norm_eps = 1e-5;
    m.tied_embeddings = false;
    m.tokenizer = PresetTokenizer::kTinyLlama;
    p.push_back(m);
  }
  {
    ModelPreset m;
    m.name = "llama3.2-1b";
    m.arch = "llama";
    m.display_name = "Llama 3.2 1B Instruct";
    m.size_label = "1B";
    m.n_vocab = 128256, m.n_embd = 2048, m.n_layer = 16, m.n_head = 32, m.n_head_kv = 8;
    m.head_dim = 64, m.n_ff = 8192, m.n_ctx = 131072, m.rope_base = 5e5, m.norm_eps = 1e-5;
    m.tied_embeddings = true, m.head_dim_keys = true;
    m.rope_scale_factor = 32, m.rope_low_freq_factor = 1, m.rope_high_freq_factor = 4;
    m.rope_original_ctx = 8192;
    m.tokenizer = PresetTokenizer::kLlama3;
    p.push_back(m);
  }
  {
    ModelPreset m;
    m.name = "qwen3-0.6b";
    m.arch = "qwen3";
    m.display_name = "Qwen3 0.6B";
    m.size_label = "0.6B";
    m.n_vocab = 151936, m.n_embd = 1024, m.n_layer = 28, m.n_head = 16, m.n_head_kv = 8;
    m.head_dim = 128, m.n_ff = 3072, m.n_ctx = 40960, m.rope_base = 1e6, m.norm_eps = 1e-6;
    m.tied_embeddings = true, m.qk_norm = true, m.head_dim_keys = true;
    m.tokenizer = PresetTokenizer::kQwen3;
    p.push_back(m);
  }
  {
    ModelPreset m;
    m.name = "minilm-l6";
    m.arch = "bert";
    m.display_name = "all-MiniLM-L6-v2";
    m.size_label = "22M";
    m.n_vocab = 30522, m.n_embd = 384, m.n_layer = 6, m.n_head = 12, m.n_head_kv = 12;
    m.head_dim = 32, m.n_ff = 1536, m.n_ctx = 512, m.norm_eps = 1e-12;
    m.pooling_type = 1, m.token_type_count = 2;
    m.tokenizer = PresetTokenizer::kBert;
    p.push_back(m);
  }
  return p;
}

// Chat templates, abridged from the models' tokenizer_config.json (tool-call
// branches left out); llama.cpp recognizes each family by its markers.
constexpr const char* kQwen25Template =
    R"TPL({%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}{%- else %}{{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}{%- endif %}{%- for message in messages %}{%- if not (message['role'] == 'system' and loop.first) %}{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %})TPL";
constexpr const char* kQwen3Template =
    R"TPL({%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\n\n</think>\n\n' }}{%- endif %}{%- endif %})TPL";
constexpr const char* kSmolLMTemplate =
    R"TPL({% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %})TPL";
constexpr const char* kLlama3Template =
    R"TPL({{- bos_token }}{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] | trim %}{%- set messages = messages[1:] %}{%- else %}{%- set system_message = '' %}{%- endif %}{{- '<|start_header_id|>system<|end_header_id|>\n\n' }}{{- 'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n' }}{{- system_message }}{{- '<|eot_id|>' }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %})TPL";
constexpr const char* kZephyrTemplate = R"TPL({% for message in messages %}
{% if message['role'] == 'user' %}
{{ '<|user|>
' + message['content'] + eos_token }}
{% elif message['role'] == 'system' %}
{{ '<|system|>
' + message['content'] + eos_token }}
{% elif message['role'] == 'assistant' %}
{{ '<|assistant|>
'  + message['content'] + eos_token }}
{% endif %}
{% if loop.last and add_generation_prompt %}
{{ '<|assistant|>' }}
{% endif %}
{% endfor %})TPL";

std::vector<SpecialToken> QwenSpecials(bool qwen3) {
  std::vector<SpecialToken> s;
  for (const char* t : {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>",
                        "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>",
                        "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
                        "<|image_pad|>", "<|video_pad|>"}) {
    s.push_back({t, TokenType::kControl});
  }
  s.push_back({"<tool_call>", TokenType::kUserDefined});
  s.push_back({"</tool_call>", TokenType::kUserDefined});
  for (const char* t : {"<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
                        "<|repo_name|>", "<|file_sep|>"}) {
    s.push_back({t, TokenType::kControl});
  }
  if (qwen3) {
    for (const char* t : {"<tool_response>", "</tool_response>", "<think>", "</think>"}) {
      s.push_back({t, TokenType::kUserDefined});
    }
  }
  return s;
}

std::vector<SpecialToken> SmolLMSpecials() {
  std::vector<SpecialToken> s;
  for (const char* t : {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<reponame>",
                        "<file_sep>", "<filename>", "<gh_stars>", "<issue_start>",
                        "<issue_comment>", "<issue_closed>", "<jupyter_start>", "<jupyter_text>",
                        "<jupyter_code>", "<jupyter_output>", "<jupyter_script>", "<empty_output>"}) {
    s.push_back({t, TokenType::kControl});
  }
  return s;
}

// Llama 3's 256 special tokens (ids 128000..128255).
std::vector<SpecialToken> Llama3Specials() {
  std::vector<SpecialToken> s;
  for (const char* t : {"<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                        "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>",
                        "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
                        "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"}) {
    s.push_back({t, TokenType::kControl});
  }
  for (int i = 3; s.size() < 256; ++i) {
    s.push_back({"<|reserved_special_token_" + std::to_string(i) + "|>", TokenType::kControl});
  }
  return s;
}

GgufValue StringArray(std::vector<std::string> values) {
  GgufArray a;
  a.type = GgufValueType::kString;
  a.strings = std::move(values);
  return GgufValue::Array(std::move(a));
}

}  // namespace

const std::vector<ModelPreset>& AllPresets() {
  static const std::vector<ModelPreset> presets = BuildPresets();
  return presets;
}

const ModelPreset* FindPreset(std::string_view name) {
  for (const ModelPreset& p : AllPresets()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::vector<GgufKeyValue> TokenizerMetadata(const ModelPreset& preset) {
  std::vector<GgufKeyValue> kv;
  auto set = [&kv](std::string key, GgufValue value) {
    kv.push_back({std::move(key), std::move(value)});
  };
  auto id = [&set](const char* what, uint32_t value) {
    set(std::string("tokenizer.ggml.") + what, GgufValue::U32(value));
  };
  SyntheticVocab vocab;
  std::string model, pre;
  const char* chat_template = nullptr;
  switch (preset.tokenizer) {
    case PresetTokenizer::kQwen25:
    case PresetTokenizer::kQwen3: {
      ByteBpeLayout layout;
      layout.normal = 151643;
      layout.trailing = QwenSpecials(preset.tokenizer == PresetTokenizer::kQwen3);
      layout.total = static_cast<int32_t>(preset.n_vocab);
      vocab = MakeByteBpeVocab(layout);
      model = "gpt2", pre = "qwen2";
      chat_template = preset.tokenizer == PresetTokenizer::kQwen3 ? kQwen3Template : kQwen25Template;
      break;
    }
    case PresetTokenizer::kSmolLM: {
      ByteBpeLayout layout;
      layout.leading = SmolLMSpecials();
      layout.normal = static_cast<int32_t>(preset.n_vocab) - static_cast<int32_t>(layout.leading.size());
      layout.total = static_cast<int32_t>(preset.n_vocab);
      vocab = MakeByteBpeVocab(layout);
      model = "gpt2", pre = "smollm";
      chat_template = kSmolLMTemplate;
      break;
    }
    case PresetTokenizer::kLlama3: {
      ByteBpeLayout layout;
      layout.normal = 128000;
      layout.trailing = Llama3Specials();
      layout.total = static_cast<int32_t>(preset.n_vocab);
      vocab = MakeByteBpeVocab(layout);
      model = "gpt2", pre = "llama-bpe";
      chat_template = kLlama3Template;
      break;
    }
    case PresetTokenizer::kTinyLlama:
      vocab = MakeSentencePieceVocab(static_cast<int32_t>(preset.n_vocab));
      model = "llama", pre = "default";
      chat_template = kZephyrTemplate;
      break;
    case PresetTokenizer::kBert:
      vocab = MakeWordPieceVocab(static_cast<int32_t>(preset.n_vocab));
      model = "bert", pre = "bert-bge";
      break;
  }
  set("tokenizer.ggml.model", GgufValue::String(model));
  set("tokenizer.ggml.pre", GgufValue::String(pre));
  set("tokenizer.ggml.tokens", StringArray(std::move(vocab.tokens)));
  if (!vocab.scores.empty()) {
    GgufArray scores;
    scores.type = GgufValueType::kFloat32;
    scores.floats.assign(vocab.scores.begin(), vocab.scores.end());
    set("tokenizer.ggml.scores", GgufValue::Array(std::move(scores)));
  }
  GgufArray types;
  types.type = GgufValueType::kInt32;
  types.ints.assign(vocab.token_types.begin(), vocab.token_types.end());
  set("tokenizer.ggml.token_type", GgufValue::Array(std::move(types)));
  if (!vocab.merges.empty()) set("tokenizer.ggml.merges", StringArray(std::move(vocab.merges)));

  switch (preset.tokenizer) {
    case PresetTokenizer::kQwen25:
    case PresetTokenizer::kQwen3:
      id("bos_token_id", 151643);  // <|endoftext|>
      id("eos_token_id", 151645);  // <|im_end|>
      id("padding_token_id", 151643);
      set("tokenizer.ggml.add_bos_token", GgufValue::Bool(false));
      break;
    case PresetTokenizer::kSmolLM:
      id("bos_token_id", 1);  // <|im_start|>
      id("eos_token_id", 2);  // <|im_end|>
      id("unknown_token_id", 0);
      id("padding_token_id", 2);
      set("tokenizer.ggml.add_bos_token", GgufValue::Bool(false));
      break;
    case PresetTokenizer::kLlama3:
      id("bos_token_id", 128000);  // <|begin_of_text|>
      id("eos_token_id", 128009);  // <|eot_id|>
      set("tokenizer.ggml.add_bos_token", GgufValue::Bool(true));
      break;
    case PresetTokenizer::kTinyLlama:
      id("bos_token_id", 1);
      id("eos_token_id", 2);
      id("unknown_token_id", 0);
      id("padding_token_id", 2);
      set("tokenizer.ggml.add_bos_token", GgufValue::Bool(true));
      set("tokenizer.ggml.add_eos_token", GgufValue::Bool(false));
      break;
    case PresetTokenizer::kBert:
      set("tokenizer.ggml.token_type_count",
          GgufValue::U32(static_cast<uint32_t>(preset.token_type_count)));
      id("unknown_token_id", 100);
      id("seperator_token_id", 102);  // sic: llama.cpp's key name
      id("padding_token_id", 0);
      id("cls_token_id", 101);
      id("mask_token_id", 103);
      break;
  }
  if (chat_template != nullptr) set("tokenizer.chat_template", GgufValue::String(chat_template));
  return kv;
}

}  // namespace tinyrag
