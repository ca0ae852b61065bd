// Two-party connections: listening, accepting, connecting, adopting a socket; one RpcSystem over
// one TwoPartyVatNetwork per connection.

#include "accept_balance.h"
#include "handles.h"
#include "objects.h"
#include "guarded_vat_network.h"
#include "restorer.h"
#include "tls/tls_stream.h"
#include "transport/coalescing_message_stream.h"
#include "unix_socket_file.h"

#include <kj/debug.h>
#include <kj/encoding.h>
#include <kj/io.h>
#include <kj/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>
#include <atomic>
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

constexpr kj::Duration DEFAULT_HANDSHAKE_TIMEOUT = 10 * kj::SECONDS;

kj::Duration handshakeTimeout(uint32_t milliseconds) {
  return milliseconds == 0 ? DEFAULT_HANDSHAKE_TIMEOUT : milliseconds * kj::MILLISECONDS;
}

constexpr uint32_t DEFAULT_MAX_OUTSTANDING_QUESTIONS = 4096;
constexpr uint64_t DEFAULT_MAX_UNWRITTEN_BYTES = 16ull * 1024 * 1024;
constexpr kj::Duration DEFAULT_IDLE_TIMEOUT = 120 * kj::SECONDS;

// The ABI's limits (0: default; the maximum value: unlimited) as the network wrapper takes them.
PeerLimits peerLimits(uint32_t maxOutstandingQuestions, uint64_t maxUnwrittenBytes, uint32_t idleTimeoutMs,
                      bool traceTables = false) {
  PeerLimits limits;
  limits.traceTables = traceTables;
  limits.maxOutstandingQuestions = maxOutstandingQuestions == 0 ? DEFAULT_MAX_OUTSTANDING_QUESTIONS
      : maxOutstandingQuestions == UINT32_MAX ? 0 : maxOutstandingQuestions;
  limits.maxUnwrittenBytes = maxUnwrittenBytes == 0 ? DEFAULT_MAX_UNWRITTEN_BYTES
      : maxUnwrittenBytes == UINT64_MAX ? 0 : maxUnwrittenBytes;
  limits.idleTimeout = idleTimeoutMs == 0 ? DEFAULT_IDLE_TIMEOUT
      : idleTimeoutMs == UINT32_MAX ? 0 * kj::SECONDS : idleTimeoutMs * kj::MILLISECONDS;
  return limits;
}

// "sha-256:<base64url>" as in capnp:// URIs.
kj::String formatFingerprint(kj::ArrayPtr<const kj::byte> fingerprint) {
  auto text = kj::encodeBase64Url(fingerprint);
  size_t length = text.size();
  while (length > 0 && text[length - 1] == '=') --length;
  return kj::str("sha-256:", text.slice(0, length));
}

// A byte stream ready for RPC: plain, or a TLS session and what it says of the peer.
struct SecuredStream {
  kj::Own<kj::AsyncIoStream> stream;
  kj::Maybe<kj::Array<kj::byte>> peerFingerprint;
  // How the vat dump names the connection.
  kj::String label;
};

// "HOST:PORT" of an accepted TCP peer; "a local process" for a unix socket's.
kj::String peerAddressOf(kj::AsyncIoStream& stream, bool tcp) {
  if (!tcp) return kj::str("a local process");
  struct sockaddr_storage address;
  uint length = sizeof(address);
  KJ_IF_MAYBE(exception, kj::runCatchingExceptions([&]() {
    stream.getpeername(reinterpret_cast<struct sockaddr*>(&address), &length);
  })) {
    return kj::str("an unknown address");
  }
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (address.ss_family == AF_INET) {
    auto& v4 = reinterpret_cast<struct sockaddr_in&>(address);
    inet_ntop(AF_INET, &v4.sin_addr, host, sizeof(host));
    port = ntohs(v4.sin_port);
    return kj::str(host, ":", port);
  }
  if (address.ss_family == AF_INET6) {
    auto& v6 = reinterpret_cast<struct sockaddr_in6&>(address);
    inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof(host));
    port = ntohs(v6.sin6_port);
    return kj::str("[", host, "]:", port);
  }
  return kj::str("an unknown address");
}

// Fails `handshake` with DISCONNECTED "TLS handshake timed out" unless it completes in time, so a
// peer that never finishes its handshake cannot hold a connection (and its descriptor) forever.
kj::Promise<SecuredStream> withinTimeout(Loop& loop, kj::Duration timeout, kj::Promise<tls::Session> handshake) {
  return handshake
      .then([](tls::Session session) {
        return SecuredStream{kj::mv(session.stream), kj::mv(session.peerFingerprint), nullptr};
      })
      .exclusiveJoin(loop.io().provider->getTimer().afterDelay(timeout).then([]() -> SecuredStream {
        kj::throwFatalException(KJ_EXCEPTION(DISCONNECTED, "TLS handshake timed out"));
      }));
}

void configureTcpListener(kj::ConnectionReceiver& receiver) {
  int one = 1;
  int idle = KEEPALIVE_IDLE_SECONDS;
  receiver.setsockopt(SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  receiver.setsockopt(IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
}

// Binds and listens on a socket of our own instead of through kj::NetworkAddress::listen(), which
// hides the descriptor: several loops of one vat accept from the same listening socket (see
// capnp_listener_share), each through a duplicate. `resolved` is numeric once parsed by KJ
// ("1.2.3.4:80", "[::1]:80"); unix addresses come as "unix:PATH".
kj::AutoCloseFd bindAndListen(const Address& parsed, kj::NetworkAddress& resolved) {
  sockaddr_storage storage;
  memset(&storage, 0, sizeof(storage));
  socklen_t length;
  if (parsed.isTcp) {
    auto text = resolved.toString();
    KJ_IF_MAYBE(colon, text.findLast(':')) {
      auto host = kj::heapString(text.slice(0, *colon));
      auto port = static_cast<uint16_t>(text.slice(*colon + 1).parseAs<uint>());
      if (host.startsWith("[")) {
        auto v6 = reinterpret_cast<sockaddr_in6*>(&storage);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        auto inner = kj::heapString(host.slice(1, host.size() - 1));
        KJ_REQUIRE(inet_pton(AF_INET6, inner.cStr(), &v6->sin6_addr) == 1, "not an IPv6 address", text);
        length = sizeof(sockaddr_in6);
      } else {
        auto v4 = reinterpret_cast<sockaddr_in*>(&storage);
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        KJ_REQUIRE(inet_pton(AF_INET, host.cStr(), &v4->sin_addr) == 1, "not an IPv4 address", text);
        length = sizeof(sockaddr_in);
      }
    } else {
      KJ_FAIL_REQUIRE("unexpected resolved address", text);
    }
  } else {
    auto un = reinterpret_cast<sockaddr_un*>(&storage);
    auto path = parsed.unixPath();
    requireArgument(path.size() < sizeof(un->sun_path), "unix socket path too long");
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path.begin(), path.size());
    length = offsetof(sockaddr_un, sun_path) + path.size() + 1;
  }

  int fd;
  KJ_SYSCALL(fd = socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  kj::AutoCloseFd owned(fd);
  if (parsed.isTcp) {
    // As KJ's own listen(): a restarted server can bind while old connections are in TIME_WAIT.
    int one = 1;
    KJ_SYSCALL(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
  }
  KJ_SYSCALL(bind(fd, reinterpret_cast<sockaddr*>(&storage), length), resolved.toString());
  KJ_SYSCALL(listen(fd, SOMAXCONN));
  return owned;
}

constexpr uint LISTEN_FD_FLAGS = kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP |
                                 kj::LowLevelAsyncIoProvider::ALREADY_CLOEXEC |
                                 kj::LowLevelAsyncIoProvider::ALREADY_NONBLOCK;

}  // namespace

// One connection: the byte stream, our buffered MessageStream over it, the two-party network
// and its RpcSystem, destroyed in the reverse order.
class Connection final: public LoopObject {
public:
  explicit Connection(Loop& loop): LoopObject(loop) { counters().liveConnections++; }
  ~Connection() noexcept(false) { counters().liveConnections--; }

  // Loop thread.
  // With a restorer, peers may ask for services by ID; it also answers plain bootstraps.
  void start(kj::Own<kj::AsyncIoStream> stream, Side side,
             kj::Maybe<capnp::Capability::Client> bootstrap, PeerLimits limits,
             kj::Maybe<kj::Own<ServiceRestorer>> restorer = nullptr) {
    auto peer = kj::refcounted<PeerIdentity>();
    KJ_IF_MAYBE(f, peerFingerprint) { peer->fingerprint = kj::heapArray<kj::byte>(*f); }
    state = kj::heap<State>(loop(), kj::mv(stream), side, kj::mv(bootstrap), limits, kj::mv(peer),
                            kj::mv(restorer));
    lossWatch = live().network.onDisconnect()
        .then([this]() { loop().connectionLost(); })
        .eagerlyEvaluate(nullptr);
    attach();
  }

  // The peer's service with this ID (sent as Text), or its bootstrap when the ID is empty.
  capnp::Capability::Client peerService(kj::ArrayPtr<const kj::byte> serviceId) {
    auto& s = live();
    // Entering the engine for a connection it has shut down aborts the process (see
    // GuardedVatNetwork::isShutDown): a peer that connects and leaves at once must not be able
    // to kill a vat that asks for its bootstrap.
    if (s.guarded.isShutDown()) {
      throw ShimError{CAPNP_STATUS_DISCONNECTED, kj::str("the peer has disconnected")};
    }
    capnp::MallocMessageBuilder message;
    auto vatId = message.initRoot<VatId>();
    vatId.setSide(s.side == Side::CLIENT ? Side::SERVER : Side::CLIENT);
    if (serviceId.size() == 0) return s.rpc.bootstrap(vatId);
    capnp::MallocMessageBuilder objectIdMessage;
    auto objectId = objectIdMessage.getRoot<capnp::AnyPointer>();
    objectId.setAs<capnp::Text>(capnp::Text::Reader(
        reinterpret_cast<const char*>(serviceId.begin()), serviceId.size()));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    // The seed's vats name services this way (the "deprecated" 0.4-style object ID).
    return s.rpc.restore(vatId, objectId.asReader());
#pragma GCC diagnostic pop
  }

  kj::Promise<void> onDisconnect() { return live().network.onDisconnect(); }

  // The connection and what each side holds of the other (vat dump). Loop thread.
  kj::String describe() {
    kj::String peer = kj::str("anonymous");
    KJ_IF_MAYBE(f, peerFingerprint) { peer = formatFingerprint(*f); }
    KJ_IF_MAYBE(s, state) {
      return kj::str("connection ", label, ", peer ", peer, "\n", (*s)->guarded.describe());
    }
    return kj::str("connection ", label, ", peer ", peer, ": released\n");
  }

  // The peer's TLS key fingerprint: set once on the loop thread before the handle is handed
  // out, then only read (from any thread). Null for a plain connection or an anonymous client.
  void setPeerFingerprint(kj::Maybe<kj::Array<kj::byte>> fingerprint) { peerFingerprint = kj::mv(fingerprint); }
  // How the vat dump names the connection (e.g. "accepted from 127.0.0.1:5000"): set once on
  // the loop thread before start().
  void setLabel(kj::String text) { label = kj::mv(text); }
  kj::Maybe<kj::ArrayPtr<const kj::byte>> getPeerFingerprint() const {
    KJ_IF_MAYBE(f, peerFingerprint) { return f->asPtr(); }
    return nullptr;
  }

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
          kj::Maybe<capnp::Capability::Client> bootstrap, PeerLimits limits, kj::Own<PeerIdentity> peer,
          kj::Maybe<kj::Own<ServiceRestorer>> restorerParam)
        : restorer(kj::mv(restorerParam)), stream(kj::mv(streamParam)), messages(*stream), side(side),
          network(messages, side), guarded(loop, network, messages, limits, kj::mv(peer)),
          rpc(makeRpcSystem(guarded, kj::mv(bootstrap), restorer)) {}

    static capnp::RpcSystem<VatId> makeRpcSystem(capnp::TwoPartyVatNetworkBase& network,
                                                 kj::Maybe<capnp::Capability::Client> bootstrap,
                                                 kj::Maybe<kj::Own<ServiceRestorer>>& restorer) {
      KJ_IF_MAYBE(r, restorer) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        return capnp::makeRpcServer(network, **r);
#pragma GCC diagnostic pop
      }
      KJ_IF_MAYBE(client, bootstrap) { return capnp::makeRpcServer(network, kj::mv(*client)); }
      return capnp::makeRpcClient(network);
    }

    // Declared first, destroyed last: the RpcSystem refers to it.
    kj::Maybe<kj::Own<ServiceRestorer>> restorer;
    kj::Own<kj::AsyncIoStream> stream;
    capnp_native::CoalescingMessageStream messages;
    Side side;
    capnp::TwoPartyVatNetwork network;
    // The RpcSystem's view of `network` (limits, tables, lent segments, callers).
    GuardedVatNetwork guarded;
    capnp::RpcSystem<VatId> rpc;
  };

  State& live() {
    KJ_IF_MAYBE(s, state) { return **s; }
    throw ShimError{CAPNP_STATUS_DISCONNECTED, kj::str("the connection was released or its event loop disposed")};
  }

  kj::Maybe<kj::Own<State>> state;
  // Tells the loop when the peer goes away (see Loop::whenConnectionLost).
  kj::Maybe<kj::Promise<void>> lossWatch;
  kj::Maybe<kj::Array<kj::byte>> peerFingerprint;
  kj::String label = kj::str("(unnamed)");
};

// Listens for connections. Either the managed side accepts them one by one (accept(), each
// connection then owned by its handle), or the listener serves (serve()): it accepts by itself,
// at most maxConnections at once, owns each connection and frees it when its peer goes.
class Listener final: public LoopObject {
public:
  using LoopObject::LoopObject;

  // Loop thread.
  // How the listener secures and serves what it accepts.
  struct Offer {
    kj::Maybe<capnp::Capability::Client> bootstrap;
    kj::Maybe<kj::Own<ServiceRestorer>> restorer;
    kj::Maybe<kj::Own<const TlsIdentity>> tls;
    bool requireClientCertificate = false;
    kj::Duration handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT;
    PeerLimits limits = peerLimits(0, 0, 0);
  };

  // `shared` (another descriptor of the listening socket, or -1) and `boundAddress` are what
  // capnp_listener_share needs; they are set here, before the listen's tag completes, and read
  // from the caller's thread after it.
  void start(kj::Own<kj::ConnectionReceiver> receiver, bool tcp, Offer offer,
             kj::Maybe<kj::Own<UnixSocketFile>> socketFile, kj::AutoCloseFd shared, kj::String boundAddress) {
    state = kj::heap<State>(kj::mv(receiver), tcp, kj::mv(offer));
    this->socketFile = kj::mv(socketFile);
    // A listener that can be shared balances what it accepts with the listeners sharing it.
    if (shared.get() >= 0) {
      auto created = kj::atomicRefcounted<AcceptBalance>();
      member = created->join();
      balance = kj::mv(created);
    }
    sharedSocket = kj::mv(shared);
    bound = kj::mv(boundAddress);
    tcpSocket = tcp;
    attach();
  }

  // Loop thread, from capnp_listener_share: this listener accepts from a socket it shares with
  // `primary`'s other listeners, balanced with them.
  void startShared(kj::Own<kj::ConnectionReceiver> receiver, bool tcp, Offer offer, kj::String boundAddress,
                   kj::Own<const AcceptBalance> sharedBalance) {
    start(kj::mv(receiver), tcp, kj::mv(offer), nullptr, kj::AutoCloseFd(), kj::mv(boundAddress));
    member = sharedBalance->join();
    balance = kj::mv(sharedBalance);
  }

  // Caller's thread, after the listen completed: the balance the listeners sharing it join.
  kj::Own<const AcceptBalance> shareBalance() const {
    KJ_IF_MAYBE(b, balance) { return kj::atomicAddRef(**b); }
    throw ShimError{CAPNP_STATUS_INVALID_ARGUMENT, kj::str("the listener is not bound yet, or cannot be shared")};
  }

  // Caller's thread, after the listen completed and before the listener is released: a new
  // descriptor of the listening socket, for a listener on another loop.
  kj::AutoCloseFd duplicateSocket() const {
    requireArgument(sharedSocket.get() >= 0, "the listener is not bound yet, or cannot be shared");
    int fd;
    KJ_SYSCALL(fd = fcntl(sharedSocket.get(), F_DUPFD_CLOEXEC, 0));
    return kj::AutoCloseFd(fd);
  }

  kj::StringPtr boundAddress() const { return bound; }
  bool isTcp() const { return tcpSocket; }

  kj::Promise<Connection*> accept() {
    auto& s = live();
    return s.pendingAccepts.wrap(s.receiver->accept()).then([this](kj::Own<kj::AsyncIoStream> stream) {
      return secure(kj::mv(stream));
    }).then([this](SecuredStream secured) {
      return startConnection(kj::mv(secured));
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
    result.handshake_failures = s.handshakeFailures;
    return result;
  }

  // Every served connection (vat dump).
  kj::String describe() {
    auto& s = live();
    kj::Vector<kj::String> parts(s.served.size());
    for (auto connection: s.served) parts.add(connection->describe());
    return kj::strArray(parts, "");
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
    sharedSocket = kj::AutoCloseFd();
    KJ_IF_MAYBE(b, balance) { (*b)->leave(member); }
  }

private:
  kj::AutoCloseFd sharedSocket;
  kj::Maybe<kj::Own<const AcceptBalance>> balance;
  size_t member = 0;
  kj::String bound;
  bool tcpSocket = false;

  // After a failed accept (e.g. EMFILE: out of file descriptors) the loop waits before trying
  // again, doubling the wait up to the maximum, so exhaustion neither ends serving nor spins.
  static constexpr kj::Duration FIRST_ACCEPT_BACKOFF = 10 * kj::MILLISECONDS;
  static constexpr kj::Duration MAX_ACCEPT_BACKOFF = 1 * kj::SECONDS;

  struct State {
    State(kj::Own<kj::ConnectionReceiver> receiver, bool tcp, Offer offer)
        : receiver(kj::mv(receiver)), tcp(tcp), offer(kj::mv(offer)), tasks(logTaskErrors) {}
    ~State() noexcept(false) {
      // Pending accepts use the receiver: they end before it goes.
      pendingAccepts.cancel(KJ_EXCEPTION(DISCONNECTED, "the listener was released"));
    }

    kj::Own<kj::ConnectionReceiver> receiver;
    bool tcp;
    Offer offer;
    kj::Canceler pendingAccepts;

    // Serving.
    uint32_t maxConnections = 0;
    std::unordered_set<Connection*> served;
    uint32_t peakConnections = 0;
    uint64_t accepted = 0;
    uint64_t acceptFailures = 0;
    // Accepted connections still in their TLS handshake (they count toward the maximum).
    uint32_t handshaking = 0;
    uint64_t handshakeFailures = 0;
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

  // The accepted stream, after the TLS handshake when the listener serves TLS.
  kj::Promise<SecuredStream> secure(kj::Own<kj::AsyncIoStream> stream) {
    auto& s = live();
    if (s.tcp) configureTcpStream(*stream, false);
    auto label = kj::str("accepted from ", peerAddressOf(*stream, s.tcp));
    KJ_IF_MAYBE(identity, s.offer.tls) {
      return withinTimeout(loop(), s.offer.handshakeTimeout,
                           tls::accept(kj::mv(stream), (*identity)->get(), s.offer.requireClientCertificate))
          .then([label = kj::mv(label)](SecuredStream secured) mutable {
            secured.label = kj::mv(label);
            return kj::mv(secured);
          });
    }
    return SecuredStream{kj::mv(stream), nullptr, kj::mv(label)};
  }

  Connection* startConnection(SecuredStream secured) {
    auto& s = live();
    auto connection = new Connection(loop());
    kj::Maybe<capnp::Capability::Client> bootstrap;
    KJ_IF_MAYBE(client, s.offer.bootstrap) { bootstrap = *client; }
    kj::Maybe<kj::Own<ServiceRestorer>> restorer;
    KJ_IF_MAYBE(r, s.offer.restorer) { restorer = kj::addRef(**r); }
    try {
      connection->setPeerFingerprint(kj::mv(secured.peerFingerprint));
      connection->setLabel(kj::mv(secured.label));
      connection->start(kj::mv(secured.stream), Side::SERVER, kj::mv(bootstrap), s.offer.limits,
                        kj::mv(restorer));
    } catch (...) {
      loop().freeReleased(connection);
      throw;
    }
    return connection;
  }

  // Serving: secures an accepted stream beside the accept loop, then serves it. A failed or
  // timed-out handshake drops the connection and is counted.
  // Tells the balance how many connections this listener serves now (handshakes included).
  void connectionsChanged() {
    KJ_IF_MAYBE(b, balance) {
      auto& s = live();
      (*b)->update(member, static_cast<uint32_t>(s.served.size()) + s.handshaking);
    }
  }

  void handshakeThenServe(kj::Own<kj::AsyncIoStream> stream) {
    auto& s = live();
    ++s.handshaking;
    connectionsChanged();
    s.tasks.add(secure(kj::mv(stream))
        .then([this](SecuredStream secured) {
          --live().handshaking;
          serveConnection(startConnection(kj::mv(secured)));
        }, [this](kj::Exception&&) {
          auto& s = live();
          --s.handshaking;
          ++s.handshakeFailures;
          connectionsChanged();
        })
        .then([this]() { slotMayBeFree(); }));
  }

  void slotMayBeFree() {
    auto& s = live();
    KJ_IF_MAYBE(fulfiller, s.slotFreed) {
      (*fulfiller)->fulfill();
      s.slotFreed = nullptr;
    }
  }

  kj::Promise<void> acceptLoop() {
    auto& s = live();
    if (s.served.size() + s.handshaking >= s.maxConnections) {
      // At the limit: further peers wait in the kernel's backlog until a connection goes.
      auto paf = kj::newPromiseAndFulfiller<void>();
      s.slotFreed = kj::mv(paf.fulfiller);
      return paf.promise.then([this]() { return acceptLoop(); });
    }
    KJ_IF_MAYBE(b, balance) {
      if (!(*b)->mayAccept(member)) {
        // Busier than another loop of the vat: let that one take the next peer.
        return s.pendingAccepts.wrap((*b)->whenMayAccept(member)).then([this]() { return acceptLoop(); });
      }
    }
    return s.pendingAccepts.wrap(s.receiver->accept())
        .then([this](kj::Own<kj::AsyncIoStream> stream) -> kj::Promise<void> {
          live().backoff = 0 * kj::SECONDS;
          handshakeThenServe(kj::mv(stream));
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
    connectionsChanged();
    slotMayBeFree();
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


// A listener's options as given to capnp_listen or capnp_listener_share, read on the caller's
// thread (references taken there), made into the listener's Offer on the loop thread.
class ListenOptions {
public:
  ListenOptions(Loop& owner, const capnp_listen_options* options) {
    capnp_listen_options plain;
    memset(&plain, 0, sizeof(plain));
    const auto& given = options == nullptr ? plain : *options;
    // First, so that the restorer tag is released (by its event) whatever fails below.
    if (given.restorer_tag != 0) restorer = kj::refcounted<ServiceRestorer>(owner, given.restorer_tag);
    offered = given.bootstrap == nullptr ? nullptr : &unwrap(given.bootstrap);
    if (given.tls_identity != nullptr) tls = kj::atomicAddRef(*unwrap(given.tls_identity).identity);
    requireClientCertificate = given.require_client_certificate != 0;
    timeout = handshakeTimeout(given.handshake_timeout_ms);
    limits = peerLimits(given.max_outstanding_questions, given.max_unwritten_bytes, given.idle_timeout_ms,
                        given.trace_tables != 0);
  }

  // Loop thread, once.
  Listener::Offer offer() {
    Listener::Offer result;
    result.bootstrap = optionalClient(offered);
    KJ_IF_MAYBE(r, restorer) { (*r)->setBootstrap(optionalClient(offered)); }
    result.restorer = kj::mv(restorer);
    result.tls = kj::mv(tls);
    result.requireClientCertificate = requireClientCertificate;
    result.handshakeTimeout = timeout;
    result.limits = limits;
    return result;
  }

private:
  kj::Maybe<kj::Own<ServiceRestorer>> restorer;
  Cap* offered = nullptr;
  kj::Maybe<kj::Own<const TlsIdentity>> tls;
  bool requireClientCertificate = false;
  kj::Duration timeout = DEFAULT_HANDSHAKE_TIMEOUT;
  PeerLimits limits = peerLimits(0, 0, 0);
};

}  // namespace
}  // namespace capnp_native

extern "C" int32_t capnp_listen(capnp_loop* loop, const char* address, size_t address_len,
                                const capnp_listen_options* options, uint64_t tag,
                                capnp_listener** out_listener) {
  using namespace capnp_native;
  return guarded([&] {
    auto& owner = unwrapLoop(loop);
    ListenOptions given(owner, options);
    requireArgument(tag != 0, "capnp_listen: tag 0 is reserved");
    requireArgument(out_listener != nullptr, "capnp_listen: null out-parameter");
    auto parsed = Address::parse(addressArgument(address, address_len));
    auto listener = new Listener(owner);
    postOrDelete(owner, listener, tag, [listener, parsed = kj::mv(parsed), given = kj::mv(given),
                                        tag](Loop& loop) mutable {
      auto offer = given.offer();
      loop.track(tag, loop.io().provider->getNetwork().parseAddress(parsed.kjAddress)
          .then([&loop, listener, parsed = kj::mv(parsed), offer = kj::mv(offer),
                 tag](kj::Own<kj::NetworkAddress> resolved) mutable {
        kj::Maybe<kj::Own<UnixSocketFile>> socketFile;
        if (!parsed.isTcp) UnixSocketFile::clearStale(parsed.unixPath());
        auto socket = bindAndListen(parsed, *resolved);
        int fd;
        KJ_SYSCALL(fd = fcntl(socket.get(), F_DUPFD_CLOEXEC, 0));
        kj::AutoCloseFd shared(fd);
        auto receiver = loop.io().lowLevelProvider->wrapListenSocketFd(socket.release(), LISTEN_FD_FLAGS);
        if (parsed.isTcp) {
          configureTcpListener(*receiver);
        } else {
          socketFile = kj::heap<UnixSocketFile>(parsed.unixPath());
        }
        auto bound = parsed.isTcp ? kj::str("tcp:", parsed.host, ":", receiver->getPort())
                                  : kj::str(parsed.kjAddress);
        listener->start(kj::mv(receiver), parsed.isTcp, kj::mv(offer), kj::mv(socketFile), kj::mv(shared),
                        kj::heapString(bound));
        loop.finish(tag, CAPNP_STATUS_OK, bound.asBytes());
      }));
    });
    *out_listener = wrap(listener);
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_listener_share(capnp_listener* source, capnp_loop* loop,
                                        const capnp_listen_options* options, uint64_t tag,
                                        capnp_listener** out_listener) {
  using namespace capnp_native;
  return guarded([&] {
    auto& owner = unwrapLoop(loop);
    ListenOptions given(owner, options);
    requireArgument(tag != 0, "capnp_listener_share: tag 0 is reserved");
    requireArgument(out_listener != nullptr, "capnp_listener_share: null out-parameter");
    auto& primary = unwrap(source);
    auto socket = primary.duplicateSocket();
    auto balance = primary.shareBalance();
    auto bound = kj::heapString(primary.boundAddress());
    bool tcp = primary.isTcp();
    auto listener = new Listener(owner);
    postOrDelete(owner, listener, tag, [listener, socket = kj::mv(socket), bound = kj::mv(bound), tcp,
                                        given = kj::mv(given), balance = kj::mv(balance), tag](Loop& loop) mutable {
      auto receiver = loop.io().lowLevelProvider->wrapListenSocketFd(socket.release(), LISTEN_FD_FLAGS);
      // The socket file (unix) stays the primary listener's to remove.
      listener->startShared(kj::mv(receiver), tcp, given.offer(), kj::heapString(bound), kj::mv(balance));
      // Done within the command (nothing was tracked): complete the tag directly.
      complete(tag, CAPNP_STATUS_OK, bound.asBytes());
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

extern "C" int32_t capnp_listener_describe(capnp_listener* listener, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& source = unwrap(listener);
    requireArgument(tag != 0, "capnp_listener_describe: tag 0 is reserved");
    source.loop().post({tag, [&source, tag](Loop&) {
      auto text = source.describe();
      complete(tag, CAPNP_STATUS_OK, text.asBytes());
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
                                 const capnp_connect_options* options, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& owner = unwrapLoop(loop);
    requireArgument(tag != 0, "capnp_connect: tag 0 is reserved");
    capnp_connect_options plain;
    memset(&plain, 0, sizeof(plain));
    const auto& given = options == nullptr ? plain : *options;
    auto parsed = Address::parse(addressArgument(address, address_len));
    Cap* offered = given.bootstrap == nullptr ? nullptr : &unwrap(given.bootstrap);
    // TLS: the identity we present and the fingerprint the server must have.
    kj::Maybe<kj::Own<const TlsIdentity>> tls;
    kj::Array<kj::byte> expected;
    if (given.server_fingerprint != nullptr) {
      requireArgument(given.server_fingerprint_len == tls::FINGERPRINT_BYTES,
                      "capnp_connect: a server fingerprint is 32 bytes (SHA-256)");
      requireArgument(given.tls_identity != nullptr, "capnp_connect: TLS needs an identity to present");
      tls = kj::atomicAddRef(*unwrap(given.tls_identity).identity);
      expected = kj::heapArray<kj::byte>(kj::arrayPtr(given.server_fingerprint, given.server_fingerprint_len));
    }
    auto timeout = handshakeTimeout(given.handshake_timeout_ms);
    auto limits = peerLimits(given.max_outstanding_questions, given.max_unwritten_bytes, given.idle_timeout_ms,
                             given.trace_tables != 0);
    owner.post({tag, [offered, parsed = kj::mv(parsed), tls = kj::mv(tls), expected = kj::mv(expected),
                      timeout, limits, tag](Loop& loop) mutable {
      auto bootstrapClient = optionalClient(offered);
      bool tcp = parsed.isTcp;
      loop.track(tag, loop.io().provider->getNetwork().parseAddress(parsed.kjAddress)
          .then([](kj::Own<kj::NetworkAddress> resolved) {
            return resolved->connect().attach(kj::mv(resolved));
          })
          .then([&loop, tcp, tls = kj::mv(tls), expected = kj::mv(expected), timeout](
                    kj::Own<kj::AsyncIoStream> stream) mutable -> kj::Promise<SecuredStream> {
            if (tcp) configureTcpStream(*stream, true);
            KJ_IF_MAYBE(identity, tls) {
              return withinTimeout(loop, timeout, tls::connect(kj::mv(stream), (*identity)->get(), expected))
                  .attach(kj::mv(*identity));
            }
            return SecuredStream{kj::mv(stream), nullptr, nullptr};
          })
          .then([&loop, bootstrapClient = kj::mv(bootstrapClient), limits, tag,
                 label = kj::str("to ", parsed.isTcp ? kj::str("tcp:", parsed.kjAddress) : kj::str(parsed.kjAddress))](
                    SecuredStream secured) mutable {
            auto connection = new Connection(loop);
            connection->setPeerFingerprint(kj::mv(secured.peerFingerprint));
            connection->setLabel(kj::mv(label));
            connection->start(kj::mv(secured.stream), Side::CLIENT, kj::mv(bootstrapClient), limits);
            finishWithConnection(loop, tag, connection);
          }));
    }});
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_tls_identity_create(const uint8_t* key_pem, size_t key_pem_len,
                                             capnp_tls_identity** out_identity) {
  using namespace capnp_native;
  return guarded([&] {
    requireArgument(key_pem != nullptr && key_pem_len > 0, "capnp_tls_identity_create: empty key");
    requireArgument(out_identity != nullptr, "capnp_tls_identity_create: null out-parameter");
    auto identity = kj::atomicRefcounted<TlsIdentity>(tls::Identity::fromPem(kj::arrayPtr(key_pem, key_pem_len)));
    *out_identity = wrap(new TlsIdentityHandle{kj::mv(identity)});
    return CAPNP_STATUS_OK;
  });
}

extern "C" void capnp_tls_identity_release(capnp_tls_identity* identity) {
  using namespace capnp_native;
  if (identity == nullptr) return;
  guarded([&] {
    delete &unwrap(identity);
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_connection_peer_fingerprint(capnp_connection* connection, uint8_t* out_fingerprint,
                                                     size_t fingerprint_len, int32_t* out_known) {
  using namespace capnp_native;
  return guarded([&] {
    auto& source = unwrap(connection);
    requireArgument(out_known != nullptr, "capnp_connection_peer_fingerprint: null out-parameter");
    *out_known = 0;
    KJ_IF_MAYBE(fingerprint, source.getPeerFingerprint()) {
      requireArgument(out_fingerprint != nullptr && fingerprint_len >= fingerprint->size(),
                      "capnp_connection_peer_fingerprint: the buffer takes 32 bytes");
      memcpy(out_fingerprint, fingerprint->begin(), fingerprint->size());
      *out_known = 1;
    }
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_connection_from_fd(capnp_loop* loop, int32_t fd, int32_t is_server,
                                            capnp_cap* bootstrap, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    requireArgument(fd >= 0, "capnp_connection_from_fd: invalid file descriptor");
    // The descriptor is handed over: the command owns it, so it is closed if the loop refuses the
    // command or stops before running it, and otherwise passed on to the stream.
    kj::AutoCloseFd owned(fd);
    auto& owner = unwrapLoop(loop);
    requireArgument(tag != 0, "capnp_connection_from_fd: tag 0 is reserved");
    Cap* offered = bootstrap == nullptr ? nullptr : &unwrap(bootstrap);
    owner.post({tag, [owned = kj::mv(owned), is_server, offered, tag](Loop& loop) mutable {
      auto stream = loop.io().lowLevelProvider->wrapSocketFd(
          owned.release(), kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
      auto connection = new Connection(loop);
      try {
        connection->start(kj::mv(stream), is_server ? Side::SERVER : Side::CLIENT, optionalClient(offered),
                          peerLimits(0, 0, 0));
      } catch (...) {
        delete connection;
        throw;
      }
      // Not a tracked operation: the command itself completes the tag.
      auto handle = wrap(connection);
      complete(tag, CAPNP_STATUS_OK, bytesOf(handle));
    }});
    return CAPNP_STATUS_OK;
  });
}

namespace capnp_native {
namespace {

// A Cap for the peer's service; a failure to ask (e.g. the peer already left) is a broken one.
Cap* peerServiceCap(Connection& source, kj::Array<kj::byte> serviceId) {
  auto cap = new Cap(source.loop());
  postOrDelete(source.loop(), cap, [&source, cap, serviceId = kj::mv(serviceId)](Loop&) {
    try {
      cap->fill(source.peerService(serviceId));
    } catch (...) {
      auto error = describeCurrentException();
      cap->fill(capnp::Capability::Client(capnp::newBrokenCap(kj::Exception(
          exceptionTypeOf(error.status), __FILE__, __LINE__, kj::mv(error.message)))));
    }
  });
  return cap;
}

}  // namespace
}  // namespace capnp_native

extern "C" int32_t capnp_connection_bootstrap(capnp_connection* connection, capnp_cap** out_cap) {
  using namespace capnp_native;
  return guarded([&] {
    auto& source = unwrap(connection);
    requireArgument(out_cap != nullptr, "capnp_connection_bootstrap: null out-parameter");
    *out_cap = wrap(peerServiceCap(source, nullptr));
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_connection_restore(capnp_connection* connection, const uint8_t* service_id,
                                            size_t service_id_len, capnp_cap** out_cap) {
  using namespace capnp_native;
  return guarded([&] {
    auto& source = unwrap(connection);
    requireArgument(out_cap != nullptr, "capnp_connection_restore: null out-parameter");
    requireArgument(service_id != nullptr || service_id_len == 0, "capnp_connection_restore: null service ID");
    *out_cap = wrap(peerServiceCap(source, kj::heapArray<kj::byte>(kj::arrayPtr(service_id, service_id_len))));
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

extern "C" int32_t capnp_connection_describe(capnp_connection* connection, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& source = unwrap(connection);
    requireArgument(tag != 0, "capnp_connection_describe: tag 0 is reserved");
    source.loop().post({tag, [&source, tag](Loop&) {
      auto text = source.describe();
      complete(tag, CAPNP_STATUS_OK, text.asBytes());
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
