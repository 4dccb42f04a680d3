// Turning a user's question into an FTS5 MATCH expression.
//
// FTS5's query language treats AND/OR/NOT/NEAR, quotes, parentheses, '*',
// '^', ':' and '-' specially, and a bare list of words means AND, which finds
// almost nothing for a natural-language question. So the question is split
// into words here (Unicode letters and digits, as FTS5's unicode61 tokenizer
// does), lower-cased, stop words dropped, and every word quoted as a string
// and joined with OR: any text gives a valid expression matching chunks that
// contain any of its words.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tinyrag::sqlite {

// The question's distinct words in order of first appearance, lower-cased,
// without stop words; when every word is a stop word, all of them (so
// "to be or not to be" still searches). Empty when the text has no words.
std::vector<std::string> QuestionTerms(std::string_view question);

// `"w1" OR "w2" ...` over QuestionTerms; empty when there are none.
std::string FtsMatchExpression(std::string_view question);

}  // namespace tinyrag::sqlite
