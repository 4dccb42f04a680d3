#include "service/server/rag_service.h"

#include <atomic>
#include <deque>
#include <memory>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/impl/codegen/proto_utils.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "index/extract.h"
#include "nlohmann/json.hpp"
#include "service/server/grpc_status.h"
#include "service/server/proto_convert.h"

namespace tinyrag::server {
namespace {

using Clock = std::chrono::steady_clock;

// Parses a raw request. InvalidArgument when the bytes are not a `M`, which
// for a well-behaved client means a string field that is not UTF-8.
template <typename M>
absl::Status ParseRequest(const grpc::ByteBuffer& in, M& out) {
  grpc::ByteBuffer copy(in);  // Deserialize consumes its buffer (a cheap reference copy)
  if (grpc::SerializationTraits<M>::Deserialize(&copy, &out).ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("the request is not a valid ", out.GetTypeName(),
                                                 ": string fields (such as question) must be valid UTF-8"));
}

template <typename M>
grpc::ByteBuffer Serialize(const M& m) {
  grpc::ByteBuffer out;
  bool own = false;
  (void)grpc::SerializationTraits<M>::Serialize(m, &out, &own);
  return out;
}

grpc::Status Busy(const WorkQueue& queue) {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      absl::StrCat("the server is busy (", queue.running(), " requests running, ", queue.waiting(),
                                   " waiting); retry later"));
}

// An Ask request checked and translated; `request.cancel` is set by the reactor.
struct PreparedAsk {
  AnswerRequest request;
  std::string request_id;
  Clock::time_point admitted;
  bool extractive_fallback = false;  // see SubmitAsk
  // request.deadline is the client's own (earlier than the server's default
  // timeout): the client stops waiting there.
  bool client_deadline = false;
};

// Parsing, authentication, access and validation for Ask and AskStream (no I/O).
absl::StatusOr<PreparedAsk> PrepareAsk(const ServiceContext& s, const grpc::CallbackServerContext& ctx,
                                       const grpc::ByteBuffer& raw, CallTimer& timer) {
  v1::AskRequest in;
  if (absl::Status parsed = ParseRequest(raw, in); !parsed.ok()) return parsed;
  auto principal = Authenticate(s, ctx);
  if (!principal.ok()) return principal.status();
  timer.key_name = principal->key_name;
  const ServerConfig& config = s.engine->config();
  auto collection = ResolveCollection(in.collection(), config.default_collection);
  if (!collection.ok()) return collection.status();
  timer.collection = *collection;
  if (absl::Status a = CheckCollectionAccess(*principal, *collection); !a.ok()) return a;
  auto request_id = ResolveRequestId(in.request_id());
  if (!request_id.ok()) return request_id.status();
  timer.request_id = *request_id;
  auto filters = FiltersFromProto(in.filters());
  if (!filters.ok()) return filters.status();

  PreparedAsk p;
  p.request_id = *request_id;
  p.admitted = Clock::now();
  AnswerRequest& r = p.request;
  r.question = in.question();
  r.collection = *collection;
  r.filters = std::move(*filters);
  if (in.has_top_k()) r.top_k = in.top_k();
  if (in.has_max_tokens()) r.max_tokens = in.max_tokens();
  if (in.has_temperature()) r.temperature = in.temperature();
  if (in.has_confidence_threshold()) r.confidence_threshold = in.confidence_threshold();
  if (in.answer_mode() == v1::ANSWER_MODE_GENERATIVE) r.mode = AnswerMode::kGenerative;
  if (in.answer_mode() == v1::ANSWER_MODE_EXTRACTIVE) r.mode = AnswerMode::kExtractive;
  const std::chrono::milliseconds default_timeout(config.generation.default_timeout_ms);
  r.deadline = CallDeadline(ctx, default_timeout);
  p.client_deadline = *r.deadline < Clock::now() + default_timeout;
  if (absl::Status v = s.engine->Validate(r); !v.ok()) return v;
  return p;
}

// Queues `run` for a prepared Ask: extractive answers (asked for, or the
// server's default) on the extractive queue, generative ones on the Ask
// queue. When the Ask queue is full and the request left the mode to the
// server, it is answered extractively instead (generation.extractive_fallback).
// Returns the RESOURCE_EXHAUSTED status when no queue took it.
std::optional<grpc::Status> SubmitAsk(const ServiceContext& s, PreparedAsk& p, std::function<void()> run) {
  const AnswerMode mode = p.request.mode.value_or(s.engine->default_mode());
  if (mode == AnswerMode::kExtractive) {
    if (s.extractive_queue->TrySubmit(std::move(run))) return std::nullopt;
    return Busy(*s.extractive_queue);
  }
  if (s.ask_queue->TrySubmit(run)) return std::nullopt;
  if (p.request.mode || !s.engine->config().generation.extractive_fallback) return Busy(*s.ask_queue);
  p.request.mode = AnswerMode::kExtractive;
  p.extractive_fallback = true;
  if (s.extractive_queue->TrySubmit(std::move(run))) return std::nullopt;
  return Busy(*s.ask_queue);
}

// Runs a prepared Ask on a worker thread: the engine's answer as a response.
absl::StatusOr<AskOutcome> RunAsk(const ServiceContext& s, PreparedAsk& p) {
  const double queued = std::chrono::duration<double>(Clock::now() - p.admitted).count();
  if (p.request.cancel != nullptr && p.request.cancel->load()) return absl::CancelledError("the client cancelled");
  if (p.request.deadline && Clock::now() >= *p.request.deadline) {
    return absl::DeadlineExceededError(absl::StrCat("the deadline passed after ", queued, " s in the queue"));
  }
  auto outcome = s.engine->Ask(p.request, p.request_id);
  if (!outcome.ok()) return outcome.status();
  outcome->queue_seconds = queued;
  outcome->extractive_fallback = p.extractive_fallback;
  if (s.hooks.on_answer) s.hooks.on_answer(*outcome);
  // Cut by the client's own deadline: the client has stopped waiting, so the
  // call ends as gRPC would end it, whichever side notices first (the draft is
  // kept and escalated above). Cut by the server's default timeout, the
  // escalated draft is the answer.
  if (p.client_deadline && outcome->answer.reason == EscalationReason::kGenerationTimedOut) {
    return absl::DeadlineExceededError(
        absl::StrCat("the deadline passed during generation; the draft was escalated (request ", p.request_id, ")"));
  }
  return outcome;
}

// gRPC cancels a call both when the client goes away and when its deadline
// passes. Only the first stops the work at once; an expired deadline is the
// answerer's to handle (the draft is kept and escalated as timed out). The
// server's deadline is the client's timeout counted from when the server
// read the call, so it lags the client's own by the transit and by any wait
// for a busy server; a client whose deadline expired cancels within that lag
// before it. A cancel that close to the deadline is taken for the deadline.
constexpr auto kDeadlineLag = std::chrono::milliseconds(250);
void Cancelled(const PreparedAsk& p, std::atomic<bool>& cancel) {
  const bool deadline_passed = p.request.deadline && Clock::now() >= *p.request.deadline - kDeadlineLag;
  if (!deadline_passed) cancel.store(true);
}

class AskReactor final : public grpc::ServerUnaryReactor {
 public:
  AskReactor(const ServiceContext& s, grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
             grpc::ByteBuffer* out)
      : s_(s), timer_(s.hooks, "Ask"), out_(out) {
    absl::StatusOr<PreparedAsk> prepared = PrepareAsk(s, *ctx, *in, timer_);
    if (!prepared.ok()) {
      Finish(timer_.Done(ToGrpcStatus(prepared.status())));
      return;
    }
    prepared_ = std::move(*prepared);
    prepared_.request.cancel = &cancel_;
    if (auto busy = SubmitAsk(s, prepared_, [this] { Run(); })) Finish(timer_.Done(*busy));
  }
  void OnCancel() override { Cancelled(prepared_, cancel_); }
  void OnDone() override { delete this; }

 private:
  void Run() {
    auto outcome = RunAsk(s_, prepared_);
    if (!outcome.ok()) {
      Finish(timer_.Done(ToGrpcStatus(outcome.status())));
      return;
    }
    v1::AskResponse response;
    AskResponseFromOutcome(*outcome, s_.engine->encoder_id(), s_.engine->decoder_id(), response);
    *out_ = Serialize(response);
    Finish(timer_.Done(grpc::Status::OK));
  }

  const ServiceContext& s_;
  CallTimer timer_;
  grpc::ByteBuffer* const out_;
  PreparedAsk prepared_;
  std::atomic<bool> cancel_{false};
};

// AskStream: deltas as the scheduler produces them, then the final message.
// Writes are serialized (one in flight); the scheduler thread only queues.
class AskStreamReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  AskStreamReactor(const ServiceContext& s, grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in)
      : s_(s), timer_(s.hooks, "AskStream") {
    absl::StatusOr<PreparedAsk> prepared = PrepareAsk(s, *ctx, *in, timer_);
    if (!prepared.ok()) {
      Finish(timer_.Done(ToGrpcStatus(prepared.status())));
      return;
    }
    prepared_ = std::move(*prepared);
    prepared_.request.cancel = &cancel_;
    prepared_.request.on_text = [this](std::string_view piece) {
      v1::AskStreamResponse m;
      m.set_delta(std::string(piece));
      Push(m);
    };
    if (auto busy = SubmitAsk(s, prepared_, [this] { Run(); })) Finish(timer_.Done(*busy));
  }
  void OnCancel() override { Cancelled(prepared_, cancel_); }
  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    in_flight_.reset();
    if (!ok) {  // the stream is broken: nothing more can be written
      broken_ = true;
      cancel_.store(true);
      pending_.clear();
    }
    WriteNextLocked();
  }
  void OnDone() override { delete this; }

 private:
  void Run() {
    auto outcome = RunAsk(s_, prepared_);
    grpc::Status status = grpc::Status::OK;
    if (outcome.ok()) {
      v1::AskStreamResponse m;
      AskResponseFromOutcome(*outcome, s_.engine->encoder_id(), s_.engine->decoder_id(), *m.mutable_final());
      Push(m);
    } else {
      status = ToGrpcStatus(outcome.status());
    }
    absl::MutexLock lock(&mu_);
    finish_ = timer_.Done(status);
    WriteNextLocked();
  }

  void Push(const v1::AskStreamResponse& m) {
    grpc::ByteBuffer bytes = Serialize(m);
    absl::MutexLock lock(&mu_);
    if (broken_) return;
    pending_.push_back(std::move(bytes));
    WriteNextLocked();
  }

  // Starts the next write, or finishes once everything queued was written.
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (in_flight_ || finished_) return;
    if (!pending_.empty()) {
      in_flight_ = std::move(pending_.front());
      pending_.pop_front();
      StartWrite(&*in_flight_);
      return;
    }
    if (finish_) {
      finished_ = true;
      Finish(*finish_);
    }
  }

  const ServiceContext& s_;
  CallTimer timer_;
  PreparedAsk prepared_;
  std::atomic<bool> cancel_{false};
  absl::Mutex mu_;
  std::deque<grpc::ByteBuffer> pending_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::ByteBuffer> in_flight_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// Documents of one Ingest stream are ingested in batches of this many, and
// the next message is read only when a batch is stored (backpressure).
constexpr size_t kIngestBatch = 16;
// One streamed document's text may not exceed this.
constexpr size_t kMaxIngestTextBytes = size_t{64} << 20;

class IngestReactor final : public grpc::ServerReadReactor<v1::IngestRequest> {
 public:
  IngestReactor(const ServiceContext& s, grpc::CallbackServerContext* ctx, v1::IngestResponse* out)
      : s_(s), timer_(s.hooks, "Ingest"), out_(out), start_(Clock::now()) {
    auto principal = Authenticate(s, *ctx);
    absl::Status ok = principal.status();
    if (ok.ok()) {
      timer_.key_name = principal->key_name;
      ok = CheckAdmin(*principal, "Ingest");
    }
    if (!ok.ok()) {
      Finish(timer_.Done(ToGrpcStatus(ok)));
      return;
    }
    StartRead(&message_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed (or went away): store the rest
      if (!s_.admin_queue->TrySubmit([this] { Flush(/*last=*/true); })) Finish(timer_.Done(Busy(*s_.admin_queue)));
      return;
    }
    if (absl::Status a = Accept(message_); !a.ok()) {
      Finish(timer_.Done(ToGrpcStatus(a)));
      return;
    }
    if (batch_.size() >= kIngestBatch) {
      if (!s_.admin_queue->TrySubmit([this] { Flush(/*last=*/false); })) Finish(timer_.Done(Busy(*s_.admin_queue)));
      return;
    }
    StartRead(&message_);
  }
  void OnDone() override { delete this; }

 private:
  // Checks the collection and turns one message into a pending document (or
  // a failed result: a bad document fails alone, the stream goes on).
  absl::Status Accept(const v1::IngestRequest& m) {
    if (!collection_) {
      auto c = ResolveCollection(m.collection(), s_.engine->config().default_collection);
      if (!c.ok()) return c.status();
      collection_ = *c;
      timer_.collection = *c;
    } else if (!m.collection().empty() && m.collection() != *collection_) {
      return absl::InvalidArgumentError(absl::StrCat("document ", out_->results_size() + batch_.size() + 1,
                                                     " names collection \"", m.collection(),
                                                     "\" but the stream started with \"", *collection_, "\""));
    }
    auto doc = ToDocument(m);
    if (!doc.ok()) {
      batch_.push_back({m.external_id(), std::nullopt, std::string(doc.status().message())});
    } else {
      batch_.push_back({m.external_id(), std::move(*doc), ""});
    }
    return absl::OkStatus();
  }

  // The document a message describes: `text` is extracted in the format of
  // the source's extension (.md keeps headings, .html drops markup), plain
  // text otherwise.
  static absl::StatusOr<Document> ToDocument(const v1::IngestRequest& m) {
    if (m.external_id().empty()) return absl::InvalidArgumentError("external_id is empty");
    if (absl::Status u = CheckUtf8(m.external_id(), "external_id"); !u.ok()) return u;
    if (m.text().size() > kMaxIngestTextBytes) {
      return absl::InvalidArgumentError(absl::StrCat("text is ", m.text().size(), " bytes; at most ",
                                                     kMaxIngestTextBytes, " are accepted"));
    }
    const std::string source = m.source().empty() ? m.external_id() : m.source();
    DocFormat format = DocFormat::kText;
    if (auto f = FormatFromPath(source); f.ok() && (*f == DocFormat::kMarkdown || *f == DocFormat::kHtml)) format = *f;
    auto extracted = ExtractBytes(m.text(), format, source);
    if (!extracted.ok()) return extracted.status();
    if (extracted->documents.size() != 1) return absl::InvalidArgumentError("text holds no document");
    Document d = std::move(extracted->documents.front());
    d.external_id = m.external_id();
    if (!m.title().empty()) d.title = m.title();
    if (!m.metadata_json().empty()) {
      nlohmann::json meta = nlohmann::json::parse(m.metadata_json(), nullptr, /*allow_exceptions=*/false);
      if (meta.is_discarded() || !meta.is_object()) {
        return absl::InvalidArgumentError("metadata_json is not a JSON object");
      }
      for (auto& [key, value] : meta.items()) d.metadata[key] = value;
    }
    d.content_hash = ContentHash(d);
    return d;
  }

  // Stores the batch (on the admin queue), then reads on or finishes.
  void Flush(bool last) {
    std::vector<Document> docs;
    for (const Pending& p : batch_) {
      if (p.document) docs.push_back(*p.document);
    }
    absl::StatusOr<std::vector<IngestOutcome>> stored = std::vector<IngestOutcome>{};
    if (!docs.empty()) stored = s_.engine->knowledge().Ingest(*collection_, docs);
    if (!stored.ok()) {
      Finish(timer_.Done(ToGrpcStatus(stored.status())));
      return;
    }
    size_t next = 0;
    for (const Pending& p : batch_) {
      v1::IngestResult* r = out_->add_results();
      r->set_external_id(p.external_id);
      if (!p.document) {
        r->set_status(v1::DOCUMENT_STATUS_FAILED);
        r->set_error(p.error);
        Observe("failed");
        continue;
      }
      const IngestOutcome& o = (*stored)[next++];
      r->set_document_id(o.document_id);
      r->set_chunks(static_cast<int32_t>(o.chunks));
      r->set_error(o.error);
      switch (o.status) {
        case IngestOutcome::Status::kAdded:
          r->set_status(v1::DOCUMENT_STATUS_ADDED);
          Observe("added");
          break;
        case IngestOutcome::Status::kUpdated:
          r->set_status(v1::DOCUMENT_STATUS_UPDATED);
          Observe("updated");
          break;
        case IngestOutcome::Status::kUnchanged:
          r->set_status(v1::DOCUMENT_STATUS_UNCHANGED);
          Observe("unchanged");
          break;
        case IngestOutcome::Status::kFailed:
          r->set_status(v1::DOCUMENT_STATUS_FAILED);
          Observe("failed");
          break;
      }
    }
    batch_.clear();
    if (!last) {
      StartRead(&message_);
      return;
    }
    // The stream's documents are stored; the index is saved once for all of
    // them (a retry after a failed save finds them unchanged).
    if (collection_) {
      if (absl::Status saved = s_.engine->knowledge().SaveIndexes(); !saved.ok()) {
        Finish(timer_.Done(ToGrpcStatus(saved)));
        return;
      }
    }
    out_->set_seconds(std::chrono::duration<double>(Clock::now() - start_).count());
    Finish(timer_.Done(grpc::Status::OK));
  }

  void Observe(std::string_view status) {
    if (s_.hooks.on_ingest) s_.hooks.on_ingest(status);
  }

  struct Pending {
    std::string external_id;
    std::optional<Document> document;  // unset: failed before ingestion
    std::string error;
  };

  const ServiceContext& s_;
  CallTimer timer_;
  v1::IngestResponse* const out_;
  const Clock::time_point start_;
  v1::IngestRequest message_;
  std::optional<std::string> collection_;
  std::vector<Pending> batch_;
};

// Runs `work` on `queue` and finishes the default reactor with its status.
template <typename Work>
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* ctx, WorkQueue& queue,
                                   std::shared_ptr<CallTimer> timer, Work work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!queue.TrySubmit([reactor, timer, work = std::move(work)]() mutable {
        reactor->Finish(timer->Done(ToGrpcStatus(work())));
      })) {
    reactor->Finish(timer->Done(Busy(queue)));
  }
  return reactor;
}

grpc::ServerUnaryReactor* Fail(grpc::CallbackServerContext* ctx, CallTimer& timer, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(timer.Done(ToGrpcStatus(status)));
  return reactor;
}

// The principal and collection of a call that reads or writes one collection.
absl::StatusOr<std::string> AuthorizeCollection(const ServiceContext& s, grpc::CallbackServerContext* ctx,
                                                const std::string& name, bool admin, std::string_view method,
                                                CallTimer& timer) {
  auto principal = Authenticate(s, *ctx);
  if (!principal.ok()) return principal.status();
  timer.key_name = principal->key_name;
  if (admin) {
    if (absl::Status a = CheckAdmin(*principal, method); !a.ok()) return a;
  }
  auto collection = ResolveCollection(name, s.engine->config().default_collection);
  if (!collection.ok()) return collection.status();
  timer.collection = *collection;
  if (absl::Status a = CheckCollectionAccess(*principal, *collection); !a.ok()) return a;
  return *collection;
}

}  // namespace

grpc::ServerUnaryReactor* RagServiceImpl::Ask(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                              grpc::ByteBuffer* response) {
  return new AskReactor(s_, ctx, request, response);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* RagServiceImpl::AskStream(grpc::CallbackServerContext* ctx,
                                                                      const grpc::ByteBuffer* request) {
  return new AskStreamReactor(s_, ctx, request);
}

grpc::ServerUnaryReactor* RagServiceImpl::Retrieve(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* raw,
                                                   grpc::ByteBuffer* out) {
  auto timer = std::make_shared<CallTimer>(s_.hooks, "Retrieve");
  auto request = std::make_shared<v1::RetrieveRequest>();
  if (absl::Status p = ParseRequest(*raw, *request); !p.ok()) return Fail(ctx, *timer, p);
  auto collection = AuthorizeCollection(s_, ctx, request->collection(), false, "Retrieve", *timer);
  if (!collection.ok()) return Fail(ctx, *timer, collection.status());
  auto filters = FiltersFromProto(request->filters());
  if (!filters.ok()) return Fail(ctx, *timer, filters.status());
  RetrieveInput input{.question = request->question(),
                      .collection = *collection,
                      .top_k = request->has_top_k() ? request->top_k() : s_.engine->config().answer.default_top_k,
                      .mode = RetrievalModeFromProto(request->mode()),
                      .filters = std::move(*filters)};
  return RunUnary(ctx, *s_.ask_queue, timer, [this, input = std::move(input), out]() -> absl::Status {
    auto got = s_.engine->Retrieve(input);
    if (!got.ok()) return got.status();
    v1::RetrieveResponse response;
    for (size_t i = 0; i < got->results.size(); ++i) {
      PassageFromResult(got->results[i], static_cast<int>(i) + 1, *response.add_passages());
    }
    response.mutable_timings()->set_embed_ms(got->embed_seconds * 1e3);
    response.mutable_timings()->set_retrieve_ms(got->retrieve_seconds * 1e3);
    response.mutable_timings()->set_total_ms((got->embed_seconds + got->retrieve_seconds) * 1e3);
    *out = Serialize(response);
    return absl::OkStatus();
  });
}

grpc::ServerReadReactor<v1::IngestRequest>* RagServiceImpl::Ingest(grpc::CallbackServerContext* ctx,
                                                                   v1::IngestResponse* response) {
  return new IngestReactor(s_, ctx, response);
}

grpc::ServerUnaryReactor* RagServiceImpl::DeleteDocuments(grpc::CallbackServerContext* ctx,
                                                          const v1::DeleteDocumentsRequest* request,
                                                          v1::DeleteDocumentsResponse* response) {
  auto timer = std::make_shared<CallTimer>(s_.hooks, "DeleteDocuments");
  auto collection = AuthorizeCollection(s_, ctx, request->collection(), true, "DeleteDocuments", *timer);
  if (!collection.ok()) return Fail(ctx, *timer, collection.status());
  if (request->document_ids().empty() && request->sources().empty()) {
    return Fail(ctx, *timer, absl::InvalidArgumentError("name at least one document id or source to delete"));
  }
  std::vector<int64_t> ids(request->document_ids().begin(), request->document_ids().end());
  std::vector<std::string> sources(request->sources().begin(), request->sources().end());
  return RunUnary(ctx, *s_.admin_queue, timer,
                  [this, c = *collection, ids = std::move(ids), sources = std::move(sources), response]() -> absl::Status {
                    auto n = s_.engine->knowledge().Delete(c, ids, sources);
                    if (!n.ok()) return n.status();
                    if (absl::Status saved = s_.engine->knowledge().SaveIndexes(); !saved.ok()) return saved;
                    response->set_deleted(static_cast<int32_t>(*n));
                    return absl::OkStatus();
                  });
}

grpc::ServerUnaryReactor* RagServiceImpl::ListDocuments(grpc::CallbackServerContext* ctx,
                                                        const v1::ListDocumentsRequest* request,
                                                        v1::ListDocumentsResponse* response) {
  auto timer = std::make_shared<CallTimer>(s_.hooks, "ListDocuments");
  auto collection = AuthorizeCollection(s_, ctx, request->collection(), false, "ListDocuments", *timer);
  if (!collection.ok()) return Fail(ctx, *timer, collection.status());
  if (request->page_size() < 0 || request->page_size() > 1000) {
    return Fail(ctx, *timer, absl::InvalidArgumentError(
                                 absl::StrCat("page_size must be in [0, 1000], got ", request->page_size())));
  }
  const int page_size = request->page_size() == 0 ? 50 : request->page_size();
  int64_t offset = 0;
  if (!request->page_token().empty() &&
      (!absl::SimpleAtoi(request->page_token(), &offset) || offset < 0)) {
    return Fail(ctx, *timer, absl::InvalidArgumentError("page_token is not one this server returned"));
  }
  return RunUnary(ctx, *s_.read_queue, timer, [this, c = *collection, offset, page_size, response]() -> absl::Status {
    // One more than asked tells whether a next page exists.
    auto docs = s_.engine->knowledge().List(c, offset, page_size + 1);
    if (!docs.ok()) return docs.status();
    const bool more = static_cast<int>(docs->size()) > page_size;
    if (more) docs->pop_back();
    for (const DocumentInfo& d : *docs) DocumentInfoToProto(d, *response->add_documents());
    if (more) response->set_next_page_token(absl::StrCat(offset + page_size));
    return absl::OkStatus();
  });
}

}  // namespace tinyrag::server
