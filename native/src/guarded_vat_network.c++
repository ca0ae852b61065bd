#include "guarded_vat_network.h"
#include "referenced_segments.h"

#include <capnp/rpc.capnp.h>
#include <kj/debug.h>
#include <kj/encoding.h>

namespace capnp_native {

// An outgoing message whose content the tables see as it is sent.
class GuardedVatNetwork::ObservedOutgoingMessage final: public capnp::OutgoingRpcMessage {
public:
  ObservedOutgoingMessage(GuardedVatNetwork& network, kj::Own<capnp::OutgoingRpcMessage> inner)
      : network(network), inner(kj::mv(inner)) {}

  capnp::AnyPointer::Builder getBody() override { return inner->getBody(); }
  void setFds(kj::Array<int> fds) override { inner->setFds(kj::mv(fds)); }
  size_t sizeInWords() override { return inner->sizeInWords(); }

  void send() override {
    network.tables.sent(inner->getBody().asReader().getAs<capnp::rpc::Message>());
    network.logTableChanges();
    network.lastActivity = network.now();
    inner->send();
  }

private:
  GuardedVatNetwork& network;
  kj::Own<capnp::OutgoingRpcMessage> inner;
};

class GuardedVatNetwork::GuardedConnection final: public capnp::TwoPartyVatNetworkBase::Connection,
                                                 public kj::Refcounted {
public:
  GuardedConnection(GuardedVatNetwork& network, kj::Own<capnp::TwoPartyVatNetworkBase::Connection> inner)
      : network(network), inner(kj::mv(inner)) {
    if (network.limits.idleTimeout > 0 * kj::SECONDS) idleWatch = watchIdle().eagerlyEvaluate(nullptr);
  }
  ~GuardedConnection() noexcept(false) { network.current = nullptr; }

  bool wraps(Connection& connection) const { return inner.get() == &connection; }

  kj::Own<capnp::RpcFlowController> newStream() override { return inner->newStream(); }

  capnp::rpc::twoparty::VatId::Reader getPeerVatId() override { return inner->getPeerVatId(); }

  kj::Own<capnp::OutgoingRpcMessage> newOutgoingMessage(uint firstSegmentWordSize) override {
    auto message = LeaseClaim::offer(network.loop, inner->newOutgoingMessage(firstSegmentWordSize),
                                     network.stream);
    return kj::heap<ObservedOutgoingMessage>(network, kj::mv(message));
  }

  kj::Promise<kj::Maybe<kj::Own<capnp::IncomingRpcMessage>>> receiveIncomingMessage() override {
    // Each message is checked as the stream reads it (GuardedVatNetwork::messageRead), so the
    // usual read is the engine's own, with no wrapper promise.
    auto& limits = network.limits;
    if (limits.maxUnwrittenBytes != 0 && network.inner.getCurrentQueueSize() > limits.maxUnwrittenBytes) {
      // The peer does not read what we send: read nothing more of it until writes catch up.
      return network.stream.whenFlushed().then([this]() { return receiveIncomingMessage(); });
    }
    return inner->receiveIncomingMessage();
  }

  kj::Promise<void> shutdown() override {
    network.shutDown = true;
    return inner->shutdown();
  }

private:
  // Wakes when the connection may have been idle for the timeout; closes it if it was and
  // neither side holds anything.
  kj::Promise<void> watchIdle() {
    auto timeout = network.limits.idleTimeout;
    return network.loop.io().provider->getTimer().atTime(network.lastActivity + timeout).then([this, timeout]() {
      auto now = network.now();
      // Something held is not idle, however quiet: the peer may call on it at any time.
      if (!network.tables.isEmpty()) network.lastActivity = now;
      if (now - network.lastActivity < timeout) return watchIdle();
      // Failing the engine's read makes it abort the connection with this reason.
      network.stream.abortReads(KJ_EXCEPTION(DISCONNECTED, kj::str(
          "the connection was idle for ", timeout / kj::MILLISECONDS, " ms with nothing held by either side")));
      return kj::Promise<void>(kj::READY_NOW);
    });
  }

  GuardedVatNetwork& network;
  kj::Own<capnp::TwoPartyVatNetworkBase::Connection> inner;
  kj::Maybe<kj::Promise<void>> idleWatch;
};

GuardedVatNetwork::GuardedVatNetwork(Loop& loop, capnp::TwoPartyVatNetwork& inner,
                                     CoalescingMessageStream& stream, PeerLimits limits,
                                     kj::Own<PeerIdentity> peer)
    : loop(loop), inner(inner), stream(stream), limits(limits), peer(kj::mv(peer)), lastActivity(now()) {
  tables.setTracing(limits.traceTables);
  stream.setReadObserver(*this);
}

GuardedVatNetwork::~GuardedVatNetwork() noexcept(false) { stream.setReadObserver(nullptr); }

kj::Own<kj::Refcounted> GuardedVatNetwork::messageRead(capnp::MessageReader& message) {
  auto body = message.getRoot<capnp::rpc::Message>();
  tables.received(body);
  logTableChanges();
  lastActivity = now();
  auto max = limits.maxOutstandingQuestions;
  if (max != 0 && tables.answerCount() > max) {
    // Fails the engine's read: it aborts the connection with this reason.
    kj::throwFatalException(KJ_EXCEPTION(FAILED, kj::str(
        "the peer has more than ", max, " questions outstanding (asked and not finished)")));
  }
  // The peer made this call (see caller_identity.h).
  if (body.which() == capnp::rpc::Message::CALL) return kj::addRef(*peer);
  return {};
}

kj::TimePoint GuardedVatNetwork::now() { return loop.io().provider->getTimer().now(); }

void GuardedVatNetwork::logTableChanges() {
  if (!limits.traceTables) return;
  auto changes = tables.takeChanges();
  if (changes.size() == 0) return;
  kj::String peerName = kj::str("an anonymous peer");
  KJ_IF_MAYBE(f, peer->fingerprint) {
    auto text = kj::encodeBase64Url(*f);
    size_t length = text.size();
    while (length > 0 && text[length - 1] == '=') --length;
    peerName = kj::str("peer sha-256:", text.slice(0, length));
  }
  for (auto& change: changes) {
    // Straight to the loop's log route at debug severity: KJ_LOG would drop it below its level.
    kj::getExceptionCallback().logMessage(kj::LogSeverity::DBG, __FILE__, __LINE__, 0,
                                          kj::str(peerName, ": ", change));
  }
}

kj::String GuardedVatNetwork::describe() {
  auto quiet = (now() - lastActivity) / kj::MILLISECONDS;
  return kj::str(tables.describe(), "  last message ", quiet, " ms ago; ", inner.getCurrentQueueSize(),
                 " bytes not yet written", shutDown ? "; shut down" : "", "\n");
}

kj::Own<capnp::TwoPartyVatNetworkBase::Connection> GuardedVatNetwork::wrap(kj::Own<Connection> connection) {
  KJ_IF_MAYBE(existing, current) {
    // TwoPartyVatNetwork hands out its one connection again (e.g. to a side that both offers
    // and requests a bootstrap); the extra reference to it can go.
    KJ_ASSERT(existing->wraps(*connection), "a two-party network has one connection");
    return kj::addRef(*existing);
  }
  auto wrapper = kj::refcounted<GuardedConnection>(*this, kj::mv(connection));
  current = *wrapper;
  return kj::mv(wrapper);
}

kj::Maybe<kj::Own<capnp::TwoPartyVatNetworkBase::Connection>> GuardedVatNetwork::connect(
    capnp::rpc::twoparty::VatId::Reader hostId) {
  KJ_IF_MAYBE(connection, inner.connect(hostId)) {
    return wrap(kj::mv(*connection));
  }
  return nullptr;
}

kj::Promise<kj::Own<capnp::TwoPartyVatNetworkBase::Connection>> GuardedVatNetwork::accept() {
  return inner.accept().then([this](kj::Own<Connection> connection) {
    return wrap(kj::mv(connection));
  });
}

}  // namespace capnp_native
