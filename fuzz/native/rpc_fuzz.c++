// libFuzzer target: the shim's message intake. A full RpcSystem over our transport, served the
// way a vat serves (capnp_connection_from_fd, server side, a bootstrap capability served through
// the C ABI as the managed side serves it), reads the input as if a peer had sent it.
//
// Input: byte 0 chooses what our side does besides serving (ask for the peer's bootstrap and
// call it, pipeline a call on the answer, ask for a service by ID, how our server answers the
// calls it gets); the rest is the byte stream the peer sends, then the peer closes its side.
//
// Each input must end with the connection lost, and, once everything is released, the shim's
// live-object counters back where they were (a leak is reported as a crash), within a bounded
// time (a hang aborts with a message). LeakSanitizer checks the memory when the run ends.

#include <capnp_native.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

constexpr uint64_t SERVER_TAG = 1;
constexpr uint64_t TEST_INTERFACE = 0x9aa0a7f1c6e5b3d1ull;
constexpr auto DEADLINE = std::chrono::seconds(20);

[[noreturn]] void fail(const std::string& what) {
  fprintf(stderr, "rpc_fuzz: %s\n", what.c_str());
  abort();
}

struct Completion {
  int32_t status;
  std::string payload;
};

// What the completion callback hands to the fuzzing thread (it must not call into the shim).
struct Events {
  std::mutex mutex;
  std::condition_variable changed;
  std::map<uint64_t, Completion> completions;
  std::deque<capnp_call*> calls;           // incoming, to answer
  std::vector<capnp_message*> messages;   // received, to release
  std::vector<capnp_cap*> caps;           // received, to release
  uint64_t nextTag = 16;
  uint64_t checksum = 0;                  // touches every byte delivered (for ASan)
};

Events events;
// Written by the completion callback, polled beside the peer's socket: the fuzzing thread wakes
// for events as for bytes.
int wakeFd = -1;

void takeView(const capnp_message_view& view) {
  // The segments may be borrowed for this callback only: read them now.
  for (uint32_t i = 0; i < view.segment_count; ++i) {
    for (size_t j = 0; j < view.segments[i].size; ++j) events.checksum += view.segments[i].data[j];
  }
  if (view.message != nullptr) events.messages.push_back(view.message);
  for (uint32_t i = 0; i < view.cap_count; ++i) {
    if (view.caps[i] != nullptr) events.caps.push_back(view.caps[i]);
  }
}

// Tags of our own calls, whose OK payload is a message view we must release.
bool isCallTag(uint64_t tag) { return (tag & (1ull << 62)) != 0; }

void onComplete(uint64_t tag, int32_t status, const uint8_t* payload, size_t length) {
  std::lock_guard<std::mutex> lock(events.mutex);
  if (tag == SERVER_TAG) {
    if (status == CAPNP_EVENT_INCOMING_CALL) {
      capnp_incoming_call call;
      if (length != sizeof(call)) fail("incoming call payload of the wrong size");
      memcpy(&call, payload, sizeof(call));
      takeView(call.params);
      events.calls.push_back(call.call);
    } else if (status != CAPNP_EVENT_CALL_CANCELLED) {
      fail("unexpected event " + std::to_string(status) + " for the bootstrap server");
    }
  } else {
    if (isCallTag(tag) && status == CAPNP_STATUS_OK && length == sizeof(capnp_message_view)) {
      capnp_message_view view;
      memcpy(&view, payload, sizeof(view));
      takeView(view);
    }
    events.completions[tag] = Completion{status, std::string(reinterpret_cast<const char*>(payload), length)};
  }
  events.changed.notify_all();
  uint64_t one = 1;
  if (write(wakeFd, &one, sizeof(one)) < 0 && errno != EAGAIN) fail("writing the wake-up eventfd");
}

uint64_t newTag(bool call = false) {
  std::lock_guard<std::mutex> lock(events.mutex);
  return (events.nextTag++) | (call ? (1ull << 62) : 0);
}

std::chrono::steady_clock::time_point deadline;

Completion await(uint64_t tag) {
  std::unique_lock<std::mutex> lock(events.mutex);
  if (!events.changed.wait_until(lock, deadline, [&] { return events.completions.count(tag) != 0; })) {
    fail("operation " + std::to_string(tag) + " did not complete in time");
  }
  auto result = events.completions[tag];
  events.completions.erase(tag);
  return result;
}

bool completed(uint64_t tag) {
  std::lock_guard<std::mutex> lock(events.mutex);
  return events.completions.count(tag) != 0;
}

void check(int32_t status, const char* what) {
  if (status != CAPNP_STATUS_OK) fail(std::string(what) + " failed with status " + std::to_string(status));
}

// Answers the calls our server got and releases what was delivered (the managed side's part).
void serviceEvents(bool answerWithResults) {
  std::deque<capnp_call*> calls;
  std::vector<capnp_message*> messages;
  std::vector<capnp_cap*> caps;
  {
    std::lock_guard<std::mutex> lock(events.mutex);
    calls.swap(events.calls);
    messages.swap(events.messages);
    caps.swap(events.caps);
  }
  for (auto* call: calls) {
    if (answerWithResults) {
      // An empty struct as the results.
      static const uint64_t results[2] = {0, 0};
      capnp_segment segment{reinterpret_cast<const uint8_t*>(results), sizeof(results)};
      check(capnp_call_return(call, &segment, 1, nullptr, 0, 0), "capnp_call_return");
    } else {
      const char message[] = "rpc_fuzz: no such method";
      check(capnp_call_fail(call, CAPNP_STATUS_UNIMPLEMENTED, message, sizeof(message) - 1), "capnp_call_fail");
    }
  }
  for (auto* message: messages) capnp_message_release(message);
  for (auto* cap: caps) capnp_cap_release(cap);
}

struct Env {
  capnp_loop* loop = nullptr;
  capnp_cap* bootstrap = nullptr;
  capnp_counters baseline;
};

Env& env() {
  static Env* e = [] {
    auto* e = new Env;  // never released: the process ends with libFuzzer
    wakeFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wakeFd < 0) fail("eventfd");
    check(capnp_initialize(onComplete), "capnp_initialize");
    check(capnp_loop_create(&e->loop), "capnp_loop_create");
    check(capnp_server_create(e->loop, SERVER_TAG, nullptr, 0, &e->bootstrap), "capnp_server_create");
    return e;
  }();
  return *e;
}

// Every command and release queued so far has run once an echo posted now comes back.
void barrier(capnp_loop* loop) {
  auto tag = newTag();
  check(capnp_test_echo(loop, tag, nullptr, 0), "capnp_test_echo");
  check(await(tag).status, "the echo barrier");
}

bool sameLiveObjects(const capnp_counters& a, const capnp_counters& b) {
  return a.live_caps == b.live_caps && a.live_messages == b.live_messages &&
         a.live_servers == b.live_servers && a.live_calls == b.live_calls &&
         a.live_connections == b.live_connections &&
         a.live_pending_operations == b.live_pending_operations;
}

std::string describe(const capnp_counters& c) {
  return "caps " + std::to_string(c.live_caps) + ", messages " + std::to_string(c.live_messages) +
         ", servers " + std::to_string(c.live_servers) + ", calls " + std::to_string(c.live_calls) +
         ", connections " + std::to_string(c.live_connections) + ", pending operations " +
         std::to_string(c.live_pending_operations);
}

}  // namespace

// Structure-aware mutation: random bytes mostly break the framing, and the vat drops the
// connection before the RPC layer sees anything. Half of the mutations therefore keep the input a
// sequence of well-framed messages and mutate one message's content, or drop, duplicate or swap
// whole messages; the rest are libFuzzer's own byte mutations (reaching the framing paths).
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t maxSize);

namespace {

// Splits `bytes` into framed messages: each one's segments, concatenated. Trailing bytes that
// are not a whole message are kept as they are.
struct Frames {
  std::vector<std::string> bodies;
  std::string tail;
};

Frames split(const uint8_t* bytes, size_t size) {
  Frames frames;
  size_t at = 0;
  auto u32 = [&](size_t i) {
    return uint32_t(bytes[i]) | uint32_t(bytes[i + 1]) << 8 | uint32_t(bytes[i + 2]) << 16 | uint32_t(bytes[i + 3]) << 24;
  };
  while (at + 8 <= size) {
    uint64_t count = uint64_t(u32(at)) + 1;
    if (count > 64) break;
    size_t table = (count + 2) / 2 * 8;
    if (at + table > size) break;
    uint64_t words = 0;
    for (uint64_t i = 0; i < count; ++i) words += u32(at + 4 + 4 * i);
    if (words * 8 > size - at - table) break;
    frames.bodies.emplace_back(reinterpret_cast<const char*>(bytes + at + table), words * 8);
    at += table + words * 8;
  }
  frames.tail.assign(reinterpret_cast<const char*>(bytes + at), size - at);
  return frames;
}

// One segment per message: the engine reads a concatenation of segments as one segment.
std::string join(const Frames& frames) {
  std::string out;
  for (auto& body: frames.bodies) {
    uint32_t words = uint32_t(body.size() / 8);
    char table[8] = {0, 0, 0, 0, char(words & 0xff), char((words >> 8) & 0xff), char((words >> 16) & 0xff),
                     char((words >> 24) & 0xff)};
    out.append(table, 8);
    out.append(body);
  }
  return out + frames.tail;
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t maxSize, unsigned int seed) {
  std::minstd_rand random(seed);
  if (size < 2 || random() % 2 == 0) return LLVMFuzzerMutate(data, size, maxSize);
  auto frames = split(data + 1, size - 1);
  if (frames.bodies.empty()) return LLVMFuzzerMutate(data, size, maxSize);
  auto pick = random() % frames.bodies.size();
  switch (random() % 8) {
    case 0:
      frames.bodies.erase(frames.bodies.begin() + pick);
      break;
    case 1:
      frames.bodies.insert(frames.bodies.begin() + pick, frames.bodies[random() % frames.bodies.size()]);
      break;
    case 2:
      std::swap(frames.bodies[pick], frames.bodies[random() % frames.bodies.size()]);
      break;
    case 3:
      data[0] = uint8_t(random());  // our side's options
      break;
    default: {
      // The content of one message, kept whole words.
      auto& body = frames.bodies[pick];
      std::string buffer = body;
      buffer.resize(std::max<size_t>(body.size() * 2, 64));
      size_t n = LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(&buffer[0]), body.size(), buffer.size());
      buffer.resize((n + 7) / 8 * 8);
      body = buffer;
      break;
    }
  }
  auto joined = join(frames);
  if (joined.size() + 1 > maxSize) return LLVMFuzzerMutate(data, size, maxSize);
  memcpy(data + 1, joined.data(), joined.size());
  return joined.size() + 1;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  auto& e = env();
  deadline = std::chrono::steady_clock::now() + DEADLINE;
  barrier(e.loop);
  check(capnp_counters_read(&e.baseline), "capnp_counters_read");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  auto& e = env();
  deadline = std::chrono::steady_clock::now() + DEADLINE;
  uint8_t flags = data[0];
  bool callPeer = flags & 1;
  bool pipelineOnAnswer = flags & 2;
  bool restoreById = flags & 4;
  bool answerWithResults = flags & 8;
  const uint8_t* bytes = data + 1;
  size_t length = size - 1;

  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sockets) != 0) fail("socketpair");
  int peer = sockets[1];

  auto connected = newTag();
  check(capnp_connection_from_fd(e.loop, sockets[0], 1, e.bootstrap, connected), "capnp_connection_from_fd");
  auto done = await(connected);
  check(done.status, "the connection");
  capnp_connection* connection;
  memcpy(&connection, done.payload.data(), sizeof(connection));
  auto lost = newTag();
  check(capnp_connection_when_disconnected(connection, lost), "capnp_connection_when_disconnected");

  // Our side's own questions, so that the peer's Returns, Resolves and Disembargoes have targets.
  std::vector<capnp_cap*> ours;
  std::vector<uint64_t> callTags;
  std::vector<capnp_pipeline*> pipelines;
  static const uint64_t params[2] = {0, 0};  // an empty struct
  capnp_segment paramSegment{reinterpret_cast<const uint8_t*>(params), sizeof(params)};
  auto call = [&](capnp_cap* target, uint16_t method, bool pipelined) {
    auto tag = newTag(true);
    capnp_pipeline* pipeline = nullptr;
    check(capnp_cap_call(target, TEST_INTERFACE, method, 0, &paramSegment, 1, nullptr, 0, tag, 0,
                         pipelined ? &pipeline : nullptr), "capnp_cap_call");
    callTags.push_back(tag);
    if (pipeline != nullptr) pipelines.push_back(pipeline);
    return pipeline;
  };
  if (callPeer) {
    capnp_cap* peerBootstrap;
    check(capnp_connection_bootstrap(connection, &peerBootstrap), "capnp_connection_bootstrap");
    ours.push_back(peerBootstrap);
    auto pipeline = call(peerBootstrap, 0, pipelineOnAnswer);
    if (pipeline != nullptr) {
      const uint16_t path[1] = {0};
      capnp_cap* promised;
      check(capnp_pipeline_get_cap(pipeline, path, 1, &promised), "capnp_pipeline_get_cap");
      ours.push_back(promised);
      call(promised, 1, false);
    }
  }
  if (restoreById) {
    capnp_cap* service;
    check(capnp_connection_restore(connection, reinterpret_cast<const uint8_t*>("svc"), 3, &service),
          "capnp_connection_restore");
    ours.push_back(service);
    call(service, 2, false);
  }

  // Send the input, read whatever the vat answers, serve our server's calls, until the vat has
  // lost the connection and closed its side.
  size_t sent = 0;
  bool peerClosedWrite = false;
  bool eof = false;
  char sink[65536];
  while (!(eof && completed(lost))) {
    if (std::chrono::steady_clock::now() > deadline) fail("the connection was not lost in time");
    serviceEvents(answerWithResults);
    if (sent == length && !peerClosedWrite) {
      shutdown(peer, SHUT_WR);
      peerClosedWrite = true;
    }
    pollfd fds[2] = {{peer, static_cast<short>(POLLIN | (sent < length ? POLLOUT : 0)), 0},
                     {wakeFd, POLLIN, 0}};
    // Wakes for bytes or for an event; the timeout only bounds the wait for the deadline check.
    poll(fds, 2, 1000);
    uint64_t wakes;
    if (fds[1].revents & POLLIN) (void)!read(wakeFd, &wakes, sizeof(wakes));
    auto& p = fds[0];
    if (!eof && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = recv(peer, sink, sizeof(sink), 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) eof = true;
    }
    if (sent < length && (p.revents & POLLOUT)) {
      ssize_t n = send(peer, bytes + sent, length - sent, MSG_NOSIGNAL);
      if (n > 0) sent += n;
      else if (n < 0 && errno != EAGAIN && errno != EINTR) sent = length;  // the vat closed: stop
    }
  }
  await(lost);

  // Release everything, as the managed side does, and answer what is still unanswered.
  for (auto* pipeline: pipelines) capnp_pipeline_release(pipeline);
  for (auto* cap: ours) capnp_cap_release(cap);
  capnp_connection_release(connection);
  for (auto tag: callTags) {
    await(tag);
    serviceEvents(answerWithResults);
  }
  close(peer);

  // Everything goes back to the baseline once the loop has run the releases.
  capnp_counters now;
  for (int round = 0;; ++round) {
    serviceEvents(answerWithResults);
    barrier(e.loop);
    check(capnp_counters_read(&now), "capnp_counters_read");
    {
      std::lock_guard<std::mutex> lock(events.mutex);
      if (sameLiveObjects(now, e.baseline) && events.calls.empty() && events.messages.empty() &&
          events.caps.empty()) {
        break;
      }
    }
    if (round == 1000) fail("native objects leaked: " + describe(now) + " (at start: " + describe(e.baseline) + ")");
  }
  return 0;
}
