// Test hooks: exported so that the managed tests can drive the loop and the error boundary
// without a network. They use only the public machinery (post, track, complete).

#include "handles.h"
#include "runtime.h"
#include "transport/coalescing_message_stream.h"

#include <kj/debug.h>
#include <unistd.h>

namespace capnp_native {
namespace {

int32_t requireKind(int32_t kind) {
  requireArgument(kind >= CAPNP_STATUS_FAILED && kind <= CAPNP_STATUS_UNIMPLEMENTED,
                  "exception kind must be a capnp_status between FAILED and UNIMPLEMENTED");
  return kind;
}

[[noreturn]] void throwKind(int32_t kind, kj::String message) {
  kj::throwFatalException(kj::Exception(exceptionTypeOf(kind), __FILE__, __LINE__, kj::mv(message)));
}

// A TaskSet error handler that rethrows: KJ calls it from the task's event, so the exception
// escapes the event loop's turn, as a bug in an event would.
class RethrowingErrorHandler final: public kj::TaskSet::ErrorHandler {
public:
  void taskFailed(kj::Exception&& exception) override { kj::throwFatalException(kj::mv(exception)); }
};

RethrowingErrorHandler rethrowingErrorHandler;

}  // namespace
}  // namespace capnp_native

extern "C" int32_t capnp_test_echo(capnp_loop* loop, uint64_t tag, const uint8_t* data,
                                   size_t data_len) {
  using namespace capnp_native;
  return guarded([&] {
    auto& target = unwrapLoop(loop);
    requireArgument(data != nullptr || data_len == 0, "capnp_test_echo: null data");
    auto copy = kj::heapArray<kj::byte>(kj::arrayPtr(data, data_len));
    target.post({tag, [tag, copy = kj::mv(copy)](Loop&) { complete(tag, CAPNP_STATUS_OK, copy); }});
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_test_throw(int32_t kind, const char* message, size_t message_len) {
  using namespace capnp_native;
  return guarded([&]() -> int32_t {
    requireKind(kind);
    requireArgument(message != nullptr || message_len == 0, "capnp_test_throw: null message");
    throwKind(kind, kj::heapString(message, message_len));
  });
}

extern "C" int32_t capnp_test_throw_on_loop(capnp_loop* loop, uint64_t tag, int32_t kind,
                                            const char* message, size_t message_len) {
  using namespace capnp_native;
  return guarded([&] {
    auto& target = unwrapLoop(loop);
    requireKind(kind);
    requireArgument(message != nullptr || message_len == 0, "capnp_test_throw_on_loop: null message");
    auto text = kj::heapString(message, message_len);
    target.post({tag, [kind, text = kj::mv(text)](Loop&) { throwKind(kind, kj::str(text)); }});
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_test_hold(capnp_loop* loop, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& target = unwrapLoop(loop);
    target.post({tag, [tag](Loop& self) {
      self.track(tag, kj::Promise<void>(kj::NEVER_DONE));
    }});
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_test_fail_loop_thread(capnp_loop* loop, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& target = unwrapLoop(loop);
    target.post({tag, [tag](Loop& self) {
      auto tasks = kj::heap<kj::TaskSet>(rethrowingErrorHandler);
      tasks->add(kj::evalLater([]() {
        KJ_FAIL_ASSERT("test: an exception escaped an event of the loop");
      }));
      // The task set lives in the pending operation, destroyed on the loop thread as it stops.
      self.track(tag, kj::Promise<void>(kj::NEVER_DONE).attach(kj::mv(tasks)));
    }});
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_test_loop_thread_id(capnp_loop* loop, int64_t* out_thread_id) {
  using namespace capnp_native;
  return guarded([&] {
    auto& target = unwrapLoop(loop);
    requireArgument(out_thread_id != nullptr, "capnp_test_loop_thread_id: null out-parameter");
    *out_thread_id = target.threadId();
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_test_current_thread_id(int64_t* out_thread_id) {
  using namespace capnp_native;
  return guarded([&] {
    requireArgument(out_thread_id != nullptr, "capnp_test_current_thread_id: null out-parameter");
    *out_thread_id = gettid();
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_test_poison_released_messages(int32_t enable) {
  using namespace capnp_native;
  return guarded([&] {
    setPoisonReleasedMessages(enable != 0);
    return CAPNP_STATUS_OK;
  });
}
