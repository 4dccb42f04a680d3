#include "service/encoder_embedder.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tinyrag {
namespace {

namespace fs = std::filesystem;

struct StateDeleter {
  void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

absl::Status HashFile(const fs::path& path, XXH3_state_t* state) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) return absl::InternalError(absl::StrCat("cannot read ", path.string()));
  std::vector<char> buf(1 << 20);
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) XXH3_128bits_update(state, buf.data(), n);
  if (std::ferror(f.get())) return absl::InternalError(absl::StrCat("cannot read ", path.string()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> EncoderEmbedder::HashModel(const std::string& path) {
  std::unique_ptr<XXH3_state_t, StateDeleter> state(XXH3_createState());
  if (!state || XXH3_128bits_reset(state.get()) != XXH_OK) return absl::InternalError("xxhash: out of memory");
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    // Every file of the folder with its relative name, in name order: a
    // changed config or vocabulary is another encoder too.
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) files.push_back(it->path());
    }
    if (ec) return absl::InternalError(absl::StrCat("cannot list ", path, ": ", ec.message()));
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      const std::string rel = fs::relative(f, path, ec).string();
      XXH3_128bits_update(state.get(), rel.data(), rel.size() + 1);  // with its NUL: names are framed
      if (absl::Status s = HashFile(f, state.get()); !s.ok()) return s;
    }
  } else if (absl::Status s = HashFile(path, state.get()); !s.ok()) {
    return s;
  }
  const XXH128_hash_t h = XXH3_128bits_digest(state.get());
  return absl::StrFormat("%016x%016x", h.high64, h.low64);
}

absl::StatusOr<std::unique_ptr<EncoderEmbedder>> EncoderEmbedder::Load(const std::string& path, int threads,
                                                                       int batch_size) {
  auto encoder = Encoder::Load(path, EncoderLoadOptions{.threads = threads});
  if (!encoder.ok()) return encoder.status();
  auto hash = HashModel(path);
  if (!hash.ok()) return hash.status();
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(path), ec);
  if (ec) abs = fs::absolute(path);
  EncoderIdentity identity{abs.string(), (*encoder)->dim(), *hash};
  return std::unique_ptr<EncoderEmbedder>(
      new EncoderEmbedder(std::move(*encoder), std::move(identity), std::max(1, batch_size)));
}

absl::StatusOr<std::vector<float>> EncoderEmbedder::Embed(std::span<const std::string> texts) const {
  auto out = encoder_->Embed(texts, EmbedOptions{.normalize = true, .batch_size = batch_size_});
  if (!out.ok()) return out.status();
  return std::move(out->values);
}

}  // namespace tinyrag
