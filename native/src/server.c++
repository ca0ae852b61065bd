// Capabilities served by managed code: incoming calls are delivered as events through the
// completion callback, answered later from any thread by capnp_call_return / capnp_call_fail.

#include "handles.h"
#include "objects.h"
#include "caller_identity.h"
#include "referenced_segments.h"

#include <kj/debug.h>
#include <algorithm>

namespace capnp_native {

namespace {

// The managed dispatcher behind a server tag. Shared by the server and its calls in flight, so
// SERVER_RELEASED — after which the managed side frees the tag — is sent only when both the
// server and every call it dispatched are gone.
class ServerTarget final: public kj::Refcounted {
public:
  explicit ServerTarget(uint64_t tag): tag(tag) { counters().liveServers++; }
  ~ServerTarget() noexcept(false) {
    counters().liveServers--;
    complete(tag, CAPNP_EVENT_SERVER_RELEASED, nullptr);
  }

  const uint64_t tag;
};

// The engine's side of one incoming call: lives inside the promise dispatchCall returns (a
// kj adapter, so the promise and this state are one allocation), until the call is answered or
// the caller cancels it (the engine drops the promise).
class CallAnswer final {
public:
  CallAnswer(kj::PromiseFulfiller<void>& fulfiller, Call& call,
             capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context);
  // Dropped unanswered: the caller cancelled; the managed handler is told.
  ~CallAnswer() noexcept(false);

  kj::PromiseFulfiller<void>& fulfiller;
  capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context;
  // Null once the handle is gone.
  Call* call;
};

}  // namespace

// The capnp_call handle: owned by the managed side from the INCOMING_CALL event until it
// answers, which consumes it.
class Call final: public LoopObject {
public:
  Call(Loop& loop, kj::Own<ServerTarget> server): LoopObject(loop), server(kj::mv(server)) {
    counters().liveCalls++;
    attach();
  }
  ~Call() noexcept(false) { counters().liveCalls--; }

  // Loop thread: answers with results (or fails); a call cancelled meanwhile is just dropped.
  // Results the engine cannot take (a malformed message) fail the call instead of leaving the
  // caller waiting.
  void answer(kj::Maybe<OutgoingMessage&> results, kj::Maybe<kj::Exception> failure) {
    if (answered) return;
    answered = true;
    KJ_IF_MAYBE(engine, pending) {
      KJ_IF_MAYBE(exception, failure) {
        engine->fulfiller.reject(kj::mv(*exception));
        return;
      }
      KJ_IF_MAYBE(message, results) {
        if (!message->isEmpty()) {
          try {
            fillEngineMessage(loop(), *message, [&](capnp::MessageSize sizeHint) {
              return engine->context.getResults(sizeHint);
            });
          } catch (...) {
            // Not kj::runCatchingExceptions: the shim's own errors (a released capability in
            // the results, say) would reach the caller as "unknown non-KJ exception".
            auto error = describeCurrentException();
            engine->fulfiller.reject(kj::Exception(exceptionTypeOf(error.status), __FILE__,
                                                   __LINE__, kj::mv(error.message)));
            return;
          }
        }
      }
      engine->fulfiller.fulfill();
    }
  }

  // Loop thread: the caller cancelled (the engine dropped the call's promise unanswered).
  void cancelledByCaller() {
    pending = nullptr;
    if (answered) return;
    answered = true;
    tellCancelled();
  }

  kj::Maybe<CallAnswer&> pending;

protected:
  void dropState() override {
    // The handle is gone (answered, or released by a stopping loop): a call still unanswered
    // fails, and the managed handler, still running, is cancelled so it ends (and answers into
    // the void).
    if (!answered) {
      answered = true;
      KJ_IF_MAYBE(engine, pending) {
        engine->fulfiller.reject(KJ_EXCEPTION(DISCONNECTED, "the call was dropped unanswered"));
      }
      tellCancelled();
    }
    KJ_IF_MAYBE(engine, pending) engine->call = nullptr;
    pending = nullptr;
    server = nullptr;
  }

private:
  void tellCancelled() {
    auto handle = wrap(this);
    complete(server->tag, CAPNP_EVENT_CALL_CANCELLED, bytesOf(handle));
  }

  // Holds the server's tag: its SERVER_RELEASED must not come before this call's events.
  kj::Own<ServerTarget> server;
  bool answered = false;
};

namespace {

CallAnswer::CallAnswer(kj::PromiseFulfiller<void>& fulfiller, Call& call,
                       capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context)
    : fulfiller(fulfiller), context(context), call(&call) {
  call.pending = *this;
}

CallAnswer::~CallAnswer() noexcept(false) {
  if (call != nullptr) call->cancelledByCaller();
}

// Fills in who made the call whose parameters are `params` (see caller_identity.h).
void describeCaller(capnp::AnyPointer::Reader params, capnp_incoming_call& event) {
  KJ_IF_MAYBE(peer, callerOf(params)) {
    KJ_IF_MAYBE(fingerprint, peer->fingerprint) {
      KJ_ASSERT(fingerprint->size() == sizeof(event.caller_fingerprint));
      event.caller = 2;
      memcpy(event.caller_fingerprint, fingerprint->begin(), fingerprint->size());
    } else {
      event.caller = 1;
    }
  }
}

class ManagedServer final: public capnp::Capability::Server {
public:
  ManagedServer(Loop& loop, uint64_t tag, kj::Array<uint64_t> streamingKeys)
      : loop(loop), target(kj::refcounted<ServerTarget>(tag)), streamingKeys(kj::mv(streamingKeys)) {}
  ~ManagedServer() noexcept(false) {
    if (hook != nullptr) loop.localServerTags.erase(hook);
  }

  // Makes the capability for a new server and records it as ours.
  static capnp::Capability::Client create(Loop& loop, uint64_t tag, kj::Array<uint64_t> streamingKeys) {
    auto server = kj::heap<ManagedServer>(loop, tag, kj::mv(streamingKeys));
    auto& self = *server;
    auto hook = capnp::ClientHook::from(capnp::Capability::Client(kj::mv(server)));
    self.hook = hook.get();
    loop.localServerTags[self.hook] = tag;
    return capnp::Capability::Client(kj::mv(hook));
  }

  DispatchCallResult dispatchCall(uint64_t interfaceId, uint16_t methodId,
                                  capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override {
    bool streaming = isStreaming(interfaceId, methodId);
    // Remote cancellation (Finish) must reach the managed handler's CancellationToken.
    context.allowCancellation();

    auto params = new Message(loop, context.getParams());

    auto call = new Call(loop, kj::addRef(*target));
    auto answer = kj::newAdaptedPromise<void, CallAnswer>(*call, context);

    capnp_incoming_call event;
    memset(&event, 0, sizeof(event));
    event.call = wrap(call);
    event.interface_id = interfaceId;
    event.method_id = methodId;
    event.is_streaming = static_cast<uint16_t>(streaming);
    describeCaller(context.getParams(), event);
    event.params = params->view();
    complete(target->tag, CAPNP_EVENT_INCOMING_CALL, bytesOf(event));
    // Only now: the event may have borrowed the parameters' segments from the request.
    context.releaseParams();
    return {kj::mv(answer), streaming};
  }

private:
  bool isStreaming(uint64_t interfaceId, uint16_t methodId) const {
    for (size_t i = 0; i + 1 < streamingKeys.size(); i += 2) {
      if (streamingKeys[i] == interfaceId && streamingKeys[i + 1] == methodId) return true;
    }
    return false;
  }

  Loop& loop;
  kj::Own<ServerTarget> target;
  kj::Array<uint64_t> streamingKeys;
  const void* hook = nullptr;
};

kj::Exception exceptionOf(int32_t kind, const char* message, size_t length) {
  return kj::Exception(exceptionTypeOf(kind), __FILE__, __LINE__, kj::heapString(message, length));
}

}  // namespace
}  // namespace capnp_native

extern "C" int32_t capnp_server_create(capnp_loop* loop, uint64_t tag,
                                       const uint64_t* streaming_method_keys,
                                       uint32_t streaming_method_count, capnp_cap** out_cap) {
  using namespace capnp_native;
  return guarded([&] {
    auto& owner = unwrapLoop(loop);
    requireArgument(tag != 0, "capnp_server_create: tag 0 is reserved");
    requireArgument(out_cap != nullptr, "capnp_server_create: null out-parameter");
    requireArgument(streaming_method_keys != nullptr || streaming_method_count == 0, "null streaming keys");
    auto keys = kj::heapArray<uint64_t>(streaming_method_keys, size_t(streaming_method_count) * 2);
    auto cap = new Cap(owner);
    // No completion tag for the command: if the loop refuses it, the caller keeps its tag.
    postOrDelete(owner, cap, [cap, tag, keys = kj::mv(keys)](Loop& loop) mutable {
      cap->fill(ManagedServer::create(loop, tag, kj::mv(keys)));
    });
    *out_cap = wrap(cap);
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_call_return(capnp_call* call, const capnp_segment* segments,
                                     uint32_t segment_count, capnp_cap* const* caps,
                                     uint32_t cap_count, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& answered = unwrap(call);
    // The handle is consumed whatever happens; its release runs after the answer (FIFO).
    KJ_DEFER(answered.release());
    auto results = OutgoingMessage::describe(answered.loop(), segments, segment_count, caps, cap_count);
    if (tag == 0 && answered.loop().isLoopThread() && answered.loop().nothingPostedIsWaiting()) {
      // On the loop thread (a server that runs there answering as its call is delivered), with
      // nothing posted before still to run (a capability the results carry may wait for its
      // command): answer now, reading the caller's segments before this returns, so they need no
      // copy. The engine then sends the Return before it starts the next call of the batch, as
      // for its own synchronous servers, and each call's state is freed before the next one's is
      // made. Posted, the answers of a whole batch waited for one drain with all their state
      // alive, which overflowed glibc's per-thread cache: 4.5% of a server's CPU in _int_malloc
      // against 0.7% now (perf, throughput scenario).
      answered.answer(results, nullptr);
      return CAPNP_STATUS_OK;
    }
    if (tag == 0) results.copySegments();
    // With a tag the segments are lent: the loop completes it once nothing reads them any more.
    answered.loop().post({0, [&answered, results = kj::mv(results)](Loop&) mutable {
      answered.answer(results, nullptr);
    }, false, tag});
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_call_fail(capnp_call* call, int32_t kind, const char* message,
                                   size_t message_len) {
  using namespace capnp_native;
  return guarded([&] {
    auto& answered = unwrap(call);
    KJ_DEFER(answered.release());
    requireArgument(kind >= CAPNP_STATUS_FAILED && kind <= CAPNP_STATUS_UNIMPLEMENTED,
                    "exception kind must be a capnp_status between FAILED and UNIMPLEMENTED");
    requireArgument(message != nullptr || message_len == 0, "capnp_call_fail: null message");
    auto exception = exceptionOf(kind, message, message_len);
    answered.loop().post({0, [&answered, exception = kj::mv(exception)](Loop&) mutable {
      answered.answer(nullptr, kj::mv(exception));
    }});
    return CAPNP_STATUS_OK;
  });
}
