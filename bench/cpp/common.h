// Shared pieces of bench-server, bench-client and transport_test.
#pragma once

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.h>
#include <kj/async-io.h>
#include "coalescing_message_stream.h"

namespace bench {

enum class Transport { PLAIN, COALESCING };

Transport parseTransport(kj::StringPtr name);
kj::StringPtr transportName(Transport transport);

void setNoDelay(kj::AsyncIoStream& stream);
// TCP_NODELAY; ignored for streams that are not TCP sockets.

struct RpcConnection {
  // Member order matters: destroyed bottom-up (RPC system, network, message stream, socket).
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp_native::CoalescingMessageStream> msgStream;  // null for the plain transport
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
};

kj::Own<RpcConnection> newServerConnection(kj::Own<kj::AsyncIoStream> stream, Transport transport,
                                           capnp::Capability::Client bootstrap);
kj::Own<RpcConnection> newClientConnection(kj::Own<kj::AsyncIoStream> stream, Transport transport);
capnp::Capability::Client bootstrapServer(RpcConnection& connection);

}  // namespace bench
