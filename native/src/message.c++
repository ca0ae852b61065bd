#include "objects.h"
#include "referenced_segments.h"

#include <kj/debug.h>

namespace capnp_native {

// ---------------------------------------------------------------------------------------------
// Received messages

namespace {

// Exactly the whole content (plus the root pointer) in the first segment: the managed side then
// sees one segment, and small messages (a ping's empty results) do not allocate and zero 8 KiB.
uint firstSegmentWords(capnp::AnyPointer::Reader content) {
  return static_cast<uint>(kj::min(content.targetSize().wordCount + 1, uint64_t(1) << 28));
}

// A carrier (the RPC message holding the content) up to this size is borrowed: the managed side
// copies it whole during the callback. A larger one shares the transport's read buffer, as a
// copy would cost more than keeping the buffer.
constexpr size_t BORROW_MAX_BYTES = 4096;

size_t totalBytes(kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) {
  size_t words = 0;
  for (auto segment: segments) words += segment.size();
  return words * sizeof(capnp::word);
}

}  // namespace

Message::Message(Loop& loop, capnp::AnyPointer::Reader content) {
  if (!readInPlace(content)) copy(loop, content);
  counters().liveMessages++;
}

bool Message::readInPlace(capnp::AnyPointer::Reader content) {
  // The engine's reader internals (capnp::_, stable in 0.9.2) give the struct's location and
  // the cap table, which the public API does not.
  auto pointer = capnp::_::PointerHelpers<capnp::AnyPointer>::getInternalReader(content);
  if (pointer.getPointerType() != capnp::PointerType::STRUCT) return false;
  // Capability indexes in the carrier refer to its table, which we cannot enumerate: copy those.
  auto capTable = pointer.getCapTable();
  if (capTable != nullptr && capTable->extractCap(0) != nullptr) return false;

  auto root = pointer.getStruct(nullptr);
  auto location = reinterpret_cast<const capnp::word*>(root.getLocation());
  // Sized by the carrier's segment table, not by traversing the content.
  kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> carrier;
  KJ_IF_MAYBE(segments, borrowMessageRead(location)) {
    carrier = *segments;
  } else {
    return false;
  }
  if (totalBytes(carrier) <= BORROW_MAX_BYTES) {
    segmentsBorrowed = 1;
  } else KJ_IF_MAYBE(buffer, shareMessageReadInPlace(location)) {
    shared = kj::mv(*buffer);
  } else {
    return false;
  }

  for (auto i: kj::indices(carrier)) {
    auto segment = carrier[i];
    if (location >= segment.begin() && location < segment.end()) {
      rootIsStruct = 1;
      rootSegment = static_cast<uint32_t>(i);
      rootWordOffset = static_cast<uint32_t>(location - segment.begin());
      rootDataWords = static_cast<uint16_t>(
          capnp::unbound(root.getDataSectionSize() / capnp::BITS) / 64);
      rootPointerCount = static_cast<uint16_t>(
          capnp::unbound(root.getPointerSectionSize() / capnp::POINTERS));
      allocateSegments(carrier.size());
      for (auto j: kj::indices(carrier)) {
        segments[j] = capnp_segment{reinterpret_cast<const uint8_t*>(carrier[j].begin()),
                                    carrier[j].size() * sizeof(capnp::word)};
      }
      if (segmentsBorrowed) {
        counters().messagesBorrowed++;
      } else {
        counters().messagesReadInPlace++;
      }
      return true;
    }
  }
  // Not reachable for a carrier found by address; copy to be safe.
  shared = nullptr;
  segmentsBorrowed = 0;
  return false;
}

void Message::copy(Loop& loop, capnp::AnyPointer::Reader content) {
  auto& copied = builder.emplace(firstSegmentWords(content));
  capnp::BuilderCapabilityTable capTable;
  capTable.imbue(copied.getRoot<capnp::AnyPointer>()).set(content);

  auto output = copied.getSegmentsForOutput();
  allocateSegments(output.size());
  for (auto i: kj::indices(output)) {
    segments[i] = capnp_segment{reinterpret_cast<const uint8_t*>(output[i].begin()),
                                output[i].size() * sizeof(capnp::word)};
  }

  auto table = capTable.getTable();
  caps = kj::heapArray<capnp_cap*>(table.size());
  serverTags = kj::heapArray<uint64_t>(table.size());
  for (auto i: kj::indices(table)) {
    serverTags[i] = 0;
    KJ_IF_MAYBE(hook, table[i]) {
      auto local = loop.localServerTags.find(hook->get());
      if (local != loop.localServerTags.end()) serverTags[i] = local->second;
      caps[i] = wrap(newAttachedCap(loop, capnp::Capability::Client(kj::mv(*hook))));
    } else {
      caps[i] = wrap(newAttachedCap(loop, capnp::Capability::Client(
          capnp::newBrokenCap("null capability in a received message"))));
    }
  }
}

void Message::allocateSegments(size_t count) {
  if (count == 1) {
    segments = kj::arrayPtr(&firstSegment, 1);  // the message is never moved (KJ_DISALLOW_COPY)
  } else {
    moreSegments = kj::heapArray<capnp_segment>(count);
    segments = moreSegments;
  }
}

Message::~Message() noexcept(false) {
  counters().liveMessages--;
}

capnp_message_view Message::view() {
  return capnp_message_view{wrap(this), segments.begin(), caps.begin(), serverTags.begin(),
                            static_cast<uint32_t>(segments.size()), static_cast<uint32_t>(caps.size()),
                            rootIsStruct, rootSegment, rootWordOffset, rootDataWords,
                            rootPointerCount, segmentsBorrowed};
}

void Message::releaseUndeliveredCaps() {
  for (auto cap: caps) reinterpret_cast<Cap*>(cap)->release();
}

// ---------------------------------------------------------------------------------------------
// Outgoing messages

OutgoingMessage OutgoingMessage::describe(Loop& loop, const capnp_segment* segments,
                                          uint32_t segmentCount, capnp_cap* const* caps,
                                          uint32_t capCount) {
  requireArgument(segments != nullptr || segmentCount == 0, "null segment array");
  requireArgument(caps != nullptr || capCount == 0, "null capability array");
  OutgoingMessage result;
  result.segmentCount = segmentCount;
  if (segmentCount == 1) {
    result.firstSegment = segments[0];
  } else if (segmentCount > 1) {
    result.moreSegments = kj::heapArray<capnp_segment>(segments, segmentCount);
  }
  for (auto& segment: result.segments()) {
    requireArgument(segment.size % sizeof(capnp::word) == 0, "segment size is not a multiple of 8 bytes");
    requireArgument(reinterpret_cast<uintptr_t>(segment.data) % sizeof(capnp::word) == 0,
                    "segment data is not 8-byte aligned");
    requireArgument(segment.data != nullptr || segment.size == 0, "null segment data");
  }
  for (uint32_t i = 0; i < capCount; i++) {
    requireArgument(&unwrap(caps[i]).loop() == &loop, "a capability of another event loop was passed");
  }
  result.capCount = capCount;
  if (capCount == 1) {
    result.firstCap = &unwrap(caps[0]);
  } else if (capCount > 1) {
    result.moreCaps = kj::heapArray<Cap*>(capCount);
    for (uint32_t i = 0; i < capCount; i++) result.moreCaps[i] = &unwrap(caps[i]);
  }
  return result;
}

void OutgoingMessage::copySegments() {
  size_t words = 0;
  for (auto& segment: segments()) words += segment.size / sizeof(capnp::word);
  ownedData = kj::heapArray<capnp::word>(words);
  auto next = reinterpret_cast<uint8_t*>(ownedData.begin());
  for (auto& segment: segments()) {
    if (segment.size > 0) memcpy(next, segment.data, segment.size);
    segment.data = next;
    next += segment.size;
  }
}

template <typename Use>
void OutgoingMessage::withWordSegments(Use&& use) const {
  auto described = segments();
  KJ_STACK_ARRAY(kj::ArrayPtr<const capnp::word>, words, described.size(), 8, 64);
  for (auto i: kj::indices(described)) {
    words[i] = kj::arrayPtr(reinterpret_cast<const capnp::word*>(described[i].data),
                            described[i].size / sizeof(capnp::word));
  }
  use(kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>(words));
}

capnp::MessageSize OutgoingMessage::sizeHint() const {
  uint64_t words = 0;
  for (auto& segment: segments()) words += segment.size / sizeof(capnp::word);
  return capnp::MessageSize{words, capCount};
}

namespace {

// Byte lists (Data, Text) at least this large are referenced rather than copied: below it the
// copy costs less than an extra segment and a lease. Above the transport's copy threshold, so a
// referenced segment is always written in place.
constexpr size_t MIN_REFERENCED_BYTES = 64 * 1024;

bool isReferencedBlob(capnp::AnyPointer::Reader pointer) {
  if (pointer.getPointerType() != capnp::PointerType::LIST) return false;
  auto list = pointer.getAs<capnp::AnyList>();
  return list.getElementSize() == capnp::ElementSize::BYTE && list.size() >= MIN_REFERENCED_BYTES;
}

// The bytes copyReferencing() leaves where they are.
uint64_t referencedBytes(capnp::AnyPointer::Reader pointer) {
  if (isReferencedBlob(pointer)) return pointer.getAs<capnp::AnyList>().size();
  if (pointer.getPointerType() != capnp::PointerType::STRUCT) return 0;
  uint64_t total = 0;
  for (auto field: pointer.getAs<capnp::AnyStruct>().getPointerSection()) {
    total += referencedBytes(field);
  }
  return total;
}

// As target.set(source), except that large blobs reached through struct fields become external
// segments of the target's message, referencing the source's bytes.
void copyReferencing(capnp::AnyPointer::Reader source, capnp::AnyPointer::Builder target,
                     LeasedOutgoingMessage& message) {
  if (isReferencedBlob(source)) {
    // Text too: its bytes (NUL included) are a byte list like Data's.
    auto bytes = source.getAs<capnp::Data>();
    target.adopt(capnp::Orphanage::getForMessageContaining(target).referenceExternalData(bytes));
    message.referenced(bytes.begin());
    counters().blobsSentByReference++;
    return;
  }
  if (source.getPointerType() != capnp::PointerType::STRUCT) {
    target.set(source);
    return;
  }
  auto from = source.getAs<capnp::AnyStruct>();
  auto data = from.getDataSection();
  auto pointers = from.getPointerSection();
  // A struct reached through a pointer has a data section of whole words.
  auto to = target.initAsAnyStruct(static_cast<uint16_t>(data.size() / sizeof(capnp::word)),
                                   static_cast<uint16_t>(pointers.size()));
  if (data.size() > 0) memcpy(to.getDataSection().begin(), data.begin(), data.size());
  auto toPointers = to.getPointerSection();
  for (uint i = 0; i < pointers.size(); i++) {
    copyReferencing(pointers[i], toPointers[i], message);
  }
}

}  // namespace

void OutgoingMessage::copyInto(capnp::AnyPointer::Builder target) {
  copyInto(target, nullptr);
}

void OutgoingMessage::copyInto(capnp::AnyPointer::Builder target,
                               kj::Maybe<LeasedOutgoingMessage&> referencing) {
  withWordSegments([&](kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segmentWords) {
    // The managed builder is ours, but its content is still checked as any message is.
    capnp::SegmentArrayMessageReader reader(segmentWords);
    auto root = reader.getRoot<capnp::AnyPointer>();
    auto copy = [&](capnp::AnyPointer::Reader content) {
      KJ_IF_MAYBE(message, referencing) {
        copyReferencing(content, target, *message);
      } else {
        target.set(content);
      }
    };
    // Without capabilities, an empty table (an empty kj::Array allocates nothing).
    kj::Array<kj::Maybe<kj::Own<capnp::ClientHook>>> table;
    if (capCount > 0) {
      auto builder = kj::heapArrayBuilder<kj::Maybe<kj::Own<capnp::ClientHook>>>(capCount);
      for (auto cap: caps()) builder.add(capnp::ClientHook::from(cap->client()));
      table = builder.finish();
    }
    capnp::ReaderCapabilityTable capTable(kj::mv(table));
    copy(capTable.imbue(root));
  });
}

capnp::MessageSize OutgoingMessage::sizeHintWithoutLargeBlobs() const {
  auto hint = sizeHint();
  if (segmentCount == 0) return hint;
  withWordSegments([&](kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segmentWords) {
    capnp::SegmentArrayMessageReader reader(segmentWords);
    uint64_t referenced = (referencedBytes(reader.getRoot<capnp::AnyPointer>()) + 7) / sizeof(capnp::word);
    hint.wordCount -= kj::min(hint.wordCount, referenced);
  });
  return hint;
}

}  // namespace capnp_native

extern "C" void capnp_message_release(capnp_message* message) {
  using namespace capnp_native;
  guarded([&] {
    delete reinterpret_cast<Message*>(message);
    return CAPNP_STATUS_OK;
  });
}
