// SQuAD JSON files (v1.1 and v2.0), read for `tinyrag eval retrieval` and
// `tinyrag calibrate`: every paragraph becomes a document for the knowledge
// base (external id "ARTICLE/N", source "FILE#ARTICLE/N", the article as
// title), and every question keeps its paragraph's id and whether it is
// answerable (v2.0's is_impossible; v1.1 questions all are).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/extract.h"

namespace tinyrag::cli {

struct SquadQuestion {
  std::string text;
  std::string paragraph_id;  // the external id of its paragraph's document
  bool answerable = true;
};

struct SquadFile {
  std::vector<Document> paragraphs;
  std::vector<SquadQuestion> questions;  // in file order
};

// NotFound when `path` cannot be read; InvalidArgument naming the file when
// it is not SQuAD-shaped (no "data" array, an article without a title or
// paragraphs, a paragraph without context, no paragraph at all). Questions
// without a question string are skipped.
absl::StatusOr<SquadFile> ReadSquad(const std::string& path);

}  // namespace tinyrag::cli
