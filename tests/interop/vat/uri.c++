// capnp:// sturdy ref URIs as our vats write them (see tests/interop/README.md, "TLS and
// services by ID"): capnp://<auth>@<host>:<port>[/<id>] or capnp://<auth>@/<socket path>/<id>,
// auth = insecure | sha-256:<base64url fingerprint>, id = base64url of the raw service ID.
#include "vat.h"

#include <kj/debug.h>
#include <kj/encoding.h>

namespace interop {
namespace {

int base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

kj::String encodeBase64UrlNoPadding(kj::ArrayPtr<const kj::byte> bytes) {
  auto text = kj::encodeBase64Url(bytes);
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '=') --end;
  return kj::str(text.slice(0, end));
}

kj::Maybe<kj::Array<kj::byte>> decodeBase64UrlNoPadding(kj::StringPtr text) {
  // 4 characters carry 3 bytes; a last group of 1 character is impossible.
  if (text.size() % 4 == 1) return nullptr;
  kj::Vector<kj::byte> out(text.size() * 3 / 4);
  uint32_t bits = 0;
  uint count = 0;
  for (char c: text) {
    int v = base64UrlValue(c);
    if (v < 0) return nullptr;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    if (++count == 4) {
      out.add(static_cast<kj::byte>(bits >> 16));
      out.add(static_cast<kj::byte>(bits >> 8));
      out.add(static_cast<kj::byte>(bits));
      bits = 0;
      count = 0;
    }
  }
  if (count == 2) {
    if (bits & 0xf) return nullptr;  // non-canonical trailing bits
    out.add(static_cast<kj::byte>(bits >> 4));
  } else if (count == 3) {
    if (bits & 0x3) return nullptr;
    out.add(static_cast<kj::byte>(bits >> 10));
    out.add(static_cast<kj::byte>(bits >> 2));
  }
  return out.releaseAsArray();
}

kj::Maybe<SturdyRefUri> parseSturdyRefUri(kj::StringPtr uri, kj::String& error) {
  constexpr char SCHEME[] = "capnp://";
  if (!uri.startsWith(SCHEME)) {
    error = kj::str("not a capnp:// URI: '", uri, "'");
    return nullptr;
  }
  auto rest = uri.slice(sizeof(SCHEME) - 1);
  auto at = rest.findFirst('@');
  if (at == nullptr) {
    error = kj::str("missing '<auth>@' in '", uri, "'");
    return nullptr;
  }
  size_t atIndex = KJ_ASSERT_NONNULL(at);
  auto auth = kj::str(rest.slice(0, atIndex));
  auto location = rest.slice(atIndex + 1);

  SturdyRefUri result;
  if (auth == "insecure") {
    result.fingerprint = nullptr;
  } else if (auth.startsWith("sha-256:")) {
    KJ_IF_MAYBE(bytes, decodeBase64UrlNoPadding(auth.slice(8))) {
      if (bytes->size() != 32) {
        error = kj::str("sha-256 digest is ", bytes->size(), " bytes, expected 32, in '", uri, "'");
        return nullptr;
      }
      result.fingerprint = kj::mv(*bytes);
    } else {
      error = kj::str("bad base64url digest in '", uri, "'");
      return nullptr;
    }
  } else {
    error = kj::str("unknown authentication '", auth, "' (expected insecure or sha-256:<digest>) in '", uri, "'");
    return nullptr;
  }

  // Unix: "/<absolute path>/<id>", split at the last '/'. TCP: "<host>:<port>[/<id>]".
  kj::String address;
  kj::StringPtr idText;
  if (location.startsWith("/")) {
    size_t slash = KJ_ASSERT_NONNULL(location.findLast('/'));
    address = kj::str("unix:", location.slice(0, slash));
    idText = location.slice(slash + 1);
  } else {
    KJ_IF_MAYBE(slash, location.findFirst('/')) {
      address = kj::str("tcp:", location.slice(0, *slash));
      idText = location.slice(*slash + 1);
      if (idText.size() == 0) {
        error = kj::str("trailing '/' with an empty service ID in '", uri, "'");
        return nullptr;
      }
    } else {
      address = kj::str("tcp:", location);
      idText = "";
    }
  }
  KJ_IF_MAYBE(endpoint, parseEndpoint(address, error)) {
    result.endpoint = kj::mv(*endpoint);
  } else {
    return nullptr;
  }
  KJ_IF_MAYBE(id, decodeBase64UrlNoPadding(idText)) {
    result.serviceId = kj::mv(*id);
  } else {
    error = kj::str("bad base64url service ID '", idText, "' in '", uri, "'");
    return nullptr;
  }
  return kj::mv(result);
}

kj::String formatSturdyRefUri(const Endpoint& endpoint, uint port,
                              kj::Maybe<kj::ArrayPtr<const kj::byte>> fingerprint,
                              kj::ArrayPtr<const kj::byte> serviceId) {
  kj::String auth;
  KJ_IF_MAYBE(f, fingerprint) {
    auth = kj::str("sha-256:", encodeBase64UrlNoPadding(*f));
  } else {
    auth = kj::str("insecure");
  }
  auto id = encodeBase64UrlNoPadding(serviceId);
  switch (endpoint.kind) {
    case Endpoint::Kind::TCP:
      if (id.size() == 0) return kj::str("capnp://", auth, '@', endpoint.host, ':', port);
      return kj::str("capnp://", auth, '@', endpoint.host, ':', port, '/', id);
    case Endpoint::Kind::UNIX:
      return kj::str("capnp://", auth, '@', endpoint.path, '/', id);
  }
  KJ_UNREACHABLE;
}

}  // namespace interop
