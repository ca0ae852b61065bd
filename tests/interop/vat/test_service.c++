#include "test_service.h"

#include <kj/debug.h>

namespace interop {

TestServiceImpl::TestServiceImpl(): state(kj::refcounted<ServiceState>()) {}

kj::Promise<void> TestServiceImpl::echo(EchoContext context) {
  context.getResults().setText(context.getParams().getText());
  return kj::READY_NOW;
}

kj::Promise<void> TestServiceImpl::add(AddContext context) {
  auto params = context.getParams();
  // Two's-complement wrap-around, without signed-overflow UB.
  uint64_t sum = static_cast<uint64_t>(params.getA()) + static_cast<uint64_t>(params.getB());
  context.getResults().setSum(static_cast<int64_t>(sum));
  return kj::READY_NOW;
}

kj::Promise<void> TestServiceImpl::fail(FailContext context) {
  auto params = context.getParams();
  auto message = kj::str(params.getMessage());
  kj::Exception::Type type;
  switch (params.getKind()) {
    case FailKind::FAILED: type = kj::Exception::Type::FAILED; break;
    case FailKind::OVERLOADED: type = kj::Exception::Type::OVERLOADED; break;
    case FailKind::DISCONNECTED: type = kj::Exception::Type::DISCONNECTED; break;
    case FailKind::UNIMPLEMENTED: type = kj::Exception::Type::UNIMPLEMENTED; break;
    default:
      // A FailKind this schema version does not know: FAILED, with the value in the text.
      return kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
          kj::str("unknown FailKind ", static_cast<uint16_t>(params.getKind()), ": ", message));
  }
  return kj::Exception(type, __FILE__, __LINE__, kj::mv(message));
}

kj::Promise<void> TestServiceImpl::echoCap(EchoCapContext context) {
  auto params = context.getParams();
  // A null capability pointer stays null (reading it would yield a broken capability).
  if (params.hasCap()) {
    context.getResults().setCap(params.getCap());
  }
  return kj::READY_NOW;
}

kj::Promise<void> TestServiceImpl::callBack(CallBackContext context) {
  auto params = context.getParams();
  auto request = params.getCb().callRequest();
  request.setValue(params.getValue());
  return request.send().then([context](capnp::Response<Callback::CallResults>&& response) mutable {
    context.getResults().setReply(response.getReply());
  });
}

kj::Promise<void> TestServiceImpl::getCounter(GetCounterContext context) {
  context.getResults().setCounter(kj::heap<CounterImpl>());
  return kj::READY_NOW;
}

kj::Promise<void> TestServiceImpl::echoCaps(EchoCapsContext context) {
  auto params = context.getParams();
  // A structural copy keeps the order, the length and null entries; every capability is the
  // same one the caller sent.
  if (params.hasCaps()) {
    context.getResults().setCaps(params.getCaps());
  }
  return kj::READY_NOW;
}

kj::Promise<void> TestServiceImpl::waitForever(WaitForeverContext context) {
  // 0.9.2: cancellation on Finish is opt-in per call.
  context.allowCancellation();
  // The promise never resolves, so its destruction is always a cancellation.
  return kj::Promise<void>(kj::NEVER_DONE)
      .attach(kj::defer([state = kj::addRef(*state)]() mutable { ++state->cancelCount; }));
}

kj::Promise<void> TestServiceImpl::getCancelCount(GetCancelCountContext context) {
  context.getResults().setCount(state->cancelCount);
  return kj::READY_NOW;
}

kj::Promise<void> TestServiceImpl::stream(StreamContext context) {
  state->streamedBytes += context.getParams().getChunk().size();
  return kj::READY_NOW;
}

kj::Promise<void> TestServiceImpl::getStreamedBytes(GetStreamedBytesContext context) {
  context.getResults().setBytes(state->streamedBytes);
  return kj::READY_NOW;
}

kj::Promise<void> TestServiceImpl::hold(HoldContext context) {
  state->held.add(context.getParams().getCap());
  return kj::READY_NOW;
}

kj::Promise<void> TestServiceImpl::dropAll(DropAllContext context) {
  // Move out first so that destructors running during clear() cannot observe a half-cleared
  // vector.
  auto dropped = kj::mv(state->held);
  state->held = kj::Vector<Callback::Client>();
  dropped.clear();
  return kj::READY_NOW;
}

kj::Promise<void> CounterImpl::increment(IncrementContext context) {
  context.getResults().setValue(++value);
  return kj::READY_NOW;
}

}  // namespace interop
