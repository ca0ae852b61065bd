// `interop-vat serve`: accepts any number of connections, one TwoPartyVatNetwork + RpcSystem
// per connection, bootstrap = a fresh TestServiceImpl per connection. Exits when stdin reaches
// EOF (clean, exit 0), when --timeout-seconds elapses (exit 3) or when accepting fails (exit 4).
// With --tls-key each connection is TLS (our native/src/tls layer, fingerprint identities); with
// --service the RpcSystem has a SturdyRefRestorer<capnp::Text> serving those IDs.
#include "vat.h"
#include "test_service.h"

#include <tls_stream.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.h>
#include <kj/async-io.h>
#include <kj/debug.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

namespace interop {
namespace {

const auto TLS_HANDSHAKE_TIMEOUT = 10 * kj::SECONDS;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
// Services by ID, the way the seed's vats (and ours) name them: the ID is the Text in
// Bootstrap.deprecatedObjectId. A plain bootstrap arrives here with the empty ID.
class TestServiceRestorer final: public capnp::SturdyRefRestorer<capnp::Text> {
public:
  explicit TestServiceRestorer(kj::ArrayPtr<const kj::String> ids): ids(ids) {}

  capnp::Capability::Client restore(capnp::Text::Reader id) override {
    bool known = id.size() == 0;
    for (auto& candidate: ids) known = known || candidate == id;
    if (!known) {
      return capnp::Capability::Client(
          capnp::newBrokenCap(KJ_EXCEPTION(FAILED, "Unknown persistent service ID")));
    }
    if (id.size() > 0) {
      fprintf(stderr, "interop-vat serve: restored service '%s'\n", id.cStr());
      fflush(stderr);
    }
    return capnp::Capability::Client(kj::heap<TestServiceImpl>());
  }

private:
  kj::ArrayPtr<const kj::String> ids;
};

capnp::RpcSystem<capnp::rpc::twoparty::VatId> makeServer(
    capnp::TwoPartyVatNetwork& network, kj::Maybe<TestServiceRestorer&> restorer) {
  KJ_IF_MAYBE(r, restorer) {
    return capnp::makeRpcServer(network, *r);
  }
  return capnp::makeRpcServer(network, capnp::Capability::Client(kj::heap<TestServiceImpl>()));
}
#pragma GCC diagnostic pop

struct ServerConnection {
  ServerConnection(kj::Own<kj::AsyncIoStream>&& streamParam,
                   kj::Maybe<TestServiceRestorer&> restorer)
      : stream(kj::mv(streamParam)),
        network(*stream, capnp::rpc::twoparty::Side::SERVER),
        rpcSystem(makeServer(network, restorer)) {}

  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpcSystem;
};

// The key of --tls-key: loaded, or created (RSA-2048 PKCS#8, mode 0600) when the file is missing.
kj::Own<capnp_native::tls::Identity> loadOrCreateIdentity(kj::StringPtr path) {
  int fd = open(path.cStr(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    auto pem = capnp_native::tls::generateRsaKeyPem();
    int out = open(path.cStr(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    KJ_REQUIRE(out >= 0, "cannot create the key file", path, strerror(errno));
    KJ_DEFER(close(out));
    KJ_REQUIRE(write(out, pem.begin(), pem.size()) == static_cast<ssize_t>(pem.size()),
               "cannot write the key file", path);
    fprintf(stderr, "interop-vat serve: created key file %s\n", path.cStr());
    return capnp_native::tls::Identity::fromPem(pem);
  }
  KJ_REQUIRE(fd >= 0, "cannot open the key file", path, strerror(errno));
  KJ_DEFER(close(fd));
  kj::Vector<kj::byte> pem;
  kj::byte buffer[4096];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    KJ_REQUIRE(n >= 0, "cannot read the key file", path, strerror(errno));
    if (n == 0) break;
    pem.addAll(buffer, buffer + n);
  }
  return capnp_native::tls::Identity::fromPem(pem.asPtr());
}

class ConnectionErrorHandler final: public kj::TaskSet::ErrorHandler {
public:
  void taskFailed(kj::Exception&& exception) override {
    // A misbehaving peer only ever costs its own connection.
    fprintf(stderr, "interop-vat serve: connection ended with %s: %s\n",
            typeName(exception.getType()).cStr(), exception.getDescription().cStr());
    fflush(stderr);
  }
};

class Server {
public:
  Server(const Endpoint& endpoint, kj::Own<kj::ConnectionReceiver>&& listener,
         kj::Timer& timer, const ServeOptions& options,
         kj::Maybe<const capnp_native::tls::Identity&> identity)
      : endpoint(endpoint), listener(kj::mv(listener)), timer(timer), options(options),
        identity(identity), restorer(options.serviceIds.asPtr()), connections(errorHandler) {}

  kj::Promise<void> acceptLoop() {
    return listener->accept().then([this](kj::Own<kj::AsyncIoStream>&& stream) {
      // Each connection is isolated: a failure to set it up must not stop accepting.
      KJ_IF_MAYBE(exception, kj::runCatchingExceptions([&]() {
        configureStream(endpoint, *stream);
        KJ_IF_MAYBE(id, identity) {
          // The handshake runs as the connection's task: a slow or failing one blocks no other.
          auto handshake = capnp_native::tls::accept(kj::mv(stream), *id,
                                                     options.requireClientCertificate)
              .exclusiveJoin(timer.afterDelay(TLS_HANDSHAKE_TIMEOUT)
                  .then([]() -> capnp_native::tls::Session {
                KJ_FAIL_REQUIRE("TLS handshake timed out");
              }));
          connections.add(handshake.then([this](capnp_native::tls::Session&& session) {
            KJ_IF_MAYBE(fingerprint, session.peerFingerprint) {
              fprintf(stderr, "interop-vat serve: %s client sha-256:%s\n",
                      session.protocol.cStr(), encodeBase64UrlNoPadding(*fingerprint).cStr());
            } else {
              fprintf(stderr, "interop-vat serve: %s client without a certificate (anonymous)\n",
                      session.protocol.cStr());
            }
            fflush(stderr);
            return serve(kj::mv(session.stream));
          }));
        } else {
          connections.add(serve(kj::mv(stream)));
        }
      })) {
        errorHandler.taskFailed(kj::mv(*exception));
      }
      return acceptLoop();
    });
  }

private:
  kj::Promise<void> serve(kj::Own<kj::AsyncIoStream>&& stream) {
    kj::Maybe<TestServiceRestorer&> r;
    if (options.serviceIds.size() > 0) r = restorer;
    auto connection = kj::heap<ServerConnection>(kj::mv(stream), r);
    auto disconnected = connection->network.onDisconnect();
    return disconnected.attach(kj::mv(connection));
  }

  const Endpoint& endpoint;
  kj::Own<kj::ConnectionReceiver> listener;
  kj::Timer& timer;
  const ServeOptions& options;
  kj::Maybe<const capnp_native::tls::Identity&> identity;
  TestServiceRestorer restorer;
  ConnectionErrorHandler errorHandler;
  kj::TaskSet connections;  // destroyed first: connections go before the listener
};

// Resolves when stdin reaches EOF (or fails). Bytes read are ignored.
kj::Promise<void> readUntilEof(kj::AsyncInputStream& input, kj::Array<kj::byte>& buffer) {
  return input.tryRead(buffer.begin(), 1, buffer.size()).then(
      [&input, &buffer](size_t n) -> kj::Promise<void> {
    if (n == 0) return kj::READY_NOW;
    return readUntilEof(input, buffer);
  });
}

}  // namespace

int runServe(const Endpoint& endpoint, uint timeoutSeconds, const ServeOptions& options) {
  auto io = kj::setupAsyncIo();
  auto& waitScope = io.waitScope;

  kj::Own<capnp_native::tls::Identity> identity;
  KJ_IF_MAYBE(path, options.tlsKeyFile) {
    KJ_IF_MAYBE(exception, kj::runCatchingExceptions([&]() {
      identity = loadOrCreateIdentity(*path);
    })) {
      fprintf(stderr, "interop-vat serve: cannot load the TLS key %s: %s\n", path->cStr(),
              exception->getDescription().cStr());
      return EXIT_INTERNAL;
    }
  }

  if (endpoint.kind == Endpoint::Kind::UNIX) {
    // A stale socket file from an earlier run would make bind() fail; remove only sockets.
    struct stat st;
    if (lstat(endpoint.path.cStr(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      unlink(endpoint.path.cStr());
    }
  }

  kj::Own<kj::ConnectionReceiver> listener;
  KJ_IF_MAYBE(exception, kj::runCatchingExceptions([&]() {
    auto address = io.provider->getNetwork().parseAddress(endpoint.kjAddress())
        .wait(waitScope);
    listener = address->listen();
  })) {
    fprintf(stderr, "interop-vat serve: cannot listen on %s: %s\n",
            endpoint.format(endpoint.port).cStr(), exception->getDescription().cStr());
    return EXIT_INTERNAL;
  }
  uint port = endpoint.kind == Endpoint::Kind::TCP ? listener->getPort() : 0;
  auto listening = endpoint.format(port);

  // Watch stdin on the event loop. A stdin that cannot be polled (a regular file, /dev/null)
  // is treated as already at EOF, as is a read error.
  kj::Own<kj::AsyncInputStream> stdinStream;
  auto stdinBuffer = kj::heapArray<kj::byte>(4096);
  kj::Promise<void> stdinEof = nullptr;
  KJ_IF_MAYBE(exception, kj::runCatchingExceptions([&]() {
    stdinStream = io.lowLevelProvider->wrapInputFd(STDIN_FILENO);
  })) {
    fprintf(stderr, "interop-vat serve: stdin cannot be watched (%s); treating it as EOF\n",
            exception->getDescription().cStr());
    stdinEof = kj::READY_NOW;
  } else {
    stdinEof = readUntilEof(*stdinStream, stdinBuffer)
        .catch_([](kj::Exception&& e) {
      fprintf(stderr, "interop-vat serve: reading stdin failed (%s); treating it as EOF\n",
              e.getDescription().cStr());
    });
  }

  enum class Outcome { STDIN_EOF, TIMEOUT, ACCEPT_FAILED };
  kj::String acceptError;
  int exitCode = EXIT_INTERNAL;
  {
    kj::Maybe<const capnp_native::tls::Identity&> tlsIdentity;
    if (identity.get() != nullptr) tlsIdentity = *identity;
    Server server(endpoint, kj::mv(listener), io.provider->getTimer(), options, tlsIdentity);
    printLine(kj::str("LISTENING ", listening));
    if (options.printsUri()) {
      kj::Maybe<kj::ArrayPtr<const kj::byte>> fingerprint;
      if (identity.get() != nullptr) fingerprint = identity->fingerprint();
      printLine(kj::str("URI ", formatSturdyRefUri(endpoint, port, fingerprint, nullptr)));
    }

    auto outcome = stdinEof.then([]() { return Outcome::STDIN_EOF; })
        .exclusiveJoin(server.acceptLoop().then([]() { return Outcome::ACCEPT_FAILED; },
            [&acceptError](kj::Exception&& e) {
          acceptError = kj::str(e.getDescription());
          return Outcome::ACCEPT_FAILED;
        }));
    if (timeoutSeconds > 0) {
      outcome = outcome.exclusiveJoin(io.provider->getTimer()
          .afterDelay(timeoutSeconds * kj::SECONDS).then([]() { return Outcome::TIMEOUT; }));
    }

    switch (outcome.wait(waitScope)) {
      case Outcome::STDIN_EOF:
        exitCode = EXIT_PASS;
        break;
      case Outcome::TIMEOUT:
        printLine(kj::str("TIMEOUT serve: stdin still open after ", timeoutSeconds, " s"));
        exitCode = EXIT_TIMEOUT;
        break;
      case Outcome::ACCEPT_FAILED:
        fprintf(stderr, "interop-vat serve: accepting connections failed: %s\n",
                acceptError.cStr());
        exitCode = EXIT_INTERNAL;
        break;
    }
    // `server` (all connections, then the listener) is destroyed here, on the loop thread.
  }

  if (endpoint.kind == Endpoint::Kind::UNIX) {
    unlink(endpoint.path.cStr());
  }
  return exitCode;
}

}  // namespace interop
