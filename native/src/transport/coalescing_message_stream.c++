// CapnpNative — coalescing, buffered MessageStream. See coalescing_message_stream.h.

#include "coalescing_message_stream.h"

#include <kj/debug.h>
#include <atomic>
#include <map>
#include <string.h>
#include <sys/socket.h>

namespace capnp_native {

namespace {

constexpr size_t WORD_BYTES = sizeof(capnp::word);

inline uint32_t readLe32(const kj::byte* p) {
  return static_cast<uint32_t>(p[0]) |
         (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

inline void writeLe32(kj::byte* p, uint32_t v) {
  p[0] = static_cast<kj::byte>(v);
  p[1] = static_cast<kj::byte>(v >> 8);
  p[2] = static_cast<kj::byte>(v >> 16);
  p[3] = static_cast<kj::byte>(v >> 24);
}

inline size_t tableBytesFor(size_t segmentCount) {
  // 4 bytes of (count - 1), 4 bytes per segment size, padded to a whole word.
  return (segmentCount / 2 + 1) * WORD_BYTES;
}

inline size_t roundUp(size_t n, size_t unit) {
  return (n + unit - 1) / unit * unit;
}

}  // namespace

// =======================================================================================
// Read buffers

class CoalescingMessageStream::BufferPool final: public kj::AtomicRefcounted {
  // Idle read buffers. Refcounted because buffers come back when the last reader pointing into
  // them is destroyed, which may be after the stream itself is gone, and on another thread
  // (a message shared with shareMessageReadInPlace): hence the atomic count and the lock.
public:
  BufferPool(size_t maxBytes, uint maxBuffers): maxBytes(maxBytes), maxBuffers(maxBuffers) {}

  kj::Array<capnp::word> take(size_t minBytes, size_t allocBytes, Stats& stats) const {
    {
      // Smallest pooled buffer of at least `minBytes`, else a new one of `allocBytes`.
      auto idle = state.lockExclusive();
      auto& free = idle->free;
      size_t best = free.size();
      for (size_t i = 0; i < free.size(); i++) {
        size_t size = free[i].size() * WORD_BYTES;
        if (size >= minBytes && (best == free.size() || size < free[best].size() * WORD_BYTES)) {
          best = i;
        }
      }
      if (best < free.size()) {
        auto result = kj::mv(free[best]);
        idle->pooledBytes -= result.size() * WORD_BYTES;
        if (best != free.size() - 1) free[best] = kj::mv(free.back());
        free.removeLast();
        return result;
      }
    }
    ++stats.buffersAllocated;
    stats.bytesAllocated += roundUp(allocBytes, WORD_BYTES);
    // heapArray of a trivial type does not zero-fill: no page is touched until data arrives.
    return kj::heapArray<capnp::word>(roundUp(allocBytes, WORD_BYTES) / WORD_BYTES);
  }

  void give(kj::Array<capnp::word> buffer) const {
    size_t size = buffer.size() * WORD_BYTES;
    auto idle = state.lockExclusive();
    if (idle->free.size() < maxBuffers && idle->pooledBytes + size <= maxBytes) {
      idle->pooledBytes += size;
      idle->free.add(kj::mv(buffer));
    }
    // else: dropped (freed once the lock is released).
  }

private:
  struct Idle {
    size_t pooledBytes = 0;
    kj::Vector<kj::Array<capnp::word>> free;
  };

  size_t maxBytes;
  uint maxBuffers;
  kj::MutexGuarded<Idle> state;
};

class CoalescingMessageStream::Chunk final: public kj::AtomicRefcounted {
  // One read buffer. The stream holds a reference while it reads into it; every message reader
  // handed out holds one while it points into it, and so does a message shared with another
  // thread, which may drop the last reference.
public:
  Chunk(kj::Array<capnp::word> storage, kj::Own<const BufferPool> pool)
      : storage(kj::mv(storage)), pool(kj::mv(pool)) {}
  ~Chunk() noexcept(false) {
    pool->give(kj::mv(storage));
  }

  kj::byte* bytes() { return reinterpret_cast<kj::byte*>(storage.begin()); }
  size_t capacity() const { return storage.size() * WORD_BYTES; }
  bool shared() const { return isShared(); }

private:
  kj::Array<capnp::word> storage;
  kj::Own<const BufferPool> pool;
};

namespace {

class ChunkMessageReader;

// Hands out nodes of one type from a per-thread free list, so that a container whose size goes
// up and down by one per message (below) does not call malloc and free for every message. Keeps
// at most MAX_FREE nodes; single nodes only.
template <typename T>
class RecyclingAllocator {
public:
  using value_type = T;
  RecyclingAllocator() = default;
  template <typename U>
  RecyclingAllocator(const RecyclingAllocator<U>&) noexcept {}

  T* allocate(size_t count) {
    auto& free = freeNodes();
    if (count == 1 && free.head != nullptr) {
      auto node = free.head;
      free.head = node->next;
      --free.count;
      return reinterpret_cast<T*>(node);
    }
    return static_cast<T*>(operator new(sizeof(T) * count));
  }
  void deallocate(T* pointer, size_t count) noexcept {
    auto& free = freeNodes();
    if (count == 1 && free.alive && free.count < MAX_FREE) {
      auto node = reinterpret_cast<FreeNode*>(pointer);
      node->next = free.head;
      free.head = node;
      ++free.count;
      return;
    }
    operator delete(pointer);
  }
  template <typename U>
  bool operator==(const RecyclingAllocator<U>&) const noexcept { return true; }
  template <typename U>
  bool operator!=(const RecyclingAllocator<U>&) const noexcept { return false; }

private:
  struct FreeNode { FreeNode* next; };
  static_assert(sizeof(T) >= sizeof(FreeNode) && alignof(T) >= alignof(FreeNode));
  static constexpr size_t MAX_FREE = 1024;

  struct FreeList {
    FreeNode* head = nullptr;
    size_t count = 0;
    // False once the thread's list is gone: a node freed later (by a container destroyed after
    // it at thread exit) goes straight back to the heap.
    bool alive = true;
    ~FreeList() {
      while (head != nullptr) {
        auto next = head->next;
        operator delete(head);
        head = next;
      }
      alive = false;
    }
  };
  static FreeList& freeNodes() {
    static thread_local FreeList list;
    return list;
  }
};

// The messages this thread's streams have read and not yet released, by the address of their
// first segment, so that borrowMessageRead and shareMessageReadInPlace find them. The segments
// of one message are contiguous (as on the wire) and messages never overlap.
using ReadersByStart = std::map<const capnp::word*, ChunkMessageReader*, std::less<const capnp::word*>,
                                RecyclingAllocator<std::pair<const capnp::word* const, ChunkMessageReader*>>>;
thread_local ReadersByStart messagesBeingRead;

std::atomic<bool> poisonReleasedMessages{false};
constexpr kj::byte POISON = 0xAB;

class ChunkMessageReader final: public capnp::MessageReader {
  // A message read in place: either from a chunk, which it keeps alive, or from a private copy
  // that lies right after the reader, in the same allocation (see copyOf).
public:
  ChunkMessageReader(capnp::ReaderOptions options, kj::Own<const kj::AtomicRefcounted> chunk,
                     const capnp::word* start, const kj::byte* table, uint segmentCount)
      : capnp::MessageReader(options), chunk(kj::mv(chunk)), begin(start) {
    if (segmentCount > INLINE_SEGMENTS) {
      moreSegments = kj::heapArray<kj::ArrayPtr<const capnp::word>>(segmentCount);
      segs = moreSegments;
    } else {
      segs = kj::arrayPtr(inlineSegments, segmentCount);
    }
    for (uint i = 0; i < segmentCount; i++) {
      size_t words = readLe32(table + 4 + 4 * i);
      segs[i] = kj::arrayPtr(start, words);
      start += words;
    }
    end = start;
    if (end > begin) messagesBeingRead[begin] = this;
  }

  ~ChunkMessageReader() noexcept(false) {
    if (end > begin) messagesBeingRead.erase(begin);
    if (!sharedOut && poisonReleasedMessages.load(std::memory_order_relaxed)) {
      // These bytes are this message's alone (a shared message's stay intact for its holder).
      memset(const_cast<capnp::word*>(begin), POISON, (end - begin) * sizeof(capnp::word));
    }
  }

  kj::ArrayPtr<const capnp::word> getSegment(uint id) override {
    if (id >= segs.size()) return nullptr;
    return segs[id];
  }

  bool contains(const void* location) const {
    auto word = reinterpret_cast<const capnp::word*>(location);
    return word >= begin && word < end;
  }

  // Null for a message the stream copied out of its buffer (nothing to share across threads).
  kj::Maybe<kj::Own<const kj::AtomicRefcounted>> share() const {
    if (chunk.get() == nullptr) return nullptr;
    sharedOut = true;
    return kj::atomicAddRef(*chunk);
  }

  kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments() const { return segs; }

  bool containsOrEnds(const void* location) const {
    auto word = reinterpret_cast<const capnp::word*>(location);
    return word >= begin && word <= end;
  }

  // Set once, by the stream's ReadObserver, before the reader is handed out.
  kj::Own<kj::Refcounted> attachment;

  // A reader of a private copy of the message whose segment table starts at `table`: one
  // allocation holds both (a small message is one heap block, not two).
  static kj::Own<ChunkMessageReader> copyOf(capnp::ReaderOptions options, const kj::byte* table,
                                            size_t tableBytes, size_t messageBytes, uint segmentCount) {
    constexpr size_t readerBytes = (sizeof(ChunkMessageReader) + WORD_BYTES - 1) / WORD_BYTES * WORD_BYTES;
    void* block = operator new(readerBytes + messageBytes);
    kj::byte* copy = reinterpret_cast<kj::byte*>(block) + readerBytes;
    memcpy(copy, table, messageBytes);
    ChunkMessageReader* reader;
    KJ_IF_MAYBE(exception, kj::runCatchingExceptions([&]() {
      reader = new (block) ChunkMessageReader(options, kj::Own<const kj::AtomicRefcounted>(),
                                              reinterpret_cast<const capnp::word*>(copy + tableBytes),
                                              copy, segmentCount);
    })) {
      operator delete(block);
      kj::throwFatalException(kj::mv(*exception));
    }
    return kj::Own<ChunkMessageReader>(reader, CopyDisposer::instance);
  }

private:
  static constexpr uint INLINE_SEGMENTS = 4;

  // Destroys a reader made by copyOf and frees its block.
  class CopyDisposer final: public kj::Disposer {
  public:
    static const CopyDisposer instance;
  protected:
    void disposeImpl(void* pointer) const override {
      static_cast<ChunkMessageReader*>(pointer)->~ChunkMessageReader();
      operator delete(pointer);
    }
  };

  kj::Own<const kj::AtomicRefcounted> chunk;
  kj::ArrayPtr<const capnp::word> inlineSegments[INLINE_SEGMENTS];
  kj::Array<kj::ArrayPtr<const capnp::word>> moreSegments;
  // The segment table: inlineSegments, or moreSegments for messages with many segments.
  kj::ArrayPtr<kj::ArrayPtr<const capnp::word>> segs;
  const capnp::word* begin;
  const capnp::word* end;
  mutable bool sharedOut = false;
};

const ChunkMessageReader::CopyDisposer ChunkMessageReader::CopyDisposer::instance;

}  // namespace

namespace {

// The reader whose message starts at or before `location`, if any (a candidate only).
kj::Maybe<ChunkMessageReader&> lastReaderFrom(const void* location) {
  auto word = reinterpret_cast<const capnp::word*>(location);
  auto next = messagesBeingRead.upper_bound(word);
  if (next == messagesBeingRead.begin()) return nullptr;
  return *std::prev(next)->second;
}

kj::Maybe<const ChunkMessageReader&> findReader(const void* location) {
  KJ_IF_MAYBE(candidate, lastReaderFrom(location)) {
    if (candidate->contains(location)) return *candidate;
  }
  return nullptr;
}

}  // namespace

void setPoisonReleasedMessages(bool poison) {
  poisonReleasedMessages.store(poison, std::memory_order_relaxed);
}

kj::Maybe<kj::Own<const kj::AtomicRefcounted>> shareMessageReadInPlace(const void* location) {
  KJ_IF_MAYBE(reader, findReader(location)) return reader->share();
  return nullptr;
}

kj::Maybe<kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>> borrowMessageRead(
    const void* location) {
  KJ_IF_MAYBE(reader, findReader(location)) return reader->segments();
  return nullptr;
}

kj::Maybe<kj::Refcounted&> attachmentOfMessageRead(const void* location) {
  // A message's end is never the start of the next one's segments (its table lies between).
  KJ_IF_MAYBE(candidate, lastReaderFrom(location)) {
    if (candidate->containsOrEnds(location) && candidate->attachment.get() != nullptr) {
      return *candidate->attachment;
    }
  }
  return nullptr;
}

// =======================================================================================
// Output batches

kj::byte* CoalescingMessageStream::Batch::reserve(size_t bytes) {
  if (buffer.size() * WORD_BYTES - used < bytes) {
    size_t newSize = kj::max(buffer.size() * WORD_BYTES * 2, roundUp(used + bytes, 8192));
    auto newBuffer = kj::heapArray<capnp::word>(newSize / WORD_BYTES);
    if (used > 0) memcpy(newBuffer.begin(), buffer.begin(), used);
    buffer = kj::mv(newBuffer);
  }
  kj::byte* result = reinterpret_cast<kj::byte*>(buffer.begin()) + used;
  used += bytes;
  return result;
}

void CoalescingMessageStream::Batch::appendCopied(size_t offset, size_t size) {
  totalBytes += size;
  if (!pieces.empty()) {
    auto& last = pieces.back();
    if (last.external == nullptr && last.offset + last.size == offset) {
      last.size += size;
      return;
    }
  }
  pieces.add(PieceRef { nullptr, offset, size });
}

void CoalescingMessageStream::Batch::clear() {
  if (buffer.size() * WORD_BYTES > 4 * 1024 * 1024) {
    buffer = nullptr;  // after an unusual burst, do not keep a huge buffer forever
  }
  used = 0;
  pieces.clear();
  waiters.clear();
  keepers.clear();
  totalBytes = 0;
}

// =======================================================================================

CoalescingMessageStream::CoalescingMessageStream(kj::AsyncIoStream& inner)
    : CoalescingMessageStream(inner, Options()) {}

CoalescingMessageStream::CoalescingMessageStream(kj::AsyncIoStream& inner, Options options)
    : inner(inner), options(options),
      pending(kj::heap<Batch>()), inFlight(kj::heap<Batch>()),
      pool(kj::atomicRefcounted<BufferPool>(options.maxPooledBytes, options.maxPooledBuffers)) {
  KJ_REQUIRE(options.readChunkBytes >= 1024 && options.readChunkBytes % WORD_BYTES == 0,
             "readChunkBytes must be a multiple of 8 and at least 1 KiB");
  KJ_REQUIRE(options.eagerAllocBytes >= options.readChunkBytes);
}

CoalescingMessageStream::~CoalescingMessageStream() noexcept(false) {
  // Cancel the outstanding write before the buffers it points into go away, then release what
  // the referenced segments' owners lent us.
  flushLoop = nullptr;
  inFlight->clear();
  pending->clear();
  keepers.clear();
}

// ---------------------------------------------------------------------------------------
// Writing

kj::Promise<void> CoalescingMessageStream::writeMessage(
    kj::ArrayPtr<const int> fds,
    kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) {
  if (fds.size() > 0) {
    return KJ_EXCEPTION(UNIMPLEMENTED,
        "CoalescingMessageStream does not support passing file descriptors");
  }
  KJ_IF_MAYBE(e, writeError) {
    return kj::cp(*e);
  }
  if (ended) {
    return KJ_EXCEPTION(FAILED, "writeMessage() called after end()");
  }
  bool mustWait = false;
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() { queueMessage(segments, mustWait); })) {
    return kj::mv(*e);
  }
  startFlush();
  return mustWait ? waitForPendingFlush() : kj::Promise<void>(kj::READY_NOW);
}

kj::Promise<void> CoalescingMessageStream::writeMessages(
    kj::ArrayPtr<kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>> messages) {
  KJ_IF_MAYBE(e, writeError) {
    return kj::cp(*e);
  }
  if (ended) {
    return KJ_EXCEPTION(FAILED, "writeMessages() called after end()");
  }
  bool mustWait = false;
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
    for (auto& message: messages) queueMessage(message, mustWait);
  })) {
    return kj::mv(*e);
  }
  startFlush();
  return mustWait ? waitForPendingFlush() : kj::Promise<void>(kj::READY_NOW);
}

void CoalescingMessageStream::queueMessage(
    kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments, bool& mustWait) {
  KJ_REQUIRE(segments.size() > 0, "a message has at least one segment");
  KJ_REQUIRE(segments.size() <= 0xffffffffull, "too many segments");

  size_t tableBytes = tableBytesFor(segments.size());
  size_t bodyBytes = 0;
  for (auto& segment: segments) {
    KJ_REQUIRE(segment.size() <= 0xffffffffull, "segment too large");
    bodyBytes += segment.size() * WORD_BYTES;
  }

  Batch& batch = *pending;
  bool copy = bodyBytes <= options.copyThresholdBytes;
  size_t offset = batch.used;
  kj::byte* out = batch.reserve(copy ? tableBytes + bodyBytes : tableBytes);

  writeLe32(out, static_cast<uint32_t>(segments.size() - 1));
  for (size_t i = 0; i < segments.size(); i++) {
    writeLe32(out + 4 + 4 * i, static_cast<uint32_t>(segments[i].size()));
  }
  if (segments.size() % 2 == 0) {
    writeLe32(out + 4 + 4 * segments.size(), 0);  // padding
  }

  if (copy) {
    kj::byte* pos = out + tableBytes;
    for (auto& segment: segments) {
      size_t n = segment.size() * WORD_BYTES;
      if (n > 0) memcpy(pos, segment.begin(), n);
      pos += n;
      if (!keepers.empty()) takeKeeper(segment.begin());  // copied: nothing reads it later
    }
    batch.appendCopied(offset, tableBytes + bodyBytes);
  } else {
    // Zero copy: the caller keeps the segments alive until our promise resolves, which is after
    // the batch has been written; segments with a keeper keep it until then too.
    batch.appendCopied(offset, tableBytes);
    for (auto& segment: segments) {
      if (!keepers.empty()) {
        KJ_IF_MAYBE(keeper, takeKeeper(segment.begin())) { batch.keepers.add(kj::mv(*keeper)); }
      }
      if (segment.size() == 0) continue;
      batch.pieces.add(PieceRef {
          reinterpret_cast<const kj::byte*>(segment.begin()), 0, segment.size() * WORD_BYTES });
      batch.totalBytes += segment.size() * WORD_BYTES;
    }
    mustWait = true;
  }
  if (batch.totalBytes > options.maxQueuedBytes) mustWait = true;
  ++stats.messagesWritten;
}

void CoalescingMessageStream::keepUntilWritten(const void* segmentBegin,
                                               kj::Own<kj::Refcounted> keeper) {
  // After a write failure no segment is read again: the keeper goes at once.
  if (writeError == nullptr) keepers.add(Keeper { segmentBegin, kj::mv(keeper) });
}

kj::Maybe<kj::Own<kj::Refcounted>> CoalescingMessageStream::takeKeeper(const void* segmentBegin) {
  for (size_t i = 0; i < keepers.size(); i++) {
    if (keepers[i].segmentBegin == segmentBegin) {
      auto keeper = kj::mv(keepers[i].keeper);
      // Order does not matter: swap the last entry into the hole.
      if (i + 1 < keepers.size()) keepers[i] = kj::mv(keepers.back());
      keepers.removeLast();
      return kj::mv(keeper);
    }
  }
  return nullptr;
}

kj::Promise<void> CoalescingMessageStream::waitForPendingFlush() {
  auto paf = kj::newPromiseAndFulfiller<void>();
  pending->waiters.add(kj::mv(paf.fulfiller));
  return kj::mv(paf.promise);
}

void CoalescingMessageStream::startFlush() {
  switch (flushState) {
    case FlushState::WRITING:
      return;  // whatever is pending goes out when the current write completes
    case FlushState::SCHEDULED:
      if (pending->totalBytes < options.immediateFlushBytes) return;
      // Enough queued that waiting for the end of the turn gains nothing: write now instead.
      // (Replacing the scheduled promise cancels it; we are not inside it.)
      break;
    case FlushState::IDLE:
      break;
  }
  if (pending->totalBytes >= options.immediateFlushBytes) {
    flushState = FlushState::WRITING;
    flushLoop = kj::evalNow([this]() { return flushOnce(); })
        .eagerlyEvaluate([this](kj::Exception&& e) { failWrites(kj::mv(e)); });
  } else {
    flushState = FlushState::SCHEDULED;
    // evalLast: run once every other queued event (e.g. .then() continuations that write more
    // messages) has run, i.e. at the end of this turn of the event loop.
    flushLoop = kj::evalLast([this]() { return flushOnce(); })
        .eagerlyEvaluate([this](kj::Exception&& e) { failWrites(kj::mv(e)); });
  }
}

kj::Promise<void> CoalescingMessageStream::flushOnce() {
  if (pending->pieces.empty()) {
    // Nothing to write: release whoever waits for a flush (end(), back-pressured writers).
    for (auto& waiter: pending->waiters) waiter->fulfill();
    pending->waiters.clear();
    flushState = FlushState::IDLE;
    auto watchers = kj::mv(flushWatchers);
    for (auto& watcher: watchers) watcher->fulfill();
    return kj::READY_NOW;
  }
  flushState = FlushState::WRITING;

  // Swap: the filled batch goes out; the idle (empty) one takes new messages meanwhile.
  auto filled = kj::mv(pending);
  pending = kj::mv(inFlight);
  inFlight = kj::mv(filled);
  Batch& batch = *inFlight;
  const kj::byte* base = reinterpret_cast<const kj::byte*>(batch.buffer.begin());
  iov.clear();
  for (auto& piece: batch.pieces) {
    iov.add(kj::arrayPtr(piece.external == nullptr ? base + piece.offset : piece.external,
                         piece.size));
  }
  ++stats.writeCalls;
  return inner.write(iov.asPtr()).then([this]() {
    for (auto& waiter: inFlight->waiters) waiter->fulfill();
    inFlight->clear();
    auto watchers = kj::mv(flushWatchers);
    for (auto& watcher: watchers) watcher->fulfill();
    // Whatever was queued while we were writing goes out in the next write: at once if it is
    // big, else after the current turn has had the chance to add more.
    if (pending->totalBytes >= options.immediateFlushBytes) return flushOnce();
    flushState = FlushState::SCHEDULED;
    return kj::evalLast([this]() { return flushOnce(); });
  });
}

void CoalescingMessageStream::failWrites(kj::Exception&& e) {
  flushState = FlushState::IDLE;
  auto watchers = kj::mv(flushWatchers);
  for (auto& watcher: watchers) watcher->reject(kj::cp(e));
  for (auto& waiter: inFlight->waiters) waiter->reject(kj::cp(e));
  for (auto& waiter: pending->waiters) waiter->reject(kj::cp(e));
  inFlight->clear();
  pending->clear();
  keepers.clear();  // writes of the segments they keep will never happen
  if (!readCanceler.isEmpty()) {
    // Nobody checks write results in the RPC layer; make the failure visible to the reader too.
    readCanceler.cancel(kj::cp(e));
  }
  writeError = kj::mv(e);
}

void CoalescingMessageStream::abortReads(kj::Exception&& reason) {
  if (readError == nullptr) readError = kj::cp(reason);
  if (!readCanceler.isEmpty()) readCanceler.cancel(kj::mv(reason));
}

kj::Maybe<int> CoalescingMessageStream::getSendBufferSize() {
  int bufSize = 0;
  KJ_IF_MAYBE(exception, kj::runCatchingExceptions([&]() {
    uint len = sizeof(bufSize);
    inner.getsockopt(SOL_SOCKET, SO_SNDBUF, &bufSize, &len);
    KJ_ASSERT(len == sizeof(bufSize)) { break; }
  })) {
    return nullptr;  // not a socket (e.g. an in-memory pipe), or the socket is gone
  }
  return bufSize;
}

kj::Promise<void> CoalescingMessageStream::whenFlushed() {
  KJ_IF_MAYBE(e, writeError) {
    return kj::cp(*e);
  }
  if (flushState == FlushState::IDLE && pending->pieces.empty()) return kj::READY_NOW;
  auto paf = kj::newPromiseAndFulfiller<void>();
  flushWatchers.add(kj::mv(paf.fulfiller));
  return kj::mv(paf.promise);
}

kj::Promise<void> CoalescingMessageStream::end() {
  KJ_IF_MAYBE(e, writeError) {
    return kj::cp(*e);
  }
  if (ended) return kj::READY_NOW;
  ended = true;
  auto flushed = waitForPendingFlush();
  startFlush();
  // Eager, so the write side is shut down even if the caller does not wait.
  return flushed.then([this]() { inner.shutdownWrite(); }).eagerlyEvaluate(nullptr);
}

// ---------------------------------------------------------------------------------------
// Reading

kj::Maybe<kj::Own<capnp::MessageReader>> CoalescingMessageStream::tryParse(
    capnp::ReaderOptions readerOptions, size_t& needBytes) {
  size_t avail = fillEnd - readPos;
  if (avail < WORD_BYTES) {
    needBytes = WORD_BYTES;  // the smallest message is one word of segment table
    return nullptr;
  }
  const kj::byte* start = chunk->bytes() + readPos;

  uint64_t segmentCount = static_cast<uint64_t>(readLe32(start)) + 1;
  KJ_REQUIRE(segmentCount <= options.maxSegments,
             "incoming Cap'n Proto message has too many segments", segmentCount);
  size_t tableBytes = tableBytesFor(segmentCount);
  if (avail < tableBytes) {
    needBytes = tableBytes;
    return nullptr;
  }

  uint64_t bodyWords = 0;
  for (uint i = 0; i < segmentCount; i++) {
    bodyWords += readLe32(start + 4 + 4 * i);  // at most 512 * 2^32: no overflow
  }
  KJ_REQUIRE(bodyWords <= readerOptions.traversalLimitInWords,
             "incoming Cap'n Proto message is larger than the traversal limit; see "
             "capnp::ReaderOptions", bodyWords, readerOptions.traversalLimitInWords);
  KJ_REQUIRE(tableBytes <= options.maxMessageBytes &&
             bodyWords <= (options.maxMessageBytes - tableBytes) / WORD_BYTES,
             "incoming Cap'n Proto message is larger than maxMessageBytes",
             bodyWords, options.maxMessageBytes);

  size_t messageBytes = tableBytes + bodyWords * WORD_BYTES;
  if (avail < messageBytes) {
    needBytes = messageBytes;
    return nullptr;
  }

  kj::Own<ChunkMessageReader> reader;
  if (options.pinRatio > 0 && messageBytes * options.pinRatio < chunk->capacity()) {
    // Small relative to its buffer: a private copy, so that a long-lived reader (e.g. a kept
    // Response) never pins a whole read buffer, and the buffer can be reused at once.
    reader = ChunkMessageReader::copyOf(readerOptions, start, tableBytes, messageBytes,
                                        static_cast<uint>(segmentCount));
    ++stats.messagesCopied;
  } else {
    reader = kj::heap<ChunkMessageReader>(
        readerOptions, kj::atomicAddRef(*chunk),
        reinterpret_cast<const capnp::word*>(start + tableBytes), start,
        static_cast<uint>(segmentCount));
  }
  readPos += messageBytes;
  ++stats.messagesRead;
  KJ_IF_MAYBE(observer, readObserver) {
    reader->attachment = observer->messageRead(*reader);
  }
  return kj::Own<capnp::MessageReader>(kj::mv(reader));
}

void CoalescingMessageStream::ensureSpace(size_t needBytes) {
  // Make sure the current chunk can take at least part of the `needBytes` that must follow
  // `readPos`: all of them for ordinary messages, a geometrically growing part for huge ones.
  size_t avail = fillEnd - readPos;
  KJ_ASSERT(needBytes > avail);

  size_t target = needBytes;
  if (target > options.eagerAllocBytes) {
    target = kj::min(needBytes, kj::max(options.eagerAllocBytes, avail * 2));
  }
  // Room wanted after readPos. With nothing buffered, moving to another buffer costs nothing,
  // so ask for a full read chunk of room; otherwise half of one avoids copying too eagerly.
  size_t window = kj::max(target, avail == 0 ? options.readChunkBytes : options.readChunkBytes / 2);

  if (chunk.get() != nullptr) {
    if (avail == 0 && !chunk->shared()) {
      readPos = fillEnd = 0;  // empty and unreferenced: restart at the front
    }
    if (chunk->capacity() - readPos >= window) {
      return;  // the message fits where it is; reading past fillEnd never touches live readers
    }
    if (!chunk->shared() && chunk->capacity() >= window) {
      // Compact in place.
      memmove(chunk->bytes(), chunk->bytes() + readPos, avail);
      stats.bytesCopiedOnRead += avail;
      fillEnd = avail;
      readPos = 0;
      return;
    }
  }

  // A new buffer; the old one (if any) goes back to the pool when its last reader is gone.
  size_t minBytes = kj::max(window, options.readChunkBytes);
  size_t allocBytes = minBytes <= options.readChunkBytes
      ? options.readChunkBytes
      : roundUp(minBytes + minBytes / 8, 64 * 1024);  // headroom for the following messages
  auto fresh = kj::atomicRefcounted<Chunk>(pool->take(minBytes, allocBytes, stats), kj::atomicAddRef(*pool));
  if (avail > 0) {
    memcpy(fresh->bytes(), chunk->bytes() + readPos, avail);
    stats.bytesCopiedOnRead += avail;
  }
  chunk = kj::mv(fresh);
  readPos = 0;
  fillEnd = avail;
}

kj::Promise<kj::Maybe<kj::Own<capnp::MessageReader>>> CoalescingMessageStream::readLoop(
    capnp::ReaderOptions readerOptions) {
  size_t needBytes = 0;
  if (chunk.get() != nullptr) {
    KJ_IF_MAYBE(reader, tryParse(readerOptions, needBytes)) {
      return kj::Maybe<kj::Own<capnp::MessageReader>>(kj::mv(*reader));
    }
  } else {
    needBytes = WORD_BYTES;
  }

  size_t avail = fillEnd - readPos;
  if (readEof) {
    if (avail == 0) return kj::Maybe<kj::Own<capnp::MessageReader>>(nullptr);
    return KJ_EXCEPTION(DISCONNECTED,
        "premature EOF: the peer closed the stream in the middle of a Cap'n Proto message",
        avail, needBytes);
  }

  ensureSpace(needBytes);
  size_t capacity = chunk->capacity();
  size_t minBytes = kj::min(needBytes, capacity - readPos) - avail;
  size_t maxBytes = capacity - fillEnd;
  if (needBytes > options.readChunkBytes) {
    // The rest of a large message: take little beyond it (small trailing messages), so that the
    // start of a following large message is not read into this buffer and copied out again.
    maxBytes = kj::min(maxBytes, needBytes - avail + options.readChunkBytes / 16);
  }
  KJ_ASSERT(minBytes > 0 && minBytes <= maxBytes);
  ++stats.readCalls;
  return inner.tryRead(chunk->bytes() + fillEnd, minBytes, maxBytes)
      .then([this, readerOptions, minBytes](size_t n) {
    fillEnd += n;
    if (n < minBytes) readEof = true;
    return readLoop(readerOptions);
  });
}

kj::Promise<kj::Maybe<capnp::MessageReaderAndFds>> CoalescingMessageStream::tryReadMessage(
    kj::ArrayPtr<kj::AutoCloseFd> fdSpace, capnp::ReaderOptions readerOptions,
    kj::ArrayPtr<capnp::word> scratchSpace) {
  // No fd passing; scratch space is unnecessary since messages are read in place.
  (void)fdSpace;
  (void)scratchSpace;
  KJ_IF_MAYBE(e, readError) {
    return kj::cp(*e);
  }
  KJ_IF_MAYBE(e, writeError) {
    return kj::cp(*e);
  }
  if (reading) {
    return KJ_EXCEPTION(FAILED, "CoalescingMessageStream: only one read may be outstanding");
  }
  reading = true;

  auto toResult = [](kj::Maybe<kj::Own<capnp::MessageReader>>&& reader)
      -> kj::Maybe<capnp::MessageReaderAndFds> {
    KJ_IF_MAYBE(r, reader) {
      return capnp::MessageReaderAndFds { kj::mv(*r), nullptr };
    } else {
      return nullptr;
    }
  };

  // Fast path: a complete message is already buffered.
  if (chunk.get() != nullptr) {
    size_t needBytes = 0;
    kj::Maybe<kj::Own<capnp::MessageReader>> parsed;
    KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
      parsed = tryParse(readerOptions, needBytes);
    })) {
      reading = false;
      readError = kj::cp(*e);
      return kj::mv(*e);
    }
    if (parsed != nullptr) {
      reading = false;
      return toResult(kj::mv(parsed));
    }
  }

  struct ReadGuard {
    // Destroyed after the continuations below (attachments outlive the promise they wrap).
    CoalescingMessageStream& stream;
    bool done = false;
    explicit ReadGuard(CoalescingMessageStream& stream): stream(stream) {}
    ~ReadGuard() noexcept(false) {
      if (!done) {
        // Canceled mid-read: bytes may already have been taken from the socket, so the framing
        // is lost; fail every later read instead of misparsing.
        stream.reading = false;
        if (stream.readError == nullptr) {
          stream.readError = KJ_EXCEPTION(DISCONNECTED,
              "a read on this message stream was canceled; the stream is unusable");
        }
      }
    }
  };
  auto guard = kj::heap<ReadGuard>(*this);
  ReadGuard* g = guard.get();
  auto promise = kj::evalNow([&]() { return readLoop(readerOptions); })
      .then([this, g, toResult](kj::Maybe<kj::Own<capnp::MessageReader>>&& reader) {
    g->done = true;
    reading = false;
    return toResult(kj::mv(reader));
  }, [this, g](kj::Exception&& e) -> kj::Maybe<capnp::MessageReaderAndFds> {
    g->done = true;
    reading = false;
    if (readError == nullptr) readError = kj::cp(e);
    kj::throwFatalException(kj::mv(e));
  }).attach(kj::mv(guard));
  return readCanceler.wrap(kj::mv(promise));
}

}  // namespace capnp_native
