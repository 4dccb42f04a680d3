// API-key authentication for the gRPC server.
//
// Keys are stored hashed: the configuration holds the lowercase hex SHA-256
// of each key (see HashApiKey), never the key itself, so a leaked
// configuration file does not leak credentials. Clients send the key as
// `authorization: Bearer KEY`. Each key names the collections it may read
// ("*" = all) and whether it has the admin scope (ingest, delete,
// escalations).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tinyrag {

// One configured key (the `auth.api_keys` entries of the server's YAML).
struct ApiKeyConfig {
  std::string name;    // shown in logs; never the key
  std::string sha256;  // hex SHA-256 of the key (64 digits, either case)
  std::vector<std::string> collections;  // "*" = every collection
  bool admin = false;
};

// Lowercase hex SHA-256 of `key` (64 characters). Pure, thread-safe.
std::string HashApiKey(std::string_view key);

// A new random key: "tr_" + 43 base64url characters (32 bytes from OpenSSL's
// RAND_bytes). Internal if the random generator fails.
absl::StatusOr<std::string> GenerateApiKey();

// The YAML list entry for `key` (a "- name: ..." block, two-space indented
// continuation lines), ready to paste under `auth.api_keys:`. Pure.
std::string ApiKeyYamlSnippet(const ApiKeyConfig& key);

// OK when every entry is well-formed: a non-empty unique name, 64 hex digits
// of digest (no two keys with the same digest), at least one collection
// (non-empty names). InvalidArgument naming the entry otherwise. Pure.
absl::Status ValidateApiKeyConfigs(const std::vector<ApiKeyConfig>& keys);

// Who is calling.
struct Principal {
  std::string key_name;  // "anonymous" when authentication is disabled
  bool admin = false;
  bool all_collections = false;
  std::vector<std::string> collections;  // when !all_collections

  // True when the principal may read (and, with admin, write) `collection`.
  bool CanAccess(std::string_view collection) const;
};

// Immutable after Create, so one instance is shared by every request thread
// without locks.
class ApiKeyAuthenticator {
 public:
  // An authenticator for `keys`; an empty list disables authentication
  // (every caller is the admin principal "anonymous" — the configuration
  // only allows that on a loopback address or with insecure_no_auth).
  // InvalidArgument as ValidateApiKeyConfigs.
  static absl::StatusOr<std::unique_ptr<ApiKeyAuthenticator>> Create(const std::vector<ApiKeyConfig>& keys);

  // The principal for an `authorization` header value ("Bearer KEY", the
  // scheme case-insensitive); nullopt when the header is absent.
  // Unauthenticated when the header is missing, malformed or carries an
  // unknown key; the message never contains the key. The digest is compared
  // with every configured digest in constant time. Thread-safe.
  absl::StatusOr<Principal> Authenticate(std::optional<std::string_view> authorization_header) const;

  // False when no keys are configured.
  bool enabled() const { return !keys_.empty(); }

 private:
  struct Key {
    std::array<unsigned char, 32> digest;
    Principal principal;
  };
  explicit ApiKeyAuthenticator(std::vector<Key> keys) : keys_(std::move(keys)) {}

  const std::vector<Key> keys_;
};

}  // namespace tinyrag
