// libFuzzer target: the AWS event mappers. The input, read as JSON, is fed to
// the API Gateway v2 mapper (a handler that answers 200) and to the SQS batch
// mapper (a handler that settles every message ok). Neither may crash or
// throw; the SQS answer lists only message ids of the batch.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "orderly/adapters/aws/mappers.hpp"

namespace ph = orderly::platform::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  boost::system::error_code ec;
  auto event = boost::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), ec);
  if (ec) return 0;
  auto res = orderly::adapters::aws::handle_apigw_v2(event, [](ph::Request&) {
    return ph::Response::json(200, {{"ok", true}});
  });
  if (!res.contains("statusCode")) std::abort();
  std::vector<orderly::adapters::aws::FailedRecord> failed;
  auto batch = orderly::adapters::aws::handle_sqs_batch(
      event,
      [](const std::vector<orderly::platform::Delivery>& b) {
        return std::vector<orderly::platform::DeliveryResult>(b.size());
      },
      &failed);
  if (batch && batch->at("batchItemFailures").as_array().size() != failed.size()) std::abort();
  return 0;
}
