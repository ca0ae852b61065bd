// Spreads accepted connections over the listeners that share one listening socket (one per
// event loop of a vat, see capnp_listener_share).
//
// Left to the kernel, whichever loop calls accept() first takes the next peer, so two peers may
// land on one loop while another idles, and one peer's large messages then stall the other's
// calls. Here a listener accepts only while it serves no more connections than the least busy
// member; the others wait (cross-thread) until the counts even out. A connection still in its
// handshake counts too.

#pragma once

#include <kj/async.h>
#include <kj/mutex.h>
#include <kj/refcount.h>
#include <kj/vector.h>

namespace capnp_native {

class AcceptBalance final: public kj::AtomicRefcounted {
public:
  // Any thread: adds a member serving no connection; returns its index.
  size_t join() const;

  // Any thread: whether the member serves no more connections than any other listening member.
  bool mayAccept(size_t member) const;

  // The member's loop thread: resolves once the member may accept (at once if it may now).
  kj::Promise<void> whenMayAccept(size_t member) const;

  // Any thread: the member now serves `connections`; wakes members that may accept again.
  void update(size_t member, uint32_t connections) const;

  // Any thread: the member stopped listening; it no longer counts toward the least busy.
  void leave(size_t member) const;

private:
  struct Member {
    uint32_t connections = 0;
    bool listening = true;
    kj::Maybe<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> waiting;
  };

  static bool mayAcceptLocked(const kj::Vector<Member>& members, size_t member);
  // Takes the fulfillers of members that may accept now (fulfilled outside the lock).
  static kj::Vector<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> takeReady(kj::Vector<Member>& members);

  kj::MutexGuarded<kj::Vector<Member>> members;
};

}  // namespace capnp_native
