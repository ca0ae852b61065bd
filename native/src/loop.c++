#include "loop.h"
#include "runtime.h"
#include "status.h"

#include <kj/debug.h>
#include <sched.h>
#include <unistd.h>

namespace capnp_native {
namespace {

// Tracked operations report their own errors; anything reaching here is a bug worth a log line.
class LogTaskErrors final: public kj::TaskSet::ErrorHandler {
public:
  void taskFailed(kj::Exception&& exception) override {
    KJ_LOG(ERROR, "capnp_native: untracked task failed", exception);
  }
};

LogTaskErrors logTaskErrors;

// Installed on the loop thread's stack for its whole life: routes what KJ_LOG writes there (the
// engine's and ours) to the managed side when the owner asked for it (the library writes nothing
// to the console by itself), else to KJ's default (standard error).
class LogRouter final: public kj::ExceptionCallback {
public:
  explicit LogRouter(Loop& loop): loop(loop) {}

  void logMessage(kj::LogSeverity severity, const char* file, int line, int contextDepth,
                  kj::String&& text) override {
    KJ_IF_MAYBE(tag, loop.logTag) {
      if (*tag == 0) return;
      capnp_log_message message;
      memset(&message, 0, sizeof(message));
      message.severity = static_cast<int32_t>(severity);
      message.text = text.asBytes().begin();
      message.text_len = text.size();
      complete(*tag, CAPNP_EVENT_LOG,
               kj::arrayPtr(reinterpret_cast<const kj::byte*>(&message), sizeof(message)));
      return;
    }
    next.logMessage(severity, file, line, contextDepth, kj::mv(text));
  }

private:
  Loop& loop;
};

// How many times the loop thread polls (yielding the CPU in between) for the managed side's
// answer before it blocks, after it delivered callbacks. Blocking at once makes that answer pay
// a thread wake-up, which on a virtual machine costs tens of microseconds (the idle vCPU halts);
// a few rounds of sched_yield + a non-blocking poll (about 1-3 µs each) catch most answers
// without one. Measured with bench/run, C#/C#: latency 106 µs instead of 155-180, bulk
// 1100-1140 MB/s instead of 805-974, with less CPU per call; 40 rounds did no better.
constexpr int POLL_ROUNDS_AFTER_CALLBACKS = 20;

// How many times the loop thread's own commands may run within one turn (drainLaterInThisTurn)
// before they wait for the next batch. One is what a caller needs (its next call leaves with the
// Finish of the last); a few more let a burst of completions each send at once.
constexpr int MAX_DRAINS_PER_TURN = 8;

// Why a loop no longer takes commands: disposed by its owner, or its thread failed.
ShimError refusal(kj::Maybe<kj::StringPtr> failure) {
  KJ_IF_MAYBE(reason, failure) {
    return ShimError{CAPNP_STATUS_LOOP_FAILED, kj::str("the event loop failed: ", *reason)};
  }
  return ShimError{CAPNP_STATUS_DISPOSED, kj::str("the event loop is disposed")};
}

}  // namespace

SegmentLease::~SegmentLease() noexcept(false) {
  complete(tag, CAPNP_STATUS_OK, nullptr);
}

// ---------------------------------------------------------------------------------------------
// LoopObject

LoopObject::LoopObject(Loop& loop): owner(&loop) {
  loop.addRef();
}

LoopObject::~LoopObject() noexcept(false) {
  owner->releaseRef();
}

void LoopObject::release() {
  owner->queueRelease(this);
}

void LoopObject::attach() {
  owner->linkLive(this);
  attached = true;
}

// ---------------------------------------------------------------------------------------------
// Loop: lifetime

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
  counters().liveLoops--;
}

void Loop::releaseRef() {
  if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

void Loop::shutdownAndRelease() {
  if (isLoopThread()) {
    // Joining ourselves would deadlock: the thread drops the handle's reference as it exits.
    thread.detach();
    requestStop();
  } else {
    requestStop();
    thread.join();
    releaseRef();
  }
}

namespace {
// The loop whose thread this is (set by threadMain): cheaper to ask than gettid(), a system call.
thread_local Loop* threadLoop = nullptr;
}  // namespace

bool Loop::isLoopThread() const {
  return threadLoop == this;
}

bool Loop::nothingPostedIsWaiting() {
  if (batchesRunning > 0) return false;
  auto lock = queue.lockExclusive();
  if (lock->stopping) return false;
  // Releases do not count: they only free what nobody uses any more (an answer's results hold
  // their own references), and the queue holds the last answered calls' handles' releases.
  for (auto& command: lock->commands) {
    if (!command.isRelease) return false;
  }
  return true;
}

kj::AsyncIoContext& Loop::io() {
  KJ_REQUIRE(ioContext != nullptr, "event loop is not running");
  return *ioContext;
}

kj::Promise<void> Loop::whenConnectionLost() {
  // Waiters whose watch was cancelled meanwhile are dropped here, so the list stays bounded by
  // the number of live watches.
  kj::Vector<kj::Own<kj::PromiseFulfiller<void>>> live;
  for (auto& waiter: connectionLossWaiters) {
    if (waiter->isWaiting()) live.add(kj::mv(waiter));
  }
  connectionLossWaiters = kj::mv(live);
  auto paf = kj::newPromiseAndFulfiller<void>();
  connectionLossWaiters.add(kj::mv(paf.fulfiller));
  return kj::mv(paf.promise);
}

void Loop::connectionLost() {
  auto waiters = kj::mv(connectionLossWaiters);
  for (auto& waiter: waiters) waiter->fulfill();
}

// ---------------------------------------------------------------------------------------------
// Loop: the queue

void Loop::wakeUp(kj::Maybe<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> wake) {
  KJ_IF_MAYBE(w, wake) { (*w)->fulfill(); }
}

void Loop::post(Command command, bool nextTurn) {
  kj::Maybe<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> wake;
  {
    auto lock = queue.lockExclusive();
    if (lock->stopping) throw refusal(lock->failure);
    lock->commands.add(kj::mv(command));
    // Only the first producer of a batch finds the fulfiller; later ones just append.
    wake = kj::mv(lock->wake);
    lock->wake = nullptr;
  }
  wakeUp(kj::mv(wake));
  if (!nextTurn && isLoopThread()) drainLaterInThisTurn();
}

void Loop::drainLaterInThisTurn() {
  if (drainScheduled || drainsThisTurn >= MAX_DRAINS_PER_TURN) return;
  KJ_IF_MAYBE(tasks, operations) {
    drainScheduled = true;
    ++drainsThisTurn;
    (*tasks)->add(kj::evalLater([this]() {
      drainScheduled = false;
      kj::Vector<Command> batch;
      kj::Vector<LoopObject*> released;
      if (takeQueued(batch, released)) {
        runBatch(batch, released);
        recycle(batch, released);
      }
    }));
  }
}

bool Loop::takeQueued(kj::Vector<Command>& batch, kj::Vector<LoopObject*>& released) {
  auto lock = queue.lockExclusive();
  if (lock->stopping || lock->commands.empty()) return false;
  batch = kj::mv(lock->commands);
  lock->commands = kj::mv(spareCommands);
  released = kj::mv(lock->releases);
  lock->releases = kj::mv(spareReleases);
  return true;
}

void Loop::runBatch(kj::Vector<Command>& batch, kj::Vector<LoopObject*>& released) {
  ++batchesRunning;
  KJ_DEFER(--batchesRunning);
  // Releases ride in the batch as empty commands, in order; run them where they stand.
  size_t nextRelease = 0;
  for (auto& command: batch) {
    if (command.isRelease) {
      freeReleased(released[nextRelease++]);
    } else {
      counters().commandsExecuted++;
      if (command.leaseTag != 0) commandLease = kj::refcounted<SegmentLease>(command.leaseTag);
      try {
        command.run(*this);
      } catch (...) {
        auto error = describeCurrentException();
        if (command.tag != 0) {
          completeWithError(command.tag, error.status, error.message);
        } else {
          KJ_LOG(ERROR, "capnp_native: a command without completion failed", error.message);
        }
      }
      // Unless the command shared it, the lease ends here: its tag completes now.
      commandLease = nullptr;
    }
  }
}

void Loop::queueRelease(LoopObject* object) {
  kj::Maybe<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> wake;
  bool closed;
  bool stopping;
  {
    auto lock = queue.lockExclusive();
    closed = lock->closed;
    stopping = lock->stopping;
    if (!closed) {
      // Releases share the command queue (even while stopping) so that a command posted before
      // a release still finds the object's state.
      lock->releases.add(object);
      lock->commands.add(Command{0, {}, true});
      wake = kj::mv(lock->wake);
      lock->wake = nullptr;
    }
  }
  if (closed) {
    // The loop has destroyed every object's state already; only the memory is left.
    delete object;
  } else {
    wakeUp(kj::mv(wake));
    if (!stopping && isLoopThread()) drainLaterInThisTurn();
  }
}

void Loop::requestStop() {
  kj::Maybe<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> wake;
  {
    auto lock = queue.lockExclusive();
    lock->stopping = true;
    wake = kj::mv(lock->wake);
    lock->wake = nullptr;
  }
  wakeUp(kj::mv(wake));
}

// ---------------------------------------------------------------------------------------------
// Loop: tracked operations

// One tracked operation: its promise, evaluated eagerly. Three heap objects per operation (this,
// the continuation and the eager node) where a kj::Canceler in a kj::TaskSet took seven; every
// call a managed client makes is one.
struct Loop::Operation {
  uint64_t tag;
  kj::Promise<void> promise = nullptr;
  // Links in the loop's list of operations still running (completed or not).
  Operation* previous = nullptr;
  Operation* next = nullptr;
};

void Loop::track(uint64_t tag, kj::Promise<void> operation) {
  if (!operationsOpen) throw refusal(nullptr);
  KJ_REQUIRE(pending.find(tag) == nullptr, "operation tag already in use", tag);
  auto op = new Operation{tag};
  // The last continuation: once it has run, nothing of the promise runs any more, so the
  // operation can go (later: not from inside its own promise).
  op->promise = operation.then([this, op]() { retire(op); },
                               [this, op](kj::Exception&& exception) {
    finish(op->tag, statusOf(exception), exception.getDescription().asBytes());
    retire(op);
  }).eagerlyEvaluate(nullptr);
  op->next = runningOperations;
  if (runningOperations != nullptr) runningOperations->previous = op;
  runningOperations = op;
  pending.insert(tag, op);
  counters().livePendingOperations++;
}

bool Loop::finish(uint64_t tag, int32_t status, kj::ArrayPtr<const kj::byte> payload) {
  // Completing exactly once: whoever removes the tag completes it.
  if (!pending.erase(tag)) return false;
  counters().livePendingOperations--;
  complete(tag, status, payload);
  return true;
}

void Loop::cancel(uint64_t tag) {
  Operation* op;
  KJ_IF_MAYBE(found, pending.find(tag)) {
    op = *found;
  } else {
    return;
  }
  pending.erase(tag);
  counters().livePendingOperations--;
  completeWithError(tag, CAPNP_STATUS_CANCELLED, "the operation was cancelled");
  // Dropping the promise cancels the operation; its continuations never run.
  destroyOperation(op);
}

void Loop::retire(Operation* op) {
  // An operation that ended without finishing its tag (none should) leaves no stale entry.
  KJ_IF_MAYBE(found, pending.find(op->tag)) {
    if (*found == op) {
      pending.erase(op->tag);
      counters().livePendingOperations--;
      completeWithError(op->tag, CAPNP_STATUS_FAILED, "the operation ended without a result");
    }
  }
  retiredOperations.add(op);
}

void Loop::destroyOperation(Operation* op) {
  if (op->previous != nullptr) {
    op->previous->next = op->next;
  } else {
    runningOperations = op->next;
  }
  if (op->next != nullptr) op->next->previous = op->previous;
  // Unlinked first: what the promise's destruction runs may track or end other operations.
  delete op;
}

void Loop::destroyRetiredOperations() {
  while (!retiredOperations.empty()) {
    auto retired = kj::mv(retiredOperations);
    retiredOperations = kj::Vector<Operation*>();
    for (auto op: retired) destroyOperation(op);
  }
}

void Loop::endPendingOperations(const StopReason& reason) {
  operationsOpen = false;
  // A fresh map, not clear(): clearing a moved-from kj::HashMap passes memset a null pointer.
  auto tags = kj::mv(pending);
  pending = kj::HashMap<uint64_t, Operation*>();
  for (auto& entry: tags) {
    counters().livePendingOperations--;
    completeWithError(entry.key, reason.status,
                      kj::str(reason.prefix, " before the operation completed", reason.detail));
  }
  // Dropping the operations' promises cancels them; their continuations never run.
  try {
    destroyRetiredOperations();
    while (runningOperations != nullptr) destroyOperation(runningOperations);
    destroyRetiredOperations();
    operations = nullptr;
  } catch (...) {
    auto error = describeCurrentException();
    KJ_LOG(ERROR, "capnp_native: cancelling the loop's operations failed", error.message);
  }
  connectionLossWaiters.clear();
}

// ---------------------------------------------------------------------------------------------
// Loop: the thread

void Loop::threadMain(std::promise<void>& started) {
  counters().liveLoopThreads++;
  bool running = false;
  try {
    LogRouter logRouter(*this);
    auto io = kj::setupAsyncIo();
    ioContext = &io;
    loopThreadId = gettid();
    threadLoop = this;
    operations = kj::heap<kj::TaskSet>(logTaskErrors);
    running = true;
    started.set_value();
    runThenStop(io.waitScope);
    ioContext = nullptr;
  } catch (...) {
    ioContext = nullptr;
    if (!running) {
      started.set_exception(std::current_exception());
    } else {
      auto error = describeCurrentException();
      KJ_LOG(ERROR, "capnp_native: event loop thread failed", error.message);
    }
  }
  counters().liveLoopThreads--;
  // A loop released from its own thread was detached; the thread drops the handle's reference.
  if (running && !thread.joinable()) releaseRef();
}

void Loop::runThenStop(kj::WaitScope& waitScope) {
  try {
    runUntilStopped(waitScope);
  } catch (...) {
    // An exception escaped an event of the KJ loop (outside any command's own try/catch). The
    // loop's state can no longer be trusted: refuse new commands, fail all work with the reason,
    // and tell the owner (its watch operations complete LOOP_FAILED).
    auto error = describeCurrentException();
    KJ_LOG(ERROR, "capnp_native: the event loop thread failed; failing all its work", error.message);
    StopReason reason{CAPNP_STATUS_LOOP_FAILED, "the event loop failed", kj::str(": ", error.message)};
    stop(reason, kj::mv(error.message));
    return;
  }
  stop(StopReason{CAPNP_STATUS_DISPOSED, "the event loop was disposed", nullptr}, nullptr);
}

void Loop::stop(const StopReason& reason, kj::Maybe<kj::String> failure) {
  kj::Vector<Command> batch;
  kj::Vector<LoopObject*> released;
  {
    auto lock = queue.lockExclusive();
    lock->stopping = true;
    lock->failure = kj::mv(failure);
    batch = kj::mv(lock->commands);
    lock->commands = kj::Vector<Command>();
    released = kj::mv(lock->releases);
    lock->releases = kj::Vector<LoopObject*>();
  }
  failBatch(batch, reason);
  freeReleased(released);
  endPendingOperations(reason);
  destroyLiveObjects();
  {
    auto lock = queue.lockExclusive();
    lock->closed = true;
    released = kj::mv(lock->releases);
    lock->releases = kj::Vector<LoopObject*>();
  }
  freeReleased(released);
  KJ_IF_MAYBE(tag, logTag) {
    // The last use of the log tag; whatever is logged from now on is dropped.
    if (*tag != 0) complete(*tag, CAPNP_STATUS_DISPOSED, nullptr);
    logTag = uint64_t(0);
  }
}

void Loop::runUntilStopped(kj::WaitScope& waitScope) {
  int pollRounds = 0;
  uint64_t delivered = callbacksDelivered;
  for (;;) {
    // Operations whose promise ended since the last round (they cannot go from inside it).
    destroyRetiredOperations();
    kj::Vector<Command> batch;
    kj::Vector<LoopObject*> released;
    bool poll = false;
    drainsThisTurn = 0;
    kj::Maybe<kj::Promise<void>> wakeUp;
    if (callbacksDelivered != delivered) {
      // The managed side was just called back; its answer (a server's results, a caller's next
      // call) usually follows within microseconds: poll for it a little before blocking.
      delivered = callbacksDelivered;
      pollRounds = POLL_ROUNDS_AFTER_CALLBACKS;
    }
    {
      auto lock = queue.lockExclusive();
      // stop() fails whatever is queued, in order.
      if (lock->stopping) return;
      bool idle = lock->commands.empty();
      if (idle && pollRounds > 0) {
        --pollRounds;
        poll = true;
      } else if (idle) {
        auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
        lock->wake = kj::mv(paf.fulfiller);
        wakeUp = kj::mv(paf.promise);
      } else {
        batch = kj::mv(lock->commands);
        lock->commands = kj::mv(spareCommands);
        released = kj::mv(lock->releases);
        lock->releases = kj::mv(spareReleases);
      }
    }
    if (poll) {
      // Yield the CPU (to the very thread about to answer, on a busy machine), then handle any
      // I/O that became ready without waiting for it.
      sched_yield();
      waitScope.poll();
      continue;
    }
    KJ_IF_MAYBE(w, wakeUp) {
      w->wait(waitScope);
      counters().wakeups++;
      continue;
    }
    runBatch(batch, released);
    recycle(batch, released);
    // Let the work this batch started make progress before the next batch.
    waitScope.poll();
  }
}

void Loop::failBatch(kj::Vector<Command>& batch, const StopReason& reason) {
  auto message = kj::str(reason.prefix, " before the command ran", reason.detail);
  for (auto& command: batch) {
    if (command.isRelease) continue;  // releases are freed separately
    if (command.leaseTag != 0) completeWithError(command.leaseTag, reason.status, message);
    if (command.tag == 0) continue;
    completeWithError(command.tag, reason.status, message);
  }
}

void Loop::freeReleased(kj::Vector<LoopObject*>& released) {
  for (auto object: released) freeReleased(object);
}

void Loop::recycle(kj::Vector<Command>& batch, kj::Vector<LoopObject*>& released) {
  batch.clear();
  released.clear();
  // A nested drain may have left a spare already: keep the bigger one.
  if (batch.capacity() > spareCommands.capacity()) spareCommands = kj::mv(batch);
  if (released.capacity() > spareReleases.capacity()) spareReleases = kj::mv(released);
}

void Loop::linkLive(LoopObject* object) {
  object->previousLive = nullptr;
  object->nextLive = liveObjects;
  if (liveObjects != nullptr) liveObjects->previousLive = object;
  liveObjects = object;
}

void Loop::unlinkLive(LoopObject* object) {
  if (object->previousLive != nullptr) {
    object->previousLive->nextLive = object->nextLive;
  } else {
    liveObjects = object->nextLive;
  }
  if (object->nextLive != nullptr) object->nextLive->previousLive = object->previousLive;
  object->previousLive = nullptr;
  object->nextLive = nullptr;
}

void Loop::freeReleased(LoopObject* object) {
  if (object->attached) {
    unlinkLive(object);
    object->attached = false;
    try {
      object->dropState();
    } catch (...) {
      auto error = describeCurrentException();
      KJ_LOG(ERROR, "capnp_native: destroying a released object failed", error.message);
    }
  }
  try {
    delete object;
  } catch (...) {
    auto error = describeCurrentException();
    KJ_LOG(ERROR, "capnp_native: freeing a released object failed", error.message);
  }
}

void Loop::destroyLiveObjects() {
  // Dropping one object's state may release others (e.g. a connection's capabilities): loop
  // until none is left.
  while (liveObjects != nullptr) {
    auto object = liveObjects;
    unlinkLive(object);
    object->attached = false;
    try {
      object->dropState();
    } catch (...) {
      auto error = describeCurrentException();
      KJ_LOG(ERROR, "capnp_native: destroying an object's state failed", error.message);
    }
  }
}

}  // namespace capnp_native
