#include "service/auth.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace tinyrag {
namespace {

ApiKeyConfig Key(std::string name, std::string_view secret, std::vector<std::string> collections, bool admin = false) {
  return ApiKeyConfig{std::move(name), HashApiKey(secret), std::move(collections), admin};
}

TEST(HashApiKey, IsLowercaseHexSha256) {
  // FIPS 180-2 test vector.
  EXPECT_EQ(HashApiKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HashApiKey(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(GenerateApiKey, IsPrefixedBase64UrlOf32RandomBytes) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    auto key = GenerateApiKey();
    ASSERT_TRUE(key.ok()) << key.status();
    ASSERT_TRUE(absl::StartsWith(*key, "tr_")) << *key;
    EXPECT_EQ(key->size(), 3u + 43u) << *key;  // 32 bytes, unpadded base64
    for (char c : key->substr(3)) {
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << *key;
    }
    seen.insert(*key);
  }
  EXPECT_EQ(seen.size(), 20u);
}

TEST(ApiKeyAuthenticator, AcceptsKnownKeysAndReturnsTheirScope) {
  auto auth = ApiKeyAuthenticator::Create(
      {Key("reader", "secret-one", {"docs", "faq"}), Key("ops", "secret-two", {"*"}, /*admin=*/true)});
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE((*auth)->enabled());

  auto reader = (*auth)->Authenticate("Bearer secret-one");
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(reader->key_name, "reader");
  EXPECT_FALSE(reader->admin);
  EXPECT_FALSE(reader->all_collections);
  EXPECT_TRUE(reader->CanAccess("docs"));
  EXPECT_TRUE(reader->CanAccess("faq"));
  EXPECT_FALSE(reader->CanAccess("hr"));
  EXPECT_FALSE(reader->CanAccess(""));

  // Scheme case-insensitive, extra spaces tolerated.
  auto ops = (*auth)->Authenticate("  bEaReR   secret-two ");
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_EQ(ops->key_name, "ops");
  EXPECT_TRUE(ops->admin);
  EXPECT_TRUE(ops->all_collections);
  EXPECT_TRUE(ops->CanAccess("anything"));
}

TEST(ApiKeyAuthenticator, RejectsMissingMalformedAndUnknownKeysWithoutEchoingThem) {
  auto auth = ApiKeyAuthenticator::Create({Key("reader", "secret-one", {"docs"})});
  ASSERT_TRUE(auth.ok()) << auth.status();
  const std::vector<std::optional<std::string_view>> bad = {
      std::nullopt, "", "Bearer", "Bearer ", "Basic secret-one", "Bearersecret-one", "secret-one",
      "Bearer secret-one-extra", "Bearer SECRET-ONE", "Bearer wrong-key-value",
  };
  for (const auto& header : bad) {
    auto p = (*auth)->Authenticate(header);
    ASSERT_FALSE(p.ok()) << (header ? *header : "(none)");
    EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_FALSE(absl::StrContains(p.status().message(), "secret-one")) << p.status();
    EXPECT_FALSE(absl::StrContains(p.status().message(), "wrong-key")) << p.status();
  }
  EXPECT_TRUE(absl::StrContains((*auth)->Authenticate(std::nullopt).status().message(), "missing"));
  EXPECT_TRUE(absl::StrContains((*auth)->Authenticate("Bearer nope").status().message(), "unknown API key"));
}

TEST(ApiKeyAuthenticator, UppercaseDigestsInTheConfigurationMatch) {
  ApiKeyConfig k = Key("upper", "k1", {"a"});
  for (char& c : k.sha256) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto auth = ApiKeyAuthenticator::Create({k});
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE((*auth)->Authenticate("Bearer k1").ok());
}

TEST(ApiKeyAuthenticator, WithoutKeysEveryCallerIsAnAnonymousAdmin) {
  auto auth = ApiKeyAuthenticator::Create({});
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_FALSE((*auth)->enabled());
  for (const auto& header : {std::optional<std::string_view>(), std::optional<std::string_view>("Bearer x")}) {
    auto p = (*auth)->Authenticate(header);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->key_name, "anonymous");
    EXPECT_TRUE(p->admin);
    EXPECT_TRUE(p->CanAccess("any"));
  }
}

TEST(ApiKeyAuthenticator, RejectsMalformedConfigurations) {
  const std::string good = HashApiKey("x");
  struct Case {
    std::vector<ApiKeyConfig> keys;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {{{"", good, {"a"}, false}}, "name is empty"},
      {{{"k", "abc", {"a"}, false}}, "64 hex digits"},
      {{{"k", std::string(63, 'a') + "g", {"a"}, false}}, "64 hex digits"},
      {{{"k", good, {}, false}}, "no collections"},
      {{{"k", good, {""}, false}}, "collection name is empty"},
      {{{"k", good, {"a"}, false}, {"k", HashApiKey("y"), {"a"}, false}}, "used twice"},
      {{{"k1", good, {"a"}, false}, {"k2", good, {"b"}, false}}, "same key digest"},
  };
  for (const auto& c : cases) {
    auto auth = ApiKeyAuthenticator::Create(c.keys);
    ASSERT_FALSE(auth.ok()) << c.expect;
    EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(auth.status().message(), c.expect)) << auth.status();
  }
}

TEST(ApiKeyYamlSnippet, ListsTheEntryWithQuotedWildcard) {
  const std::string yaml = ApiKeyYamlSnippet({"ops team", HashApiKey("k"), {"*", "docs"}, true});
  EXPECT_TRUE(absl::StartsWith(yaml, "- name: ops team\n")) << yaml;
  EXPECT_TRUE(absl::StrContains(yaml, "sha256: " + HashApiKey("k"))) << yaml;
  EXPECT_TRUE(absl::StrContains(yaml, "admin: true")) << yaml;
  // A bare * would be a YAML alias: it must be quoted. (config_test loads
  // the snippet back through LoadServerConfig.)
  EXPECT_TRUE(absl::StrContains(yaml, "\"*\"")) << yaml;
}

}  // namespace
}  // namespace tinyrag
