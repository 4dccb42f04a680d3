// Sample inputs shared by the tokenizer and pre-tokenizer benchmarks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tinyrag::bench {

// `unit` repeated until the text holds at least `bytes` bytes.
inline std::string RepeatTo(std::string_view unit, size_t bytes) {
  std::string out;
  while (out.size() < bytes) out.append(unit);
  return out;
}

// English prose with contractions, numbers and punctuation.
inline std::string EnglishProse(size_t bytes) {
  return RepeatTo(
      "The library opens at nine o'clock, but on Saturdays it doesn't close until late. "
      "Visitors who've registered can borrow up to 12 books for 21 days; anyone else may "
      "read in the hall. In 2023 the collection grew by 4,500 volumes, mostly history, "
      "science and poetry. \"We're proud of it,\" the librarian said, \"and we'll keep "
      "growing.\" Questions? Ask at the front desk, call 555-0142, or write to the office.\n\n",
      bytes);
}

// Code, accented Latin, Cyrillic, CJK, Hangul, emoji and control whitespace.
inline std::string MixedText(size_t bytes) {
  return RepeatTo(
      "def tokenize(text: str) -> list[int]:\n    return [ord(c) for c in text]  # TODO\n"
      "Prix: 1 299,99 € — café, naïve, Ærøskøbing; Привет, как дела? 3.14159 × 2 = 6.28318\n"
      "東京タワーは高さ333メートルです。北京欢迎你！서울은 한국의 수도입니다. 🙂👍🏽 ok!!\n"
      "\tif (x != y && z >= 10) { y += x; }  // done\r\n",
      bytes);
}

}  // namespace tinyrag::bench
