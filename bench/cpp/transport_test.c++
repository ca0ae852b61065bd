// Tests for capnp_native::CoalescingMessageStream. In-memory kj pipes; no sleeps.

#include <gtest/gtest.h>
#include <cstdio>
#include <unistd.h>
#include <memory>
#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <capnp/serialize.h>
#include <kj/async-io.h>
#include <kj/debug.h>
#include "bench.capnp.h"
#include "bench_impl.h"
#include "coalescing_message_stream.h"

namespace {

using capnp_native::CoalescingMessageStream;

class CountingStream final: public kj::AsyncIoStream {
  // Wraps a stream and counts write() calls; can be told to fail writes.
public:
  explicit CountingStream(kj::AsyncIoStream& inner): inner(inner) {}

  uint writes = 0;
  uint reads = 0;
  bool failWrites = false;

  kj::Promise<size_t> tryRead(void* buffer, size_t minBytes, size_t maxBytes) override {
    ++reads;
    return inner.tryRead(buffer, minBytes, maxBytes);
  }
  kj::Promise<void> write(const void* buffer, size_t size) override {
    ++writes;
    if (failWrites) return KJ_EXCEPTION(DISCONNECTED, "test: write failed");
    return inner.write(buffer, size);
  }
  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override {
    ++writes;
    if (failWrites) return KJ_EXCEPTION(DISCONNECTED, "test: write failed");
    return inner.write(pieces);
  }
  kj::Promise<void> whenWriteDisconnected() override { return inner.whenWriteDisconnected(); }
  void shutdownWrite() override { inner.shutdownWrite(); }

private:
  kj::AsyncIoStream& inner;
};

struct Env {
  kj::EventLoop loop;
  kj::WaitScope waitScope { loop };
  kj::TwoWayPipe pipe = kj::newTwoWayPipe();
};

struct Fixture: public testing::Test {
  // KJ destructors are noexcept(false); gtest's fixture destructor is noexcept.
  std::unique_ptr<Env> env = std::make_unique<Env>();
  kj::WaitScope& waitScope = env->waitScope;
  kj::TwoWayPipe& pipe = env->pipe;
};

// A message whose root is a Data blob of `size` bytes with a recognisable pattern. With a small
// first segment and `multiSegment`, the blob lands in a second segment.
kj::Own<capnp::MallocMessageBuilder> makeMessage(size_t size, uint seed, bool multiSegment = false) {
  auto builder = kj::heap<capnp::MallocMessageBuilder>(
      multiSegment ? 4u : static_cast<uint>(size / 8 + 8),
      capnp::AllocationStrategy::FIXED_SIZE);
  auto data = builder->initRoot<capnp::AnyPointer>().initAs<capnp::Data>(size);
  for (size_t i = 0; i < size; i++) data[i] = static_cast<kj::byte>(i * 7 + seed);
  return builder;
}

void checkMessage(capnp::MessageReader& reader, size_t size, uint seed) {
  auto data = reader.getRoot<capnp::AnyPointer>().getAs<capnp::Data>();
  ASSERT_EQ(data.size(), size);
  for (size_t i = 0; i < size; i++) {
    if (data[i] != static_cast<kj::byte>(i * 7 + seed)) {
      FAIL() << "byte " << i << " differs (seed " << seed << ")";
    }
  }
}

TEST_F(Fixture, RoundTripVariousSizes) {
  CoalescingMessageStream writer(*pipe.ends[0]);
  CoalescingMessageStream reader(*pipe.ends[1]);
  const size_t sizes[] = { 0, 1, 8, 100, 5000, 20000, 70000, 300000 };
  kj::Vector<kj::Own<capnp::MallocMessageBuilder>> messages;
  kj::Vector<kj::Promise<void>> writes;
  uint seed = 0;
  for (size_t size: sizes) {
    for (bool multi: { false, true }) {
      messages.add(makeMessage(size, seed++, multi));
      writes.add(writer.writeMessage(*messages.back()));
    }
  }
  seed = 0;
  for (size_t size: sizes) {
    for (int multi = 0; multi < 2; multi++) {
      auto message = reader.readMessage().wait(waitScope);
      checkMessage(*message, size, seed++);
    }
  }
  kj::joinPromises(writes.releaseAsArray()).wait(waitScope);
}

// Options under which a whole turn's small messages stay queued until the turn ends.
CoalescingMessageStream::Options wholeTurnBatches() {
  CoalescingMessageStream::Options options;
  options.immediateFlushBytes = 1024 * 1024;
  return options;
}

TEST_F(Fixture, ManySmallMessagesInOneTurnAreOneWrite) {
  CountingStream counting(*pipe.ends[0]);
  CoalescingMessageStream writer(counting, wholeTurnBatches());
  CoalescingMessageStream reader(*pipe.ends[1]);
  constexpr uint N = 200;
  kj::Vector<kj::Own<capnp::MallocMessageBuilder>> messages;
  kj::Vector<kj::Promise<void>> writes;
  for (uint i = 0; i < N; i++) {
    messages.add(makeMessage(i % 50, i));
    writes.add(writer.writeMessage(*messages.back()));
  }
  EXPECT_EQ(counting.writes, 0u);  // nothing is written before the end of the turn
  for (uint i = 0; i < N; i++) {
    auto message = reader.readMessage().wait(waitScope);
    checkMessage(*message, i % 50, i);
  }
  kj::joinPromises(writes.releaseAsArray()).wait(waitScope);
  EXPECT_EQ(counting.writes, 1u);
  EXPECT_EQ(writer.getStats().writeCalls, 1u);
  EXPECT_EQ(writer.getStats().messagesWritten, N);
  EXPECT_EQ(reader.getStats().messagesRead, N);
  // The reader took everything with a handful of reads (in-memory pipe: one per write).
  EXPECT_LE(reader.getStats().readCalls, 3u);
}

TEST_F(Fixture, ALongTurnLeavesInPiecesTheReaderCanStartOn) {
  // By default, once immediateFlushBytes (1 KiB) are queued the batch goes out during the turn;
  // what the turn adds meanwhile follows when that write completes, again coalesced.
  CountingStream counting(*pipe.ends[0]);
  CoalescingMessageStream writer(counting);
  CoalescingMessageStream reader(*pipe.ends[1]);
  constexpr uint N = 200;
  kj::Vector<kj::Own<capnp::MallocMessageBuilder>> messages;
  kj::Vector<kj::Promise<void>> writes;
  for (uint i = 0; i < N; i++) {
    messages.add(makeMessage(i % 50, i));
    writes.add(writer.writeMessage(*messages.back()));
  }
  EXPECT_EQ(counting.writes, 1u);  // the first KiB left before the turn ended
  for (uint i = 0; i < N; i++) {
    auto message = reader.readMessage().wait(waitScope);
    checkMessage(*message, i % 50, i);
  }
  kj::joinPromises(writes.releaseAsArray()).wait(waitScope);
  EXPECT_EQ(writer.getStats().messagesWritten, N);
  // Everything queued behind the first write went out together, not message by message.
  EXPECT_EQ(counting.writes, 2u);
}

TEST_F(Fixture, ChainedWritesLikeTwoPartyVatNetworkStillCoalesce) {
  // TwoPartyVatNetwork only calls writeMessage() once the previous write's promise resolved.
  CountingStream counting(*pipe.ends[0]);
  CoalescingMessageStream writer(counting, wholeTurnBatches());
  CoalescingMessageStream reader(*pipe.ends[1]);
  constexpr uint N = 50;
  kj::Vector<kj::Own<capnp::MallocMessageBuilder>> messages;
  for (uint i = 0; i < N; i++) messages.add(makeMessage(24, i));
  kj::Promise<void> chain = kj::READY_NOW;
  for (uint i = 0; i < N; i++) {
    chain = chain.then([&writer, &messages, i]() { return writer.writeMessage(*messages[i]); });
  }
  chain = chain.eagerlyEvaluate(nullptr);
  for (uint i = 0; i < N; i++) {
    auto message = reader.readMessage().wait(waitScope);
    checkMessage(*message, 24, i);
  }
  chain.wait(waitScope);
  EXPECT_EQ(counting.writes, 1u);
}

TEST_F(Fixture, LargeMessageIsWrittenAtOnceAndInOrder) {
  CountingStream counting(*pipe.ends[0]);
  CoalescingMessageStream writer(counting);
  CoalescingMessageStream reader(*pipe.ends[1]);
  auto small1 = makeMessage(10, 1);
  auto big = makeMessage(200000, 2);
  auto small2 = makeMessage(20, 3);
  auto w1 = writer.writeMessage(*small1);
  EXPECT_EQ(counting.writes, 0u);
  auto w2 = writer.writeMessage(*big);
  EXPECT_EQ(counting.writes, 1u);  // over immediateFlushBytes: written without waiting
  auto w3 = writer.writeMessage(*small2);
  checkMessage(*reader.readMessage().wait(waitScope), 10, 1);
  checkMessage(*reader.readMessage().wait(waitScope), 200000, 2);
  checkMessage(*reader.readMessage().wait(waitScope), 20, 3);
  w1.wait(waitScope);
  w2.wait(waitScope);
  w3.wait(waitScope);
  EXPECT_EQ(counting.writes, 2u);
}

TEST_F(Fixture, LargeMessagesAndBufferReuse) {
  CountingStream counting(*pipe.ends[0]);
  CoalescingMessageStream writer(counting);
  CoalescingMessageStream reader(*pipe.ends[1]);
  constexpr size_t SIZE = 1024 * 1024 + 4096;
  for (uint round = 0; round < 6; round++) {
    auto message = makeMessage(SIZE, round, round % 2 == 1);
    auto write = writer.writeMessage(*message);
    {
      auto received = reader.readMessage().wait(waitScope);
      checkMessage(*received, SIZE, round);
    }
    write.wait(waitScope);
  }
  // After the first large message, its buffer comes back from the pool every time.
  EXPECT_LE(reader.getStats().buffersAllocated, 3u);
  EXPECT_LT(reader.getStats().bytesAllocated, 4u * SIZE);
}

TEST_F(Fixture, MessageAboveEagerAllocationGrowsItsBuffer) {
  CoalescingMessageStream writer(*pipe.ends[0]);
  CoalescingMessageStream::Options options;
  options.eagerAllocBytes = 256 * 1024;  // exercise the geometric growth with a 3 MB message
  CoalescingMessageStream reader(*pipe.ends[1], options);
  constexpr size_t SIZE = 3 * 1000 * 1000;
  for (uint round = 0; round < 2; round++) {
    auto small = makeMessage(100, 10 + round);
    auto big = makeMessage(SIZE, round, round == 1);
    auto w1 = writer.writeMessage(*small);
    auto w2 = writer.writeMessage(*big);
    auto w3 = writer.writeMessage(*small);
    checkMessage(*reader.readMessage().wait(waitScope), 100, 10 + round);
    checkMessage(*reader.readMessage().wait(waitScope), SIZE, round);
    checkMessage(*reader.readMessage().wait(waitScope), 100, 10 + round);
    w1.wait(waitScope);
    w2.wait(waitScope);
    w3.wait(waitScope);
  }
  EXPECT_GT(reader.getStats().bytesCopiedOnRead, 0u);
}

TEST_F(Fixture, ALargeMessageIsReadIntoOneBufferWithoutCopies) {
  CoalescingMessageStream writer(*pipe.ends[0]);
  CoalescingMessageStream reader(*pipe.ends[1]);
  constexpr size_t SIZE = 60 * 1024 * 1024;
  auto big = makeMessage(SIZE, 7);
  auto write = writer.writeMessage(*big);
  checkMessage(*reader.readMessage().wait(waitScope), SIZE, 7);
  write.wait(waitScope);
  // The buffer was sized from the segment table: only the first read chunk (which held the
  // segment table) was moved into it, never the growing message (growth copied ~60 MB).
  EXPECT_LE(reader.getStats().bytesCopiedOnRead, CoalescingMessageStream::Options().readChunkBytes);
  EXPECT_LE(reader.getStats().buffersAllocated, 2u);
}

TEST_F(Fixture, ReadersStayValidWhileBuffersAreReused) {
  for (size_t pinRatio: { 0, 16 }) {  // 0: every message in place (pins its chunk)
    kj::TwoWayPipe pipe2 = kj::newTwoWayPipe();
    CoalescingMessageStream writer(*pipe2.ends[0]);
    CoalescingMessageStream::Options options;
    options.pinRatio = pinRatio;
    CoalescingMessageStream reader(*pipe2.ends[1], options);
    constexpr uint N = 400;  // about 1.2 MB of messages: many 64 KiB chunks
    auto sizeOf = [](uint i) -> size_t { return 1000 + i * 17 % 5000; };
    kj::Vector<kj::Own<capnp::MallocMessageBuilder>> messages;
    kj::Vector<kj::Promise<void>> writes;
    for (uint i = 0; i < N; i++) {
      messages.add(makeMessage(sizeOf(i), i));
      writes.add(writer.writeMessage(*messages.back()));
    }
    kj::Vector<kj::Own<capnp::MessageReader>> kept;
    for (uint i = 0; i < N; i++) {
      auto message = reader.readMessage().wait(waitScope);
      if (i % 3 == 0) {
        kept.add(kj::mv(message));  // keeps its chunk (or its copy) alive
      } else {
        checkMessage(*message, sizeOf(i), i);
      }
    }
    for (uint i = 0, k = 0; i < N; i += 3, k++) checkMessage(*kept[k], sizeOf(i), i);
    kj::joinPromises(writes.releaseAsArray()).wait(waitScope);
    if (pinRatio == 0) {
      EXPECT_EQ(reader.getStats().messagesCopied, 0u);
      EXPECT_GT(reader.getStats().buffersAllocated, 5u);  // pinned chunks had to be replaced
    } else {
      EXPECT_GT(reader.getStats().messagesCopied, 0u);
      EXPECT_LT(reader.getStats().messagesCopied, N);
    }
  }
}

TEST_F(Fixture, SmallKeptReadersDoNotPinBuffers) {
  CoalescingMessageStream writer(*pipe.ends[0]);
  CoalescingMessageStream reader(*pipe.ends[1]);
  constexpr uint N = 3000;  // ~ 300 KB: several buffers' worth
  kj::Vector<kj::Own<capnp::MallocMessageBuilder>> messages;
  kj::Vector<kj::Promise<void>> writes;
  for (uint i = 0; i < N; i++) {
    messages.add(makeMessage(80, i));
    writes.add(writer.writeMessage(*messages.back()));
  }
  kj::Vector<kj::Own<capnp::MessageReader>> kept;
  for (uint i = 0; i < N; i++) kept.add(reader.readMessage().wait(waitScope));
  for (uint i = 0; i < N; i++) checkMessage(*kept[i], 80, i);
  kj::joinPromises(writes.releaseAsArray()).wait(waitScope);
  EXPECT_EQ(reader.getStats().messagesCopied, N);
  EXPECT_EQ(reader.getStats().buffersAllocated, 1u);  // one 64 KiB buffer, reused throughout
}

TEST_F(Fixture, CleanEofReturnsNull) {
  CoalescingMessageStream writer(*pipe.ends[0]);
  CoalescingMessageStream reader(*pipe.ends[1]);
  auto a = makeMessage(10, 1);
  auto b = makeMessage(100000, 2);
  auto wa = writer.writeMessage(*a);
  auto wb = writer.writeMessage(*b);
  auto ended = writer.end();
  checkMessage(*reader.readMessage().wait(waitScope), 10, 1);
  checkMessage(*reader.readMessage().wait(waitScope), 100000, 2);
  EXPECT_TRUE(reader.tryReadMessage().wait(waitScope) == nullptr);
  wa.wait(waitScope);
  wb.wait(waitScope);
  ended.wait(waitScope);
  // Writing after end() fails.
  EXPECT_ANY_THROW(writer.writeMessage(*a).wait(waitScope));
}

TEST_F(Fixture, TruncatedMessageThrows) {
  CoalescingMessageStream reader(*pipe.ends[1]);
  auto message = makeMessage(1000, 3);
  auto flat = capnp::messageToFlatArray(*message);
  auto bytes = flat.asBytes();
  auto write = pipe.ends[0]->write(bytes.begin(), bytes.size() - 16)
      .then([this]() { pipe.ends[0]->shutdownWrite(); }).eagerlyEvaluate(nullptr);
  try {
    reader.tryReadMessage().wait(waitScope);
    FAIL() << "expected an exception";
  } catch (const kj::Exception& e) {
    EXPECT_EQ(e.getType(), kj::Exception::Type::DISCONNECTED);
  }
}

TEST_F(Fixture, TruncatedSegmentTableThrows) {
  CoalescingMessageStream reader(*pipe.ends[1]);
  const kj::byte partial[] = { 3, 0, 0, 0, 1, 0, 0, 0, 1, 0 };  // 4 segments, table cut short
  auto write = pipe.ends[0]->write(partial, sizeof(partial))
      .then([this]() { pipe.ends[0]->shutdownWrite(); }).eagerlyEvaluate(nullptr);
  EXPECT_ANY_THROW(reader.tryReadMessage().wait(waitScope));
}

TEST_F(Fixture, HostileSegmentCountRejectedWithoutAllocation) {
  CoalescingMessageStream reader(*pipe.ends[1]);
  const kj::byte header[] = { 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0 };  // 2^32 segments
  auto write = pipe.ends[0]->write(header, sizeof(header));
  try {
    reader.tryReadMessage().wait(waitScope);
    FAIL() << "expected an exception";
  } catch (const kj::Exception& e) {
    EXPECT_NE(e.getDescription().findFirst('s'), nullptr);
  }
  EXPECT_EQ(reader.getStats().buffersAllocated, 1u);  // just the ordinary 64 KiB read buffer
  EXPECT_LE(reader.getStats().bytesAllocated, 64u * 1024);
  // The stream stays failed.
  EXPECT_ANY_THROW(reader.tryReadMessage().wait(waitScope));
  write.wait(waitScope);
}

TEST_F(Fixture, HostileSegmentSizeRejectedWithoutAllocation) {
  CoalescingMessageStream reader(*pipe.ends[1]);
  const kj::byte header[] = { 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,    // 2 segments: 2^32-1 words
                              0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 };  // and 2^32-1 words
  auto write = pipe.ends[0]->write(header, sizeof(header));
  EXPECT_ANY_THROW(reader.tryReadMessage().wait(waitScope));
  EXPECT_LE(reader.getStats().bytesAllocated, 64u * 1024);
  write.wait(waitScope);
}

TEST_F(Fixture, ConfiguredMaximumAndTraversalLimitAreEnforced) {
  {
    CoalescingMessageStream::Options options;
    options.maxMessageBytes = 1024 * 1024;
    CoalescingMessageStream reader(*pipe.ends[1], options);
    auto big = makeMessage(2 * 1024 * 1024, 1);
    auto write = capnp::writeMessage(*pipe.ends[0], *big).eagerlyEvaluate(nullptr);
    EXPECT_ANY_THROW(reader.tryReadMessage().wait(waitScope));
    EXPECT_LE(reader.getStats().bytesAllocated, 64u * 1024);
  }
  {
    kj::TwoWayPipe pipe2 = kj::newTwoWayPipe();
    CoalescingMessageStream reader(*pipe2.ends[1]);
    capnp::ReaderOptions readerOptions;
    readerOptions.traversalLimitInWords = 1000;
    auto big = makeMessage(100000, 1);
    auto write = capnp::writeMessage(*pipe2.ends[0], *big).eagerlyEvaluate(nullptr);
    EXPECT_ANY_THROW(reader.tryReadMessage(readerOptions).wait(waitScope));
  }
}

// Resident memory of this process, in bytes.
size_t residentBytes() {
  size_t pages = 0, resident = 0;
  FILE* statm = fopen("/proc/self/statm", "r");
  if (statm != nullptr) {
    if (fscanf(statm, "%zu %zu", &pages, &resident) != 2) resident = 0;
    fclose(statm);
  }
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

TEST_F(Fixture, HugeDeclaredSizeCostsOnlyTheMemoryOfReceivedData) {
  // A peer declares a 100 MB message (within the limits it was given) and sends 100 KB: the
  // buffer may be reserved, but only the pages that data reached cost memory.
  size_t residentBefore = residentBytes();
  CoalescingMessageStream reader(*pipe.ends[1]);
  capnp::ReaderOptions readerOptions;
  readerOptions.traversalLimitInWords = 200 * 1024 * 1024;
  auto data = kj::heapArray<kj::byte>(100 * 1024);
  memset(data.begin(), 0, data.size());
  data[0] = 0;  // 1 segment
  uint32_t words = 100 * 1000 * 1000 / 8;
  memcpy(data.begin() + 4, &words, 4);
  auto write = pipe.ends[0]->write(data.begin(), data.size())
      .then([this]() { pipe.ends[0]->shutdownWrite(); }).eagerlyEvaluate(nullptr);
  EXPECT_ANY_THROW(reader.tryReadMessage(readerOptions).wait(waitScope));
  EXPECT_LE(residentBytes(), residentBefore + 16u * 1024 * 1024);
}

TEST_F(Fixture, WriteErrorFailsWaitersLaterWritesAndReads) {
  CountingStream counting(*pipe.ends[0]);
  CoalescingMessageStream stream(counting);
  counting.failWrites = true;
  auto small = makeMessage(10, 1);
  auto large = makeMessage(100000, 2);  // above the copy threshold: waits for the flush
  auto read = stream.tryReadMessage();  // pending read on the same stream
  auto w1 = stream.writeMessage(*small);
  auto w2 = stream.writeMessage(*large);
  EXPECT_ANY_THROW(w2.wait(waitScope));
  w1.wait(waitScope);  // accepted into the buffer before the failure
  EXPECT_ANY_THROW(read.wait(waitScope));
  EXPECT_ANY_THROW(stream.writeMessage(*small).wait(waitScope));
  EXPECT_ANY_THROW(stream.end().wait(waitScope));
}

// Lent memory behind a segment (keepUntilWritten): records when the stream lets it go.
class Keeper final: public kj::Refcounted {
public:
  explicit Keeper(bool& released): released(released) {}
  ~Keeper() noexcept(false) { released = true; }

private:
  bool& released;
};

const void* blobSegment(capnp::MallocMessageBuilder& message) {
  auto segments = message.getSegmentsForOutput();
  KJ_ASSERT(segments.size() == 2, "the blob is expected in the second segment");
  return segments[1].begin();
}

TEST_F(Fixture, KeeperOfAWrittenSegmentGoesWhenItsBatchIsWritten) {
  CoalescingMessageStream writer(*pipe.ends[0]);
  CoalescingMessageStream reader(*pipe.ends[1]);
  auto message = makeMessage(300000, 3, true);
  bool released = false;
  writer.keepUntilWritten(blobSegment(*message), kj::refcounted<Keeper>(released));
  auto write = writer.writeMessage(*message);
  waitScope.poll();
  EXPECT_FALSE(released);  // an in-memory pipe's write ends only once the reader has it all
  checkMessage(*reader.readMessage().wait(waitScope), 300000, 3);
  write.wait(waitScope);
  EXPECT_TRUE(released);
}

TEST_F(Fixture, KeeperOfACopiedSegmentGoesAtOnce) {
  CoalescingMessageStream writer(*pipe.ends[0]);
  CoalescingMessageStream reader(*pipe.ends[1]);
  auto message = makeMessage(1000, 4, true);  // under the copy threshold
  bool released = false;
  writer.keepUntilWritten(blobSegment(*message), kj::refcounted<Keeper>(released));
  auto write = writer.writeMessage(*message);
  EXPECT_TRUE(released);
  checkMessage(*reader.readMessage().wait(waitScope), 1000, 4);
  write.wait(waitScope);
}

TEST_F(Fixture, KeepersGoWhenWritesFail) {
  CountingStream counting(*pipe.ends[0]);
  CoalescingMessageStream stream(counting);
  counting.failWrites = true;
  auto written = makeMessage(100000, 5, true);
  auto neverWritten = makeMessage(100000, 6, true);
  bool writtenReleased = false;
  bool neverWrittenReleased = false;
  stream.keepUntilWritten(blobSegment(*written), kj::refcounted<Keeper>(writtenReleased));
  stream.keepUntilWritten(blobSegment(*neverWritten), kj::refcounted<Keeper>(neverWrittenReleased));
  EXPECT_ANY_THROW(stream.writeMessage(*written).wait(waitScope));
  EXPECT_TRUE(writtenReleased);
  // Its message will never be written (writes fail from now on): nothing reads the segment.
  EXPECT_TRUE(neverWrittenReleased);
  bool late = false;
  stream.keepUntilWritten(blobSegment(*neverWritten), kj::refcounted<Keeper>(late));
  EXPECT_TRUE(late);
}

TEST_F(Fixture, KeepersOfUnwrittenSegmentsGoWithTheStream) {
  auto message = makeMessage(100000, 7, true);
  bool released = false;
  {
    CoalescingMessageStream stream(*pipe.ends[0]);
    stream.keepUntilWritten(blobSegment(*message), kj::refcounted<Keeper>(released));
    waitScope.poll();
    EXPECT_FALSE(released);
  }
  EXPECT_TRUE(released);
}

TEST_F(Fixture, FdsAreUnsupported) {
  CoalescingMessageStream stream(*pipe.ends[0]);
  auto message = makeMessage(10, 1);
  int fds[] = { 0 };
  try {
    stream.writeMessage(kj::arrayPtr(fds, 1), *message).wait(waitScope);
    FAIL() << "expected an exception";
  } catch (const kj::Exception& e) {
    EXPECT_EQ(e.getType(), kj::Exception::Type::UNIMPLEMENTED);
  }
  EXPECT_TRUE(stream.getSendBufferSize() == nullptr);  // an in-memory pipe has no SO_SNDBUF
}

TEST_F(Fixture, RpcOverTwoPartyVatNetwork) {
  CountingStream clientCounting(*pipe.ends[0]);
  CoalescingMessageStream clientStream(clientCounting);
  CoalescingMessageStream serverStream(*pipe.ends[1]);
  capnp::TwoPartyVatNetwork clientNetwork(clientStream, capnp::rpc::twoparty::Side::CLIENT);
  capnp::TwoPartyVatNetwork serverNetwork(serverStream, capnp::rpc::twoparty::Side::SERVER);
  auto server = capnp::makeRpcServer(serverNetwork, kj::heap<bench::BenchImpl>());
  auto client = capnp::makeRpcClient(clientNetwork);

  capnp::MallocMessageBuilder vatIdMessage(8);
  auto vatId = vatIdMessage.initRoot<capnp::rpc::twoparty::VatId>();
  vatId.setSide(capnp::rpc::twoparty::Side::SERVER);
  auto bench = client.bootstrap(vatId).castAs<Bench>();

  constexpr uint N = 100;
  auto promises = kj::heapArrayBuilder<kj::Promise<void>>(N);
  for (uint i = 0; i < N; i++) {
    promises.add(bench.pingRequest().send().ignoreResult());
  }
  kj::joinPromises(promises.finish()).wait(waitScope);
  // 100 concurrent calls (plus bootstrap) went out in a handful of writes, not 100+.
  EXPECT_LT(clientCounting.writes, 20u);

  auto payload = kj::heapArray<kj::byte>(1024 * 1024 + 8);
  for (size_t i = 0; i < payload.size(); i++) payload[i] = i * 13;
  for (uint round = 0; round < 3; round++) {
    auto request = bench.echoRequest();
    request.setData(payload);
    auto response = request.send().wait(waitScope);
    ASSERT_EQ(response.getData().size(), payload.size());
    EXPECT_TRUE(response.getData() == payload);
  }
}

}  // namespace
