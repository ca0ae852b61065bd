#include "runtime.h"
#include "status.h"

#include <capnp/common.h>

namespace capnp_native {
namespace {

std::atomic<capnp_completion_fn> completionCallback{nullptr};

}  // namespace

Counters& counters() {
  static Counters instance;
  return instance;
}

bool isInitialized() {
  return completionCallback.load(std::memory_order_acquire) != nullptr;
}

thread_local uint64_t callbacksDelivered = 0;

void complete(uint64_t tag, int32_t status, kj::ArrayPtr<const kj::byte> payload) {
  ++callbacksDelivered;
  auto callback = completionCallback.load(std::memory_order_acquire);
  if (callback != nullptr) callback(tag, status, payload.begin(), payload.size());
}

void completeWithError(uint64_t tag, int32_t status, kj::StringPtr message) {
  complete(tag, status, message.asBytes());
}

}  // namespace capnp_native

extern "C" int32_t capnp_abi_version(void) {
  return CAPNP_NATIVE_ABI_VERSION;
}

extern "C" int32_t capnp_library_version(int32_t* out_major, int32_t* out_minor,
                                         int32_t* out_micro) {
  using namespace capnp_native;
  return guarded([&] {
    requireArgument(out_major != nullptr && out_minor != nullptr && out_micro != nullptr,
                    "capnp_library_version: null out-parameter");
    *out_major = CAPNP_VERSION_MAJOR;
    *out_minor = CAPNP_VERSION_MINOR;
    *out_micro = CAPNP_VERSION_MICRO;
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_initialize(capnp_completion_fn on_complete) {
  using namespace capnp_native;
  return guarded([&] {
    requireArgument(on_complete != nullptr, "capnp_initialize: null callback");
    capnp_completion_fn expected = nullptr;
    if (!completionCallback.compare_exchange_strong(expected, on_complete) &&
        expected != on_complete) {
      throw ShimError{CAPNP_STATUS_INVALID_ARGUMENT,
                     kj::str("capnp_initialize: a different callback is already registered")};
    }
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_counters_read(capnp_counters* out_counters) {
  using namespace capnp_native;
  return guarded([&] {
    requireArgument(out_counters != nullptr, "capnp_counters_read: null out-parameter");
    auto& c = counters();
    out_counters->live_loops = c.liveLoops.load();
    out_counters->live_loop_threads = c.liveLoopThreads.load();
    out_counters->live_pending_operations = c.livePendingOperations.load();
    out_counters->commands_executed = c.commandsExecuted.load();
    out_counters->wakeups = c.wakeups.load();
    out_counters->live_caps = c.liveCaps.load();
    out_counters->live_messages = c.liveMessages.load();
    out_counters->messages_read_in_place = c.messagesReadInPlace.load();
    out_counters->messages_borrowed = c.messagesBorrowed.load();
    out_counters->blobs_sent_by_reference = c.blobsSentByReference.load();
    out_counters->live_servers = c.liveServers.load();
    out_counters->live_calls = c.liveCalls.load();
    out_counters->live_connections = c.liveConnections.load();
    return CAPNP_STATUS_OK;
  });
}
