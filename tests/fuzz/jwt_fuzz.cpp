// libFuzzer target: the JWT verifier. The input is a bearer token, verified
// against a fixed RSA key made once for the run. A forged token must never
// verify; the verifier must never crash, whatever the bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string_view>

#include "orderly/adapters/http/jwt.hpp"
#include "orderly/platform/clock.hpp"

namespace {
orderly::adapters::http::TokenVerifier& verifier() {
  static std::optional<orderly::adapters::http::TokenVerifier> v = [] {
    const auto dir = std::filesystem::temp_directory_path() / "orderly-jwt-fuzz-key";
    std::filesystem::create_directories(dir);
    auto keys = orderly::adapters::http::KeyPair::load_or_create(dir.string());
    if (!keys) std::abort();
    auto made = orderly::adapters::http::TokenVerifier::create({}, keys->jwks());
    if (!made) std::abort();
    return std::optional<orderly::adapters::http::TokenVerifier>(std::move(*made));
  }();
  return *v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  auto who = verifier().verify(token, orderly::platform::SystemClock::instance().now());
  // Nothing the fuzzer makes carries a signature of the run's private key.
  if (who) std::abort();
  return 0;
}
