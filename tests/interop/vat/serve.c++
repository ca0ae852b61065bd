// `interop-vat serve`: accepts any number of connections, one TwoPartyVatNetwork + RpcSystem
// per connection, bootstrap = a fresh TestServiceImpl per connection. Exits when stdin reaches
// EOF (clean, exit 0), when --timeout-seconds elapses (exit 3) or when accepting fails (exit 4).
#include "vat.h"
#include "test_service.h"

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.h>
#include <kj/async-io.h>
#include <kj/debug.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

namespace interop {
namespace {

struct ServerConnection {
  ServerConnection(kj::Own<kj::AsyncIoStream>&& streamParam)
      : stream(kj::mv(streamParam)),
        network(*stream, capnp::rpc::twoparty::Side::SERVER),
        rpcSystem(capnp::makeRpcServer(network,
            capnp::Capability::Client(kj::heap<TestServiceImpl>()))) {}

  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpcSystem;
};

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
  Server(const Endpoint& endpoint, kj::Own<kj::ConnectionReceiver>&& listener)
      : endpoint(endpoint), listener(kj::mv(listener)), connections(errorHandler) {}

  kj::Promise<void> acceptLoop() {
    return listener->accept().then([this](kj::Own<kj::AsyncIoStream>&& stream) {
      // Each connection is isolated: a failure to set it up must not stop accepting.
      KJ_IF_MAYBE(exception, kj::runCatchingExceptions([&]() {
        configureStream(endpoint, *stream);
        auto connection = kj::heap<ServerConnection>(kj::mv(stream));
        auto disconnected = connection->network.onDisconnect();
        connections.add(disconnected.attach(kj::mv(connection)));
      })) {
        errorHandler.taskFailed(kj::mv(*exception));
      }
      return acceptLoop();
    });
  }

private:
  const Endpoint& endpoint;
  kj::Own<kj::ConnectionReceiver> listener;
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

int runServe(const Endpoint& endpoint, uint timeoutSeconds) {
  auto io = kj::setupAsyncIo();
  auto& waitScope = io.waitScope;

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
    Server server(endpoint, kj::mv(listener));
    printLine(kj::str("LISTENING ", listening));

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
