// A KJ event loop on a dedicated thread, fed by a many-producer command queue.
//
// Any thread may post commands; the loop thread drains them in batches, and a producer wakes the
// loop only when it finds no wake-up already pending, so a burst of posts costs one wake-up.
// Asynchronous operations started by commands are tracked by tag so that stopping the loop can
// complete each of them exactly once with CAPNP_STATUS_DISPOSED instead of leaving it hanging.

#pragma once

#include <capnp_native.h>
#include <kj/async-io.h>
#include <kj/function.h>
#include <kj/mutex.h>
#include <kj/vector.h>
#include <sys/types.h>
#include <future>
#include <thread>
#include <unordered_set>

namespace capnp_native {

class Loop {
public:
  // A unit of work run on the loop thread. If `run` throws, the operation `tag` fails with the
  // exception's type and message; if the loop stops before running it, `tag` fails DISPOSED.
  struct Command {
    uint64_t tag;
    kj::Function<void(Loop&)> run;
  };

  // Starts the thread and returns once its event loop is running (or throws why it could not).
  Loop();
  // Stops the loop (see stop()) and joins its thread. Must not run on the loop thread.
  ~Loop() noexcept(false);
  KJ_DISALLOW_COPY(Loop);

  // Queues a command. Thread-safe. Throws a DISPOSED ShimError if the loop is stopping.
  void post(Command command);

  // Asks the loop to stop: queued commands and pending operations fail with DISPOSED, then the
  // thread exits. Thread-safe and idempotent.
  void requestStop();

  // Detaches the thread so that it frees this loop itself when it exits. For a release that
  // happens on the loop thread, where joining would deadlock.
  void releaseFromLoopThread();

  bool isLoopThread() const;
  pid_t threadId() const { return loopThreadId; }

  // --- Loop-thread only --------------------------------------------------------------------

  // Tracks an asynchronous operation: when `operation` ends, `tag` completes with OK and the
  // payload it produced, or with its exception. Stopping the loop first completes it DISPOSED.
  void track(uint64_t tag, kj::Promise<kj::Array<const kj::byte>> operation);

  kj::AsyncIoContext& io();

private:
  struct Queue {
    kj::Vector<Command> commands;
    kj::Maybe<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> wake;
    bool stopping = false;
    bool freeOnExit = false;
  };

  void threadMain(std::promise<void>& started);
  void runUntilStopped(kj::WaitScope& waitScope);
  void runBatch(kj::Vector<Command>& batch);
  void failBatch(kj::Vector<Command>& batch);
  void finishOperation(uint64_t tag, int32_t status, kj::ArrayPtr<const kj::byte> payload);
  void disposePendingOperations();

  kj::MutexGuarded<Queue> queue;
  std::thread thread;
  pid_t loopThreadId = 0;

  // Owned by the loop thread while it runs.
  kj::AsyncIoContext* ioContext = nullptr;
  kj::Maybe<kj::Own<kj::TaskSet>> operations;
  std::unordered_set<uint64_t> pendingTags;
};

}  // namespace capnp_native
