// OTLP/HTTP JSON span exporter on HttpClient.
#include "orderly/adapters/http/otlp.hpp"

#include <atomic>
#include <boost/json/serialize.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "orderly/adapters/http/client.hpp"
#include "orderly/platform/log.hpp"

namespace orderly::adapters::http {

namespace json = boost::json;

namespace {

// SpanKind in opentelemetry/proto/trace/v1/trace.proto.
int span_kind(std::string_view k) {
  if (k == "server") return 2;
  if (k == "client") return 3;
  if (k == "producer") return 4;
  if (k == "consumer") return 5;
  return 1;  // internal
}

json::object any_value(const json::value& v) {
  switch (v.kind()) {
    case json::kind::bool_:
      return {{"boolValue", v.get_bool()}};
    case json::kind::int64:
      return {{"intValue", std::to_string(v.get_int64())}};  // int64 as a decimal string
    case json::kind::uint64:
      return {{"intValue", std::to_string(v.get_uint64())}};
    case json::kind::double_:
      return {{"doubleValue", v.get_double()}};
    case json::kind::string:
      return {{"stringValue", v.get_string()}};
    default:
      return {{"stringValue", json::serialize(v)}};
  }
}

}  // namespace

json::object otlp_traces_request(const std::vector<platform::SpanRecord>& spans,
                                 const std::string& service) {
  json::array out;
  out.reserve(spans.size());
  for (const auto& s : spans) {
    json::array attrs;
    for (const auto& [k, v] : s.attributes)
      if (k != "kind" && k != "error")
        attrs.push_back(json::object{{"key", k}, {"value", any_value(v)}});
    json::object span{{"traceId", s.trace_id},
                      {"spanId", s.span_id},
                      {"name", s.name},
                      {"kind", span_kind(s.kind)},
                      {"startTimeUnixNano", std::to_string(s.start_unix_ns)},
                      {"endTimeUnixNano", std::to_string(s.end_unix_ns)},
                      {"attributes", std::move(attrs)}};
    if (!s.parent_span_id.empty()) span["parentSpanId"] = s.parent_span_id;
    // Status codes: 1 OK, 2 ERROR (0 UNSET is omitted).
    if (s.error) span["status"] = json::object{{"code", 2}, {"message", *s.error}};
    out.push_back(std::move(span));
  }
  return {
      {"resourceSpans",
       json::array{json::object{
           {"resource",
            json::object{{"attributes", json::array{json::object{
                                            {"key", "service.name"},
                                            {"value", json::object{{"stringValue", service}}}}}}}},
           {"scopeSpans", json::array{json::object{
                              {"scope", json::object{{"name", "orderly"}, {"version", "0.1.0"}}},
                              {"spans", std::move(out)}}}}}}}};
}

struct OtlpExporter::Impl {
  OtlpOptions options;
  std::string path = "/v1/traces";
  std::unique_ptr<HttpClient> client;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<platform::SpanRecord> queue;
  bool stopping = false;
  std::thread worker;
  std::atomic<std::uint64_t> exported{0}, dropped{0}, failed{0};

  void send(std::vector<platform::SpanRecord> batch) {
    const auto body = json::serialize(otlp_traces_request(batch, options.service));
    auto r = client->send("POST", path, {{"Content-Type", "application/json"}}, body);
    if (r && r->status >= 200 && r->status < 300) {
      exported += batch.size();
      return;
    }
    ++failed;
    platform::log::warn("otlp export failed",
                        {{"spans", batch.size()},
                         {"error", r ? "HTTP " + std::to_string(r->status) : r.error().message}});
  }

  void run() {
    std::unique_lock lk(mu);
    for (;;) {
      cv.wait_for(lk, options.interval, [&] { return stopping || queue.size() >= options.batch; });
      while (!queue.empty()) {
        std::vector<platform::SpanRecord> batch;
        while (!queue.empty() && batch.size() < options.batch) {
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
        }
        lk.unlock();
        send(std::move(batch));
        lk.lock();
        if (!stopping && queue.size() < options.batch) break;
      }
      if (stopping && queue.empty()) return;
    }
  }
};

OtlpExporter::OtlpExporter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OtlpExporter::~OtlpExporter() {
  stop();
}

platform::Result<std::unique_ptr<OtlpExporter>> OtlpExporter::start(OtlpOptions options) {
  auto impl = std::make_unique<Impl>();
  auto origin = parse_origin(options.endpoint);
  if (!origin) return tl::unexpected(origin.error());
  // A path in the endpoint is kept, as OTEL_EXPORTER_OTLP_ENDPOINT does.
  const auto scheme_end = options.endpoint.find("://") + 3;
  const auto slash = options.endpoint.find('/', scheme_end);
  if (slash != std::string::npos) {
    std::string base = options.endpoint.substr(slash);
    while (!base.empty() && base.back() == '/') base.pop_back();
    impl->path = base + "/v1/traces";
  }
  auto client = HttpClient::create(options.endpoint, {.request_timeout = std::chrono::seconds(5)});
  if (!client) return tl::unexpected(client.error());
  impl->client = std::move(*client);
  impl->options = std::move(options);
  auto* raw = impl.get();
  impl->worker = std::thread([raw] { raw->run(); });
  return std::unique_ptr<OtlpExporter>(new OtlpExporter(std::move(impl)));
}

void OtlpExporter::enqueue(const platform::SpanRecord& span) {
  {
    std::lock_guard lk(impl_->mu);
    if (impl_->stopping || impl_->queue.size() >= impl_->options.max_queue) {
      ++impl_->dropped;
      return;
    }
    impl_->queue.push_back(span);
    if (impl_->queue.size() < impl_->options.batch) return;
  }
  impl_->cv.notify_one();
}

void OtlpExporter::stop() {
  if (!impl_) return;
  {
    std::lock_guard lk(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->cv.notify_one();
  if (impl_->worker.joinable()) impl_->worker.join();
}

OtlpExporter::Stats OtlpExporter::stats() const {
  return {impl_->exported.load(), impl_->dropped.load(), impl_->failed.load()};
}

}  // namespace orderly::adapters::http
