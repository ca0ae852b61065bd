#include "restorer.h"
#include "objects.h"
#include "runtime.h"

namespace capnp_native {

ServiceRestorer::ServiceRestorer(Loop& loop, uint64_t tag): loop(loop), tag(tag) {}

ServiceRestorer::~ServiceRestorer() noexcept(false) {
  complete(tag, CAPNP_EVENT_RESTORER_RELEASED, nullptr);
}

capnp::Capability::Client ServiceRestorer::restore(capnp::Text::Reader serviceId) {
  if (serviceId.size() == 0) {
    KJ_IF_MAYBE(client, bootstrap) { return *client; }
    return capnp::Capability::Client(capnp::newBrokenCap(
        "This vat does not expose any public/bootstrap interfaces."));
  }
  auto paf = kj::newPromiseAndFulfiller<capnp::Capability::Client>();
  // The managed side owns the resolver from the event on, and consumes it with its answer.
  auto resolver = new Resolver(loop);
  resolver->fill(kj::mv(paf.fulfiller));
  capnp_restore_request request;
  memset(&request, 0, sizeof(request));
  request.resolver = wrap(resolver);
  request.service_id = serviceId.asBytes().begin();
  request.service_id_len = serviceId.size();
  complete(tag, CAPNP_EVENT_RESTORE, bytesOf(request));
  return capnp::Capability::Client(kj::mv(paf.promise));
}

}  // namespace capnp_native
