// Who made an incoming call: server code may ask for the key fingerprint of the peer whose
// connection carried it.
//
// The engine (0.9.2) does not tell a capability which connection a call came from. But every
// call from a peer arrives as a Call message, and its parameters are read in place in that
// message, which the engine keeps alive until the call is dispatched. So each connection's
// stream attaches the peer to every Call message it reads (GuardedVatNetwork, as the stream's
// ReadObserver), and the server finds the message its parameters lie in by address. Live
// messages never overlap, so a match is exact; a call whose parameters are not in a live Call
// message (a call made in this process, or a peer's call with null parameters) has no known
// caller.

#pragma once

#include <capnp/any.h>
#include <capnp/rpc.h>
#include <kj/array.h>
#include <kj/refcount.h>

namespace capnp_native {

// The peer at the other end of one connection.
struct PeerIdentity final: public kj::Refcounted {
  // The SHA-256 fingerprint of the key it presented over TLS; null when it presented none
  // (an anonymous TLS client) or the connection is plain.
  kj::Maybe<kj::Array<kj::byte>> fingerprint;
};

// The peer whose Call message holds `params`, if any. Loop thread.
kj::Maybe<const PeerIdentity&> callerOf(capnp::AnyPointer::Reader params);

}  // namespace capnp_native
