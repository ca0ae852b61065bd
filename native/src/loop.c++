#include "loop.h"
#include "runtime.h"
#include "status.h"

#include <kj/debug.h>
#include <unistd.h>

namespace capnp_native {
namespace {

// Tracked operations handle their own errors; anything reaching here is a bug worth a log line.
class LogTaskErrors final: public kj::TaskSet::ErrorHandler {
public:
  void taskFailed(kj::Exception&& exception) override {
    KJ_LOG(ERROR, "capnp_native: untracked task failed", exception);
  }
};

LogTaskErrors logTaskErrors;

}  // namespace

Loop::Loop() {
  std::promise<void> started;
  auto ready = started.get_future();
  thread = std::thread([this, &started] { threadMain(started); });
  try {
    ready.get();
  } catch (...) {
    thread.join();
    throw;
  }
  counters().liveLoops++;
}

Loop::~Loop() noexcept(false) {
  requestStop();
  if (thread.joinable()) thread.join();
  counters().liveLoops--;
}

void Loop::post(Command command) {
  kj::Maybe<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> wake;
  {
    auto lock = queue.lockExclusive();
    if (lock->stopping) throw ShimError{CAPNP_STATUS_DISPOSED, kj::str("the event loop is disposed")};
    lock->commands.add(kj::mv(command));
    // Only the first producer of a batch finds the fulfiller; later ones just append.
    wake = kj::mv(lock->wake);
    lock->wake = nullptr;
  }
  KJ_IF_MAYBE(w, wake) { (*w)->fulfill(); }
}

void Loop::requestStop() {
  kj::Maybe<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> wake;
  {
    auto lock = queue.lockExclusive();
    lock->stopping = true;
    wake = kj::mv(lock->wake);
    lock->wake = nullptr;
  }
  KJ_IF_MAYBE(w, wake) { (*w)->fulfill(); }
}

void Loop::releaseFromLoopThread() {
  queue.lockExclusive()->freeOnExit = true;
  thread.detach();
  requestStop();
}

bool Loop::isLoopThread() const {
  return loopThreadId == gettid();
}

kj::AsyncIoContext& Loop::io() {
  KJ_REQUIRE(ioContext != nullptr, "event loop is not running");
  return *ioContext;
}

void Loop::track(uint64_t tag, kj::Promise<kj::Array<const kj::byte>> operation) {
  KJ_IF_MAYBE(tasks, operations) {
    pendingTags.insert(tag);
    counters().livePendingOperations++;
    (*tasks)->add(operation.then(
        [this, tag](kj::Array<const kj::byte> payload) {
          finishOperation(tag, CAPNP_STATUS_OK, payload);
        },
        [this, tag](kj::Exception&& exception) {
          finishOperation(tag, statusOf(exception.getType()),
                          exception.getDescription().asBytes());
        }));
  } else {
    throw ShimError{CAPNP_STATUS_DISPOSED, kj::str("the event loop is disposed")};
  }
}

void Loop::finishOperation(uint64_t tag, int32_t status, kj::ArrayPtr<const kj::byte> payload) {
  // Completing exactly once: whoever removes the tag completes it.
  if (pendingTags.erase(tag) == 0) return;
  counters().livePendingOperations--;
  complete(tag, status, payload);
}

void Loop::disposePendingOperations() {
  auto tags = kj::mv(pendingTags);
  pendingTags.clear();
  for (auto tag: tags) {
    counters().livePendingOperations--;
    completeWithError(tag, CAPNP_STATUS_DISPOSED, "the event loop was disposed before the operation completed");
  }
  // Destroying the task set cancels the operations; their continuations never run.
  operations = nullptr;
}

void Loop::threadMain(std::promise<void>& started) {
  counters().liveLoopThreads++;
  bool running = false;
  try {
    auto io = kj::setupAsyncIo();
    ioContext = &io;
    loopThreadId = gettid();
    operations = kj::heap<kj::TaskSet>(logTaskErrors);
    running = true;
    started.set_value();
    runUntilStopped(io.waitScope);
    ioContext = nullptr;
  } catch (...) {
    ioContext = nullptr;
    if (!running) {
      started.set_exception(std::current_exception());
    } else {
      auto error = describeCurrentException();
      KJ_LOG(ERROR, "capnp_native: event loop thread failed", error.message);
      // Whatever is left must not hang: fail it. The loop is unusable from here on.
      requestStop();
    }
  }
  counters().liveLoopThreads--;
  if (running && queue.lockExclusive()->freeOnExit) delete this;
}

void Loop::runUntilStopped(kj::WaitScope& waitScope) {
  for (;;) {
    kj::Vector<Command> batch;
    bool stopping;
    kj::Maybe<kj::Promise<void>> wakeUp;
    {
      auto lock = queue.lockExclusive();
      stopping = lock->stopping;
      if (lock->commands.empty() && !stopping) {
        auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
        lock->wake = kj::mv(paf.fulfiller);
        wakeUp = kj::mv(paf.promise);
      } else {
        batch = kj::mv(lock->commands);
        lock->commands = kj::Vector<Command>();
      }
    }
    KJ_IF_MAYBE(w, wakeUp) {
      w->wait(waitScope);
      counters().wakeups++;
      continue;
    }
    if (stopping) {
      failBatch(batch);
      disposePendingOperations();
      return;
    }
    runBatch(batch);
    // Let the work this batch started make progress before the next batch.
    waitScope.poll();
  }
}

void Loop::runBatch(kj::Vector<Command>& batch) {
  for (auto& command: batch) {
    counters().commandsExecuted++;
    try {
      command.run(*this);
    } catch (...) {
      auto error = describeCurrentException();
      completeWithError(command.tag, error.status, error.message);
    }
  }
}

void Loop::failBatch(kj::Vector<Command>& batch) {
  for (auto& command: batch) {
    completeWithError(command.tag, CAPNP_STATUS_DISPOSED,
                      "the event loop was disposed before the command ran");
  }
}

}  // namespace capnp_native
