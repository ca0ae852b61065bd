// The loop-bound objects behind the ABI's RPC handles, and their checked wrapping/unwrapping.
// Each handle is a pointer to the C++ object it stands for (the C types are never defined).

#pragma once

#include "loop.h"
#include "runtime.h"
#include "status.h"
#include "tls/tls_identity.h"
#include "transport/coalescing_message_stream.h"

#include <capnp/any.h>
#include <capnp/capability.h>
#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.h>

namespace capnp_native {

// A capability reference. Its Client is set on the loop thread by the command that creates it,
// which always runs before any later command that uses it (one FIFO queue per loop).
class Cap final: public LoopObject {
public:
  explicit Cap(Loop& loop);
  ~Cap() noexcept(false);

  void fill(capnp::Capability::Client client);
  // The client; a released or disposed capability is DISCONNECTED.
  capnp::Capability::Client& client();

protected:
  void dropState() override { state = nullptr; }

private:
  kj::Maybe<capnp::Capability::Client> state;
};

// The pipeline of an outgoing call, or the reason it has none (the call failed to start).
class Pipeline final: public LoopObject {
public:
  using LoopObject::LoopObject;

  void fill(capnp::AnyPointer::Pipeline pipeline);
  void fail(kj::Exception&& reason);
  capnp::Capability::Client getCap(kj::ArrayPtr<const uint16_t> pointerPath);

protected:
  void dropState() override { state = nullptr; }

private:
  kj::Maybe<capnp::AnyPointer::Pipeline> state;
  kj::Maybe<kj::Exception> failure;
};

// A received message flattened for the managed side: a copy of the content in a message of its
// own, whose capabilities became Cap handles. Not loop-bound: freed directly from any thread.
class Message {
public:
  // Loop thread. A message without capabilities that our transport read is not copied: a large
  // one shares the transport's read buffer, a small one borrows it for the delivering callback
  // (whose receiver copies it). Anything else is copied. The view's Caps are owned by whoever
  // takes the view. The message itself may then be freed on any thread.
  explicit Message(Loop& loop, capnp::AnyPointer::Reader content);
  ~Message() noexcept(false);
  KJ_DISALLOW_COPY(Message);

  capnp_message_view view();
  // Loop thread: for a view that was never delivered, releases the Caps it would have handed out.
  void releaseUndeliveredCaps();

private:
  bool readInPlace(capnp::AnyPointer::Reader content);
  void copy(Loop& loop, capnp::AnyPointer::Reader content);
  // Room for `count` segment descriptions in `segments`.
  void allocateSegments(size_t count);

  kj::Maybe<capnp::MallocMessageBuilder> builder;
  // Keeps a shared read buffer (and so `segments`) alive.
  kj::Maybe<kj::Own<const kj::AtomicRefcounted>> shared;
  // The segments: `firstSegment` when there is one (no heap array), else `moreSegments`.
  kj::ArrayPtr<capnp_segment> segments;
  capnp_segment firstSegment = {nullptr, 0};
  kj::Array<capnp_segment> moreSegments;
  kj::Array<capnp_cap*> caps;
  kj::Array<uint64_t> serverTags;
  uint32_t rootIsStruct = 0;
  uint32_t rootSegment = 0;
  uint32_t rootWordOffset = 0;
  uint16_t rootDataWords = 0;
  uint16_t rootPointerCount = 0;
  uint32_t segmentsBorrowed = 0;
};

// The resolving end of a promise capability (see capnp_promise_cap_create).
class Resolver final: public LoopObject {
public:
  using LoopObject::LoopObject;

  // Loop thread.
  void fill(kj::Own<kj::PromiseFulfiller<capnp::Capability::Client>> fulfiller) {
    state = kj::mv(fulfiller);
    attach();
  }

  void resolve(capnp::Capability::Client target) {
    KJ_IF_MAYBE(fulfiller, state) { (*fulfiller)->fulfill(kj::mv(target)); }
  }

  void reject(kj::Exception&& reason) {
    KJ_IF_MAYBE(fulfiller, state) { (*fulfiller)->reject(kj::mv(reason)); }
  }

protected:
  // Dropped unresolved: the engine breaks the promise ("fulfiller was destroyed").
  void dropState() override { state = nullptr; }

private:
  kj::Maybe<kj::Own<kj::PromiseFulfiller<capnp::Capability::Client>>> state;
};

// The object behind a capnp_tls_identity handle: shared, on any thread, by the handle and every
// listener or connection attempt that uses the identity.
class TlsIdentity final: public kj::AtomicRefcounted {
public:
  explicit TlsIdentity(kj::Own<tls::Identity> identity): identity(kj::mv(identity)) {}
  const tls::Identity& get() const { return *identity; }

private:
  kj::Own<tls::Identity> identity;
};

// What a capnp_tls_identity handle points to: the handle's own reference.
struct TlsIdentityHandle {
  kj::Own<const TlsIdentity> identity;
};

class LeasedOutgoingMessage;

// An outgoing message as the managed side describes it: segments and cap handles, read on the
// loop thread when the command runs (the managed side keeps them unchanged until then). A
// message of one segment and at most one capability (nearly every call) is described without
// heap arrays.
struct OutgoingMessage {
  static OutgoingMessage describe(Loop& loop, const capnp_segment* segments, uint32_t segmentCount,
                                  capnp_cap* const* caps, uint32_t capCount);
  // Copies the segments' data now, so the caller's buffers may change once this returns.
  void copySegments();
  // Loop thread: copies the message into target, its capability pointers resolved through caps.
  void copyInto(capnp::AnyPointer::Builder target);
  // As copyInto(target), except that, given the engine message holding target, large blobs are
  // not copied: the message references them where they are (see referenced_segments.h).
  void copyInto(capnp::AnyPointer::Builder target, kj::Maybe<LeasedOutgoingMessage&> referencing);
  bool isEmpty() const { return segmentCount == 0; }
  // The space the message takes, so that the engine builds it in one segment.
  capnp::MessageSize sizeHint() const;
  // The space it takes in the engine's own segments when its large blobs are referenced.
  capnp::MessageSize sizeHintWithoutLargeBlobs() const;

private:
  // Recomputed on each use: the message is moved (into commands), its inline parts with it.
  kj::ArrayPtr<capnp_segment> segments() {
    return segmentCount > 1 ? moreSegments.asPtr() : kj::arrayPtr(&firstSegment, segmentCount);
  }
  kj::ArrayPtr<const capnp_segment> segments() const {
    return segmentCount > 1 ? moreSegments.asPtr() : kj::arrayPtr(&firstSegment, segmentCount);
  }
  kj::ArrayPtr<Cap* const> caps() const {
    return capCount > 1 ? moreCaps.asPtr() : kj::arrayPtr(&firstCap, capCount);
  }
  // Calls `use` with the segments as capnp word arrays (for a SegmentArrayMessageReader).
  template <typename Use>
  void withWordSegments(Use&& use) const;

  uint32_t segmentCount = 0;
  uint32_t capCount = 0;
  capnp_segment firstSegment = {nullptr, 0};
  kj::Array<capnp_segment> moreSegments;
  Cap* firstCap = nullptr;
  kj::Array<Cap*> moreCaps;
  kj::Array<capnp::word> ownedData;  // set by copySegments()
};

class Connection;
class Listener;
class Call;

// Handles <-> objects.
inline capnp_cap* wrap(Cap* cap) { return reinterpret_cast<capnp_cap*>(cap); }
inline capnp_pipeline* wrap(Pipeline* pipeline) { return reinterpret_cast<capnp_pipeline*>(pipeline); }
inline capnp_message* wrap(Message* message) { return reinterpret_cast<capnp_message*>(message); }
inline capnp_connection* wrap(Connection* c) { return reinterpret_cast<capnp_connection*>(c); }
inline capnp_listener* wrap(Listener* l) { return reinterpret_cast<capnp_listener*>(l); }
inline capnp_call* wrap(Call* call) { return reinterpret_cast<capnp_call*>(call); }
inline capnp_resolver* wrap(Resolver* r) { return reinterpret_cast<capnp_resolver*>(r); }
inline capnp_tls_identity* wrap(TlsIdentityHandle* h) { return reinterpret_cast<capnp_tls_identity*>(h); }

inline Cap& unwrap(capnp_cap* cap) {
  requireArgument(cap != nullptr, "null capnp_cap handle");
  return *reinterpret_cast<Cap*>(cap);
}
inline Pipeline& unwrap(capnp_pipeline* pipeline) {
  requireArgument(pipeline != nullptr, "null capnp_pipeline handle");
  return *reinterpret_cast<Pipeline*>(pipeline);
}
inline Connection& unwrap(capnp_connection* connection) {
  requireArgument(connection != nullptr, "null capnp_connection handle");
  return *reinterpret_cast<Connection*>(connection);
}
inline Listener& unwrap(capnp_listener* listener) {
  requireArgument(listener != nullptr, "null capnp_listener handle");
  return *reinterpret_cast<Listener*>(listener);
}
inline TlsIdentityHandle& unwrap(capnp_tls_identity* identity) {
  requireArgument(identity != nullptr, "null capnp_tls_identity handle");
  return *reinterpret_cast<TlsIdentityHandle*>(identity);
}
inline Resolver& unwrap(capnp_resolver* resolver) {
  requireArgument(resolver != nullptr, "null capnp_resolver handle");
  return *reinterpret_cast<Resolver*>(resolver);
}
inline Call& unwrap(capnp_call* call) {
  requireArgument(call != nullptr, "null capnp_call handle");
  return *reinterpret_cast<Call*>(call);
}

// The bytes of a payload struct, for the completion callback.
template <typename T>
kj::ArrayPtr<const kj::byte> bytesOf(const T& value) {
  return kj::arrayPtr(reinterpret_cast<const kj::byte*>(&value), sizeof(T));
}

// Posts a command that fills a newly created object; if the loop refuses the command, the
// object (never seen by the loop) is deleted and the refusal rethrown. tag 0: no completion.
template <typename Func>
void postOrDelete(Loop& loop, LoopObject* created, uint64_t tag, uint64_t leaseTag, Func&& run) {
  try {
    loop.post({tag, kj::fwd<Func>(run), false, leaseTag});
  } catch (...) {
    delete created;
    throw;
  }
}
template <typename Func>
void postOrDelete(Loop& loop, LoopObject* created, uint64_t tag, Func&& run) {
  postOrDelete(loop, created, tag, 0, kj::fwd<Func>(run));
}
template <typename Func>
void postOrDelete(Loop& loop, LoopObject* created, Func&& run) {
  postOrDelete(loop, created, 0, 0, kj::fwd<Func>(run));
}

// Creates a Cap handle for client on the loop thread (attached, so the loop owns its state).
Cap* newAttachedCap(Loop& loop, capnp::Capability::Client client);

// Reads an optional bootstrap cap handle on the loop thread.
kj::Maybe<capnp::Capability::Client> optionalClient(Cap* cap);

}  // namespace capnp_native
