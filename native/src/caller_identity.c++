#include "caller_identity.h"
#include "transport/coalescing_message_stream.h"

namespace capnp_native {

namespace {

// Where a call's parameter struct lies in its message; null when it is not a readable struct.
const void* parametersAddress(capnp::AnyPointer::Reader params) {
  if (params.getPointerType() != capnp::PointerType::STRUCT) return nullptr;
  // For a struct without data this is where its pointers (or its pointer word) lie: still an
  // address inside the message, or its end.
  return params.getAs<capnp::AnyStruct>().getDataSection().begin();
}

}  // namespace

kj::Maybe<const PeerIdentity&> callerOf(capnp::AnyPointer::Reader params) {
  const void* key = nullptr;
  KJ_IF_MAYBE(exception, kj::runCatchingExceptions([&]() { key = parametersAddress(params); })) {
    return nullptr;
  }
  if (key == nullptr) return nullptr;
  // Only a connection's read observer attaches anything, and only a PeerIdentity to a Call.
  KJ_IF_MAYBE(peer, attachmentOfMessageRead(key)) { return kj::downcast<PeerIdentity>(*peer); }
  return nullptr;
}

}  // namespace capnp_native
