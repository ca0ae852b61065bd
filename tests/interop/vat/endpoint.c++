// Address syntax of the interop vat CLI and small shared helpers.
#include "vat.h"

#include <kj/debug.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>

namespace interop {

kj::String Endpoint::kjAddress() const {
  switch (kind) {
    case Kind::TCP: return kj::str(host, ':', port);
    case Kind::UNIX: return kj::str("unix:", path);
  }
  KJ_UNREACHABLE;
}

kj::String Endpoint::format(uint actualPort) const {
  switch (kind) {
    case Kind::TCP: return kj::str("tcp:", host, ':', actualPort);
    case Kind::UNIX: return kj::str("unix:", path);
  }
  KJ_UNREACHABLE;
}

namespace {

bool isDigits(kj::StringPtr s) {
  if (s.size() == 0) return false;
  for (char c: s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

kj::Maybe<Endpoint> parseEndpoint(kj::StringPtr text, kj::String& error) {
  if (text.startsWith("unix:")) {
    auto path = text.slice(5);
    if (path.size() == 0) {
      error = kj::str("empty unix socket path in '", text, "'");
      return nullptr;
    }
    // sockaddr_un.sun_path is 108 bytes including the terminator.
    if (path.size() > 107) {
      error = kj::str("unix socket path longer than 107 bytes: '", path, "'");
      return nullptr;
    }
    return Endpoint { Endpoint::Kind::UNIX, nullptr, 0, kj::str(path) };
  }
  if (text.startsWith("tcp:")) {
    auto rest = text.slice(4);
    KJ_IF_MAYBE(colon, rest.findLast(':')) {
      auto host = kj::str(rest.slice(0, *colon));
      auto portText = kj::str(rest.slice(*colon + 1));
      if (host.size() == 0) {
        error = kj::str("missing host in '", text, "'");
        return nullptr;
      }
      if (host.findFirst(':') != nullptr && !(host.startsWith("[") && host.endsWith("]"))) {
        error = kj::str("IPv6 host must be bracketed, e.g. tcp:[::1]:0, in '", text, "'");
        return nullptr;
      }
      if (!isDigits(portText) || portText.size() > 5 || portText.parseAs<uint>() > 65535) {
        error = kj::str("bad port '", portText, "' in '", text, "'");
        return nullptr;
      }
      return Endpoint { Endpoint::Kind::TCP, kj::mv(host), portText.parseAs<uint>(), nullptr };
    }
    error = kj::str("missing port in '", text, "' (expected tcp:<host>:<port>)");
    return nullptr;
  }
  error = kj::str("unsupported address '", text, "' (expected tcp:<host>:<port> or unix:<path>)");
  return nullptr;
}

void configureStream(const Endpoint& endpoint, kj::AsyncIoStream& stream) {
  if (endpoint.kind == Endpoint::Kind::TCP) {
    int one = 1;
    stream.setsockopt(IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
}

kj::StringPtr typeName(kj::Exception::Type type) {
  switch (type) {
    case kj::Exception::Type::FAILED: return "FAILED";
    case kj::Exception::Type::OVERLOADED: return "OVERLOADED";
    case kj::Exception::Type::DISCONNECTED: return "DISCONNECTED";
    case kj::Exception::Type::UNIMPLEMENTED: return "UNIMPLEMENTED";
  }
  return "UNKNOWN";
}

void printLine(kj::StringPtr line) {
  fwrite(line.begin(), 1, line.size(), stdout);
  fputc('\n', stdout);
  fflush(stdout);
}

}  // namespace interop
