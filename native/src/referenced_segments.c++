#include "referenced_segments.h"
#include "runtime.h"

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

}  // namespace capnp_native
