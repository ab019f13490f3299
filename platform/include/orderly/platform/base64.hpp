// Base64 (RFC 4648): the standard alphabet with padding, and the URL-safe
// alphabet without padding that JOSE (JWT, JWK) uses.
//
//   base64_encode("hi")                    == "aGk="
//   base64_encode("\xfb\xff", Base64::url) == "-_8"
//   base64_decode("aGk=")                  == "hi"   (nullopt for anything malformed)
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace orderly::platform {

enum class Base64 { standard, url };

std::string base64_encode(std::string_view bytes, Base64 alphabet = Base64::standard);
std::optional<std::string> base64_decode(std::string_view text, Base64 alphabet = Base64::standard);

}  // namespace orderly::platform
