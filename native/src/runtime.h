// Process-wide state of the shim: the one completion callback and the live-object counters.

#pragma once

#include <capnp_native.h>
#include <kj/array.h>
#include <kj/string.h>
#include <atomic>

namespace capnp_native {

// Live-object counters, read by capnp_counters_read for the leak tests.
struct Counters {
  std::atomic<int64_t> liveLoops{0};
  std::atomic<int64_t> liveLoopThreads{0};
  std::atomic<int64_t> livePendingOperations{0};
  std::atomic<int64_t> commandsExecuted{0};
  std::atomic<int64_t> wakeups{0};
  std::atomic<int64_t> liveCaps{0};
  std::atomic<int64_t> liveMessages{0};
  std::atomic<int64_t> messagesReadInPlace{0};
  std::atomic<int64_t> messagesBorrowed{0};
  std::atomic<int64_t> blobsSentByReference{0};
  std::atomic<int64_t> liveServers{0};
  std::atomic<int64_t> liveCalls{0};
  std::atomic<int64_t> liveConnections{0};
};

Counters& counters();

// Completes the asynchronous operation `tag` through the registered callback. Runs on a loop
// thread. A missing callback is impossible once a loop exists (capnp_loop_create checks).
void complete(uint64_t tag, int32_t status, kj::ArrayPtr<const kj::byte> payload);
void completeWithError(uint64_t tag, int32_t status, kj::StringPtr message);

// Callbacks delivered by this thread so far (the loop polls for an answer after delivering).
extern thread_local uint64_t callbacksDelivered;

bool isInitialized();

}  // namespace capnp_native
