// `interop-vat client`: connects, bootstraps the peer's TestService and runs one scenario.
// The client is written in blocking style: each step waits on the event loop (which keeps
// serving incoming calls to our Callbacks) bounded by the one scenario deadline.
#include "vat.h"

#include <interop.capnp.h>
#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.h>
#include <kj/async-io.h>
#include <kj/debug.h>
#include <kj/vector.h>
#include <tls_stream.h>
#include <stdio.h>
#include <string.h>

namespace interop {
namespace {

// A scenario check failed; `reason` becomes `FAIL <name>: <reason>`.
struct ScenarioFailure {
  kj::String reason;
};

// The deadline passed while waiting for `what`.
struct ScenarioTimeout {
  kj::String what;
};

template <typename... Params>
[[noreturn]] void failScenario(Params&&... params) {
  throw ScenarioFailure { kj::str(kj::fwd<Params>(params)...) };
}

bool contains(kj::StringPtr haystack, kj::StringPtr needle) {
  return strstr(haystack.cStr(), needle.cStr()) != nullptr;
}

kj::String describe(const kj::Exception& e) {
  return kj::str(typeName(e.getType()), ": ", e.getDescription());
}

class Runner {
public:
  Runner(kj::AsyncIoContext& io, const ClientTarget& target, uint timeoutSeconds)
      : io(io), target(target), endpoint(target.endpoint), timeoutSeconds(timeoutSeconds),
        deadline(io.provider->getTimer().now() + timeoutSeconds * kj::SECONDS) {}

  // Waits for `promise`, bounded by the deadline. A rejection becomes a ScenarioFailure naming
  // `what`.
  template <typename T>
  T wait(kj::Promise<T>&& promise, kj::StringPtr what) {
    auto outcome = waitOutcome(kj::mv(promise), what);
    KJ_IF_MAYBE(value, outcome.value) {
      return kj::mv(*value);
    }
    failScenario(what, " failed with ", describe(KJ_ASSERT_NONNULL(outcome.exception)));
  }

  // Waits for `promise`, which must be rejected; returns the exception.
  template <typename T>
  kj::Exception waitException(kj::Promise<T>&& promise, kj::StringPtr what) {
    auto outcome = waitOutcome(kj::mv(promise), what);
    KJ_IF_MAYBE(exception, outcome.exception) {
      return kj::mv(*exception);
    }
    failScenario(what, " succeeded but an exception was expected");
  }

  void waitVoid(kj::Promise<void>&& promise, kj::StringPtr what) {
    wait(promise.then([]() { return true; }), what);
  }

  // A new transport connection to the peer (TCP_NODELAY set for TCP); a TLS session over it
  // when the target is a sha-256 URI, the server verified by its key fingerprint only.
  kj::Own<kj::AsyncIoStream> connect() {
    // The key first: made while connected, its cost would count against the server's
    // handshake timeout.
    if (target.tls && target.presentCertificate && ephemeral.get() == nullptr) {
      ephemeral = capnp_native::tls::Identity::generateEphemeral();
    }
    auto address = wait(io.provider->getNetwork().parseAddress(endpoint.kjAddress()),
                        kj::str("resolving ", endpoint.format(endpoint.port)));
    auto stream = wait(address->connect(),
                       kj::str("connecting to ", endpoint.format(endpoint.port)));
    configureStream(endpoint, *stream);
    if (!target.tls) return stream;
    kj::Maybe<const capnp_native::tls::Identity&> identity;
    if (target.presentCertificate) identity = *ephemeral;
    auto session = wait(capnp_native::tls::testing::connect(kj::mv(stream), identity,
                                                            target.fingerprint, {}),
                        kj::str("TLS handshake with ", endpoint.format(endpoint.port)));
    return kj::mv(session.stream);
  }

  // The peer's TestService: its bootstrap, or the service restored by the target's ID.
  TestService::Client service(capnp::RpcSystem<capnp::rpc::twoparty::VatId>& rpcSystem) {
    capnp::MallocMessageBuilder vatIdMessage(8);
    auto vatId = vatIdMessage.initRoot<capnp::rpc::twoparty::VatId>();
    vatId.setSide(capnp::rpc::twoparty::Side::SERVER);
    if (target.serviceId.size() == 0) return rpcSystem.bootstrap(vatId).castAs<TestService>();
    capnp::MallocMessageBuilder objectIdMessage(16);
    auto objectId = objectIdMessage.getRoot<capnp::AnyPointer>();
    objectId.setAs<capnp::Text>(capnp::Text::Reader(
        reinterpret_cast<const char*>(target.serviceId.begin()), target.serviceId.size()));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    // The ID travels as Text in Bootstrap.deprecatedObjectId (the seed's vats, and ours).
    return rpcSystem.restore(vatId, objectId.asReader()).castAs<TestService>();
#pragma GCC diagnostic pop
  }

  kj::AsyncIoContext& io;
  const ClientTarget& target;
  const Endpoint& endpoint;
  uint timeoutSeconds;

private:
  kj::TimePoint deadline;
  kj::Own<capnp_native::tls::Identity> ephemeral;  // made on the first TLS connect

  template <typename T>
  struct Outcome {
    kj::Maybe<T> value;
    kj::Maybe<kj::Exception> exception;
  };

  template <typename T>
  Outcome<T> waitOutcome(kj::Promise<T>&& promise, kj::StringPtr what) {
    auto settled = promise.then(
        [](T&& value) { return Outcome<T> { kj::mv(value), nullptr }; },
        [](kj::Exception&& e) { return Outcome<T> { nullptr, kj::mv(e) }; });
    if (timeoutSeconds == 0) {
      return settled.wait(io.waitScope);
    }
    bool timedOut = false;
    auto result = settled.exclusiveJoin(io.provider->getTimer().atTime(deadline)
        .then([&timedOut]() { timedOut = true; return Outcome<T> { nullptr, nullptr }; }))
        .wait(io.waitScope);
    if (timedOut) throw ScenarioTimeout { kj::str(what) };
    return result;
  }
};

// Shared between a CallbackImpl and the scenario that created it.
struct CallbackProbe: public kj::Refcounted {
  uint calls = 0;
  bool destroyed = false;
  kj::Own<kj::PromiseFulfiller<void>> onDestroyed;
};

// The client side Callback: call(value) returns prefix + value.
class CallbackImpl final: public Callback::Server {
public:
  CallbackImpl(kj::StringPtr prefix, kj::Own<CallbackProbe> probe)
      : prefix(kj::str(prefix)), probe(kj::mv(probe)) {}
  ~CallbackImpl() noexcept(false) {
    probe->destroyed = true;
    if (probe->onDestroyed) probe->onDestroyed->fulfill();
  }

  kj::Promise<void> call(CallContext context) override {
    ++probe->calls;
    context.getResults().setReply(kj::str(prefix, context.getParams().getValue()));
    return kj::READY_NOW;
  }

private:
  kj::String prefix;
  kj::Own<CallbackProbe> probe;
};

Callback::Client newCallback(kj::StringPtr prefix, CallbackProbe& probe) {
  return kj::heap<CallbackImpl>(prefix, kj::addRef(probe));
}

kj::String callCallback(Runner& run, Callback::Client cap, kj::StringPtr value,
                        kj::StringPtr what) {
  auto request = cap.callRequest();
  request.setValue(value);
  return kj::str(run.wait(request.send(), what).getReply());
}

// ---------------------------------------------------------------------------------------------
// Scenarios. Each returns normally on success and throws ScenarioFailure otherwise.

void scenarioEcho(Runner& run, TestService::Client& service) {
  // Large enough for a C# server to send it back from its own segments, by reference.
  auto large = kj::heapString(200 * 1024);
  for (size_t i = 0; i < large.size(); i++) large[i] = static_cast<char>('a' + i % 26);
  for (kj::StringPtr text: { kj::StringPtr(u8"h\u00e9llo"), kj::StringPtr(""), large.asPtr() }) {
    auto request = service.echoRequest();
    request.setText(text);
    auto what = text.size() > 64 ? kj::str("echo(<", text.size(), " bytes>)")
                                 : kj::str("echo(\"", text, "\")");
    auto reply = run.wait(request.send(), what);
    if (reply.getText() != text) {
      failScenario(what, " returned \"", reply.getText(), "\"");
    }
  }
}

void scenarioAdd(Runner& run, TestService::Client& service) {
  struct Case { int64_t a, b, sum; };
  for (auto c: { Case { 40, 2, 42 }, Case { -5, 3, -2 },
                 Case { INT64_MAX, 1, INT64_MIN } }) {
    auto request = service.addRequest();
    request.setA(c.a);
    request.setB(c.b);
    auto what = kj::str("add(", c.a, ", ", c.b, ")");
    auto sum = run.wait(request.send(), what).getSum();
    if (sum != c.sum) failScenario(what, " returned ", sum, ", expected ", c.sum);
  }
}

void scenarioErrors(Runner& run, TestService::Client& service) {
  struct Case { FailKind kind; kj::Exception::Type type; kj::StringPtr message; };
  for (auto c: { Case { FailKind::FAILED, kj::Exception::Type::FAILED,
                        "interop-fail-failed" },
                 Case { FailKind::OVERLOADED, kj::Exception::Type::OVERLOADED,
                        "interop-fail-overloaded" },
                 Case { FailKind::DISCONNECTED, kj::Exception::Type::DISCONNECTED,
                        "interop-fail-disconnected" },
                 Case { FailKind::UNIMPLEMENTED, kj::Exception::Type::UNIMPLEMENTED,
                        "interop-fail-unimplemented" } }) {
    auto request = service.failRequest();
    request.setKind(c.kind);
    request.setMessage(c.message);
    auto what = kj::str("fail(", typeName(c.type), ", \"", c.message, "\")");
    auto e = run.waitException(request.send(), what);
    if (e.getType() != c.type) {
      failScenario(what, " threw ", describe(e), "; expected type ", typeName(c.type));
    }
    if (!contains(e.getDescription(), c.message)) {
      failScenario(what, " threw ", describe(e), "; description lacks \"", c.message, "\"");
    }
  }
  // The connection must still work after all four (even after a DISCONNECTED-typed error).
  auto request = service.echoRequest();
  request.setText("after-errors");
  auto reply = run.wait(request.send(), "echo after the errors");
  if (reply.getText() != "after-errors") failScenario("echo after the errors returned garbage");
}

void scenarioCallback(Runner& run, TestService::Client& service) {
  auto probe = kj::refcounted<CallbackProbe>();
  auto request = service.callBackRequest();
  request.setCb(newCallback("cpp:", *probe));
  request.setValue(u8"ping-\u00e9");
  auto reply = run.wait(request.send(), "callBack(cb, \"ping-\u00e9\")");
  if (reply.getReply() != u8"cpp:ping-\u00e9") {
    failScenario("callBack returned \"", reply.getReply(), "\", expected \"cpp:ping-\u00e9\"");
  }
  if (probe->calls != 1) {
    failScenario("the C++ Callback was called ", probe->calls, " times, expected 1");
  }
}

void scenarioPipelining(Runner& run, TestService::Client& service) {
  auto counterPromise = service.getCounterRequest().send();
  auto counter = counterPromise.getCounter();  // pipelined capability
  kj::Vector<uint32_t> completionOrder;
  kj::Vector<kj::Promise<uint32_t>> increments;
  for (int i = 0; i < 3; i++) {
    // All three are sent before anything is awaited, so before getCounter's response.
    increments.add(counter.incrementRequest().send()
        .then([&completionOrder](capnp::Response<Counter::IncrementResults>&& r) {
      completionOrder.add(r.getValue());
      return r.getValue();
    }));
  }
  for (uint i = 0; i < 3; i++) {
    auto what = kj::str("pipelined increment #", i + 1);
    auto value = run.wait(kj::mv(increments[i]), what);
    if (value != i + 1) failScenario(what, " returned ", value, ", expected ", i + 1);
  }
  for (uint i = 0; i < completionOrder.size(); i++) {
    if (completionOrder[i] != i + 1) {
      failScenario("increments completed out of order: ",
                   kj::strArray(completionOrder, ","), " (E-order broken)");
    }
  }
  run.wait(kj::mv(counterPromise), "getCounter");
}

void scenarioCaps(Runner& run, TestService::Client& service) {
  {
    auto probe = kj::refcounted<CallbackProbe>();
    auto request = service.echoCapRequest();
    request.setCap(newCallback("cpp:", *probe));
    auto response = run.wait(request.send(), "echoCap(cb)");
    if (!response.hasCap()) failScenario("echoCap returned a null capability");
    auto reply = callCallback(run, response.getCap(), "caps", "calling the echoed cap");
    if (reply != "cpp:caps") {
      failScenario("the echoed cap answered \"", reply, "\", expected \"cpp:caps\"");
    }
    if (probe->calls != 1) {
      failScenario("the echoed cap did not reach the C++ Callback (", probe->calls, " calls)");
    }
  }
  {
    kj::Vector<kj::Own<CallbackProbe>> probes;
    auto request = service.echoCapsRequest();
    auto caps = request.initCaps(3);
    for (uint i = 0; i < 3; i++) {
      probes.add(kj::refcounted<CallbackProbe>());
      caps.set(i, newCallback(kj::str("cpp", i, ":"), *probes[i]));
    }
    auto response = run.wait(request.send(), "echoCaps([cb0, cb1, cb2])");
    auto echoed = response.getCaps();
    if (echoed.size() != 3) failScenario("echoCaps returned ", echoed.size(), " caps, expected 3");
    for (uint i = 0; i < 3; i++) {
      auto reply = callCallback(run, echoed[i], "x", kj::str("calling echoed cap #", i));
      auto expected = kj::str("cpp", i, ":x");
      if (reply != expected) {
        failScenario("echoed cap #", i, " answered \"", reply, "\", expected \"", expected,
                     "\" (order or identity lost)");
      }
      if (probes[i]->calls != 1) {
        failScenario("echoed cap #", i, " did not reach C++ Callback #", i);
      }
    }
  }
}

uint32_t getCancelCount(Runner& run, TestService::Client& service) {
  return run.wait(service.getCancelCountRequest().send(), "getCancelCount").getCount();
}

void scenarioCancel(Runner& run, TestService::Client& service) {
  // The round trip also resolves the bootstrap, so waitForever goes straight to the peer.
  uint32_t before = getCancelCount(run, service);
  {
    auto call = service.waitForeverRequest().send();
    // Dropping the promise sends Finish; the peer must cancel the call.
  }
  // Bounded by a number of round trips, not by time: a peer that cancels on another thread
  // (the C# handler's CancellationToken) may need a few polls.
  const uint maxPolls = 10000;
  for (uint i = 0; i < maxPolls; i++) {
    uint32_t count = getCancelCount(run, service);
    if (count == before + 1) {
      fprintf(stderr, "interop-vat cancel: cancel count reached %u after %u poll(s)\n",
              count, i + 1);
      return;
    }
    if (count != before) {
      failScenario("cancel count went from ", before, " to ", count, ", expected ", before + 1);
    }
  }
  failScenario("cancel count still ", before, " after ", maxPolls,
               " getCancelCount polls (waitForever not cancelled)");
}

void scenarioStream(Runner& run, TestService::Client& service) {
  const uint chunkCount = 100;
  const uint chunkSize = 64 * 1024;
  uint64_t before = run.wait(service.getStreamedBytesRequest().send(),
                             "getStreamedBytes before streaming").getBytes();
  for (uint i = 0; i < chunkCount; i++) {
    auto request = service.streamRequest();
    auto chunk = request.initChunk(chunkSize);
    for (uint j = 0; j < chunkSize; j++) chunk[j] = static_cast<kj::byte>(i + j);
    // The promise resolves when flow control allows the next chunk.
    run.waitVoid(request.send(), kj::str("stream chunk #", i));
  }
  uint64_t after = run.wait(service.getStreamedBytesRequest().send(),
                            "getStreamedBytes after streaming").getBytes();
  uint64_t expected = uint64_t(chunkCount) * chunkSize;
  if (after - before != expected) {
    failScenario("getStreamedBytes grew by ", after - before, ", expected ", expected);
  }
}

void scenarioDisconnectMidCall(Runner& run, TestService::Client& service) {
  auto call = service.waitForeverRequest().send();
  // E-order: once this echo returns, the peer has received waitForever.
  auto request = service.echoRequest();
  request.setText("sync");
  run.wait(request.send(), "echo after waitForever");
  printLine("WAITING");
  auto e = run.waitException(kj::mv(call), "waitForever while the server is killed");
  if (e.getType() != kj::Exception::Type::DISCONNECTED) {
    failScenario("waitForever failed with ", describe(e), "; expected DISCONNECTED");
  }
}

void scenarioRelease(Runner& run, TestService::Client& service) {
  auto probe = kj::refcounted<CallbackProbe>();
  auto destroyed = kj::newPromiseAndFulfiller<void>();
  probe->onDestroyed = kj::mv(destroyed.fulfiller);
  {
    auto request = service.holdRequest();
    request.setCap(newCallback("cpp:", *probe));
    run.wait(request.send(), "hold(cb)");
    // The request (and our only local reference) is gone; the peer's reference remains.
  }
  auto sync = service.echoRequest();
  sync.setText("sync");
  run.wait(sync.send(), "echo after hold");
  if (probe->destroyed) {
    failScenario("the C++ Callback was released before dropAll (hold must keep it)");
  }
  run.wait(service.dropAllRequest().send(), "dropAll");
  if (!probe->destroyed) {
    run.waitVoid(kj::mv(destroyed.promise),
                 "the release of the C++ Callback after dropAll (its destructor never ran)");
  }
}

// Reads and discards until EOF, counting the bytes.
kj::Promise<void> drain(kj::AsyncInputStream& input, kj::Array<kj::byte>& buffer,
                        uint64_t& total) {
  return input.tryRead(buffer.begin(), 1, buffer.size()).then(
      [&input, &buffer, &total](size_t n) -> kj::Promise<void> {
    if (n == 0) return kj::READY_NOW;
    total += n;
    return drain(input, buffer, total);
  });
}

// Bootstraps over a fresh connection and checks that echo works there.
void checkFreshConnection(Runner& run, kj::StringPtr after) {
  auto stream = run.connect();
  capnp::TwoPartyVatNetwork network(*stream, capnp::rpc::twoparty::Side::CLIENT);
  auto rpcSystem = capnp::makeRpcClient(network);
  auto service = run.service(rpcSystem);
  auto request = service.echoRequest();
  request.setText("still-alive");
  auto what = kj::str("echo on a fresh connection after ", after);
  auto reply = run.wait(request.send(), what);
  if (reply.getText() != "still-alive") failScenario(what, " returned garbage");
}

void scenarioGarbage(Runner& run, TestService::Client& service) {
  struct Case { kj::StringPtr name; kj::ArrayPtr<const kj::byte> bytes; };
  // Little-endian words of the standard stream framing.
  static const kj::byte TOO_MANY_SEGMENTS[] = { 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0 };
  static const kj::byte ROOT_OUT_OF_BOUNDS[] = {
    0, 0, 0, 0, 1, 0, 0, 0,                // 1 segment of 1 word
    0xa0, 0x0f, 0, 0, 1, 0, 0, 0 };        // struct pointer, offset 1000: out of bounds
  static const kj::byte CALL_OUT_OF_BOUNDS[] = {
    0, 0, 0, 0, 3, 0, 0, 0,                // 1 segment of 3 words
    0, 0, 0, 0, 1, 0, 1, 0,                // root: Message struct, 1 data word, 1 pointer
    2, 0, 0, 0, 0, 0, 0, 0,                // Message.which = call
    0xd0, 0x07, 0, 0, 3, 0, 3, 0 };        // Call struct pointer, offset 500: out of bounds
  static const kj::byte UNKNOWN_IMPORT[] = {
    0, 0, 0, 0, 11, 0, 0, 0,               // 1 segment of 11 words
    0, 0, 0, 0, 1, 0, 1, 0,                // w0 root -> Message at w1: 1 data word, 1 pointer
    2, 0, 0, 0, 0, 0, 0, 0,                // w1 Message.which = call
    0, 0, 0, 0, 3, 0, 3, 0,                // w2 -> Call at w3: 3 data words, 3 pointers
    1, 0, 0, 0, 0, 0, 0, 0,                // w3 questionId 1, methodId 0, sendResultsTo caller
    0, 0, 0, 0, 0, 0, 0, 0,                // w4 interfaceId 0
    0, 0, 0, 0, 0, 0, 0, 0,                // w5
    0x08, 0, 0, 0, 1, 0, 1, 0,             // w6 target -> MessageTarget at w9
    0, 0, 0, 0, 0, 0, 0, 0,                // w7 params: null
    0, 0, 0, 0, 0, 0, 0, 0,                // w8 thirdParty: null
    0x39, 0x30, 0, 0, 0, 0, 0, 0,          // w9 importedCap = 12345 (never exported)
    0, 0, 0, 0, 0, 0, 0, 0 };              // w10
  static const kj::byte TRUNCATED[] = {
    0, 0, 0, 0, 100, 0, 0, 0,              // 1 segment of 100 words ...
    0, 0, 0, 0, 0, 0, 0, 0 };              // ... of which 1 arrives
  static const kj::byte NOT_CAPNP[] = {
    'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1', '.', '1', '\r', '\n',
    '\r', '\n' };
  const Case cases[] = {
    { "a frame with 2^31 segments", kj::arrayPtr(TOO_MANY_SEGMENTS, sizeof(TOO_MANY_SEGMENTS)) },
    { "a root pointer out of bounds", kj::arrayPtr(ROOT_OUT_OF_BOUNDS, sizeof(ROOT_OUT_OF_BOUNDS)) },
    { "a Call pointer out of bounds", kj::arrayPtr(CALL_OUT_OF_BOUNDS, sizeof(CALL_OUT_OF_BOUNDS)) },
    { "a Call to an import that was never exported", kj::arrayPtr(UNKNOWN_IMPORT, sizeof(UNKNOWN_IMPORT)) },
    { "a truncated frame", kj::arrayPtr(TRUNCATED, sizeof(TRUNCATED)) },
    { "an HTTP request", kj::arrayPtr(NOT_CAPNP, sizeof(NOT_CAPNP)) },
  };
  auto buffer = kj::heapArray<kj::byte>(4096);
  for (auto& c: cases) {
    {
      auto raw = run.connect();
      run.waitVoid(raw->write(c.bytes.begin(), c.bytes.size()),
                   kj::str("sending ", c.name));
      // The peer may already have rejected the bytes and closed (shutdown then fails with
      // ENOTCONN): that is an acceptable end too, and the drain below still checks it.
      KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() { raw->shutdownWrite(); })) {
        fprintf(stderr, "interop-vat garbage: after %s the write side was already closed (%s)\n",
                c.name.cStr(), describe(*e).cStr());
      }
      // The peer must end this connection (it may send an Abort first), not hang or crash.
      uint64_t received = 0;
      kj::String readError;
      run.waitVoid(drain(*raw, buffer, received).catch_([&readError](kj::Exception&& e) {
        readError = kj::str(" (read ended with ", describe(e), ")");
      }), kj::str("the peer closing the connection after ", c.name));
      fprintf(stderr, "interop-vat garbage: after %s the peer sent %llu bytes and closed%s\n",
              c.name.cStr(), static_cast<unsigned long long>(received), readError.cStr());
    }
    checkFreshConnection(run, c.name);
  }
  // The bootstrap connection of this scenario was never affected.
  auto request = service.echoRequest();
  request.setText("isolated");
  auto reply = run.wait(request.send(), "echo on the first connection after the garbage");
  if (reply.getText() != "isolated") failScenario("echo on the first connection returned garbage");
}

struct Scenario {
  kj::StringPtr name;
  void (*run)(Runner&, TestService::Client&);
};

const Scenario SCENARIOS[] = {
  { "echo", scenarioEcho },
  { "add", scenarioAdd },
  { "errors", scenarioErrors },
  { "callback", scenarioCallback },
  { "pipelining", scenarioPipelining },
  { "caps", scenarioCaps },
  { "cancel", scenarioCancel },
  { "stream", scenarioStream },
  { "disconnect-mid-call", scenarioDisconnectMidCall },
  { "release", scenarioRelease },
  { "garbage", scenarioGarbage },
};

const kj::StringPtr SCENARIO_NAMES[] = {
  "echo", "add", "errors", "callback", "pipelining", "caps", "cancel", "stream",
  "disconnect-mid-call", "release", "garbage",
};

}  // namespace

kj::ArrayPtr<const kj::StringPtr> scenarioNames() {
  return kj::arrayPtr(SCENARIO_NAMES, kj::size(SCENARIO_NAMES));
}

int runClient(const ClientTarget& target, kj::StringPtr scenarioName, uint timeoutSeconds) {
  const Scenario* scenario = nullptr;
  for (auto& s: SCENARIOS) {
    if (s.name == scenarioName) scenario = &s;
  }
  KJ_REQUIRE(scenario != nullptr, "unknown scenario (checked by the caller)", scenarioName);

  auto io = kj::setupAsyncIo();
  Runner run(io, target, timeoutSeconds);
  try {
    auto stream = run.connect();
    capnp::TwoPartyVatNetwork network(*stream, capnp::rpc::twoparty::Side::CLIENT);
    auto rpcSystem = capnp::makeRpcClient(network);
    auto service = run.service(rpcSystem);
    scenario->run(run, service);
    printLine(kj::str("PASS ", scenario->name));
    return EXIT_PASS;
  } catch (ScenarioFailure& failure) {
    printLine(kj::str("FAIL ", scenario->name, ": ", failure.reason));
    return EXIT_FAIL;
  } catch (ScenarioTimeout& timeout) {
    printLine(kj::str("TIMEOUT ", scenario->name, ": no result within ", timeoutSeconds,
                      " s while waiting for ", timeout.what));
    return EXIT_TIMEOUT;
  } catch (kj::Exception& e) {
    printLine(kj::str("FAIL ", scenario->name, ": unexpected exception: ", describe(e)));
    return EXIT_FAIL;
  }
}

}  // namespace interop
