// Chat prompt formats, recognized from a model's tokenizer.chat_template
// (a Jinja template we do not execute: the known families are recognized by
// their marker tokens and written by hand).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace tinyrag {

enum class ChatFormat {
  kChatML,   // <|im_start|>role\n...<|im_end|>  (Qwen, SmolLM)
  kLlama3,   // <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
  kZephyr,   // <|role|>\n...</s>  (TinyLlama-Chat)
  kGemma,    // <start_of_turn>user|model\n...<end_of_turn>, no system role
  kPhi3,     // <|role|>\n...<|end|>
  kPlain,    // the fallback for an unknown or absent template: "Role: text" lines
};

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// The format of `chat_template` (the metadata string; empty when absent).
// Unknown templates give kPlain. Thread-safe.
ChatFormat DetectChatFormat(std::string_view chat_template);
std::string_view ChatFormatName(ChatFormat format);

// The prompt text for `messages`, ending with the opening of the assistant's
// turn. Special-token markers are written as text: tokenize it with special
// tokens parsed (BOS is the tokenizer's to add). Thread-safe.
std::string ApplyChatFormat(ChatFormat format, std::span<const ChatMessage> messages);

}  // namespace tinyrag
