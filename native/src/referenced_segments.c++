#include "referenced_segments.h"
#include "runtime.h"

#include <capnp/rpc.capnp.h>
#include <kj/debug.h>

namespace capnp_native {

LeasedOutgoingMessage::LeasedOutgoingMessage(kj::Own<capnp::OutgoingRpcMessage> inner,
                                             CoalescingMessageStream& stream,
                                             kj::Own<SegmentLease> lease)
    : leaseRef(kj::mv(lease)), inner(kj::mv(inner)), stream(stream) {}

void LeasedOutgoingMessage::send() {
  inner->send();
  // TwoPartyVatNetwork writes the message later, in a continuation (never within send()): the
  // stream learns of the referenced segments before it can see them.
  for (auto segment: referencedSegments) {
    stream.keepUntilWritten(segment, kj::addRef(*leaseRef));
  }
}

// ---------------------------------------------------------------------------------------------

LeaseClaim::LeaseClaim(Loop& loop, kj::Own<SegmentLease> lease): loop(loop), lease(kj::mv(lease)) {
  KJ_REQUIRE(loop.openClaim == nullptr, "lease claims do not nest");
  loop.openClaim = *this;
}

LeaseClaim::~LeaseClaim() noexcept(false) {
  loop.openClaim = nullptr;
}

kj::Own<capnp::OutgoingRpcMessage> LeaseClaim::offer(Loop& loop,
                                                     kj::Own<capnp::OutgoingRpcMessage> inner,
                                                     CoalescingMessageStream& stream) {
  KJ_IF_MAYBE(claim, loop.openClaim) {
    KJ_IF_MAYBE(lease, claim->lease) {
      auto message = kj::heap<LeasedOutgoingMessage>(kj::mv(inner), stream, kj::mv(*lease));
      claim->lease = nullptr;
      claim->message = *message;
      return kj::mv(message);
    }
  }
  return kj::mv(inner);
}

// ---------------------------------------------------------------------------------------------

class LeasingVatNetwork::LeasingConnection final: public capnp::TwoPartyVatNetworkBase::Connection,
                                                 public kj::Refcounted {
public:
  LeasingConnection(LeasingVatNetwork& network, kj::Own<capnp::TwoPartyVatNetworkBase::Connection> inner)
      : network(network), inner(kj::mv(inner)) {}
  ~LeasingConnection() noexcept(false) { network.current = nullptr; }

  bool wraps(Connection& connection) const { return inner.get() == &connection; }

  kj::Own<capnp::RpcFlowController> newStream() override { return inner->newStream(); }

  capnp::rpc::twoparty::VatId::Reader getPeerVatId() override { return inner->getPeerVatId(); }

  kj::Own<capnp::OutgoingRpcMessage> newOutgoingMessage(uint firstSegmentWordSize) override {
    return LeaseClaim::offer(network.loop, inner->newOutgoingMessage(firstSegmentWordSize),
                             network.stream);
  }

  kj::Promise<kj::Maybe<kj::Own<capnp::IncomingRpcMessage>>> receiveIncomingMessage() override {
    auto& limits = network.limits;
    if (limits.maxUnwrittenBytes != 0 && network.inner.getCurrentQueueSize() > limits.maxUnwrittenBytes) {
      // The peer does not read what we send: read nothing more of it until writes catch up.
      return network.stream.whenFlushed().then([this]() { return receiveIncomingMessage(); });
    }
    return inner->receiveIncomingMessage().then([this](kj::Maybe<kj::Own<capnp::IncomingRpcMessage>> message) {
      KJ_IF_MAYBE(m, message) { countQuestions(**m); }
      return kj::mv(message);
    });
  }

  kj::Promise<void> shutdown() override {
    network.shutDown = true;
    return inner->shutdown();
  }

private:
  void countQuestions(capnp::IncomingRpcMessage& message) {
    auto& count = network.outstandingQuestions;
    switch (message.getBody().getAs<capnp::rpc::Message>().which()) {
      case capnp::rpc::Message::CALL:
      case capnp::rpc::Message::BOOTSTRAP:
        ++count;
        break;
      case capnp::rpc::Message::FINISH:
        if (count > 0) --count;
        return;
      default:
        return;
    }
    auto max = network.limits.maxOutstandingQuestions;
    if (max != 0 && count > max) {
      // Thrown from the engine's read loop: it aborts the connection with this reason.
      kj::throwFatalException(KJ_EXCEPTION(FAILED, kj::str(
          "the peer has more than ", max, " questions outstanding (asked and not finished)")));
    }
  }

  LeasingVatNetwork& network;
  kj::Own<capnp::TwoPartyVatNetworkBase::Connection> inner;
};

kj::Own<capnp::TwoPartyVatNetworkBase::Connection> LeasingVatNetwork::wrap(kj::Own<Connection> connection) {
  KJ_IF_MAYBE(existing, current) {
    // TwoPartyVatNetwork hands out its one connection again (e.g. to a side that both offers
    // and requests a bootstrap); the extra reference to it can go.
    KJ_ASSERT(existing->wraps(*connection), "a two-party network has one connection");
    return kj::addRef(*existing);
  }
  auto wrapper = kj::refcounted<LeasingConnection>(*this, kj::mv(connection));
  current = *wrapper;
  return kj::mv(wrapper);
}

kj::Maybe<kj::Own<capnp::TwoPartyVatNetworkBase::Connection>> LeasingVatNetwork::connect(
    capnp::rpc::twoparty::VatId::Reader hostId) {
  KJ_IF_MAYBE(connection, inner.connect(hostId)) {
    return wrap(kj::mv(*connection));
  }
  return nullptr;
}

kj::Promise<kj::Own<capnp::TwoPartyVatNetworkBase::Connection>> LeasingVatNetwork::accept() {
  return inner.accept().then([this](kj::Own<Connection> connection) {
    return wrap(kj::mv(connection));
  });
}

}  // namespace capnp_native
