// Promise capabilities: a capability usable before its target exists (e.g. from a .NET Task).
// Calls queue in the engine, in order, until the resolver names the target.

#include "handles.h"
#include "objects.h"

#include <kj/debug.h>

extern "C" int32_t capnp_promise_cap_create(capnp_loop* loop, capnp_cap** out_cap,
                                            capnp_resolver** out_resolver) {
  using namespace capnp_native;
  return guarded([&] {
    auto& owner = unwrapLoop(loop);
    requireArgument(out_cap != nullptr && out_resolver != nullptr, "capnp_promise_cap_create: null out-parameter");
    auto cap = new Cap(owner);
    auto resolver = new Resolver(owner);
    try {
      owner.post({0, [cap, resolver](Loop&) {
        auto paf = kj::newPromiseAndFulfiller<capnp::Capability::Client>();
        cap->fill(capnp::Capability::Client(kj::mv(paf.promise)));
        resolver->fill(kj::mv(paf.fulfiller));
      }});
    } catch (...) {
      delete cap;
      delete resolver;
      throw;
    }
    *out_cap = reinterpret_cast<capnp_cap*>(cap);
    *out_resolver = wrap(resolver);
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_resolver_resolve(capnp_resolver* resolver, capnp_cap* target) {
  using namespace capnp_native;
  return guarded([&] {
    auto& consumed = unwrap(resolver);
    KJ_DEFER(consumed.release());
    auto& resolution = unwrap(target);
    requireArgument(&resolution.loop() == &consumed.loop(), "a capability of another event loop was passed");
    consumed.loop().post({0, [&consumed, &resolution](Loop&) { consumed.resolve(resolution.client()); }});
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_resolver_reject(capnp_resolver* resolver, int32_t kind, const char* message,
                                         size_t message_len) {
  using namespace capnp_native;
  return guarded([&] {
    auto& consumed = unwrap(resolver);
    KJ_DEFER(consumed.release());
    requireArgument(kind >= CAPNP_STATUS_FAILED && kind <= CAPNP_STATUS_UNIMPLEMENTED,
                    "exception kind must be a capnp_status between FAILED and UNIMPLEMENTED");
    requireArgument(message != nullptr || message_len == 0, "capnp_resolver_reject: null message");
    auto reason = kj::Exception(exceptionTypeOf(kind), __FILE__, __LINE__, kj::heapString(message, message_len));
    consumed.loop().post({0, [&consumed, reason = kj::mv(reason)](Loop&) mutable {
      consumed.reject(kj::mv(reason));
    }});
    return CAPNP_STATUS_OK;
  });
}
