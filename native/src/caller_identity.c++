#include "caller_identity.h"

#include <capnp/rpc.capnp.h>
#include <kj/map.h>

namespace capnp_native {

namespace {

// Live Call messages by the address of their parameters' struct, per loop thread.
thread_local kj::HashMap<const void*, const PeerIdentity*> liveCalls;

// Where a call's parameter struct lies in its message; null when it is not a readable struct.
const void* parametersAddress(capnp::AnyPointer::Reader params) {
  if (params.getPointerType() != capnp::PointerType::STRUCT) return nullptr;
  // For a struct without data this is where its pointers (or its pointer word) lie: still an
  // address inside the message.
  return params.getAs<capnp::AnyStruct>().getDataSection().begin();
}

class AttributedIncomingCall final: public capnp::IncomingRpcMessage {
public:
  AttributedIncomingCall(kj::Own<capnp::IncomingRpcMessage> inner, const void* key, PeerIdentity& peer)
      : inner(kj::mv(inner)), key(key), peer(kj::addRef(peer)) {
    liveCalls.upsert(key, this->peer.get(), [](const PeerIdentity*& existing, const PeerIdentity*&& replacement) {
      existing = replacement;
    });
  }
  ~AttributedIncomingCall() noexcept(false) {
    KJ_IF_MAYBE(registered, liveCalls.find(key)) {
      if (*registered == peer.get()) liveCalls.erase(key);
    }
  }

  capnp::AnyPointer::Reader getBody() override { return inner->getBody(); }
  kj::ArrayPtr<kj::AutoCloseFd> getAttachedFds() override { return inner->getAttachedFds(); }
  size_t sizeInWords() override { return inner->sizeInWords(); }

private:
  kj::Own<capnp::IncomingRpcMessage> inner;
  const void* key;
  kj::Own<PeerIdentity> peer;
};

}  // namespace

kj::Own<capnp::IncomingRpcMessage> attributeIncomingCall(kj::Own<capnp::IncomingRpcMessage> message,
                                                         PeerIdentity& peer) {
  auto body = message->getBody().getAs<capnp::rpc::Message>();
  if (body.which() != capnp::rpc::Message::CALL) return message;
  auto key = parametersAddress(body.getCall().getParams().getContent());
  if (key == nullptr) return message;
  return kj::heap<AttributedIncomingCall>(kj::mv(message), key, peer);
}

kj::Maybe<const PeerIdentity&> callerOf(capnp::AnyPointer::Reader params) {
  const void* key = nullptr;
  KJ_IF_MAYBE(exception, kj::runCatchingExceptions([&]() { key = parametersAddress(params); })) {
    return nullptr;
  }
  if (key == nullptr) return nullptr;
  KJ_IF_MAYBE(peer, liveCalls.find(key)) { return **peer; }
  return nullptr;
}

}  // namespace capnp_native
