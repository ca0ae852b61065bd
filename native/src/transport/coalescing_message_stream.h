// CapnpNative — coalescing, buffered MessageStream for the two-party RPC transport.
//
// The stock transport (`TwoPartyVatNetwork(kj::AsyncIoStream&)`, i.e. AsyncIoMessageStream)
// does one write() per outgoing message and two read()s per incoming message (segment table,
// then body). CoalescingMessageStream replaces it:
//
//   * Writes: every message written during one event-loop turn is queued and the whole queue is
//     sent with a single write(pieces) once the event queue is otherwise empty (kj::evalLast), or
//     after the previous write completes; once `immediateFlushBytes` (1 KiB) are queued, at
//     once, so a long turn's messages leave in pieces the peer can start on. Small messages are
//     copied into a reused output buffer and their write promise resolves at once
//     (TwoPartyVatNetwork chains each write on the previous one, so a promise that waited for
//     the socket would serialize the writes and defeat coalescing). Large messages are
//     referenced in place (zero copy) and their promise resolves when the batch containing them
//     has been handed to the kernel. When the queue is over `maxQueuedBytes`, promises also wait
//     for the flush (back-pressure).
//     A write error fails every promise still waiting, every later write, end(), and the pending
//     read (so the RPC layer sees the failure even if the socket never reports EOF).
//
//   * Reads: the stream reads in large chunks (64 KiB, larger for large messages) and hands out
//     every complete message in the buffer without further system calls. Large messages are read
//     in place: their reader holds a reference on its chunk, so chunks are never overwritten under
//     a live reader, and chunks come from a small pool so 1 MiB messages do not fault in fresh
//     pages each time. Messages under 1/pinRatio of their chunk get a private copy instead, so a
//     long-lived small reader never pins a big buffer.
//
//   * Limits: a segment count above `maxSegments` or a total size above
//     min(ReaderOptions::traversalLimitInWords, maxMessageBytes) is rejected with a kj exception
//     before anything is allocated for the message. A message's buffer is allocated whole (pages
//     are committed as bytes arrive); only messages above eagerAllocBytes grow theirs.
//
// Usage (the stream must outlive the network; destroy the network first):
//
//   kj::Own<kj::AsyncIoStream> socket = ...;
//   capnp_native::CoalescingMessageStream msgStream(*socket);
//   capnp::TwoPartyVatNetwork network(msgStream, capnp::rpc::twoparty::Side::CLIENT);
//   auto rpcSystem = capnp::makeRpcClient(network);
//
// File descriptor passing is not supported: writes with fds throw UNIMPLEMENTED, reads never
// return fds. Not thread-safe: use from the thread of the event loop that owns `inner`.

#pragma once

#include <capnp/serialize-async.h>
#include <kj/async-io.h>
#include <kj/mutex.h>
#include <kj/refcount.h>
#include <kj/vector.h>

namespace capnp_native {

// Keeps the bytes of the message containing `location`, which a CoalescingMessageStream of this
// thread read in place and is still being read, valid beyond its reader (see borrowMessageRead
// for where they are); the reference may be released on any thread. Null for anything else (a
// message built locally, or one the stream copied out of its buffer because it was small). Call
// on the thread of the streams' event loop.
kj::Maybe<kj::Own<const kj::AtomicRefcounted>> shareMessageReadInPlace(const void* location);

// Testing aid: when on, a message's bytes are overwritten once its reader is destroyed (unless
// they were shared), so that anything still reading them reads garbage instead of stale data.
void setPoisonReleasedMessages(bool poison);

// The segments of the message containing `location` that a CoalescingMessageStream of this
// thread read and that is still being read (its reader still exists), whether in place or
// copied; valid only as long as that reader. Call on the thread of the streams' event loop.
kj::Maybe<kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>> borrowMessageRead(
    const void* location);

// What the ReadObserver of the stream that read the message containing `location` attached to
// it, while its reader exists; null for anything else. `location` may also be the end of the
// message (where an empty struct at its end points). Call on the thread of the streams' event
// loop.
kj::Maybe<kj::Refcounted&> attachmentOfMessageRead(const void* location);

class CoalescingMessageStream final: public capnp::MessageStream {
public:
  struct Options {
    size_t readChunkBytes = 64 * 1024;
    // Size of an ordinary read buffer; larger messages get a buffer of their own size.

    size_t pinRatio = 16;
    // A message smaller than 1/pinRatio of its read buffer is copied out for its reader (one
    // allocation + memcpy); larger ones are read in place and keep the buffer alive. This bounds
    // the memory a long-lived reader can pin to pinRatio times its own size. 0: never copy.

    size_t maxMessageBytes = 512ull * 1024 * 1024;
    // Hard cap on one incoming message (segment table included). The effective limit is the
    // smaller of this and ReaderOptions::traversalLimitInWords * 8.

    unsigned maxSegments = 512;
    // Incoming messages with more segments are rejected (same limit as capnp's own reader).

    size_t copyThresholdBytes = 16 * 1024;
    // Outgoing messages up to this size are copied into the output buffer (promise resolves
    // immediately); larger ones are written in place (promise resolves after the flush).

    size_t immediateFlushBytes = 1024;
    // When this much is queued and no write is in progress, write at once instead of at the end
    // of the turn; what the turn adds meanwhile goes out when that write completes. A turn that
    // answers (or makes) many calls thus sends them in a few pieces, and the peer, on another
    // core, works on the first piece while this side builds the rest, instead of both sides
    // taking turns with whole batches. bench/run, 64 pings in flight on 2 cores (about 14 pings
    // per KiB): engine over this transport 236-241k calls/s at 1 KiB, 84-110k at 64 KiB;
    // 512 B and 2 KiB did as well, 4 KiB and 8 KiB markedly worse; CPU per call no higher.
    // Latency (one message per turn) and bulk (messages far over the threshold) are unchanged.

    size_t maxQueuedBytes = 1024 * 1024;
    // When more than this is queued and not yet written, write promises wait for the flush.

    size_t eagerAllocBytes = 64 * 1024 * 1024;
    // Messages up to this size (the default traversal limit) get their full buffer as soon as the
    // segment table is known, so a large message is never re-allocated and copied as it fills
    // (with growth, 8 peers sending 60 MiB messages made the loop copy 51-75 MB at a time and
    // stall for seconds). Announcing a large message gains a peer nothing: a fresh large block is
    // mapped memory that costs pages only as data arrives. Beyond this size (a raised traversal
    // limit) the buffer grows geometrically with the bytes actually received.

    size_t maxPooledBytes = 16 * 1024 * 1024;
    unsigned maxPooledBuffers = 8;
    // Bounds of the pool of idle read buffers.
  };

  explicit CoalescingMessageStream(kj::AsyncIoStream& inner);
  CoalescingMessageStream(kj::AsyncIoStream& inner, Options options);
  ~CoalescingMessageStream() noexcept(false);
  KJ_DISALLOW_COPY(CoalescingMessageStream);

  // Implements capnp::MessageStream ----------------------------------------------------------
  using capnp::MessageStream::tryReadMessage;
  using capnp::MessageStream::readMessage;
  using capnp::MessageStream::writeMessage;
  using capnp::MessageStream::writeMessages;

  kj::Promise<kj::Maybe<capnp::MessageReaderAndFds>> tryReadMessage(
      kj::ArrayPtr<kj::AutoCloseFd> fdSpace,
      capnp::ReaderOptions options = capnp::ReaderOptions(),
      kj::ArrayPtr<capnp::word> scratchSpace = nullptr) override;
  // Returns null on a clean EOF between messages; EOF inside a message is a DISCONNECTED error.
  // `fdSpace` and `scratchSpace` are ignored (no fds are ever returned). Only one read may be
  // outstanding at a time.

  kj::Promise<void> writeMessage(
      kj::ArrayPtr<const int> fds,
      kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) override;
  // `fds` must be empty (UNIMPLEMENTED otherwise).

  kj::Promise<void> writeMessages(
      kj::ArrayPtr<kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>> messages) override;

  kj::Maybe<int> getSendBufferSize() override;

  // Keeps `keeper` until the segment starting at `segmentBegin`, of a message sent after this
  // call, has been written, or until writing it can no longer happen (a write failed, or this
  // stream goes). For a writer whose segments live in memory it must not release while a write
  // may still read them (TwoPartyVatNetwork keeps its own message alive, not memory the message
  // merely references). A segment this stream copies releases its keeper at once.
  void keepUntilWritten(const void* segmentBegin, kj::Own<kj::Refcounted> keeper);

  // Resolves once the next write to the inner stream completes (or at once when nothing is
  // queued); fails when writing fails. For readers that pause while a peer does not read.
  kj::Promise<void> whenFlushed();

  kj::Promise<void> end() override;
  // Flushes everything queued, then shuts down the write side of `inner`.

  // Sees each message as it is read, before the read returns it: a connection that checks its
  // peer's messages does it here rather than by wrapping every read's promise (each wrapper is
  // several heap objects per message). It may throw: that read then fails with the exception,
  // and so does every later one.
  class ReadObserver {
  public:
    // What the message keeps while its reader exists (see attachmentOfMessageRead), or null.
    virtual kj::Own<kj::Refcounted> messageRead(capnp::MessageReader& message) = 0;
  };
  // The observer must outlive the stream's reads, or be removed first (null).
  void setReadObserver(kj::Maybe<ReadObserver&> observer) { readObserver = observer; }

  // Fails the pending read, if any, and every later one with `reason` (e.g. the connection was
  // idle too long). Writes go on.
  void abortReads(kj::Exception&& reason);

  // Statistics (for tests and benchmarks) ----------------------------------------------------
  struct Stats {
    uint64_t messagesWritten = 0;
    uint64_t writeCalls = 0;      // write(pieces) calls on the inner stream
    uint64_t messagesRead = 0;
    uint64_t messagesCopied = 0;     // small messages handed out as private copies
    uint64_t readCalls = 0;       // tryRead() calls on the inner stream
    uint64_t bytesCopiedOnRead = 0;  // partial-message bytes moved between read buffers
    uint64_t buffersAllocated = 0;   // read buffers allocated (not taken from the pool)
    uint64_t bytesAllocated = 0;     // total size of those buffers
  };
  const Stats& getStats() const { return stats; }

  class BufferPool;
  class Chunk;

private:
  struct PieceRef {
    const kj::byte* external;  // null: bytes live in the batch's copy buffer at `offset`
    size_t offset;
    size_t size;
  };

  struct Batch {
    kj::Array<capnp::word> buffer;   // reused between flushes
    size_t used = 0;                 // bytes used in `buffer`
    kj::Vector<PieceRef> pieces;
    kj::Vector<kj::Own<kj::PromiseFulfiller<void>>> waiters;
    kj::Vector<kj::Own<kj::Refcounted>> keepers;  // of referenced segments (keepUntilWritten)
    size_t totalBytes = 0;           // copied + referenced bytes

    kj::byte* reserve(size_t bytes);
    void appendCopied(size_t offset, size_t size);
    void clear();
  };

  kj::AsyncIoStream& inner;
  Options options;
  Stats stats;

  // Write side.
  struct Keeper {
    const void* segmentBegin;
    kj::Own<kj::Refcounted> keeper;
  };
  kj::Vector<Keeper> keepers;  // of segments not yet queued (few: one per large message)
  kj::Own<Batch> pending;    // being filled
  kj::Own<Batch> inFlight;   // being written (or idle, kept for its buffer)
  kj::Vector<kj::ArrayPtr<const kj::byte>> iov;
  enum class FlushState { IDLE, SCHEDULED, WRITING };
  FlushState flushState = FlushState::IDLE;
  bool ended = false;
  kj::Maybe<kj::Exception> writeError;
  kj::Promise<void> flushLoop = nullptr;
  kj::Vector<kj::Own<kj::PromiseFulfiller<void>>> flushWatchers;  // see whenFlushed()

  // Read side.
  kj::Own<const BufferPool> pool;
  kj::Own<Chunk> chunk;      // current read buffer (may be null before the first read)
  size_t readPos = 0;        // first unconsumed byte in `chunk`
  size_t fillEnd = 0;        // end of valid bytes in `chunk`
  bool reading = false;
  bool readEof = false;
  kj::Maybe<kj::Exception> readError;  // sticky: framing is lost after any read failure
  kj::Maybe<ReadObserver&> readObserver;
  kj::Canceler readCanceler;           // last member: cancels the read before buffers go away

  void queueMessage(kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments,
                    bool& mustWait);
  kj::Maybe<kj::Own<kj::Refcounted>> takeKeeper(const void* segmentBegin);
  kj::Promise<void> waitForPendingFlush();
  void startFlush();
  kj::Promise<void> flushOnce();
  void failWrites(kj::Exception&& e);

  kj::Promise<kj::Maybe<kj::Own<capnp::MessageReader>>> readLoop(capnp::ReaderOptions options);
  kj::Maybe<kj::Own<capnp::MessageReader>> tryParse(capnp::ReaderOptions options,
                                                    size_t& needBytes);
  void ensureSpace(size_t needBytes);
};

}  // namespace capnp_native
