// The RpcSystem's view of one two-party connection: TwoPartyVatNetwork, wrapped so that the
// shim sees every message that passes. It
// - lets outgoing messages reference lent segments (see referenced_segments.h),
// - holds the peer to PeerLimits (questions outstanding, unread answers, idleness),
// - keeps the protocol's tables (RpcTables) for the idle check and the vat dump,
// - attributes each incoming Call to the peer (caller_identity.h).

#pragma once

#include "caller_identity.h"
#include "loop.h"
#include "rpc_tables.h"
#include "transport/coalescing_message_stream.h"

#include <capnp/rpc-twoparty.h>
#include <kj/time.h>

namespace capnp_native {

// What one peer may make a connection hold.
struct PeerLimits {
  // Questions (calls and bootstraps) the peer asked and has not finished: the engine keeps each
  // answer, its results and pipeline until Finish. Beyond this the peer is misbehaving (or
  // attacking: 2 million Bootstraps without Finish grew a server to 3 GB) and the connection is
  // aborted. 0: unlimited.
  uint32_t maxOutstandingQuestions = 0;
  // Bytes sent to the peer and not yet written (it does not read). Beyond this the connection
  // stops reading the peer's messages until writes catch up, so a peer that sends calls and never
  // reads the answers cannot grow our memory. 0: unlimited.
  uint64_t maxUnwrittenBytes = 0;
  // A connection on which neither side holds anything of the other (no questions, answers,
  // imports or exports) and no message passed for this long is closed: a peer that connects and
  // does nothing, or is done, does not keep its descriptor forever. Closing it breaks nothing,
  // since nothing was held. 0: never.
  kj::Duration idleTimeout = 0 * kj::SECONDS;
  // Not a limit: log each change to the import and export tables (debug severity).
  bool traceTables = false;
};

class GuardedVatNetwork final: public capnp::TwoPartyVatNetworkBase,
                               private CoalescingMessageStream::ReadObserver {
public:
  GuardedVatNetwork(Loop& loop, capnp::TwoPartyVatNetwork& inner, CoalescingMessageStream& stream,
                    PeerLimits limits, kj::Own<PeerIdentity> peer);
  ~GuardedVatNetwork() noexcept(false);

  kj::Maybe<kj::Own<Connection>> connect(capnp::rpc::twoparty::VatId::Reader hostId) override;
  kj::Promise<kj::Own<Connection>> accept() override;

  // True once the RpcSystem has shut the connection down (it was lost, aborted or released).
  // From then on TwoPartyVatNetwork cannot send: a bootstrap or restore on it would make 0.9.2
  // throw from a send inside a noexcept frame and abort the process ("already shut down"), so
  // callers must check this before asking the RpcSystem for the peer's capabilities.
  bool isShutDown() const { return shutDown; }

  // The protocol's tables and how long nothing has passed, one line each (vat dump).
  kj::String describe();

private:
  class GuardedConnection;
  class ObservedOutgoingMessage;

  // The RpcSystem tells connections apart by address: every Own handed out for the one
  // two-party connection must point at the same wrapper.
  kj::Own<Connection> wrap(kj::Own<Connection> inner);
  kj::TimePoint now();

  // Every message the peer sends, as the stream reads it: the tables and the questions limit
  // see it, and a Call is attributed to the peer.
  kj::Own<kj::Refcounted> messageRead(capnp::MessageReader& message) override;
  // Logs the table changes the last message made (traceTables).
  void logTableChanges();

  Loop& loop;
  capnp::TwoPartyVatNetwork& inner;
  CoalescingMessageStream& stream;
  PeerLimits limits;
  kj::Own<PeerIdentity> peer;
  kj::Maybe<GuardedConnection&> current;
  bool shutDown = false;
  RpcTables tables;
  // When the last message was received or sent.
  kj::TimePoint lastActivity;
};

}  // namespace capnp_native
