// Watching a capability for breakage.
//
// The 0.9.2 engine tells nobody when a capability breaks: an import of a lost connection stays
// an import whose calls fail at once. So a watch follows the capability's resolution and, once
// it is settled on a peer, looks again every time a connection of the loop is lost. Looking is
// local: a call is built on the capability but never sent, and the engine builds a broken one
// exactly when the capability's connection is gone.

#include "objects.h"

#include <kj/debug.h>

namespace capnp_native {
namespace {

// Any interface id but Persistent's, which the engine intercepts.
constexpr uint64_t PROBE_INTERFACE_ID = 0;

class ProbeServer final: public capnp::Capability::Server {
public:
  DispatchCallResult dispatchCall(uint64_t, uint16_t,
                                  capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer>) override {
    return {KJ_EXCEPTION(UNIMPLEMENTED, "the brand probe serves no calls"), false};
  }
};

// The brand every in-process server's hook carries. Such capabilities never break.
const void* localServerBrand() {
  static const void* brand =
      capnp::ClientHook::from(capnp::Capability::Client(kj::heap<ProbeServer>()))->getBrand();
  return brand;
}

kj::Promise<void> watchBroken(Loop& loop, kj::Own<capnp::ClientHook> hook) {
  capnp::ClientHook* settled = hook.get();
  for (;;) {
    KJ_IF_MAYBE(next, settled->getResolved()) {
      settled = next;
    } else {
      break;
    }
  }

  if (settled->isError() || settled->isNull()) {
    // Sending a call on a broken capability fails locally with its reason.
    return settled->newCall(PROBE_INTERFACE_ID, 0, nullptr).send().ignoreResult();
  }

  const void* brand = settled->getBrand();
  if (brand == localServerBrand()) return kj::NEVER_DONE;

  KJ_IF_MAYBE(resolution, settled->whenMoreResolved()) {
    // A promise: its resolution may be broken (a rejection is the reason itself). The watch
    // holds the promise meanwhile, as a caller would.
    return resolution->then([&loop](kj::Own<capnp::ClientHook> next) {
      return watchBroken(loop, kj::mv(next));
    }).attach(kj::mv(hook));
  }

  // Settled on a peer: the engine builds a broken request (brand null) once the connection is
  // gone, and a live one (branded with the connection) otherwise.
  auto probe = capnp::RequestHook::from(settled->newCall(PROBE_INTERFACE_ID, 0, nullptr));
  if (brand != nullptr && probe->getBrand() == nullptr) {
    return probe->send().ignoreResult();
  }
  return loop.whenConnectionLost().then([&loop, hook = kj::mv(hook)]() mutable {
    return watchBroken(loop, kj::mv(hook));
  });
}

}  // namespace
}  // namespace capnp_native

extern "C" int32_t capnp_cap_when_broken(capnp_cap* cap, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& target = unwrap(cap);
    requireArgument(tag != 0, "capnp_cap_when_broken: tag 0 is reserved");
    target.loop().post({tag, [&target, tag](Loop& loop) {
      auto hook = capnp::ClientHook::from(target.client());
      // The watch ends only by rejecting with the reason, which completes tag with it.
      loop.track(tag, watchBroken(loop, kj::mv(hook)).then([]() {
        KJ_FAIL_ASSERT("a capability watch ended without a reason");
      }));
    }});
    return CAPNP_STATUS_OK;
  });
}
