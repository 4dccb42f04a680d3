#include "service/server/server.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"

namespace tinyrag::server {
namespace {

// Ingest streams documents of up to 64 MiB of text each.
constexpr int kMaxReceiveBytes = 80 << 20;

absl::StatusOr<std::string> ReadPem(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  if (!in || buf.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read the TLS ", std::string(what), " ", path));
  }
  return buf.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const TlsConfig& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  auto cert = ReadPem(tls.cert_file, "certificate");
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(tls.key_file, "key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!tls.client_ca_file.empty()) {
    auto ca = ReadPem(tls.client_ca_file, "client CA");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RagServer>> RagServer::Start(const ServerConfig& config, ServiceHooks hooks) {
  std::unique_ptr<RagServer> s(new RagServer());
  auto engine = RagEngine::Create(config);
  if (!engine.ok()) return engine.status();
  s->engine_ = std::move(*engine);
  auto auth = ApiKeyAuthenticator::Create(config.auth.api_keys);
  if (!auth.ok()) return auth.status();
  s->auth_ = std::move(*auth);
  auto credentials = Credentials(config.tls);
  if (!credentials.ok()) return credentials.status();

  // Ask workers: one per scheduler slot, plus two preparing the next
  // requests (embedding, retrieval) while those generate.
  s->ask_queue_ = std::make_unique<WorkQueue>(config.generation.max_batch + 2, config.generation.queue_capacity);
  // Extractive answers only embed, search and score: two workers keep up.
  s->extractive_queue_ = std::make_unique<WorkQueue>(2, std::max(8, config.generation.queue_capacity));
  s->admin_queue_ = std::make_unique<WorkQueue>(1, 8);
  s->read_queue_ = std::make_unique<WorkQueue>(2, 64);
  ServiceContext context{.engine = s->engine_.get(),
                         .auth = s->auth_.get(),
                         .ask_queue = s->ask_queue_.get(),
                         .extractive_queue = s->extractive_queue_.get(),
                         .admin_queue = s->admin_queue_.get(),
                         .read_queue = s->read_queue_.get(),
                         .hooks = std::move(hooks)};
  s->rag_service_ = std::make_unique<RagServiceImpl>(context);
  s->escalation_service_ = std::make_unique<EscalationServiceImpl>(context);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, *credentials, &s->port_);
  builder.RegisterService(s->rag_service_.get());
  builder.RegisterService(s->escalation_service_.get());
  builder.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    if (s->server_ != nullptr) s->server_->Shutdown();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen,
                                               " (address in use, or not an address of this machine)"));
  }
  // "host:0" asks for any port: report the one chosen.
  if (config.listen.rfind("unix:", 0) == 0) {
    s->address_ = config.listen;
  } else {
    s->address_ = config.listen.substr(0, config.listen.rfind(':')) + ":" + std::to_string(s->port_);
  }
  s->server_->GetHealthCheckService()->SetServingStatus(true);
  return s;
}

RagServer::~RagServer() { Shutdown(std::chrono::milliseconds(0)); }

void RagServer::Shutdown(std::chrono::milliseconds drain) {
  absl::MutexLock lock(&shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    server_->Shutdown(std::chrono::system_clock::now() + drain);
    server_->Wait();
  }
  // Every call is done; the queues have nothing left but finishing threads.
  ask_queue_.reset();
  extractive_queue_.reset();
  admin_queue_.reset();
  read_queue_.reset();
  if (engine_ != nullptr) (void)engine_->knowledge().SaveIndexes();
}

}  // namespace tinyrag::server
