// The Bench capability served by bench-server (and the RPC test).
#pragma once

#include "bench.capnp.h"

namespace bench {

class BenchImpl final: public ::Bench::Server {
protected:
  kj::Promise<void> ping(PingContext context) override {
    return kj::READY_NOW;
  }

  kj::Promise<void> echo(EchoContext context) override {
    auto data = context.getParams().getData();
    // Size hint: one segment for the whole answer, as a careful C++ server would do.
    context.initResults(capnp::MessageSize { data.size() / sizeof(capnp::word) + 16, 0 })
        .setData(data);
    return kj::READY_NOW;
  }
};

}  // namespace bench
