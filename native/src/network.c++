// Two-party connections: listening, accepting, connecting, adopting a socket; one RpcSystem over
// one TwoPartyVatNetwork per connection.

#include "handles.h"
#include "objects.h"
#include "referenced_segments.h"
#include "transport/coalescing_message_stream.h"
#include "unix_socket_file.h"

#include <kj/debug.h>
#include <kj/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <unordered_set>

namespace capnp_native {

namespace {

using capnp::rpc::twoparty::Side;
using capnp::rpc::twoparty::VatId;

constexpr int KEEPALIVE_IDLE_SECONDS = 60;

// "tcp:HOST:PORT" (IPv6 hosts in brackets) or "unix:PATH".
struct Address {
  kj::String kjAddress;  // as kj::Network::parseAddress() wants it
  kj::String host;       // tcp: the HOST part, to print the bound address
  bool isTcp;

  kj::StringPtr unixPath() const { return kjAddress.slice(5); }

  static Address parse(kj::StringPtr text) {
    if (text.startsWith("tcp:")) {
      auto rest = text.slice(4);
      KJ_IF_MAYBE(colon, rest.findLast(':')) {
        requireArgument(*colon > 0 && *colon + 1 < rest.size(), "address must be tcp:HOST:PORT");
        return {kj::str(rest), kj::heapString(rest.slice(0, *colon)), true};
      }
      throw ShimError{CAPNP_STATUS_INVALID_ARGUMENT, kj::str("address must be tcp:HOST:PORT: ", text)};
    }
    if (text.startsWith("unix:")) {
      requireArgument(text.size() > 5, "address must be unix:PATH");
      return {kj::str(text), nullptr, false};
    }
    throw ShimError{CAPNP_STATUS_INVALID_ARGUMENT,
                    kj::str("address must start with tcp: or unix: (", text, ")")};
  }
};

kj::String addressArgument(const char* address, size_t length) {
  requireArgument(address != nullptr && length > 0, "empty address");
  return kj::heapString(address, length);
}

void setOption(kj::AsyncIoStream& stream, int level, int option, int value) {
  stream.setsockopt(level, option, &value, sizeof(value));
}

// Small messages must not wait for Nagle; idle peers are probed so dead ones are noticed.
void configureTcpStream(kj::AsyncIoStream& stream, bool outgoing) {
  setOption(stream, IPPROTO_TCP, TCP_NODELAY, 1);
  if (outgoing) {
    setOption(stream, SOL_SOCKET, SO_KEEPALIVE, 1);
    setOption(stream, IPPROTO_TCP, TCP_KEEPIDLE, KEEPALIVE_IDLE_SECONDS);
  }
}

void configureTcpListener(kj::ConnectionReceiver& receiver) {
  int one = 1;
  int idle = KEEPALIVE_IDLE_SECONDS;
  receiver.setsockopt(SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  receiver.setsockopt(IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
}

}  // namespace

// One connection: the byte stream, our buffered MessageStream over it, the two-party network
// and its RpcSystem, destroyed in the reverse order.
class Connection final: public LoopObject {
public:
  explicit Connection(Loop& loop): LoopObject(loop) { counters().liveConnections++; }
  ~Connection() noexcept(false) { counters().liveConnections--; }

  // Loop thread.
  void start(kj::Own<kj::AsyncIoStream> stream, Side side,
             kj::Maybe<capnp::Capability::Client> bootstrap) {
    state = kj::heap<State>(loop(), kj::mv(stream), side, kj::mv(bootstrap));
    lossWatch = live().network.onDisconnect()
        .then([this]() { loop().connectionLost(); })
        .eagerlyEvaluate(nullptr);
    attach();
  }

  capnp::Capability::Client peerBootstrap() {
    auto& s = live();
    // Entering the engine for a connection it has shut down aborts the process (see
    // LeasingVatNetwork::isShutDown): a peer that connects and leaves at once must not be able
    // to kill a vat that asks for its bootstrap.
    if (s.leasing.isShutDown()) {
      throw ShimError{CAPNP_STATUS_DISCONNECTED, kj::str("the peer has disconnected")};
    }
    capnp::word scratch[4];
    memset(scratch, 0, sizeof(scratch));
    capnp::MallocMessageBuilder message(scratch);
    auto vatId = message.getRoot<VatId>();
    vatId.setSide(s.side == Side::CLIENT ? Side::SERVER : Side::CLIENT);
    return s.rpc.bootstrap(vatId);
  }

  kj::Promise<void> onDisconnect() { return live().network.onDisconnect(); }

protected:
  void dropState() override {
    lossWatch = nullptr;
    state = nullptr;
    // Destroying the RpcSystem disconnected its capabilities: let their watchers look again.
    loop().connectionLost();
  }

private:
  struct State {
    State(Loop& loop, kj::Own<kj::AsyncIoStream> streamParam, Side side,
          kj::Maybe<capnp::Capability::Client> bootstrap)
        : stream(kj::mv(streamParam)), messages(*stream), side(side), network(messages, side),
          leasing(loop, network, messages), rpc(makeRpcSystem(leasing, kj::mv(bootstrap))) {}

    static capnp::RpcSystem<VatId> makeRpcSystem(capnp::TwoPartyVatNetworkBase& network,
                                                 kj::Maybe<capnp::Capability::Client> bootstrap) {
      KJ_IF_MAYBE(client, bootstrap) { return capnp::makeRpcServer(network, kj::mv(*client)); }
      return capnp::makeRpcClient(network);
    }

    kj::Own<kj::AsyncIoStream> stream;
    capnp_native::CoalescingMessageStream messages;
    Side side;
    capnp::TwoPartyVatNetwork network;
    // The RpcSystem's view of `network`: its messages may reference lent segments.
    LeasingVatNetwork leasing;
    capnp::RpcSystem<VatId> rpc;
  };

  State& live() {
    KJ_IF_MAYBE(s, state) { return **s; }
    throw ShimError{CAPNP_STATUS_DISCONNECTED, kj::str("the connection was released or its event loop disposed")};
  }

  kj::Maybe<kj::Own<State>> state;
  // Tells the loop when the peer goes away (see Loop::whenConnectionLost).
  kj::Maybe<kj::Promise<void>> lossWatch;
};

// Listens for connections. Either the managed side accepts them one by one (accept(), each
// connection then owned by its handle), or the listener serves (serve()): it accepts by itself,
// at most maxConnections at once, owns each connection and frees it when its peer goes.
class Listener final: public LoopObject {
public:
  using LoopObject::LoopObject;

  // Loop thread.
  void start(kj::Own<kj::ConnectionReceiver> receiver, bool tcp,
             kj::Maybe<capnp::Capability::Client> bootstrap,
             kj::Maybe<kj::Own<UnixSocketFile>> socketFile) {
    state = kj::heap<State>(kj::mv(receiver), tcp, kj::mv(bootstrap));
    this->socketFile = kj::mv(socketFile);
    attach();
  }

  kj::Promise<Connection*> accept() {
    auto& s = live();
    return s.pendingAccepts.wrap(s.receiver->accept()).then([this](kj::Own<kj::AsyncIoStream> stream) {
      return startConnection(kj::mv(stream));
    });
  }

  // Loop thread: starts the accept loop.
  void serve(uint32_t maxConnections) {
    auto& s = live();
    requireArgument(maxConnections > 0, "capnp_listener_serve: max_connections must be positive");
    KJ_REQUIRE(s.serving == nullptr, "the listener is already serving");
    s.maxConnections = maxConnections;
    s.serving = acceptLoop().eagerlyEvaluate(nullptr);
  }

  capnp_listener_stats stats() {
    auto& s = live();
    capnp_listener_stats result;
    memset(&result, 0, sizeof(result));
    result.connections = s.served.size();
    result.peak_connections = s.peakConnections;
    result.accepted = s.accepted;
    result.accept_failures = s.acceptFailures;
    return result;
  }

protected:
  void dropState() override {
    KJ_IF_MAYBE(s, state) {
      // The connections it serves have no other owner: they close with the listener.
      auto served = kj::mv((*s)->served);
      state = nullptr;
      for (auto connection: served) loop().freeReleased(connection);
    }
    // Once nobody listens, the socket's file goes too.
    socketFile = nullptr;
  }

private:
  // After a failed accept (e.g. EMFILE: out of file descriptors) the loop waits before trying
  // again, doubling the wait up to the maximum, so exhaustion neither ends serving nor spins.
  static constexpr kj::Duration FIRST_ACCEPT_BACKOFF = 10 * kj::MILLISECONDS;
  static constexpr kj::Duration MAX_ACCEPT_BACKOFF = 1 * kj::SECONDS;

  struct State {
    State(kj::Own<kj::ConnectionReceiver> receiver, bool tcp, kj::Maybe<capnp::Capability::Client> bootstrap)
        : receiver(kj::mv(receiver)), tcp(tcp), bootstrap(kj::mv(bootstrap)), tasks(logTaskErrors) {}
    ~State() noexcept(false) {
      // Pending accepts use the receiver: they end before it goes.
      pendingAccepts.cancel(KJ_EXCEPTION(DISCONNECTED, "the listener was released"));
    }

    kj::Own<kj::ConnectionReceiver> receiver;
    bool tcp;
    kj::Maybe<capnp::Capability::Client> bootstrap;
    kj::Canceler pendingAccepts;

    // Serving.
    uint32_t maxConnections = 0;
    std::unordered_set<Connection*> served;
    uint32_t peakConnections = 0;
    uint64_t accepted = 0;
    uint64_t acceptFailures = 0;
    kj::Duration backoff = 0 * kj::SECONDS;
    // Fulfilled when a served connection goes while the accept loop waits for a free slot.
    kj::Maybe<kj::Own<kj::PromiseFulfiller<void>>> slotFreed;
    // Each served connection's watch for its peer going away.
    kj::TaskSet tasks;
    kj::Maybe<kj::Promise<void>> serving;
  };

  class LogTaskErrors final: public kj::TaskSet::ErrorHandler {
  public:
    void taskFailed(kj::Exception&& exception) override {
      KJ_LOG(ERROR, "capnp_native: a served connection's watch failed", exception);
    }
  };
  static LogTaskErrors logTaskErrors;

  State& live() {
    KJ_IF_MAYBE(s, state) { return **s; }
    throw ShimError{CAPNP_STATUS_DISPOSED, kj::str("the listener was released or its event loop disposed")};
  }

  Connection* startConnection(kj::Own<kj::AsyncIoStream> stream) {
    auto& s = live();
    if (s.tcp) configureTcpStream(*stream, false);
    auto connection = new Connection(loop());
    kj::Maybe<capnp::Capability::Client> bootstrap;
    KJ_IF_MAYBE(client, s.bootstrap) { bootstrap = *client; }
    try {
      connection->start(kj::mv(stream), Side::SERVER, kj::mv(bootstrap));
    } catch (...) {
      loop().freeReleased(connection);
      throw;
    }
    return connection;
  }

  kj::Promise<void> acceptLoop() {
    auto& s = live();
    if (s.served.size() >= s.maxConnections) {
      // At the limit: further peers wait in the kernel's backlog until a connection goes.
      auto paf = kj::newPromiseAndFulfiller<void>();
      s.slotFreed = kj::mv(paf.fulfiller);
      return paf.promise.then([this]() { return acceptLoop(); });
    }
    return s.pendingAccepts.wrap(s.receiver->accept())
        .then([this](kj::Own<kj::AsyncIoStream> stream) -> kj::Promise<void> {
          auto& s = live();
          s.backoff = 0 * kj::SECONDS;
          serveConnection(startConnection(kj::mv(stream)));
          return acceptLoop();
        }, [this](kj::Exception&& exception) -> kj::Promise<void> {
          auto& s = live();
          ++s.acceptFailures;
          s.backoff = kj::min(kj::max(s.backoff * 2, FIRST_ACCEPT_BACKOFF), MAX_ACCEPT_BACKOFF);
          return loop().io().provider->getTimer().afterDelay(s.backoff)
              .then([this]() { return acceptLoop(); });
        });
  }

  void serveConnection(Connection* connection) {
    auto& s = live();
    s.served.insert(connection);
    ++s.accepted;
    s.peakConnections = kj::max(s.peakConnections, static_cast<uint32_t>(s.served.size()));
    // A failed connection goes as a closed one does. It is freed on a later turn, not from
    // within its network's own disconnect event; until then it still counts as served, so a
    // listener released meanwhile frees it.
    s.tasks.add(connection->onDisconnect()
        .catch_([](kj::Exception&&) {})
        .then([this, connection]() {
          return kj::evalLater([this, connection]() { dropServed(connection); });
        }));
  }

  void dropServed(Connection* connection) {
    auto& s = live();
    if (s.served.erase(connection) == 0) return;
    loop().freeReleased(connection);
    KJ_IF_MAYBE(fulfiller, s.slotFreed) {
      (*fulfiller)->fulfill();
      s.slotFreed = nullptr;
    }
  }

  kj::Maybe<kj::Own<State>> state;
  kj::Maybe<kj::Own<UnixSocketFile>> socketFile;
};

Listener::LogTaskErrors Listener::logTaskErrors;

namespace {

// Completes tag with a new connection; if nobody waits any more, the connection goes.
void finishWithConnection(Loop& loop, uint64_t tag, Connection* connection) {
  auto handle = wrap(connection);
  if (!loop.finish(tag, CAPNP_STATUS_OK, bytesOf(handle))) loop.freeReleased(connection);
}

}  // namespace
}  // namespace capnp_native

extern "C" int32_t capnp_listen(capnp_loop* loop, const char* address, size_t address_len,
                                capnp_cap* bootstrap, uint64_t tag, capnp_listener** out_listener) {
  using namespace capnp_native;
  return guarded([&] {
    auto& owner = unwrapLoop(loop);
    requireArgument(tag != 0, "capnp_listen: tag 0 is reserved");
    requireArgument(out_listener != nullptr, "capnp_listen: null out-parameter");
    auto parsed = Address::parse(addressArgument(address, address_len));
    Cap* offered = bootstrap == nullptr ? nullptr : &unwrap(bootstrap);
    auto listener = new Listener(owner);
    postOrDelete(owner, listener, tag, [listener, offered, parsed = kj::mv(parsed), tag](Loop& loop) mutable {
      auto bootstrapClient = optionalClient(offered);
      loop.track(tag, loop.io().provider->getNetwork().parseAddress(parsed.kjAddress)
          .then([&loop, listener, parsed = kj::mv(parsed), bootstrapClient = kj::mv(bootstrapClient),
                 tag](kj::Own<kj::NetworkAddress> resolved) mutable {
        kj::Maybe<kj::Own<UnixSocketFile>> socketFile;
        if (!parsed.isTcp) UnixSocketFile::clearStale(parsed.unixPath());
        auto receiver = resolved->listen();
        if (parsed.isTcp) {
          configureTcpListener(*receiver);
        } else {
          socketFile = kj::heap<UnixSocketFile>(parsed.unixPath());
        }
        auto bound = parsed.isTcp ? kj::str("tcp:", parsed.host, ":", receiver->getPort())
                                  : kj::str(parsed.kjAddress);
        listener->start(kj::mv(receiver), parsed.isTcp, kj::mv(bootstrapClient), kj::mv(socketFile));
        loop.finish(tag, CAPNP_STATUS_OK, bound.asBytes());
      }));
    });
    *out_listener = wrap(listener);
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_listener_accept(capnp_listener* listener, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& source = unwrap(listener);
    requireArgument(tag != 0, "capnp_listener_accept: tag 0 is reserved");
    source.loop().post({tag, [&source, tag](Loop& loop) {
      loop.track(tag, source.accept().then([&loop, tag](Connection* connection) {
        finishWithConnection(loop, tag, connection);
      }));
    }});
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_listener_serve(capnp_listener* listener, uint32_t max_connections, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& source = unwrap(listener);
    requireArgument(tag != 0, "capnp_listener_serve: tag 0 is reserved");
    requireArgument(max_connections > 0, "capnp_listener_serve: max_connections must be positive");
    source.loop().post({tag, [&source, max_connections, tag](Loop&) {
      source.serve(max_connections);
      complete(tag, CAPNP_STATUS_OK, nullptr);
    }});
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_listener_read_stats(capnp_listener* listener, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& source = unwrap(listener);
    requireArgument(tag != 0, "capnp_listener_read_stats: tag 0 is reserved");
    source.loop().post({tag, [&source, tag](Loop&) {
      auto stats = source.stats();
      complete(tag, CAPNP_STATUS_OK, kj::arrayPtr(reinterpret_cast<const kj::byte*>(&stats), sizeof(stats)));
    }});
    return CAPNP_STATUS_OK;
  });
}

extern "C" void capnp_listener_release(capnp_listener* listener) {
  using namespace capnp_native;
  if (listener == nullptr) return;
  guarded([&] {
    unwrap(listener).release();
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_connect(capnp_loop* loop, const char* address, size_t address_len,
                                 capnp_cap* bootstrap, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& owner = unwrapLoop(loop);
    requireArgument(tag != 0, "capnp_connect: tag 0 is reserved");
    auto parsed = Address::parse(addressArgument(address, address_len));
    Cap* offered = bootstrap == nullptr ? nullptr : &unwrap(bootstrap);
    owner.post({tag, [offered, parsed = kj::mv(parsed), tag](Loop& loop) mutable {
      auto bootstrapClient = optionalClient(offered);
      bool tcp = parsed.isTcp;
      loop.track(tag, loop.io().provider->getNetwork().parseAddress(parsed.kjAddress)
          .then([](kj::Own<kj::NetworkAddress> resolved) {
            return resolved->connect().attach(kj::mv(resolved));
          })
          .then([&loop, tcp, bootstrapClient = kj::mv(bootstrapClient), tag](
                    kj::Own<kj::AsyncIoStream> stream) mutable {
            if (tcp) configureTcpStream(*stream, true);
            auto connection = new Connection(loop);
            connection->start(kj::mv(stream), Side::CLIENT, kj::mv(bootstrapClient));
            finishWithConnection(loop, tag, connection);
          }));
    }});
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_connection_from_fd(capnp_loop* loop, int32_t fd, int32_t is_server,
                                            capnp_cap* bootstrap, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& owner = unwrapLoop(loop);
    requireArgument(fd >= 0, "capnp_connection_from_fd: invalid file descriptor");
    requireArgument(tag != 0, "capnp_connection_from_fd: tag 0 is reserved");
    Cap* offered = bootstrap == nullptr ? nullptr : &unwrap(bootstrap);
    try {
      owner.post({tag, [fd, is_server, offered, tag](Loop& loop) {
        auto stream = loop.io().lowLevelProvider->wrapSocketFd(
            fd, kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
        auto connection = new Connection(loop);
        try {
          connection->start(kj::mv(stream), is_server ? Side::SERVER : Side::CLIENT, optionalClient(offered));
        } catch (...) {
          delete connection;
          throw;
        }
        // Not a tracked operation: the command itself completes the tag.
        auto handle = wrap(connection);
        complete(tag, CAPNP_STATUS_OK, bytesOf(handle));
      }});
    } catch (...) {
      // The descriptor was handed over: it is closed even when the loop refuses it.
      close(fd);
      throw;
    }
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_connection_bootstrap(capnp_connection* connection, capnp_cap** out_cap) {
  using namespace capnp_native;
  return guarded([&] {
    auto& source = unwrap(connection);
    requireArgument(out_cap != nullptr, "capnp_connection_bootstrap: null out-parameter");
    auto cap = new Cap(source.loop());
    postOrDelete(source.loop(), cap, [&source, cap](Loop&) {
      try {
        cap->fill(source.peerBootstrap());
      } catch (...) {
        auto error = describeCurrentException();
        cap->fill(capnp::Capability::Client(capnp::newBrokenCap(kj::Exception(
            exceptionTypeOf(error.status), __FILE__, __LINE__, kj::mv(error.message)))));
      }
    });
    *out_cap = wrap(cap);
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_connection_when_disconnected(capnp_connection* connection, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& source = unwrap(connection);
    requireArgument(tag != 0, "capnp_connection_when_disconnected: tag 0 is reserved");
    source.loop().post({tag, [&source, tag](Loop& loop) {
      loop.track(tag, source.onDisconnect().then([&loop, tag]() {
        loop.finish(tag, CAPNP_STATUS_OK, nullptr);
      }));
    }});
    return CAPNP_STATUS_OK;
  });
}

extern "C" void capnp_connection_release(capnp_connection* connection) {
  using namespace capnp_native;
  if (connection == nullptr) return;
  guarded([&] {
    unwrap(connection).release();
    return CAPNP_STATUS_OK;
  });
}
