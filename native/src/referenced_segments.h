// Sending large blobs of a managed message by reference instead of copying them into the
// engine's message.
//
// The engine (0.9.2) builds every outgoing RPC message itself, so the shim copies each managed
// message into it. For a large Data or Text blob the engine's message can instead reference the
// managed bytes (Orphanage::referenceExternalData), provided they stay valid while anything may
// still read them: the engine's message object, and the transport, which writes a sent
// message's segments later, from TwoPartyVatNetwork's own copy of the message object (it keeps
// that alive until the write, not memory the message merely references).
//
// A SegmentLease stands for the managed segments of one message: the managed side lends them
// with a lease tag and frees them when the tag completes, which happens when the last holder
// drops the lease. Holders: the command that carries the message (until it has run), the
// engine's outgoing message (LeasedOutgoingMessage, until the engine destroys it), and the
// stream (from send() until the batch that writes the segment is written, or until writing can
// no longer happen).
//
// Only a message created through GuardedVatNetwork, during a LeaseClaim, may reference the
// segments: a call to an object in this vat, or one queued on a promise, builds a local message
// whose lifetime the shim cannot see, and is copied as before.

#pragma once

#include "loop.h"
#include "objects.h"
#include "transport/coalescing_message_stream.h"

#include <capnp/rpc.h>

namespace capnp_native {

// The engine's outgoing message while it may reference leased segments.
class LeasedOutgoingMessage final: public capnp::OutgoingRpcMessage {
public:
  LeasedOutgoingMessage(kj::Own<capnp::OutgoingRpcMessage> inner, CoalescingMessageStream& stream,
                        kj::Own<SegmentLease> lease);

  // Records that the message references the leased bytes starting at `segmentBegin` (one
  // external segment of the engine's message).
  void referenced(const void* segmentBegin) { referencedSegments.add(segmentBegin); }

  capnp::AnyPointer::Builder getBody() override { return inner->getBody(); }
  void setFds(kj::Array<int> fds) override { inner->setFds(kj::mv(fds)); }
  void send() override;
  size_t sizeInWords() override { return inner->sizeInWords(); }

private:
  // Declared first, destroyed last: the inner message may reference the leased bytes.
  kj::Own<SegmentLease> leaseRef;
  kj::Own<capnp::OutgoingRpcMessage> inner;
  CoalescingMessageStream& stream;
  kj::Vector<const void*> referencedSegments;
};

// While it exists, the next outgoing message a GuardedVatNetwork of `loop` creates holds `lease`
// and is reported by claimed(). Scoped around building one request or one set of results.
class LeaseClaim {
public:
  LeaseClaim(Loop& loop, kj::Own<SegmentLease> lease);
  ~LeaseClaim() noexcept(false);
  KJ_DISALLOW_COPY(LeaseClaim);

  // The message that took the lease, if the engine created one through a GuardedVatNetwork.
  kj::Maybe<LeasedOutgoingMessage&> claimed() { return message; }

  // Called by GuardedVatNetwork: wraps `inner` if a claim of `loop` is open and unclaimed.
  static kj::Own<capnp::OutgoingRpcMessage> offer(Loop& loop, kj::Own<capnp::OutgoingRpcMessage> inner,
                                                  CoalescingMessageStream& stream);

private:
  Loop& loop;
  kj::Maybe<kj::Own<SegmentLease>> lease;
  kj::Maybe<LeasedOutgoingMessage&> message;
};

// Makes the engine's message with `make(sizeHint)` (a request, or a call's results) and fills
// it with `content`: when the running command lent its segments and the engine made an RPC
// message, its large blobs by reference, else by copy. Returns what `make` returned. Loop thread.
template <typename Make>
auto fillEngineMessage(Loop& loop, OutgoingMessage& content, Make&& make)
    -> decltype(make(capnp::MessageSize())) {
  KJ_IF_MAYBE(lease, loop.takeCommandLease()) {
    kj::Maybe<LeasedOutgoingMessage&> referencing;
    auto target = [&]() {
      // Open only while the engine makes the message: nothing else may take the lease.
      LeaseClaim claim(loop, kj::addRef(**lease));
      auto made = make(content.sizeHintWithoutLargeBlobs());
      referencing = claim.claimed();
      return made;
    }();
    // Our own reference (`*lease`) outlives the copy, whoever else holds one.
    content.copyInto(target, referencing);
    return target;
  }
  auto target = make(content.sizeHint());
  content.copyInto(target);
  return target;
}

}  // namespace capnp_native
