// Shared declarations of the interop peer vat (interop-vat).
#pragma once

#include <kj/async-io.h>
#include <kj/common.h>
#include <kj/string.h>
#include <kj/exception.h>
#include <kj/vector.h>
#include <stdint.h>

namespace interop {

using kj::uint;

// Process exit codes (documented in tests/interop/README.md).
enum ExitCode : int {
  EXIT_PASS = 0,       // client: scenario passed; serve: stdin reached EOF, clean shutdown
  EXIT_FAIL = 1,       // client: scenario failed (includes connect/bootstrap failures)
  EXIT_USAGE = 2,      // bad command line (unknown mode/scenario/flag, malformed address)
  EXIT_TIMEOUT = 3,    // --timeout-seconds elapsed
  EXIT_INTERNAL = 4,   // serve: cannot listen / accept failed; any unexpected internal error
};

// A transport endpoint in the CLI syntax: `tcp:<host>:<port>` (host is an IPv4 literal or a
// bracketed IPv6 literal, e.g. `tcp:[::1]:0`) or `unix:<path>`.
struct Endpoint {
  enum class Kind { TCP, UNIX };
  Kind kind;
  kj::String host;       // TCP: as written, brackets included for IPv6
  uint port = 0;         // TCP
  kj::String path;       // UNIX

  kj::String kjAddress() const;            // the syntax kj::Network::parseAddress() takes
  kj::String format(uint actualPort) const;  // CLI syntax, with `actualPort` for TCP
};

// Parses `text`; on failure returns null and sets `error`.
kj::Maybe<Endpoint> parseEndpoint(kj::StringPtr text, kj::String& error);

// Sets TCP_NODELAY on TCP streams (no-op for unix sockets).
void configureStream(const Endpoint& endpoint, kj::AsyncIoStream& stream);

// Human-readable name of a kj::Exception::Type ("FAILED", "DISCONNECTED", ...).
kj::StringPtr typeName(kj::Exception::Type type);

// Writes one line to stdout and flushes it.
void printLine(kj::StringPtr line);

// A parsed capnp:// sturdy ref URI.
struct SturdyRefUri {
  Endpoint endpoint;
  kj::Maybe<kj::Array<kj::byte>> fingerprint;  // null: insecure
  kj::Array<kj::byte> serviceId;               // empty: the bootstrap
};

// Parses `uri`; on failure returns null and sets `error`.
kj::Maybe<SturdyRefUri> parseSturdyRefUri(kj::StringPtr uri, kj::String& error);

// The URI of `serviceId` at `endpoint` (with `port` for TCP); `fingerprint` null: insecure.
kj::String formatSturdyRefUri(const Endpoint& endpoint, uint port,
                              kj::Maybe<kj::ArrayPtr<const kj::byte>> fingerprint,
                              kj::ArrayPtr<const kj::byte> serviceId);

kj::String encodeBase64UrlNoPadding(kj::ArrayPtr<const kj::byte> bytes);
kj::Maybe<kj::Array<kj::byte>> decodeBase64UrlNoPadding(kj::StringPtr text);

// What `serve` offers beyond a plain bootstrap.
struct ServeOptions {
  kj::Maybe<kj::String> tlsKeyFile;    // --tls-key: serve TLS with this PEM key (created if missing)
  kj::Vector<kj::String> serviceIds;   // --service: IDs served through a SturdyRefRestorer<Text>
  bool requireClientCertificate = false;  // --client-certificate required

  // With either, serve prints `URI <sturdy ref of its bootstrap>` after LISTENING.
  bool printsUri() const { return tlsKeyFile != nullptr || serviceIds.size() > 0; }
};

// Where and how `client` connects.
struct ClientTarget {
  Endpoint endpoint;
  bool tls = false;                       // --uri with sha-256:
  kj::Array<kj::byte> fingerprint;        // the server's expected key fingerprint (TLS)
  kj::Array<kj::byte> serviceId;          // empty: plain bootstrap; else RpcSystem::restore
  bool presentCertificate = true;         // --client-certificate none: no certificate (TLS)
};

// Modes. `timeoutSeconds == 0` means no timeout.
int runServe(const Endpoint& endpoint, uint timeoutSeconds, const ServeOptions& options);
int runClient(const ClientTarget& target, kj::StringPtr scenario, uint timeoutSeconds);

// The scenario names accepted by `client --scenario`.
kj::ArrayPtr<const kj::StringPtr> scenarioNames();

}  // namespace interop
