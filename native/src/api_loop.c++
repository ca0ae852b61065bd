// The ABI functions that create, release and address event loops.

#include "handles.h"
#include "runtime.h"

extern "C" int32_t capnp_loop_create(capnp_loop** out_loop) {
  using namespace capnp_native;
  return guarded([&] {
    requireArgument(out_loop != nullptr, "capnp_loop_create: null out-parameter");
    if (!isInitialized()) {
      throw ShimError{CAPNP_STATUS_NOT_INITIALIZED,
                      kj::str("capnp_initialize must register the completion callback first")};
    }
    *out_loop = wrapLoop(new Loop());
    return CAPNP_STATUS_OK;
  });
}

extern "C" void capnp_loop_release(capnp_loop* loop) {
  using namespace capnp_native;
  if (loop == nullptr) return;
  guarded([&] {
    unwrapLoop(loop).shutdownAndRelease();
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_loop_watch(capnp_loop* loop, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& target = unwrapLoop(loop);
    requireArgument(tag != 0, "capnp_loop_watch: tag 0 is reserved");
    // Never completes by itself: stopping the loop ends every pending operation with its reason.
    target.post({tag, [tag](Loop& self) { self.track(tag, kj::Promise<void>(kj::NEVER_DONE)); }});
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_loop_call_back(capnp_loop* loop, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& target = unwrapLoop(loop);
    requireArgument(tag != 0, "capnp_loop_call_back: tag 0 is reserved");
    // The next turn, never this one: code that yields this way lets the loop poll its I/O first.
    target.post({tag, [tag](Loop&) { complete(tag, CAPNP_STATUS_OK, nullptr); }}, true);
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_loop_route_log(capnp_loop* loop, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& target = unwrapLoop(loop);
    // The command's tag is the log tag: if the loop never runs it, the tag completes DISPOSED.
    target.post({tag, [tag](Loop& self) {
      KJ_IF_MAYBE(previous, self.logTag) {
        if (*previous != 0) complete(*previous, CAPNP_STATUS_DISPOSED, nullptr);
      }
      self.logTag = tag;
    }});
    return CAPNP_STATUS_OK;
  });
}
