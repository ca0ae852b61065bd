// A KJ event loop on a dedicated thread, fed by a many-producer command queue.
//
// Any thread may post commands; the loop thread drains them in batches, and a producer wakes the
// loop only when it finds no wake-up already pending, so a burst of posts costs one wake-up.
// After delivering callbacks the loop polls a few rounds before it sleeps, as the managed side's
// answer usually follows at once and then needs no wake-up at all.
// Asynchronous operations started by commands are tracked by tag so that stopping the loop can
// complete each of them exactly once with CAPNP_STATUS_DISPOSED instead of leaving it hanging,
// and so that a caller can cancel one.
//
// Native objects handed out to the managed side (capabilities, connections, ...) are LoopObjects:
// their C++ state lives on the loop thread and is destroyed there, either when the owner releases
// the handle or, at the latest, when the loop stops. The handle's memory outlives the loop if
// need be; a loop's memory lives until its handle and every LoopObject are gone (refcount).

#pragma once

#include <capnp_native.h>
#include <kj/async-io.h>
#include <kj/function.h>
#include <kj/mutex.h>
#include <kj/refcount.h>
#include <kj/vector.h>
#include <atomic>
#include <future>
#include <sys/types.h>
#include <thread>
#include <kj/map.h>
#include <unordered_map>

namespace capnp_native {

class Loop;
class LeaseClaim;

// Segments the managed side lent with a command (see referenced_segments.h): completes the
// lease tag (CAPNP_STATUS_OK) when the last holder lets go. Loop thread only.
class SegmentLease final: public kj::Refcounted {
public:
  explicit SegmentLease(uint64_t tag): tag(tag) {}
  ~SegmentLease() noexcept(false);
  KJ_DISALLOW_COPY(SegmentLease);

private:
  uint64_t tag;
};

// A native object owned by a managed handle and bound to a loop. Created on any thread; its
// loop-bound state is created, used and destroyed on the loop thread only.
class LoopObject {
public:
  explicit LoopObject(Loop& loop);
  virtual ~LoopObject() noexcept(false);
  KJ_DISALLOW_COPY(LoopObject);

  Loop& loop() { return *owner; }

  // Releases the handle (any thread): the state is destroyed on the loop thread, then the object
  // is freed. After the loop has stopped, the state is already gone and the object is freed now.
  void release();

  // Loop thread: marks the state as live, so that the loop destroys it if it stops first.
  void attach();

protected:
  // Loop thread: destroys the loop-bound state. Called at most once.
  virtual void dropState() = 0;

private:
  Loop* owner;
  bool attached = false;
  // Links in the loop's list of attached objects (intrusive: attaching allocates nothing).
  LoopObject* previousLive = nullptr;
  LoopObject* nextLive = nullptr;
  friend class Loop;
};

class Loop {
public:
  // A unit of work run on the loop thread. If `run` throws, the operation `tag` fails with the
  // exception's type and message; if the loop stops before running it, `tag` fails DISPOSED.
  // Tag 0 means no completion (the managed side never uses it): failures are only logged.
  struct Command {
    uint64_t tag;
    kj::Function<void(Loop&)> run;
    // A placeholder for the next queued release, keeping releases in order with commands.
    bool isRelease = false;
    // Non-zero: the command carries segments lent by the managed side (see
    // referenced_segments.h). The loop holds a SegmentLease for this tag while the command runs
    // (takeCommandLease) and completes the tag DISPOSED if the command never runs.
    uint64_t leaseTag = 0;
  };

  // Starts the thread and returns once its event loop is running (or throws why it could not).
  Loop();
  KJ_DISALLOW_COPY(Loop);

  // Queues a command. Thread-safe. Throws a DISPOSED ShimError if the loop is stopping. Posted
  // from the loop thread, the command runs later in the current turn (see drainLaterInThisTurn)
  // unless `nextTurn`: then it waits for the loop's next batch, after I/O has been polled.
  void post(Command command, bool nextTurn = false);

  // Stops the loop and joins its thread (or, on the loop thread itself, lets the thread finish
  // on its own), then drops the handle's reference. Queued commands and pending operations fail
  // with DISPOSED and every LoopObject's state is destroyed, on the loop thread.
  void shutdownAndRelease();

  void addRef() { refs.fetch_add(1, std::memory_order_relaxed); }
  void releaseRef();

  bool isLoopThread() const;
  pid_t threadId() const { return loopThreadId; }

  // --- Loop-thread only --------------------------------------------------------------------

  // Whether work may be done at once on the loop thread instead of being posted: no command
  // posted before now is still waiting (releases aside), in the queue or later in the batch being
  // run, and the loop is not stopping. Work done at once must not overtake them (a command about
  // to fill the capability that work reads, say).
  bool nothingPostedIsWaiting();

  // Tracks an asynchronous operation. The operation reports its own success by calling
  // finish(tag, OK, ...); when it throws, `tag` completes with the exception. Stopping the loop
  // first completes it DISPOSED; cancel(tag) completes it CANCELLED. Either way the operation's
  // promise is dropped, which cancels it.
  void track(uint64_t tag, kj::Promise<void> operation);

  // Completes a tracked operation. Returns false when it had already completed (cancelled or
  // disposed): the caller then still owns whatever the payload pointed to.
  bool finish(uint64_t tag, int32_t status, kj::ArrayPtr<const kj::byte> payload);

  // Cancels a tracked operation, if it is still pending.
  void cancel(uint64_t tag);

  kj::AsyncIoContext& io();

  // Resolves the next time a connection of this loop is lost or released, so that watchers of
  // remote capabilities can look again (the engine has no per-capability notification).
  kj::Promise<void> whenConnectionLost();

  // Called by a connection once it is lost or released.
  void connectionLost();

  // The running command's lease, for the command to share with whatever may read its segments
  // after it has run (null when it has none, or after the first call).
  kj::Maybe<kj::Own<SegmentLease>> takeCommandLease() { return kj::mv(commandLease); }

  // The LeaseClaim open on this loop, if any (see referenced_segments.h).
  kj::Maybe<LeaseClaim&> openClaim;

  // Where KJ_LOG output of this thread goes: null = standard error (KJ's default), 0 = nowhere,
  // else CAPNP_EVENT_LOG events with that tag (see capnp_loop_route_log).
  kj::Maybe<uint64_t> logTag;

  // Managed servers of this loop by the address of their ClientHook, so that a capability of
  // ours coming back in a message is recognised (loop thread only).
  std::unordered_map<const void*, uint64_t> localServerTags;

private:
  struct Queue {
    kj::Vector<Command> commands;
    kj::Vector<LoopObject*> releases;
    kj::Maybe<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> wake;
    bool stopping = false;
    // Why the loop thread failed, if it did (commands are then refused with LOOP_FAILED).
    kj::Maybe<kj::String> failure;
    // Set once every LoopObject's state is gone: releases then free objects directly.
    bool closed = false;
  };

  // How queued commands and pending operations end when the loop stops: "<prefix> before the
  // command ran<detail>" with `status`.
  struct StopReason {
    int32_t status;
    kj::StringPtr prefix;
    kj::String detail;
  };

  ~Loop() noexcept(false);
  void threadMain(std::promise<void>& started);
  // Runs commands until a stop is requested or an exception escapes the KJ loop, then stops.
  void runThenStop(kj::WaitScope& waitScope);
  void runUntilStopped(kj::WaitScope& waitScope);
  // Refuses further commands, fails queued commands and pending operations, destroys every
  // LoopObject's state. `failure` is set when the thread failed rather than being asked to stop.
  void stop(const StopReason& reason, kj::Maybe<kj::String> failure);
  void failBatch(kj::Vector<Command>& batch, const StopReason& reason);
  void freeReleased(kj::Vector<LoopObject*>& released);
  // Moves the queued commands and releases into the arguments; false when stopping (stop()
  // fails them) or when nothing is queued.
  bool takeQueued(kj::Vector<Command>& batch, kj::Vector<LoopObject*>& released);
  void runBatch(kj::Vector<Command>& batch, kj::Vector<LoopObject*>& released);
  // Loop thread, after its own code queued a command: runs the queue later in this same turn of
  // the KJ loop (evalLater), before the transports flush (evalLast), so that what the command
  // sends leaves in the same write as what the turn already produced. At most
  // MAX_DRAINS_PER_TURN times between two batches: code that keeps posting commands that
  // complete at once must not keep the loop from its I/O (or from seeing a stop request).
  void drainLaterInThisTurn();

public:
  // Loop thread: destroys an object's state and frees it now (for handles consumed on the loop).
  void freeReleased(LoopObject* object);

private:
  void endPendingOperations(const StopReason& reason);
  void destroyLiveObjects();
  void requestStop();
  void wakeUp(kj::Maybe<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> wake);
  void queueRelease(LoopObject* object);

  std::atomic<int> refs{1};
  kj::MutexGuarded<Queue> queue;
  std::thread thread;
  pid_t loopThreadId = 0;

  // Owned by the loop thread while it runs.
  kj::AsyncIoContext* ioContext = nullptr;
  // Work the loop runs for itself (the drains of drainLaterInThisTurn).
  kj::Maybe<kj::Own<kj::TaskSet>> operations;
  // Tracked operations (track): by tag while their tag is pending, all of them in a list while
  // their promise runs, and those whose promise has ended until the loop can destroy them (not
  // from inside their own continuation).
  struct Operation;
  bool operationsOpen = true;
  Operation* runningOperations = nullptr;
  kj::Vector<Operation*> retiredOperations;
  void retire(Operation* op);
  void destroyOperation(Operation* op);
  void destroyRetiredOperations();
  bool drainScheduled = false;
  int drainsThisTurn = 0;
  // runBatch calls in progress (their commands not yet run are no longer in the queue).
  int batchesRunning = 0;
  // Open addressing: tracking an operation allocates no node.
  kj::HashMap<uint64_t, Operation*> pending;
  // The attached LoopObjects, whose state the loop destroys if it stops first.
  LoopObject* liveObjects = nullptr;
  void linkLive(LoopObject* object);
  void unlinkLive(LoopObject* object);
  // Emptied batch vectors, kept with their capacity for the next batch (loop thread only).
  kj::Vector<Command> spareCommands;
  kj::Vector<LoopObject*> spareReleases;
  void recycle(kj::Vector<Command>& batch, kj::Vector<LoopObject*>& released);
  kj::Maybe<kj::Own<SegmentLease>> commandLease;
  kj::Vector<kj::Own<kj::PromiseFulfiller<void>>> connectionLossWaiters;

  friend class LoopObject;
};

}  // namespace capnp_native
