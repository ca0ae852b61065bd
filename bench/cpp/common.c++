#include "common.h"

#include <kj/debug.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

namespace bench {

Transport parseTransport(kj::StringPtr name) {
  if (name == "plain") return Transport::PLAIN;
  if (name == "coalescing") return Transport::COALESCING;
  KJ_FAIL_REQUIRE("unknown transport (expected plain or coalescing)", name);
}

kj::StringPtr transportName(Transport transport) {
  return transport == Transport::PLAIN ? "plain" : "coalescing";
}

void setNoDelay(kj::AsyncIoStream& stream) {
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
    int one = 1;
    stream.setsockopt(IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  })) {
    KJ_LOG(WARNING, "could not set TCP_NODELAY", *e);
  }
}

namespace {

kj::Own<RpcConnection> newConnection(kj::Own<kj::AsyncIoStream> stream, Transport transport,
                                     capnp::rpc::twoparty::Side side) {
  auto connection = kj::heap<RpcConnection>();
  connection->stream = kj::mv(stream);
  if (transport == Transport::COALESCING) {
    connection->msgStream = kj::heap<capnp_native::CoalescingMessageStream>(*connection->stream);
    connection->network = kj::heap<capnp::TwoPartyVatNetwork>(*connection->msgStream, side);
  } else {
    connection->network = kj::heap<capnp::TwoPartyVatNetwork>(*connection->stream, side);
  }
  return connection;
}

}  // namespace

kj::Own<RpcConnection> newServerConnection(kj::Own<kj::AsyncIoStream> stream, Transport transport,
                                           capnp::Capability::Client bootstrap) {
  auto connection = newConnection(kj::mv(stream), transport, capnp::rpc::twoparty::Side::SERVER);
  connection->rpc = kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(
      capnp::makeRpcServer(*connection->network, kj::mv(bootstrap)));
  return connection;
}

kj::Own<RpcConnection> newClientConnection(kj::Own<kj::AsyncIoStream> stream, Transport transport) {
  auto connection = newConnection(kj::mv(stream), transport, capnp::rpc::twoparty::Side::CLIENT);
  connection->rpc = kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(
      capnp::makeRpcClient(*connection->network));
  return connection;
}

capnp::Capability::Client bootstrapServer(RpcConnection& connection) {
  capnp::word scratch[4];
  memset(scratch, 0, sizeof(scratch));
  capnp::MallocMessageBuilder message(scratch);
  auto vatId = message.getRoot<capnp::rpc::twoparty::VatId>();
  vatId.setSide(capnp::rpc::twoparty::Side::SERVER);
  return connection.rpc->bootstrap(vatId);
}

}  // namespace bench
