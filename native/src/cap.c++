// Capabilities, outgoing calls and pipelines.

#include "objects.h"
#include "referenced_segments.h"

#include <kj/debug.h>

namespace capnp_native {

Cap::Cap(Loop& loop): LoopObject(loop) {
  counters().liveCaps++;
}

Cap::~Cap() noexcept(false) {
  counters().liveCaps--;
}

void Cap::fill(capnp::Capability::Client client) {
  state = kj::mv(client);
  attach();
}

capnp::Capability::Client& Cap::client() {
  KJ_IF_MAYBE(client, state) { return *client; }
  throw ShimError{CAPNP_STATUS_DISPOSED, kj::str("the capability was released or its event loop disposed")};
}

Cap* newAttachedCap(Loop& loop, capnp::Capability::Client client) {
  auto cap = new Cap(loop);
  cap->fill(kj::mv(client));
  return cap;
}

kj::Maybe<capnp::Capability::Client> optionalClient(Cap* cap) {
  if (cap == nullptr) return nullptr;
  return cap->client();
}

void Pipeline::fill(capnp::AnyPointer::Pipeline pipeline) {
  state = kj::mv(pipeline);
  attach();
}

void Pipeline::fail(kj::Exception&& reason) {
  failure = kj::mv(reason);
}

capnp::Capability::Client Pipeline::getCap(kj::ArrayPtr<const uint16_t> pointerPath) {
  KJ_IF_MAYBE(pipeline, state) {
    auto target = pipeline->noop();
    for (auto index: pointerPath) target = target.getPointerField(index);
    return capnp::Capability::Client(target.asCap());
  }
  KJ_IF_MAYBE(reason, failure) {
    return capnp::Capability::Client(capnp::newBrokenCap(kj::cp(*reason)));
  }
  return capnp::Capability::Client(capnp::newBrokenCap(
      kj::Exception(kj::Exception::Type::DISCONNECTED, __FILE__, __LINE__,
                    kj::str("the call's pipeline was released or its event loop disposed"))));
}

namespace {

// Client::newStreamingCall is protected: the generated C++ code reaches it the same way.
class StreamingClient final: public capnp::Capability::Client {
public:
  explicit StreamingClient(capnp::Capability::Client& client): Client(client) {}

  capnp::StreamingRequest<capnp::AnyPointer> newRequest(uint64_t interfaceId, uint16_t methodId,
                                                        capnp::MessageSize sizeHint) {
    return newStreamingCall<capnp::AnyPointer>(interfaceId, methodId, sizeHint);
  }
};

// Runs on the loop thread: sends the call and tracks its answer under tag.
void sendCall(Loop& loop, Cap& target, uint64_t interfaceId, uint16_t methodId, bool streaming,
              OutgoingMessage& params, uint64_t tag, Pipeline* pipeline) {
  if (streaming) {
    auto request = fillEngineMessage(loop, params, [&](capnp::MessageSize sizeHint) {
      return StreamingClient(target.client()).newRequest(interfaceId, methodId, sizeHint);
    });
    loop.track(tag, request.send().then([&loop, tag]() {
      loop.finish(tag, CAPNP_STATUS_OK, nullptr);
    }));
    return;
  }

  auto request = fillEngineMessage(loop, params, [&](capnp::MessageSize sizeHint) {
    return target.client().typelessRequest(interfaceId, methodId, sizeHint);
  });
  auto promise = request.send();
  if (pipeline != nullptr) {
    pipeline->fill(kj::mv(kj::implicitCast<capnp::AnyPointer::Pipeline&>(promise)));
  }
  loop.track(tag, promise.then([&loop, tag](capnp::Response<capnp::AnyPointer>&& response) {
    auto message = new Message(loop, response);
    auto view = message->view();
    if (!loop.finish(tag, CAPNP_STATUS_OK, bytesOf(view))) {
      message->releaseUndeliveredCaps();
      delete message;
    }
  }));
}

}  // namespace
}  // namespace capnp_native

extern "C" void capnp_cap_release(capnp_cap* cap) {
  using namespace capnp_native;
  if (cap == nullptr) return;
  guarded([&] {
    unwrap(cap).release();
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_cap_duplicate(capnp_cap* cap, capnp_cap** out_cap) {
  using namespace capnp_native;
  return guarded([&] {
    auto& original = unwrap(cap);
    requireArgument(out_cap != nullptr, "capnp_cap_duplicate: null out-parameter");
    auto copy = new Cap(original.loop());
    postOrDelete(original.loop(), copy, [&original, copy](Loop&) { copy->fill(original.client()); });
    *out_cap = wrap(copy);
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_cap_call(capnp_cap* target, uint64_t interface_id, uint16_t method_id,
                                  int32_t is_streaming, const capnp_segment* segments,
                                  uint32_t segment_count, capnp_cap* const* caps,
                                  uint32_t cap_count, uint64_t tag, uint64_t segments_lease_tag,
                                  capnp_pipeline** out_pipeline) {
  using namespace capnp_native;
  return guarded([&] {
    auto& cap = unwrap(target);
    auto& loop = cap.loop();
    requireArgument(tag != 0, "capnp_cap_call: tag 0 is reserved");
    auto params = OutgoingMessage::describe(loop, segments, segment_count, caps, cap_count);
    bool streaming = is_streaming != 0;
    requireArgument(segments_lease_tag != tag, "capnp_cap_call: the lease needs a tag of its own");
    Pipeline* pipelinePtr = out_pipeline != nullptr && !streaming ? new Pipeline(loop) : nullptr;
    postOrDelete(loop, pipelinePtr, tag, segments_lease_tag,
                 [&cap, interface_id, method_id, streaming, params = kj::mv(params), tag,
                  pipelinePtr](Loop& loop) mutable {
      try {
        sendCall(loop, cap, interface_id, method_id, streaming, params, tag, pipelinePtr);
      } catch (...) {
        // The call never started: pipelined capabilities break with the same reason.
        if (pipelinePtr != nullptr) {
          auto error = describeCurrentException();
          pipelinePtr->fail(kj::Exception(exceptionTypeOf(error.status), __FILE__, __LINE__,
                                          kj::mv(error.message)));
        }
        throw;
      }
    });
    if (out_pipeline != nullptr) *out_pipeline = pipelinePtr == nullptr ? nullptr : wrap(pipelinePtr);
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_operation_cancel(capnp_loop* loop, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    requireArgument(loop != nullptr, "null capnp_loop handle");
    auto& target = *reinterpret_cast<Loop*>(loop);
    target.post({0, [tag](Loop& self) { self.cancel(tag); }});
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_pipeline_get_cap(capnp_pipeline* pipeline, const uint16_t* pointer_path,
                                          uint32_t path_length, capnp_cap** out_cap) {
  using namespace capnp_native;
  return guarded([&] {
    auto& source = unwrap(pipeline);
    requireArgument(pointer_path != nullptr || path_length == 0, "null pointer path");
    requireArgument(out_cap != nullptr, "capnp_pipeline_get_cap: null out-parameter");
    auto path = kj::heapArray<uint16_t>(pointer_path, path_length);
    auto cap = new Cap(source.loop());
    postOrDelete(source.loop(), cap, [&source, cap, path = kj::mv(path)](Loop&) {
      cap->fill(source.getCap(path));
    });
    *out_cap = wrap(cap);
    return CAPNP_STATUS_OK;
  });
}

extern "C" void capnp_pipeline_release(capnp_pipeline* pipeline) {
  using namespace capnp_native;
  if (pipeline == nullptr) return;
  guarded([&] {
    unwrap(pipeline).release();
    return CAPNP_STATUS_OK;
  });
}

extern "C" int32_t capnp_cap_when_resolved(capnp_cap* cap, uint64_t tag) {
  using namespace capnp_native;
  return guarded([&] {
    auto& target = unwrap(cap);
    requireArgument(tag != 0, "capnp_cap_when_resolved: tag 0 is reserved");
    target.loop().post({tag, [&target, tag](Loop& loop) {
      loop.track(tag, target.client().whenResolved().then([&loop, tag]() {
        loop.finish(tag, CAPNP_STATUS_OK, nullptr);
      }));
    }});
    return CAPNP_STATUS_OK;
  });
}
