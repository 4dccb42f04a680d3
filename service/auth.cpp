#include "service/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tinyrag {
namespace {

constexpr absl::string_view kAnonymous = "anonymous";

std::array<unsigned char, 32> Sha256(absl::string_view data) {
  std::array<unsigned char, 32> digest{};
  unsigned int len = 0;
  // EVP_Digest with SHA-256 cannot fail for in-memory input short of memory
  // exhaustion; a zero digest then matches no configured key.
  if (EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1) digest.fill(0);
  return digest;
}

bool IsHexDigest(absl::string_view hex) {
  return hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) { return absl::ascii_isxdigit(c); });
}

}  // namespace

std::string HashApiKey(std::string_view key) {
  const auto digest = Sha256(absl::string_view(key.data(), key.size()));
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

absl::StatusOr<std::string> GenerateApiKey() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return absl::InternalError("could not generate a random key (OpenSSL RAND_bytes failed)");
  }
  std::string encoded;
  absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), &encoded);
  return absl::StrCat("tr_", encoded);
}

std::string ApiKeyYamlSnippet(const ApiKeyConfig& key) {
  YAML::Emitter out;
  out << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << key.name;
  out << YAML::Key << "sha256" << YAML::Value << key.sha256;
  out << YAML::Key << "collections" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& c : key.collections) out << c;
  out << YAML::EndSeq;
  out << YAML::Key << "admin" << YAML::Value << key.admin;
  out << YAML::EndMap << YAML::EndSeq;
  return std::string(out.c_str()) + "\n";
}

absl::Status ValidateApiKeyConfigs(const std::vector<ApiKeyConfig>& keys) {
  std::set<std::string> names, digests;
  for (size_t i = 0; i < keys.size(); ++i) {
    const ApiKeyConfig& k = keys[i];
    const std::string where = k.name.empty() ? absl::StrCat("api key #", i + 1) : absl::StrCat("api key '", k.name, "'");
    if (k.name.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": name is empty"));
    if (!names.insert(k.name).second) return absl::InvalidArgumentError(absl::StrCat(where, ": the name is used twice"));
    if (!IsHexDigest(k.sha256)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": sha256 must be 64 hex digits (the SHA-256 of the key: `tinyrag keys hash`), got ", k.sha256.size(),
          " characters"));
    }
    if (!digests.insert(absl::AsciiStrToLower(k.sha256)).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": the same key digest is configured twice"));
    }
    if (k.collections.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": lists no collections (use [\"*\"] for every collection)"));
    }
    for (const auto& c : k.collections) {
      if (c.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": a collection name is empty"));
    }
  }
  return absl::OkStatus();
}

bool Principal::CanAccess(std::string_view collection) const {
  if (all_collections) return true;
  for (const auto& c : collections) {
    if (std::string_view(c) == collection) return true;
  }
  return false;
}

absl::StatusOr<std::unique_ptr<ApiKeyAuthenticator>> ApiKeyAuthenticator::Create(
    const std::vector<ApiKeyConfig>& keys) {
  if (absl::Status s = ValidateApiKeyConfigs(keys); !s.ok()) return s;
  std::vector<Key> parsed;
  parsed.reserve(keys.size());
  for (const ApiKeyConfig& k : keys) {
    Key key;
    const std::string bytes = absl::HexStringToBytes(k.sha256);
    std::copy(bytes.begin(), bytes.end(), key.digest.begin());
    key.principal.key_name = k.name;
    key.principal.admin = k.admin;
    for (const auto& c : k.collections) {
      if (c == "*") {
        key.principal.all_collections = true;
      } else {
        key.principal.collections.push_back(c);
      }
    }
    if (key.principal.all_collections) key.principal.collections.clear();
    parsed.push_back(std::move(key));
  }
  return std::unique_ptr<ApiKeyAuthenticator>(new ApiKeyAuthenticator(std::move(parsed)));
}

absl::StatusOr<Principal> ApiKeyAuthenticator::Authenticate(std::optional<std::string_view> header) const {
  if (keys_.empty()) {
    Principal anonymous;
    anonymous.key_name = std::string(kAnonymous);
    anonymous.admin = true;
    anonymous.all_collections = true;
    return anonymous;
  }
  if (!header.has_value()) {
    return absl::UnauthenticatedError("missing API key: send the metadata 'authorization: Bearer KEY'");
  }
  const absl::string_view value = absl::StripAsciiWhitespace(absl::string_view(header->data(), header->size()));
  constexpr absl::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size() || !absl::StartsWithIgnoreCase(value, kScheme) ||
      !absl::ascii_isspace(static_cast<unsigned char>(value[kScheme.size()]))) {
    return absl::UnauthenticatedError("malformed authorization metadata: expected 'Bearer KEY'");
  }
  const absl::string_view key = absl::StripLeadingAsciiWhitespace(value.substr(kScheme.size()));
  if (key.empty()) return absl::UnauthenticatedError("malformed authorization metadata: expected 'Bearer KEY'");

  const auto digest = Sha256(key);
  // Every configured digest is compared (no early exit), each in constant
  // time, so timing tells nothing about which bytes or which key matched.
  const Key* match = nullptr;
  for (const Key& k : keys_) {
    const bool equal = CRYPTO_memcmp(k.digest.data(), digest.data(), digest.size()) == 0;
    if (equal) match = &k;
  }
  if (match == nullptr) return absl::UnauthenticatedError("unknown API key");
  return match->principal;
}

}  // namespace tinyrag
