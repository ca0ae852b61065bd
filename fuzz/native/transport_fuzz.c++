// libFuzzer target: CoalescingMessageStream's framing (segment tables, sizes, truncation, limits)
// reading arbitrary bytes from an in-memory kj pipe, checked against capnp's own framing.
//
// Input: byte 0 chooses the stream's options (small read chunks and a small eager-allocation
// limit reach the buffer growth and copy paths with small inputs), byte 1 how the bytes are cut
// into writes (partial segment tables and bodies), the rest is what the peer sends.
// Every message the stream returns must be exactly the one capnp::FlatArrayMessageReader frames
// at the same offset; a framing the reference accepts within the limits must not be refused;
// the stream ends cleanly only at a message boundary.

#include "coalescing_message_stream.h"

#include <capnp/serialize.h>
#include <kj/async-io.h>
#include <kj/debug.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using capnp_native::CoalescingMessageStream;

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "transport_fuzz: %s\n", what);
  abort();
}

struct Env {
  kj::EventLoop loop;
  kj::WaitScope waitScope{loop};
};

Env& env() {
  static Env* e = new Env;  // never destroyed: the process ends with libFuzzer
  return *e;
}

// The reference framing of the message at the start of `bytes`: its segment sizes (words) and
// its total length in bytes, or null when the bytes do not hold a whole message.
struct Framing {
  kj::Vector<size_t> segmentWords;
  size_t totalBytes = 0;
  // The segment count the table states (FlatArrayMessageReader's own count wraps to 0 for 2^32).
  uint64_t statedSegments = 0;
};

kj::Maybe<Framing> referenceFraming(kj::ArrayPtr<const kj::byte> bytes) {
  if (bytes.size() < 8) return nullptr;
  // FlatArrayMessageReader wants aligned words; copy only the whole words present.
  auto words = kj::heapArray<capnp::word>(bytes.size() / 8);
  memcpy(words.begin(), bytes.begin(), words.size() * 8);
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kj::maxValue;
  Framing framing;
  framing.statedSegments = uint64_t(bytes[0] | bytes[1] << 8 | bytes[2] << 16 | uint32_t(bytes[3]) << 24) + 1;
  // Far over any limit: nothing more to know (the stream must refuse it).
  if (framing.statedSegments > 1024) return kj::mv(framing);
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
    capnp::FlatArrayMessageReader reader(words, options);
    framing.totalBytes = (reader.getEnd() - words.begin()) * 8;
    // (An empty ArrayPtr also stands for an empty segment: count by the table.)
    for (uint i = 0; i < framing.statedSegments; ++i) {
      framing.segmentWords.add(reader.getSegment(i).size());
    }
  })) {
    return nullptr;
  }
  return kj::mv(framing);
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  auto& e = env();
  uint8_t config = data[0];
  static const size_t PIECES[] = {1, 3, 8, 13, 64, 500, 4096, 1 << 20};
  size_t piece = PIECES[data[1] & 7];
  auto input = kj::arrayPtr(data + 2, size - 2);

  CoalescingMessageStream::Options options;
  static const size_t CHUNKS[] = {1024, 2048, 4096, 64 * 1024};  // at least 1 KiB (required)
  options.readChunkBytes = CHUNKS[config & 3];
  options.pinRatio = (config & 4) ? 0 : 16;
  options.eagerAllocBytes = (config & 8) ? options.readChunkBytes : 4 * 1024 * 1024;  // >= readChunkBytes (required)
  options.maxSegments = (config & 16) ? 4 : 512;
  options.maxMessageBytes = (config & 32) ? 1024 : 512ull * 1024 * 1024;
  bool keepReaders = config & 64;
  capnp_native::setPoisonReleasedMessages(config & 128);

  capnp::ReaderOptions readerOptions;
  size_t limitBytes = kj::min(readerOptions.traversalLimitInWords * 8, options.maxMessageBytes);

  {
    auto pipe = kj::newTwoWayPipe();
    CoalescingMessageStream stream(*pipe.ends[0], options);
    auto writing = feed(*pipe.ends[1], input, piece).eagerlyEvaluate([](kj::Exception&&) {});

    kj::Vector<kj::Own<capnp::MessageReader>> kept;
    size_t offset = 0;
    for (;;) {
      kj::Maybe<kj::Own<capnp::MessageReader>> next;
      auto error = kj::runCatchingExceptions([&]() {
        next = stream.tryReadMessage(nullptr, readerOptions).wait(e.waitScope)
            .map([](capnp::MessageReaderAndFds&& r) { return kj::mv(r.reader); });
      });
      auto rest = input.slice(offset, input.size());
      auto expected = referenceFraming(rest);
      if (error != nullptr) {
        // Refused: the reference must not see a whole message within the limits here.
        KJ_IF_MAYBE(f, expected) {
          bool withinLimits = f->statedSegments <= options.maxSegments && f->totalBytes <= limitBytes;
          if (withinLimits) fail("the stream refused a message the reference frames within the limits");
        }
        break;
      }
      KJ_IF_MAYBE(reader, next) {
        KJ_IF_MAYBE(f, expected) {
          auto borrowed = [&]() -> kj::Maybe<kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>> {
            auto first = (*reader)->getSegment(0);
            if (first == nullptr) return nullptr;
            return capnp_native::borrowMessageRead(first.begin());
          }();
          for (uint i = 0; i < f->segmentWords.size(); ++i) {
            auto segment = (*reader)->getSegment(i);
            if (segment.size() != f->segmentWords[i]) fail("a segment's size differs from the reference");
            if (segment.size() > 0) {
              // The bytes must be the input's, at the reference's position.
              size_t tableWords = (f->segmentWords.size() + 2) / 2;
              size_t at = tableWords * 8;
              for (uint j = 0; j < i; ++j) at += f->segmentWords[j] * 8;
              if (memcmp(segment.begin(), rest.begin() + at, segment.size() * 8) != 0) {
                fprintf(stderr, "message at %zu, segment %u of %zu (%zu words)\n", offset, i,
                        f->segmentWords.size(), segment.size());
                fail("a segment's bytes differ from the input");
              }
            }
            KJ_IF_MAYBE(b, borrowed) {
              if (i >= b->size() || (*b)[i].begin() != segment.begin()) fail("borrowMessageRead disagrees with the reader");
            }
          }
          if ((*reader)->getSegment(f->segmentWords.size()) != nullptr) fail("more segments than the reference");
          if (f->totalBytes > limitBytes || f->statedSegments > options.maxSegments) {
            fail("the stream accepted a message over its limits");
          }
          offset += f->totalBytes;
        } else {
          fail("the stream returned a message the reference does not frame");
        }
        // Traverse it as the RPC layer would (bounded by the traversal limit).
        kj::runCatchingExceptions([&]() {
          (*reader)->getRoot<capnp::AnyPointer>().targetSize();
        });
        KJ_IF_MAYBE(shared, capnp_native::shareMessageReadInPlace((*reader)->getSegment(0).begin())) {
          (void)shared;
        }
        if (keepReaders) kept.add(kj::mv(*reader));
      } else {
        // Clean end of stream: only at a message boundary.
        if (offset != input.size()) fail("clean end of stream inside a message");
        break;
      }
    }
    kept.clear();
  }
  capnp_native::setPoisonReleasedMessages(false);
  return 0;
}
