// Services by ID, as the seed's vats (mirage/capnp-rpc) ask for them: the ID travels as Text in
// Bootstrap.deprecatedObjectId, which 0.9.2 hands to a SturdyRefRestorer<capnp::Text>.

#pragma once

#include "loop.h"

#include <capnp/rpc.h>

namespace capnp_native {

// Answers a peer's request for a service: the empty ID (a plain bootstrap) is the bootstrap
// capability; any other ID is asked of the managed restore hook (CAPNP_EVENT_RESTORE with `tag`),
// whose answer resolves the promise capability returned at once. Shared by a listener and the
// connections it accepted (each RpcSystem refers to it); when the last goes, the tag is told
// (CAPNP_EVENT_RESTORER_RELEASED) and never used again. Made on the thread that asks to listen,
// so that the tag is released even if the loop never runs the command; used on the loop thread.
class ServiceRestorer final: public capnp::SturdyRefRestorer<capnp::Text>, public kj::Refcounted {
public:
  ServiceRestorer(Loop& loop, uint64_t tag);
  ~ServiceRestorer() noexcept(false);
  KJ_DISALLOW_COPY(ServiceRestorer);

  // Loop thread, before the first restore.
  void setBootstrap(kj::Maybe<capnp::Capability::Client> client) { bootstrap = kj::mv(client); }

  capnp::Capability::Client restore(capnp::Text::Reader serviceId) override;

private:
  Loop& loop;
  uint64_t tag;
  kj::Maybe<capnp::Capability::Client> bootstrap;
};

}  // namespace capnp_native
