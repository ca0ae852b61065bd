// Tests of a serving listener through the C ABI, in a process of their own: they lower the
// file-descriptor limit, which a .NET test host does not survive (its runtime fails fast when it
// cannot open descriptors).

#include <capnp_native.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize.h>

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <dirent.h>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct Completion {
  int32_t status;
  std::string payload;
};

std::mutex completionsMutex;
std::condition_variable completionsChanged;
std::map<uint64_t, Completion> completions;
uint64_t nextTag = 1;

void onComplete(uint64_t tag, int32_t status, const uint8_t* payload, size_t length) {
  std::lock_guard<std::mutex> lock(completionsMutex);
  completions[tag] = Completion{status, std::string(reinterpret_cast<const char*>(payload), length)};
  completionsChanged.notify_all();
}

uint64_t newTag() {
  std::lock_guard<std::mutex> lock(completionsMutex);
  return nextTag++;
}

// Waits (bounded) for tag's completion and returns it.
Completion await(uint64_t tag) {
  std::unique_lock<std::mutex> lock(completionsMutex);
  bool done = completionsChanged.wait_for(lock, std::chrono::seconds(30),
                                          [&] { return completions.count(tag) != 0; });
  EXPECT_TRUE(done) << "operation " << tag << " did not complete";
  auto result = completions[tag];
  completions.erase(tag);
  return result;
}

capnp_listener_stats readStats(capnp_listener* listener) {
  auto tag = newTag();
  EXPECT_EQ(CAPNP_STATUS_OK, capnp_listener_read_stats(listener, tag));
  auto done = await(tag);
  capnp_listener_stats stats;
  memset(&stats, 0, sizeof(stats));
  EXPECT_EQ(CAPNP_STATUS_OK, done.status);
  EXPECT_EQ(sizeof(stats), done.payload.size());
  memcpy(&stats, done.payload.data(), std::min(sizeof(stats), done.payload.size()));
  return stats;
}

// Polls the listener's statistics until `condition` holds (bounded); returns the last read.
template <typename Condition>
capnp_listener_stats pollStats(capnp_listener* listener, Condition condition) {
  auto stats = readStats(listener);
  for (int round = 0; round < 100000 && !condition(stats); ++round) {
    sched_yield();
    stats = readStats(listener);
  }
  return stats;
}

size_t openDescriptors() {
  size_t count = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (readdir(dir) != nullptr) ++count;
    closedir(dir);
  }
  return count;
}

// Connects a blocking TCP socket to 127.0.0.1:port; -1 when no descriptor is left.
int connectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address;
  memset(&address, 0, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(0, connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address))) << strerror(errno);
  return fd;
}

// One RPC message from a hostile client, framed for the wire.
kj::Array<capnp::word> frame(capnp::MessageBuilder& message) { return capnp::messageToFlatArray(message); }

kj::Array<capnp::word> bootstrapMessage(uint32_t questionId) {
  capnp::MallocMessageBuilder message;
  message.initRoot<capnp::rpc::Message>().initBootstrap().setQuestionId(questionId);
  return frame(message);
}

// A call on the answer to question `target` (the bootstrap): the server answers it at once.
kj::Array<capnp::word> callMessage(uint32_t questionId, uint32_t target) {
  capnp::MallocMessageBuilder message;
  auto call = message.initRoot<capnp::rpc::Message>().initCall();
  call.setQuestionId(questionId);
  call.initTarget().initPromisedAnswer().setQuestionId(target);
  call.setInterfaceId(0x1234567890abcdefull);
  call.setMethodId(0);
  call.initParams().initContent();
  return frame(message);
}

class ServingListener: public testing::Test {
protected:
  void SetUp() override { listen(nullptr); }

  void listen(const capnp_listen_options* options) {
    ASSERT_EQ(CAPNP_STATUS_OK, capnp_initialize(onComplete));
    ASSERT_EQ(CAPNP_STATUS_OK, capnp_loop_create(&loop));
    auto tag = newTag();
    const char address[] = "tcp:127.0.0.1:0";
    ASSERT_EQ(CAPNP_STATUS_OK, capnp_listen(loop, address, strlen(address), options, tag, &listener));
    auto bound = await(tag);
    ASSERT_EQ(CAPNP_STATUS_OK, bound.status) << bound.payload;
    port = std::stoi(bound.payload.substr(bound.payload.rfind(':') + 1));
  }

  void TearDown() override {
    capnp_listener_release(listener);
    capnp_loop_release(loop);
  }

  void serve(uint32_t maxConnections) {
    auto tag = newTag();
    ASSERT_EQ(CAPNP_STATUS_OK, capnp_listener_serve(listener, maxConnections, tag));
    ASSERT_EQ(CAPNP_STATUS_OK, await(tag).status);
  }

  capnp_loop* loop = nullptr;
  capnp_listener* listener = nullptr;
  int port = 0;
};

TEST_F(ServingListener, AcceptFailuresForLackOfDescriptorsAreRetriedAndServingGoesOn) {
  serve(100000);
  rlimit original;
  ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &original));

  // One connection, accepted while descriptors are still free.
  std::vector<int> clients;
  clients.push_back(connectTo(port));
  ASSERT_GE(clients.back(), 0);
  auto first = pollStats(listener, [](auto& s) { return s.accepted == 1; });
  ASSERT_EQ(1u, first.accepted);

  // Then take every descriptor left, give one back to a second client, and let it wait in the
  // backlog: the server's accept of it fails with EMFILE (nothing else is pending, so the server
  // cannot take that descriptor first).
  rlimit limited = original;
  limited.rlim_cur = openDescriptors() + 8;
  ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &limited));
  std::vector<int> fillers;
  for (int fd; (fd = dup(0)) >= 0;) fillers.push_back(fd);
  ASSERT_FALSE(fillers.empty());
  close(fillers.back());
  fillers.pop_back();
  clients.push_back(connectTo(port));
  ASSERT_GE(clients.back(), 0);
  auto exhausted = pollStats(listener, [](auto& s) { return s.accept_failures > 0; });
  for (int fd: fillers) close(fd);
  for (int fd: clients) close(fd);
  ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &original));
  ASSERT_GT(exhausted.accept_failures, 0u) << "no accept failed: the test did not exhaust descriptors";

  // The accept loop survived: the waiting connections are accepted (and freed, their peers gone),
  // and a new client is accepted.
  auto drained = pollStats(listener, [&](auto& s) { return s.connections == 0 && s.accepted >= clients.size(); });
  EXPECT_EQ(0u, drained.connections);
  EXPECT_GE(drained.accepted, clients.size());
  int late = connectTo(port);
  ASSERT_GE(late, 0);
  auto served = pollStats(listener, [&](auto& s) { return s.accepted > drained.accepted; });
  EXPECT_EQ(drained.accepted + 1, served.accepted);
  close(late);
  EXPECT_EQ(0u, pollStats(listener, [](auto& s) { return s.connections == 0; }).connections);
}

class ServingWithSmallWriteBacklog: public ServingListener {
protected:
  void SetUp() override {
    capnp_listen_options options;
    memset(&options, 0, sizeof(options));
    options.max_unwritten_bytes = 64 * 1024;
    // The client below never finishes its questions: only the write backlog may stop it.
    options.max_outstanding_questions = UINT32_MAX;
    listen(&options);
  }
};

TEST_F(ServingWithSmallWriteBacklog, APeerThatNeverReadsItsAnswersStopsBeingRead) {
  serve(8);
  // A client that asks and asks and never reads: the answers (exceptions: this listener offers no
  // bootstrap) pile up unwritten, and the server must stop reading it rather than buffer them.
  int client = connectTo(port);
  ASSERT_GE(client, 0);
  ASSERT_EQ(0, fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK));
  auto bootstrap = bootstrapMessage(0);
  auto bootstrapBytes = bootstrap.asBytes();
  ASSERT_EQ(static_cast<ssize_t>(bootstrapBytes.size()), send(client, bootstrapBytes.begin(), bootstrapBytes.size(), 0));

  constexpr size_t LIMIT = 256ull * 1024 * 1024;
  size_t sent = 0;
  uint32_t questionId = 1;
  auto call = callMessage(questionId, 0);
  size_t offset = 0;
  while (sent < LIMIT) {
    if (offset == call.asBytes().size()) {
      call = callMessage(++questionId, 0);
      offset = 0;
    }
    auto bytes = call.asBytes().slice(offset, call.asBytes().size());
    ssize_t n = send(client, bytes.begin(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += n;
      offset += n;
      continue;
    }
    ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << strerror(errno);
    // A server that still reads makes room within moments; one that stopped reading never does.
    pollfd writable{client, POLLOUT, 0};
    if (poll(&writable, 1, 2000) == 0) break;
  }
  EXPECT_LT(sent, 64ull * 1024 * 1024) << "the server kept reading a peer that does not read";
  // The server still works: it counts the stalled connection, and frees it once the peer goes.
  EXPECT_EQ(1u, readStats(listener).connections);
  close(client);
  EXPECT_EQ(0u, pollStats(listener, [](auto& s) { return s.connections == 0; }).connections);
}

TEST_F(ServingListener, ReleasingTheListenerClosesTheConnectionsItServes) {
  serve(8);
  int client = connectTo(port);
  ASSERT_GE(client, 0);
  EXPECT_EQ(1u, pollStats(listener, [](auto& s) { return s.connections == 1; }).connections);

  capnp_listener_release(listener);
  listener = nullptr;

  // The server closed its end: the client reads end-of-stream (bounded by a receive timeout).
  timeval timeout{30, 0};
  ASSERT_EQ(0, setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)));
  char byte;
  EXPECT_EQ(0, recv(client, &byte, 1, 0));
  close(client);
}

}  // namespace
