// Hostile peers against a serving listener, through the C ABI, each on its own connection while a
// well-behaved client on another connection keeps being served. The hostile byte streams are the
// rpc_fuzz seeds (fuzz/corpus/rpc_fuzz, written by fuzz/native/make_seeds.c++; the first byte of
// each is the fuzzer's option byte and is not sent): random bytes, 2^32 segments, cyclic and
// out-of-bounds pointers, unknown question and import IDs, a Return for a question never asked,
// releasing more than held, a Disembargo for nothing, Abort, Resolve and Finish for nothing.
// Against a TLS listener: a plain-text client, a client expecting another server key, and a
// handshake that never completes, while a TLS client keeps being served.

#include <capnp_native.h>

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr uint64_t SERVER_TAG = 1;
constexpr uint64_t CALL_TAG_BIT = 1ull << 62;
constexpr uint64_t TEST_INTERFACE = 0x9aa0a7f1c6e5b3d1ull;
constexpr auto BOUND = std::chrono::seconds(30);

struct Completion {
  int32_t status;
  std::string payload;
};

std::mutex mutex;
std::condition_variable changed;
std::map<uint64_t, Completion> completions;
std::deque<capnp_call*> incoming;
std::vector<capnp_message*> toRelease;
std::vector<capnp_cap*> capsToRelease;
uint64_t nextTag = 16;
bool stopping = false;
// Answer calls inside the callback that delivers them, on the loop thread, as a managed server
// that runs there does (capnp_call_return then answers at once instead of posting the answer).
std::atomic<bool> answerInCallback{false};

void takeView(const capnp_message_view& view) {
  if (view.message != nullptr) toRelease.push_back(view.message);
  for (uint32_t i = 0; i < view.cap_count; ++i) capsToRelease.push_back(view.caps[i]);
}

void onComplete(uint64_t tag, int32_t status, const uint8_t* payload, size_t length) {
  std::unique_lock<std::mutex> lock(mutex);
  if (tag == SERVER_TAG) {
    if (status == CAPNP_EVENT_INCOMING_CALL && length == sizeof(capnp_incoming_call)) {
      capnp_incoming_call call;
      memcpy(&call, payload, sizeof(call));
      takeView(call.params);
      if (answerInCallback) {
        lock.unlock();
        static const uint64_t results[2] = {0, 0};
        capnp_segment segment{reinterpret_cast<const uint8_t*>(results), sizeof(results)};
        EXPECT_EQ(CAPNP_STATUS_OK, capnp_call_return(call.call, &segment, 1, nullptr, 0, 0));
        return;
      }
      incoming.push_back(call.call);
    }
  } else {
    if ((tag & CALL_TAG_BIT) && status == CAPNP_STATUS_OK && length == sizeof(capnp_message_view)) {
      capnp_message_view view;
      memcpy(&view, payload, sizeof(view));
      takeView(view);
    }
    completions[tag] = Completion{status, std::string(reinterpret_cast<const char*>(payload), length)};
  }
  changed.notify_all();
}

uint64_t newTag(bool call = false) {
  std::lock_guard<std::mutex> lock(mutex);
  return nextTag++ | (call ? CALL_TAG_BIT : 0);
}

Completion await(uint64_t tag) {
  std::unique_lock<std::mutex> lock(mutex);
  bool done = changed.wait_for(lock, BOUND, [&] { return completions.count(tag) != 0; });
  EXPECT_TRUE(done) << "operation " << tag << " did not complete";
  auto result = completions[tag];
  completions.erase(tag);
  return result;
}

// The managed side's part: answers every call our server gets (empty results) and releases what
// was delivered. Runs on its own thread, as the callback must not call into the shim.
void answerCalls() {
  std::unique_lock<std::mutex> lock(mutex);
  for (;;) {
    changed.wait(lock, [] { return stopping || !incoming.empty() || !toRelease.empty() || !capsToRelease.empty(); });
    auto calls = std::move(incoming);
    auto messages = std::move(toRelease);
    auto caps = std::move(capsToRelease);
    incoming.clear();
    toRelease.clear();
    capsToRelease.clear();
    bool done = stopping;
    lock.unlock();
    static const uint64_t results[2] = {0, 0};
    capnp_segment segment{reinterpret_cast<const uint8_t*>(results), sizeof(results)};
    for (auto* call: calls) EXPECT_EQ(CAPNP_STATUS_OK, capnp_call_return(call, &segment, 1, nullptr, 0, 0));
    for (auto* message: messages) capnp_message_release(message);
    for (auto* cap: caps) capnp_cap_release(cap);
    lock.lock();
    if (done) return;
  }
}

std::vector<std::pair<std::string, std::string>> hostileStreams() {
  std::vector<std::pair<std::string, std::string>> streams;
  std::string dir = RPC_FUZZ_CORPUS;
  DIR* d = opendir(dir.c_str());
  EXPECT_NE(d, nullptr) << dir;
  if (d == nullptr) return streams;
  while (auto* entry = readdir(d)) {
    std::string name = entry->d_name;
    if (name[0] == '.') continue;
    std::ifstream file(dir + "/" + name, std::ios::binary);
    std::stringstream bytes;
    bytes << file.rdbuf();
    auto content = bytes.str();
    if (content.size() > 1) streams.emplace_back(name, content.substr(1));
  }
  closedir(d);
  std::sort(streams.begin(), streams.end());
  return streams;
}

// A fresh RSA-2048 key as PKCS#8 PEM, and the SHA-256 of its DER SubjectPublicKeyInfo.
struct Key {
  std::string pem;
  std::string fingerprint;
};

Key generateKey() {
  Key key;
  EVP_PKEY* pkey = EVP_RSA_gen(2048);
  EXPECT_NE(pkey, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PKCS8PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data;
  long length = BIO_get_mem_data(bio, &data);
  key.pem.assign(data, length);
  BIO_free(bio);
  unsigned char* der = nullptr;
  int derLength = i2d_PUBKEY(pkey, &der);
  unsigned char digest[32];
  unsigned int digestLength = 0;
  EVP_Digest(der, derLength, digest, &digestLength, EVP_sha256(), nullptr);
  key.fingerprint.assign(reinterpret_cast<char*>(digest), digestLength);
  OPENSSL_free(der);
  EVP_PKEY_free(pkey);
  return key;
}

int connectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address;
  memset(&address, 0, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(0, connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address))) << strerror(errno);
  timeval timeout{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

// Reads until the server closes the connection (true) or the receive timeout (false).
bool serverCloses(int fd) {
  char buffer[4096];
  for (;;) {
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

class HostilePeer: public testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(CAPNP_STATUS_OK, capnp_initialize(onComplete));
    ASSERT_EQ(CAPNP_STATUS_OK, capnp_loop_create(&loop));
    ASSERT_EQ(CAPNP_STATUS_OK, capnp_server_create(loop, SERVER_TAG, nullptr, 0, &service));
    answering = std::thread(answerCalls);
    capnp_listen_options options;
    memset(&options, 0, sizeof(options));
    options.bootstrap = service;
    if (useTls()) {
      serverKey = generateKey();
      ASSERT_EQ(CAPNP_STATUS_OK, capnp_tls_identity_create(reinterpret_cast<const uint8_t*>(serverKey.pem.data()),
                                                           serverKey.pem.size(), &serverIdentity));
      clientKey = generateKey();
      ASSERT_EQ(CAPNP_STATUS_OK, capnp_tls_identity_create(reinterpret_cast<const uint8_t*>(clientKey.pem.data()),
                                                           clientKey.pem.size(), &clientIdentity));
      options.tls_identity = serverIdentity;
      options.handshake_timeout_ms = 300;
    }
    auto tag = newTag();
    const char address[] = "tcp:127.0.0.1:0";
    ASSERT_EQ(CAPNP_STATUS_OK, capnp_listen(loop, address, strlen(address), &options, tag, &listener));
    auto bound = await(tag);
    ASSERT_EQ(CAPNP_STATUS_OK, bound.status) << bound.payload;
    port = std::stoi(bound.payload.substr(bound.payload.rfind(':') + 1));
    tag = newTag();
    ASSERT_EQ(CAPNP_STATUS_OK, capnp_listener_serve(listener, 64, tag));
    ASSERT_EQ(CAPNP_STATUS_OK, await(tag).status);

    // The well-behaved client: a connection of its own, through the shim.
    tag = newTag();
    ASSERT_EQ(CAPNP_STATUS_OK, connectClient(serverKey.fingerprint, tag));
    auto connected = await(tag);
    ASSERT_EQ(CAPNP_STATUS_OK, connected.status) << connected.payload;
    memcpy(&client, connected.payload.data(), sizeof(client));
    ASSERT_EQ(CAPNP_STATUS_OK, capnp_connection_bootstrap(client, &remote));
  }

  virtual bool useTls() { return false; }

  // Connects through the shim (TLS when the listener is, expecting `fingerprint`).
  int32_t connectClient(const std::string& fingerprint, uint64_t tag) {
    auto address = std::string("tcp:127.0.0.1:") + std::to_string(port);
    capnp_connect_options options;
    memset(&options, 0, sizeof(options));
    if (useTls()) {
      options.tls_identity = clientIdentity;
      options.server_fingerprint = reinterpret_cast<const uint8_t*>(fingerprint.data());
      options.server_fingerprint_len = fingerprint.size();
    }
    return capnp_connect(loop, address.data(), address.size(), &options, tag);
  }

  void TearDown() override {
    capnp_tls_identity_release(serverIdentity);
    capnp_tls_identity_release(clientIdentity);
    capnp_cap_release(remote);
    capnp_connection_release(client);
    capnp_listener_release(listener);
    capnp_cap_release(service);
    capnp_loop_release(loop);
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
      changed.notify_all();
    }
    answering.join();
    stopping = false;
    answerInCallback = false;
  }

  // The well-behaved client's call is answered.
  void wellBehavedClientIsServed(const std::string& during) {
    static const uint64_t params[2] = {0, 0};
    capnp_segment segment{reinterpret_cast<const uint8_t*>(params), sizeof(params)};
    auto tag = newTag(true);
    ASSERT_EQ(CAPNP_STATUS_OK, capnp_cap_call(remote, TEST_INTERFACE, 0, 0, &segment, 1, nullptr, 0, tag, 0, nullptr));
    auto done = await(tag);
    EXPECT_EQ(CAPNP_STATUS_OK, done.status) << "during " << during << ": " << done.payload;
  }

  capnp_listener_stats stats() {
    auto tag = newTag();
    EXPECT_EQ(CAPNP_STATUS_OK, capnp_listener_read_stats(listener, tag));
    auto done = await(tag);
    capnp_listener_stats result;
    memset(&result, 0, sizeof(result));
    memcpy(&result, done.payload.data(), std::min(sizeof(result), done.payload.size()));
    return result;
  }

  Key serverKey, clientKey;
  capnp_tls_identity* serverIdentity = nullptr;
  capnp_tls_identity* clientIdentity = nullptr;
  capnp_loop* loop = nullptr;
  capnp_cap* service = nullptr;
  capnp_listener* listener = nullptr;
  capnp_connection* client = nullptr;
  capnp_cap* remote = nullptr;
  std::thread answering;
  int port = 0;
};

TEST_F(HostilePeer, EachHostileStreamLeavesTheWellBehavedClientServed) {
  wellBehavedClientIsServed("start");
  // Streams that break the protocol or the framing: the server must drop them by itself. The
  // others are valid, or harmless (a Resolve for an unknown promise is ignored: the engine cannot
  // tell it from one already released), and stay open until the peer goes.
  const std::set<std::string> dropped = {
      "2pow32-segments", "abort", "call-unknown-import", "call-unknown-question",
      "disembargo-for-nothing", "garbage", "release-more-than-held", "release-unknown",
      "return-never-asked", "finish-unknown", "return-to-our-bootstrap", "return-exception",
      "unimplemented", "cyclic-pointer", "out-of-bounds-pointer"};
  auto streams = hostileStreams();
  ASSERT_GE(streams.size(), 15u);
  for (auto& [name, bytes]: streams) {
    SCOPED_TRACE(name);
    int fd = connectTo(port);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ssize_t(bytes.size()), send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL));
    wellBehavedClientIsServed(name);
    if (dropped.count(name) != 0) {
      EXPECT_TRUE(serverCloses(fd)) << name << ": the server did not drop the connection";
      close(fd);
    } else {
      shutdown(fd, SHUT_WR);
      EXPECT_TRUE(serverCloses(fd)) << name << ": the server did not close after the peer did";
      close(fd);
    }
    wellBehavedClientIsServed(name + " (after)");
  }
  // Only the well-behaved client is left.
  auto s = stats();
  for (int round = 0; round < 100000 && s.connections != 1; ++round) {
    std::this_thread::yield();
    s = stats();
  }
  EXPECT_EQ(1u, s.connections);
  EXPECT_EQ(streams.size() + 1, s.accepted);
}

TEST_F(HostilePeer, CallsAnsweredWhileTheyAreDeliveredAreServed) {
  // A batch of calls in flight, each answered inside its own delivery (the engine sends each
  // Return before it starts the next call), then a hostile stream, then another batch.
  answerInCallback = true;
  static const uint64_t params[2] = {0, 0};
  capnp_segment segment{reinterpret_cast<const uint8_t*>(params), sizeof(params)};
  auto batch = [&](const std::string& during) {
    std::vector<uint64_t> tags;
    for (int i = 0; i < 64; ++i) {
      tags.push_back(newTag(true));
      ASSERT_EQ(CAPNP_STATUS_OK, capnp_cap_call(remote, TEST_INTERFACE, 0, 0, &segment, 1, nullptr, 0, tags.back(), 0, nullptr));
    }
    for (auto tag: tags) {
      auto done = await(tag);
      EXPECT_EQ(CAPNP_STATUS_OK, done.status) << during << ": " << done.payload;
    }
  };
  batch("first batch");
  auto streams = hostileStreams();
  ASSERT_FALSE(streams.empty());
  int fd = connectTo(port);
  ASSERT_GE(fd, 0);
  auto& bytes = streams.front().second;
  ASSERT_EQ(ssize_t(bytes.size()), send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL));
  batch("beside " + streams.front().first);
  close(fd);
  batch("last batch");
}

class HostileTlsPeer: public HostilePeer {
protected:
  bool useTls() override { return true; }
};

TEST_F(HostileTlsPeer, PlainTextWrongKeysAndStalledHandshakesLeaveTheTlsClientServed) {
  wellBehavedClientIsServed("start");

  // A plain-text client speaking Cap'n Proto: its handshake fails and it is dropped.
  auto plain = hostileStreams();
  ASSERT_FALSE(plain.empty());
  int fd = connectTo(port);
  auto& bytes = plain.front().second;
  ASSERT_EQ(ssize_t(bytes.size()), send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL));
  EXPECT_TRUE(serverCloses(fd)) << "a plain-text client was not dropped";
  close(fd);
  wellBehavedClientIsServed("a plain-text client");

  // A client expecting another server key: authentication fails, on its side.
  auto tag = newTag();
  ASSERT_EQ(CAPNP_STATUS_OK, connectClient(clientKey.fingerprint, tag));
  auto refused = await(tag);
  EXPECT_EQ(CAPNP_STATUS_AUTHENTICATION_FAILED, refused.status) << refused.payload;
  wellBehavedClientIsServed("a client expecting another key");

  // A client that connects and never sends its ClientHello: dropped after the handshake timeout.
  fd = connectTo(port);
  EXPECT_TRUE(serverCloses(fd)) << "a stalled handshake was not dropped";
  close(fd);
  wellBehavedClientIsServed("a stalled handshake");

  auto s = stats();
  for (int round = 0; round < 100000 && (s.connections != 1 || s.handshake_failures < 3); ++round) {
    std::this_thread::yield();
    s = stats();
  }
  EXPECT_EQ(1u, s.connections);
  EXPECT_EQ(3u, s.handshake_failures);
}

}  // namespace
