#include "generate/chat_template.h"

namespace tinyrag {

ChatFormat DetectChatFormat(std::string_view t) {
  auto has = [&](std::string_view s) { return t.find(s) != std::string_view::npos; };
  if (has("<|im_start|>")) return ChatFormat::kChatML;
  if (has("<|start_header_id|>")) return ChatFormat::kLlama3;
  if (has("<start_of_turn>")) return ChatFormat::kGemma;
  if (has("<|assistant|>") && has("<|end|>")) return ChatFormat::kPhi3;
  if (has("<|assistant|>") && has("<|user|>")) return ChatFormat::kZephyr;
  return ChatFormat::kPlain;
}

std::string_view ChatFormatName(ChatFormat format) {
  switch (format) {
    case ChatFormat::kChatML: return "chatml";
    case ChatFormat::kLlama3: return "llama3";
    case ChatFormat::kZephyr: return "zephyr";
    case ChatFormat::kGemma: return "gemma";
    case ChatFormat::kPhi3: return "phi3";
    case ChatFormat::kPlain: return "plain";
  }
  return "plain";
}

std::string ApplyChatFormat(ChatFormat format, std::span<const ChatMessage> messages) {
  std::string out;
  std::string pending_system;  // Gemma folds the system text into the next user turn
  for (const ChatMessage& m : messages) {
    switch (format) {
      case ChatFormat::kChatML:
        out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
        break;
      case ChatFormat::kLlama3:
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + m.content + "<|eot_id|>";
        break;
      case ChatFormat::kZephyr:
        out += "<|" + m.role + "|>\n" + m.content + "</s>\n";
        break;
      case ChatFormat::kPhi3:
        out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
        break;
      case ChatFormat::kGemma:
        if (m.role == "system") {
          pending_system += m.content + "\n\n";
        } else {
          const std::string role = m.role == "assistant" ? "model" : m.role;
          out += "<start_of_turn>" + role + "\n" + pending_system + m.content + "<end_of_turn>\n";
          pending_system.clear();
        }
        break;
      case ChatFormat::kPlain: {
        std::string role = m.role;
        if (!role.empty()) role[0] = static_cast<char>(role[0] - ('a' <= role[0] && role[0] <= 'z' ? 32 : 0));
        out += role + ": " + m.content + "\n";
        break;
      }
    }
  }
  switch (format) {
    case ChatFormat::kChatML: out += "<|im_start|>assistant\n"; break;
    case ChatFormat::kLlama3: out += "<|start_header_id|>assistant<|end_header_id|>\n\n"; break;
    case ChatFormat::kZephyr:
    case ChatFormat::kPhi3: out += "<|assistant|>\n"; break;
    case ChatFormat::kGemma: out += "<start_of_turn>model\n"; break;
    case ChatFormat::kPlain: out += "Assistant:"; break;
  }
  return out;
}

}  // namespace tinyrag
