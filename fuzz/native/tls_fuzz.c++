// libFuzzer target: the TLS layer's handshake intake (native/src/tls). The input is what a peer
// sends during (and, should a handshake ever complete, after) the handshake; it must end in a
// kj exception or a session, never a crash, a hang or a leak.
//
// Input: byte 0 chooses the side (accept, the listener's; or connect, a client's) and whether a
// client certificate is required, byte 1 how the bytes are cut into writes; the rest is sent.

#include "tls/tls_stream.h"

#include <kj/async-io.h>
#include <kj/debug.h>

namespace {

using namespace capnp_native;

struct Env {
  kj::EventLoop loop;
  kj::WaitScope waitScope{loop};
  kj::Own<tls::Identity> identity = tls::Identity::generateEphemeral();
};

Env& env() {
  static Env* e = new Env;  // never destroyed: the process ends with libFuzzer
  return *e;
}

kj::Promise<void> feed(kj::AsyncIoStream& out, kj::ArrayPtr<const kj::byte> bytes, size_t piece) {
  if (bytes.size() == 0) {
    out.shutdownWrite();
    return kj::READY_NOW;
  }
  auto n = kj::min(piece, bytes.size());
  return out.write(bytes.begin(), n).then([&out, bytes, n, piece]() {
    return feed(out, bytes.slice(n, bytes.size()), piece);
  });
}

// Reads and drops what the other side sends, until it closes.
kj::Promise<void> drain(kj::AsyncIoStream& in, kj::byte* buffer, size_t size) {
  return in.tryRead(buffer, 1, size).then([&in, buffer, size](size_t n) -> kj::Promise<void> {
    if (n == 0) return kj::READY_NOW;
    return drain(in, buffer, size);
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  auto& e = env();
  bool requireClientCertificate = data[0] & 1;
  bool clientSide = data[0] & 2;
  static const size_t PIECES[] = {1, 5, 64, 1 << 20};
  size_t piece = PIECES[data[1] & 3];
  auto input = kj::arrayPtr(data + 2, size - 2);

  auto pipe = kj::newTwoWayPipe();
  auto& peer = *pipe.ends[1];
  kj::byte sink[4096];
  {
    kj::byte expected[tls::FINGERPRINT_BYTES] = {};
    auto handshake = clientSide
        ? tls::connect(kj::mv(pipe.ends[0]), *e.identity, kj::arrayPtr(expected, sizeof(expected)))
        : tls::accept(kj::mv(pipe.ends[0]), *e.identity, requireClientCertificate);
    auto writing = feed(peer, input, piece).eagerlyEvaluate([](kj::Exception&&) {});
    auto draining = drain(peer, sink, sizeof(sink)).eagerlyEvaluate([](kj::Exception&&) {});
    kj::runCatchingExceptions([&]() {
      auto session = handshake.wait(e.waitScope);
      // Should bytes ever make a session: read what else the peer sent, to its end.
      kj::byte buffer[4096];
      while (session.stream->tryRead(buffer, 1, sizeof(buffer)).wait(e.waitScope) > 0) {}
    });
  }
  return 0;
}
