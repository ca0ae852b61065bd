// bench-server --transport plain|coalescing --listen 127.0.0.1:0 [--max-seconds N] [--once]
// Prints "LISTENING <port>" and serves a Bench capability on every accepted connection (one
// RpcSystem over one TwoPartyVatNetwork per connection). With --once it exits when its first
// connection closes (later ones are served meanwhile). It always exits after --max-seconds (default 3600).

#include <kj/async-io.h>
#include <kj/debug.h>
#include <kj/main.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include "bench_impl.h"
#include "common.h"

namespace {

class ErrorHandler final: public kj::TaskSet::ErrorHandler {
public:
  void taskFailed(kj::Exception&& exception) override {
    if (exception.getType() != kj::Exception::Type::DISCONNECTED) {
      KJ_LOG(ERROR, "connection failed", exception);
    }
  }
};

struct Server {
  bench::Transport transport;
  kj::Own<kj::ConnectionReceiver> listener;
  capnp::Capability::Client bootstrap = kj::heap<bench::BenchImpl>();
  ErrorHandler errorHandler;
  kj::TaskSet connections { errorHandler };

  kj::Promise<void> serveOne() {
    return listener->accept().then([this](kj::Own<kj::AsyncIoStream>&& stream) {
      bench::setNoDelay(*stream);
      auto connection = bench::newServerConnection(kj::mv(stream), transport, bootstrap);
      auto& network = *connection->network;
      // Later peers are served too (the bystander scenario's attackers); the first one's leaving
      // ends the run.
      return network.onDisconnect().attach(kj::mv(connection)).exclusiveJoin(acceptLoop());
    });
  }

  kj::Promise<void> acceptLoop() {
    return listener->accept().then([this](kj::Own<kj::AsyncIoStream>&& stream) {
      bench::setNoDelay(*stream);
      auto connection = bench::newServerConnection(kj::mv(stream), transport, bootstrap);
      auto& network = *connection->network;
      connections.add(network.onDisconnect().attach(kj::mv(connection)));
      return acceptLoop();
    });
  }
};

}  // namespace

int main(int argc, char* argv[]) {
  kj::StringPtr transportArg = "plain";
  kj::StringPtr listenArg = "127.0.0.1:0";
  double maxSeconds = 3600;  // the server never outlives a forgotten benchmark by more than this
  bool once = false;
  kj::StringPtr rusageOut = nullptr;
  for (int i = 1; i < argc; i++) {
    kj::StringPtr arg = argv[i];
    if (arg == "--transport" && i + 1 < argc) transportArg = argv[++i];
    else if (arg == "--listen" && i + 1 < argc) listenArg = argv[++i];
    else if (arg == "--max-seconds" && i + 1 < argc) maxSeconds = atof(argv[++i]);
    else if (arg == "--once") once = true;
    else if (arg == "--rusage-out" && i + 1 < argc) rusageOut = argv[++i];
    else {
      fprintf(stderr, "usage: %s --transport plain|coalescing --listen HOST:PORT "
                      "[--max-seconds N] [--once] [--rusage-out FILE]\n", argv[0]);
      return 2;
    }
  }

  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
    auto io = kj::setupAsyncIo();
    Server server;
    server.transport = bench::parseTransport(transportArg);
    auto address = io.provider->getNetwork().parseAddress(listenArg).wait(io.waitScope);
    server.listener = address->listen();
    printf("LISTENING %u\n", server.listener->getPort());
    fflush(stdout);
    io.provider->getTimer()
        .afterDelay(static_cast<int64_t>(maxSeconds * 1000) * kj::MILLISECONDS)
        .exclusiveJoin(once ? server.serveOne() : server.acceptLoop())
        .wait(io.waitScope);
  })) {
    fprintf(stderr, "bench-server: %s\n", kj::str(*e).cStr());
    return 1;
  }
  if (rusageOut != nullptr) {
    // CPU time of the whole server process, for per-call CPU figures that are less sensitive to
    // other load on the machine than wall-clock rates.
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    FILE* f = fopen(rusageOut.cStr(), "w");
    if (f != nullptr) {
      fprintf(f, "server_cpu_us=%.0f peak_rss_kb=%ld\n",
              (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6 +
              usage.ru_utime.tv_usec + usage.ru_stime.tv_usec, usage.ru_maxrss);
      fclose(f);
    }
  }
  return 0;
}
