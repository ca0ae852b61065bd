// The C++ TestService of the interop vat. Its behaviour is the contract in
// tests/interop/README.md, which the C# TestService implements identically.
#pragma once

#include <interop.capnp.h>
#include <kj/memory.h>
#include <kj/refcount.h>
#include <kj/vector.h>

namespace interop {

// Per-instance state; refcounted so that in-flight calls (e.g. a cancelled waitForever whose
// promise is destroyed during connection teardown) never outlive it.
struct ServiceState: public kj::Refcounted {
  uint32_t cancelCount = 0;
  uint64_t streamedBytes = 0;
  kj::Vector<Callback::Client> held;
};

class TestServiceImpl final: public TestService::Server {
public:
  TestServiceImpl();

  kj::Promise<void> echo(EchoContext context) override;
  kj::Promise<void> add(AddContext context) override;
  kj::Promise<void> fail(FailContext context) override;
  kj::Promise<void> echoCap(EchoCapContext context) override;
  kj::Promise<void> callBack(CallBackContext context) override;
  kj::Promise<void> getCounter(GetCounterContext context) override;
  kj::Promise<void> echoCaps(EchoCapsContext context) override;
  kj::Promise<void> waitForever(WaitForeverContext context) override;
  kj::Promise<void> getCancelCount(GetCancelCountContext context) override;
  kj::Promise<void> stream(StreamContext context) override;
  kj::Promise<void> getStreamedBytes(GetStreamedBytesContext context) override;
  kj::Promise<void> hold(HoldContext context) override;
  kj::Promise<void> dropAll(DropAllContext context) override;

private:
  kj::Own<ServiceState> state;
};

class CounterImpl final: public Counter::Server {
public:
  kj::Promise<void> increment(IncrementContext context) override;

private:
  uint32_t value = 0;
};

}  // namespace interop
