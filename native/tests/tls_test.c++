// Tests of the native TLS layer (native/src/tls): identities, key formats, fingerprints checked
// against the openssl command line, handshakes, data both ways, authentication failures,
// hostile peers and end of stream. Everything runs on one KJ event loop over socketpairs.

#include "tls/tls_stream.h"
#include "transport/coalescing_message_stream.h"

#include <gtest/gtest.h>

#include <capnp/message.h>

#include <cstdio>
#include <cstdlib>
#include <kj/async-io.h>
#include <kj/debug.h>
#include <atomic>
#include <memory>
#include <kj/encoding.h>
#include <kj/thread.h>
#include <kj/vector.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace capnp_native::tls {
namespace {

constexpr auto TIMEOUT = 20 * kj::SECONDS;

// Helpers ------------------------------------------------------------------------------------

struct TempFile {
  std::string path;
  explicit TempFile(kj::ArrayPtr<const kj::byte> content) {
    char name[] = "/tmp/tls_test_XXXXXX";
    int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    path = name;
    EXPECT_EQ(::write(fd, content.begin(), content.size()), ssize_t(content.size()));
    ::close(fd);
  }
  explicit TempFile(kj::StringPtr content): TempFile(content.asBytes()) {}
  ~TempFile() { unlink(path.c_str()); }
};

// Runs a shell command; returns its standard output, fails the test on a non-zero exit.
std::string run(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << command;
  if (pipe == nullptr) return {};
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command;
  return output;
}

std::string hex(kj::ArrayPtr<const kj::byte> bytes) { return kj::encodeHex(bytes).cStr(); }

// sha256sum of `openssl pkey -pubout -outform DER` for the key in `pem`.
std::string cliFingerprint(kj::StringPtr pem) {
  TempFile file(pem);
  auto out = run("openssl pkey -in " + file.path + " -pubout -outform DER | sha256sum");
  return out.substr(0, 64);
}

kj::String cliKey(const std::string& command) {
  auto pem = run(command + " 2>/dev/null");
  return kj::heapString(pem.data(), pem.size());
}

kj::Array<kj::byte> pattern(size_t size, uint32_t seed) {
  auto bytes = kj::heapArray<kj::byte>(size);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b: bytes) {
    x = x * 1103515245u + 12345u;
    b = static_cast<kj::byte>(x >> 16);
  }
  return bytes;
}

// Writes `data` as batches of pieces of varied sizes (1 byte to 100 KiB), like the RPC transport.
kj::Promise<void> writePieces(kj::AsyncOutputStream& out, kj::ArrayPtr<const kj::byte> data,
                              size_t offset = 0, unsigned round = 0) {
  static const size_t SIZES[] = {1, 7, 100, 5000, 16384, 16385, 70000, 3, 100000, 40000, 12};
  if (offset == data.size()) return kj::READY_NOW;
  auto pieces = kj::heap<kj::Vector<kj::ArrayPtr<const kj::byte>>>();
  size_t end = offset;
  for (unsigned i = 0; i < 8 && end < data.size(); i++) {
    size_t n = std::min(SIZES[(round + i) % (sizeof(SIZES) / sizeof(SIZES[0]))], data.size() - end);
    pieces->add(data.slice(end, end + n));
    end += n;
  }
  auto promise = out.write(pieces->asPtr());
  return promise.attach(kj::mv(pieces)).then([&out, data, end, round]() {
    return writePieces(out, data, end, round + 1);
  });
}

// Reads exactly `size` bytes in 64 KiB reads, then expects nothing else before `expectEof`.
kj::Promise<kj::Array<kj::byte>> readExactly(kj::AsyncInputStream& in, size_t size) {
  auto buffer = kj::heapArray<kj::byte>(size);
  auto ptr = buffer.begin();
  struct Loop {
    static kj::Promise<void> step(kj::AsyncInputStream& in, kj::byte* at, size_t left) {
      if (left == 0) return kj::READY_NOW;
      return in.tryRead(at, 1, std::min<size_t>(left, 64 * 1024))
          .then([&in, at, left](size_t n) -> kj::Promise<void> {
            KJ_REQUIRE(n > 0, "premature EOF", left);
            return step(in, at + n, left - n);
          });
    }
  };
  return Loop::step(in, ptr, size).then([buffer = kj::mv(buffer)]() mutable {
    return kj::mv(buffer);
  });
}

kj::Promise<size_t> readSome(kj::AsyncInputStream& in, kj::byte* buffer, size_t size) {
  return in.tryRead(buffer, 1, size);
}

// Passes everything through to `inner`; counts write calls; can cut the stream in the middle of
// the next write (half of it, then shutdownWrite) to make a truncated TLS record.
class ObservedStream final: public kj::AsyncIoStream {
public:
  explicit ObservedStream(kj::Own<kj::AsyncIoStream> inner): inner(kj::mv(inner)) {}
  size_t writeCalls = 0;
  size_t bytesWritten = 0;
  size_t readCalls = 0;
  bool cutNextWrite = false;

  kj::Promise<size_t> tryRead(void* buffer, size_t minBytes, size_t maxBytes) override {
    readCalls++;
    return inner->tryRead(buffer, minBytes, maxBytes);
  }
  kj::Promise<void> write(const void* buffer, size_t size) override {
    writeCalls++;
    bytesWritten += size;
    if (cutNextWrite) {
      cutNextWrite = false;
      return inner->write(buffer, size / 2).then([this]() { inner->shutdownWrite(); });
    }
    return inner->write(buffer, size);
  }
  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override {
    writeCalls++;
    for (auto piece: pieces) bytesWritten += piece.size();
    return inner->write(pieces);
  }
  kj::Promise<void> whenWriteDisconnected() override { return inner->whenWriteDisconnected(); }
  void shutdownWrite() override { inner->shutdownWrite(); }

private:
  kj::Own<kj::AsyncIoStream> inner;
};

// A shell command run as a child process (killed if still running at the end).
struct Child {
  pid_t pid = -1;
  explicit Child(const std::string& command) {
    pid = fork();
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    EXPECT_GT(pid, 0);
  }
  int wait() {
    int status = -1;
    waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
  ~Child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

std::string readFile(const std::string& path) {
  std::string text;
  if (FILE* f = fopen(path.c_str(), "r")) {
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), f)) > 0) text.append(buffer, n);
    fclose(f);
  }
  return text;
}

std::string uniquePath(const char* tag) {
  static int counter = 0;
  return "/tmp/tls_test_" + std::string(tag) + "_" + std::to_string(getpid()) + "_" +
         std::to_string(counter++);
}

// Reads until a '\n' arrives (or EOF); returns what was read.
kj::Promise<kj::String> readLine(kj::AsyncInputStream& in, kj::String sofar = kj::str()) {
  if (sofar.size() > 0 && sofar.endsWith("\n")) return kj::mv(sofar);
  auto buffer = kj::heapArray<char>(256);
  auto& b = buffer;
  auto read = in.tryRead(b.begin(), 1, b.size());
  return read.then([&in, sofar = kj::mv(sofar), buffer = kj::mv(buffer)](size_t n) mutable
                   -> kj::Promise<kj::String> {
    if (n == 0) return kj::mv(sofar);
    return readLine(in, kj::str(sofar, buffer.slice(0, n)));
  });
}

bool haveOpensslCli() {
  static const bool found = system("command -v openssl >/dev/null 2>&1") == 0;
  return found;
}

// Tests comparing with, or talking to, the openssl command (Debian package `openssl`).
#define REQUIRE_OPENSSL_CLI() \
  if (!haveOpensslCli()) GTEST_SKIP() << "the openssl command is not installed"

// Fixture ------------------------------------------------------------------------------------

class TlsTest: public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    serverPem = kj::heap<kj::String>(generateRsaKeyPem());
    serverId = Identity::fromPem(*serverPem);
    clientId = Identity::generateEphemeral();
  }
  static void TearDownTestSuite() {
    serverPem = nullptr;
    serverId = nullptr;
    clientId = nullptr;
  }

  void TearDown() override {
    EXPECT_EQ(ERR_peek_error(), 0ul) << "OpenSSL errors left on the thread's queue";
    ERR_clear_error();
  }

  // (Held by pointer: its destructor may throw, a gtest fixture's may not.)
  std::unique_ptr<kj::AsyncIoContext> ioContext =
      std::make_unique<kj::AsyncIoContext>(kj::setupAsyncIo());
  kj::AsyncIoContext& io = *ioContext;
  kj::WaitScope& ws = io.waitScope;

  template <typename T>
  T wait(kj::Promise<T>&& promise) {
    return io.provider->getTimer().timeoutAfter(TIMEOUT, kj::mv(promise)).wait(ws);
  }

  // Waits for a promise that must fail; returns its exception.
  template <typename T>
  kj::Exception failure(kj::Promise<T>&& promise) {
    auto caught = kj::runCatchingExceptions([&]() { wait(kj::mv(promise)); });
    KJ_IF_MAYBE(e, caught) {
      if (getenv("TLS_TEST_VERBOSE") != nullptr) {
        fprintf(stderr, "  failure: %s: %s\n", kj::str(e->getType()).cStr(),
                e->getDescription().cStr());
      }
      EXPECT_TRUE(e->getDescription().findFirst('\n') == nullptr) << e->getDescription().cStr();
      return kj::mv(*e);
    }
    ADD_FAILURE() << "expected a failure";
    return KJ_EXCEPTION(FAILED, "no failure");
  }

  struct Pair {
    Session client;
    Session server;
  };

  Pair handshake(testing::Options clientOptions = {}, testing::Options serverOptions = {},
                 bool anonymousClient = false, bool requireClientCertificate = false) {
    auto pipe = io.provider->newTwoWayPipe();
    auto server = testing::accept(kj::mv(pipe.ends[0]), *serverId, requireClientCertificate,
                                  serverOptions)
                      .eagerlyEvaluate(nullptr);
    kj::Maybe<const Identity&> identity = *clientId;
    if (anonymousClient) identity = nullptr;
    auto client = testing::connect(kj::mv(pipe.ends[1]), identity, serverId->fingerprint(),
                                   clientOptions)
                      .eagerlyEvaluate(nullptr);
    auto serverSession = wait(kj::mv(server));
    auto clientSession = wait(kj::mv(client));
    return {kj::mv(clientSession), kj::mv(serverSession)};
  }

  // A few MiB both ways at once, then close_notify both ways.
  void exchange(Pair& pair, size_t bytes) {
    auto a = pattern(bytes, 1);
    auto b = pattern(bytes + 13, 2);
    auto& client = *pair.client.stream;
    auto& server = *pair.server.stream;
    auto clientWrites = writePieces(client, a).then([&client]() { client.shutdownWrite(); })
                            .eagerlyEvaluate(nullptr);
    auto serverWrites = writePieces(server, b).then([&server]() { server.shutdownWrite(); })
                            .eagerlyEvaluate(nullptr);
    auto serverReads = readExactly(server, a.size()).eagerlyEvaluate(nullptr);
    auto clientReads = readExactly(client, b.size()).eagerlyEvaluate(nullptr);
    auto gotA = wait(kj::mv(serverReads));
    auto gotB = wait(kj::mv(clientReads));
    wait(kj::mv(clientWrites));
    wait(kj::mv(serverWrites));
    EXPECT_TRUE(gotA.asPtr() == a.asPtr());
    EXPECT_TRUE(gotB.asPtr() == b.asPtr());
    kj::byte extra[16];
    EXPECT_EQ(wait(readSome(server, extra, sizeof(extra))), 0u) << "close_notify ends reads";
    EXPECT_EQ(wait(readSome(client, extra, sizeof(extra))), 0u) << "close_notify ends reads";
    EXPECT_EQ(wait(readSome(client, extra, sizeof(extra))), 0u) << "EOF stays EOF";
  }

  static kj::Own<kj::String> serverPem;
  static kj::Own<Identity> serverId;
  static kj::Own<Identity> clientId;
};

kj::Own<kj::String> TlsTest::serverPem;
kj::Own<Identity> TlsTest::serverId;
kj::Own<Identity> TlsTest::clientId;

void expectIdentityError(kj::StringPtr pem, const char* needle) {
  auto caught = kj::runCatchingExceptions([&]() { Identity::fromPem(pem); });
  KJ_IF_MAYBE(e, caught) {
    EXPECT_EQ(e->getType(), kj::Exception::Type::FAILED);
    EXPECT_TRUE(e->getDescription().startsWith("TLS identity: ")) << e->getDescription().cStr();
    EXPECT_TRUE(strstr(e->getDescription().cStr(), needle) != nullptr)
        << e->getDescription().cStr() << " should mention " << needle;
  } else {
    ADD_FAILURE() << "loading should have failed: " << needle;
  }
  EXPECT_EQ(ERR_peek_error(), 0ul);
}

// Identities ---------------------------------------------------------------------------------

TEST_F(TlsTest, GeneratedKeyIsPkcs8AndFingerprintMatchesOpensslCli) {
  REQUIRE_OPENSSL_CLI();
  EXPECT_TRUE(serverPem->startsWith("-----BEGIN PRIVATE KEY-----\n")) << serverPem->cStr();
  EXPECT_EQ(serverId->fingerprint().size(), FINGERPRINT_BYTES);
  EXPECT_EQ(hex(serverId->fingerprint()), cliFingerprint(*serverPem));
  TempFile file(*serverPem);
  auto text = run("openssl pkey -in " + file.path + " -noout -text | head -1");
  EXPECT_NE(text.find("2048 bit"), std::string::npos) << text;
  // The same key loads to the same fingerprint; another key gives another one.
  EXPECT_TRUE(Identity::fromPem(*serverPem)->fingerprint() == serverId->fingerprint());
  EXPECT_FALSE(clientId->fingerprint() == serverId->fingerprint());
}

TEST_F(TlsTest, LoadsKeysWithCrLfOrBesideACertificate) {
  std::string crlf;
  for (char c: *serverPem) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  EXPECT_TRUE(Identity::fromPem(kj::StringPtr(crlf.c_str()))->fingerprint() == serverId->fingerprint());
  auto both = kj::str(serverId->certificatePem(), *serverPem);
  EXPECT_TRUE(Identity::fromPem(both)->fingerprint() == serverId->fingerprint());
}

TEST_F(TlsTest, LoadsPkcs1RsaKeys) {
  REQUIRE_OPENSSL_CLI();
  TempFile file(*serverPem);
  auto pkcs1 = cliKey("openssl pkey -in " + file.path + " -traditional");
  ASSERT_TRUE(pkcs1.startsWith("-----BEGIN RSA PRIVATE KEY-----")) << pkcs1.cStr();
  auto identity = Identity::fromPem(pkcs1);
  EXPECT_TRUE(identity->fingerprint() == serverId->fingerprint());
}

TEST_F(TlsTest, LoadsEcKeysInBothFormats) {
  REQUIRE_OPENSSL_CLI();
  auto sec1 = cliKey("openssl ecparam -name prime256v1 -genkey -noout");
  ASSERT_TRUE(sec1.startsWith("-----BEGIN EC PRIVATE KEY-----")) << sec1.cStr();
  EXPECT_EQ(hex(Identity::fromPem(sec1)->fingerprint()), cliFingerprint(sec1));

  auto pkcs8 = cliKey("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384");
  ASSERT_TRUE(pkcs8.startsWith("-----BEGIN PRIVATE KEY-----")) << pkcs8.cStr();
  EXPECT_EQ(hex(Identity::fromPem(pkcs8)->fingerprint()), cliFingerprint(pkcs8));

  // EC identities serve and connect, with TLS 1.3 and 1.2.
  auto ecServer = Identity::fromPem(sec1);
  auto ecClient = Identity::fromPem(pkcs8);
  for (int maxVersion: {0, testing::TLS_1_2}) {
    testing::Options options;
    options.maxVersion = maxVersion;
    auto pipe = io.provider->newTwoWayPipe();
    auto server = testing::accept(kj::mv(pipe.ends[0]), *ecServer, true, options)
                      .eagerlyEvaluate(nullptr);
    auto client = testing::connect(kj::mv(pipe.ends[1]), *ecClient, ecServer->fingerprint(), {})
                      .eagerlyEvaluate(nullptr);
    Pair pair{wait(kj::mv(client)), wait(kj::mv(server))};
    KJ_IF_MAYBE(fp, pair.server.peerFingerprint) {
      EXPECT_TRUE(fp->asPtr() == ecClient->fingerprint());
    } else {
      ADD_FAILURE() << "the EC client's fingerprint";
    }
    exchange(pair, 100000);
  }
}

TEST_F(TlsTest, GeneratedCertificateFollowsTheRules) {
  auto pem = serverId->certificatePem();
  auto bio = BIO_new_mem_buf(pem.begin(), int(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(cert, nullptr);
  KJ_DEFER(X509_free(cert));

  EXPECT_EQ(X509_get_version(cert), X509_VERSION_3);
  char name[256];
  X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof(name));
  EXPECT_STREQ(name, "/CN=capnp");
  X509_NAME_oneline(X509_get_issuer_name(cert), name, sizeof(name));
  EXPECT_STREQ(name, "/CN=capnp");
  EXPECT_EQ(X509_get_signature_nid(cert), NID_sha256WithRSAEncryption);

  // Valid since at most a day ago, for about ten years.
  int days = 0, seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notBefore(cert)), 1);
  EXPECT_LE(days, 0);
  EXPECT_GE(days, -1);
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert)), 1);
  EXPECT_GE(days, 10 * 365);

  // Self-signed with the identity's key, whose fingerprint it carries.
  EXPECT_EQ(X509_verify(cert, X509_get0_pubkey(cert)), 1);
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
  unsigned char digest[32];
  unsigned int digestLength = 0;
  EXPECT_EQ(EVP_Digest(der, size_t(length), digest, &digestLength, EVP_sha256(), nullptr), 1);
  OPENSSL_free(der);
  EXPECT_TRUE(kj::arrayPtr(digest, 32) == serverId->fingerprint());

  // Random serial numbers: a second identity from the same key has another one.
  auto again = Identity::fromPem(*serverPem)->certificatePem();
  EXPECT_TRUE(again != pem);

  REQUIRE_OPENSSL_CLI();
  TempFile file(pem);
  auto text = run("openssl x509 -in " + file.path + " -noout -text");
  EXPECT_NE(text.find("Version: 3"), std::string::npos) << text;
  EXPECT_NE(text.find("CA:FALSE"), std::string::npos) << text;
}

TEST_F(TlsTest, BadKeysGiveClearErrors) {
  expectIdentityError("", "empty");
  expectIdentityError("hello, world\n", "no PEM block");
  expectIdentityError("-----BEGIN PRIVATE KEY-----\nAAAA!!!!\n-----END PRIVATE KEY-----\n",
                      "no valid private key");
  // Cut in the middle.
  expectIdentityError(kj::str(serverPem->slice(0, serverPem->size() / 2)), "no valid private key");
  // A certificate is not a key.
  expectIdentityError(serverId->certificatePem(), "no valid private key");

  REQUIRE_OPENSSL_CLI();
  TempFile file(*serverPem);
  expectIdentityError(
      cliKey("openssl pkey -in " + file.path + " -aes-128-cbc -passout pass:secret"),
      "encrypted private keys are not supported");
  expectIdentityError(cliKey("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024"),
                      "RSA key of 1024 bits is too small");
  expectIdentityError(cliKey("openssl genpkey -algorithm ED25519"), "unsupported key type");
}

// Handshakes and data ------------------------------------------------------------------------

TEST_F(TlsTest, HandshakeAndMebibytesBothWaysAtOnce) {
  auto pair = handshake();
  EXPECT_TRUE(pair.client.protocol == "TLSv1.3") << pair.client.protocol.cStr();
  KJ_IF_MAYBE(fp, pair.client.peerFingerprint) {
    EXPECT_TRUE(fp->asPtr() == serverId->fingerprint());
  } else {
    ADD_FAILURE() << "client sees the server's fingerprint";
  }
  KJ_IF_MAYBE(fp, pair.server.peerFingerprint) {
    EXPECT_TRUE(fp->asPtr() == clientId->fingerprint());
  } else {
    ADD_FAILURE() << "server sees the client's fingerprint";
  }
  exchange(pair, 4 * 1024 * 1024 + 12345);
}

TEST_F(TlsTest, Tls12ServerAndTls12ClientBothWork) {
  testing::Options tls12;
  tls12.maxVersion = testing::TLS_1_2;
  {
    auto pair = handshake({}, tls12);
    EXPECT_TRUE(pair.client.protocol == "TLSv1.2") << pair.client.protocol.cStr();
    EXPECT_TRUE(pair.server.protocol == "TLSv1.2") << pair.server.protocol.cStr();
    EXPECT_TRUE(pair.server.peerFingerprint != nullptr);
    exchange(pair, 1024 * 1024);
  }
  {
    auto pair = handshake(tls12, {});
    EXPECT_TRUE(pair.server.protocol == "TLSv1.2") << pair.server.protocol.cStr();
    exchange(pair, 1024 * 1024);
  }
  {
    testing::Options tls13;
    tls13.minVersion = testing::TLS_1_3;
    auto pair = handshake(tls13, tls13);
    EXPECT_TRUE(pair.server.protocol == "TLSv1.3") << pair.server.protocol.cStr();
    exchange(pair, 100000);
  }
}

TEST_F(TlsTest, NoCommonVersionFails) {
  testing::Options tls12, tls13;
  tls12.maxVersion = testing::TLS_1_2;
  tls13.minVersion = testing::TLS_1_3;
  auto pipe = io.provider->newTwoWayPipe();
  auto server = testing::accept(kj::mv(pipe.ends[0]), *serverId, false, tls13).eagerlyEvaluate(nullptr);
  auto client = testing::connect(kj::mv(pipe.ends[1]), *clientId, serverId->fingerprint(), tls12)
                    .eagerlyEvaluate(nullptr);
  auto e = failure(kj::mv(server));
  EXPECT_TRUE(e.getDescription().startsWith("TLS handshake failed: ")) << e.getDescription().cStr();
  auto c = failure(kj::mv(client));
  EXPECT_TRUE(c.getDescription().startsWith("TLS handshake failed: ")) << c.getDescription().cStr();
}

TEST_F(TlsTest, LargeWritesUseFewUnderlyingWrites) {
  auto pipe = io.provider->newTwoWayPipe();
  auto observed = kj::heap<ObservedStream>(kj::mv(pipe.ends[1]));
  auto& counts = *observed;
  auto server = accept(kj::mv(pipe.ends[0]), *serverId, false).eagerlyEvaluate(nullptr);
  auto client = connect(kj::mv(observed), *clientId, serverId->fingerprint()).eagerlyEvaluate(nullptr);
  Pair pair{wait(kj::mv(client)), wait(kj::mv(server))};
  size_t writesBefore = counts.writeCalls;
  exchange(pair, 8 * 1024 * 1024);
  size_t writes = counts.writeCalls - writesBefore;
  EXPECT_LE(writes, 8u * 1024 * 1024 / (64 * 1024)) << "8 MiB in " << writes << " writes";
  EXPECT_LE(counts.readCalls, 8u * 1024 * 1024 / 1024) << counts.readCalls << " reads";
}

TEST_F(TlsTest, HalfCloseKeepsTheOtherDirection) {
  for (int maxVersion: {0, testing::TLS_1_2}) {
  testing::Options options;
  options.maxVersion = maxVersion;
  auto pair = handshake(options, {});
  auto& client = *pair.client.stream;
  auto& server = *pair.server.stream;
  wait(client.write("ping", 4));
  client.shutdownWrite();
  kj::byte buffer[16];
  EXPECT_EQ(wait(server.tryRead(buffer, 4, sizeof(buffer))), 4u);
  EXPECT_EQ(wait(readSome(server, buffer, sizeof(buffer))), 0u);
  // The server still answers after the client's close_notify, and the client still reads.
  wait(server.write("pong", 4));
  EXPECT_EQ(wait(client.tryRead(buffer, 4, sizeof(buffer))), 4u);
  EXPECT_EQ(memcmp(buffer, "pong", 4), 0);
  server.shutdownWrite();
  EXPECT_EQ(wait(readSome(client, buffer, sizeof(buffer))), 0u);
  }
}

TEST_F(TlsTest, SmallPiecesArePackedIntoFullRecords) {
  auto pipe = io.provider->newTwoWayPipe();
  auto observed = kj::heap<ObservedStream>(kj::mv(pipe.ends[1]));
  auto& counts = *observed;
  auto server = accept(kj::mv(pipe.ends[0]), *serverId, false).eagerlyEvaluate(nullptr);
  auto client = connect(kj::mv(observed), *clientId, serverId->fingerprint()).eagerlyEvaluate(nullptr);
  Pair pair{wait(kj::mv(client)), wait(kj::mv(server))};
  // 64 KiB as 65536 one-byte pieces: four full records, not 65536 tiny ones.
  auto data = pattern(65536, 11);
  auto pieces = kj::heapArrayBuilder<kj::ArrayPtr<const kj::byte>>(data.size());
  for (size_t i = 0; i < data.size(); i++) pieces.add(data.slice(i, i + 1));
  auto piecesArray = pieces.finish();
  size_t before = counts.bytesWritten, writesBefore = counts.writeCalls;
  auto write = pair.client.stream->write(piecesArray).eagerlyEvaluate(nullptr);
  auto got = wait(readExactly(*pair.server.stream, data.size()));
  wait(kj::mv(write));
  EXPECT_TRUE(got.asPtr() == data.asPtr());
  size_t overhead = counts.bytesWritten - before - data.size();
  EXPECT_LE(overhead, 4u * 64) << overhead << " bytes of record overhead";
  EXPECT_LE(counts.writeCalls - writesBefore, 2u);
}

// Not run by default: prints the throughput of one direction over a socketpair.
TEST_F(TlsTest, DISABLED_Throughput) {
  for (int maxVersion: {0, testing::TLS_1_2}) {
    testing::Options options;
    options.maxVersion = maxVersion;
    auto pair = handshake(options, {});
    constexpr size_t TOTAL = 256u * 1024 * 1024, PIECE = 1024 * 1024;
    auto data = pattern(PIECE, 4);
    auto start = kj::systemPreciseMonotonicClock().now();
    auto& out = *pair.client.stream;
    struct Writer {
      static kj::Promise<void> go(kj::AsyncOutputStream& out, kj::ArrayPtr<const kj::byte> d,
                                  size_t left) {
        if (left == 0) return kj::READY_NOW;
        return out.write(d.begin(), d.size()).then([&out, d, left]() {
          return go(out, d, left - d.size());
        });
      }
    };
    auto writing = Writer::go(out, data, TOTAL).eagerlyEvaluate(nullptr);
    auto buffer = kj::heapArray<kj::byte>(64 * 1024);
    size_t got = 0;
    while (got < TOTAL) got += wait(pair.server.stream->tryRead(buffer.begin(), 1, buffer.size()));
    wait(kj::mv(writing));
    double seconds = double((kj::systemPreciseMonotonicClock().now() - start) / kj::NANOSECONDS) / 1e9;
    printf("%s: %.0f MiB/s (%zu MiB in %.2f s)\n", pair.client.protocol.cStr(),
           TOTAL / seconds / 1048576, TOTAL / 1048576, seconds);
  }
}

constexpr size_t SIZES[] = {8, 100, 3000, 70000, 1 << 20, 16, 200000, 5};
constexpr unsigned COUNT = 120;

TEST_F(TlsTest, CoalescingMessageStreamOverTls) {
  // The RPC transport's MessageStream over a TLS session, both ways at once: small messages
  // (copied and batched) and large ones (written in place, read in place).
  auto pair = handshake();
  CoalescingMessageStream client(*pair.client.stream);
  CoalescingMessageStream server(*pair.server.stream);
  struct Side {
    static kj::Promise<void> send(capnp::MessageStream& out, unsigned i) {
      if (i == COUNT) return out.end();
      auto builder = kj::heap<capnp::MallocMessageBuilder>();
      auto data = pattern(SIZES[i % 8], i);
      builder->getRoot<capnp::AnyPointer>().setAs<capnp::Data>(data);
      auto write = out.writeMessage(nullptr, builder->getSegmentsForOutput());
      return write.attach(kj::mv(builder)).then([&out, i]() { return send(out, i + 1); });
    }
    static kj::Promise<void> receive(capnp::MessageStream& in, unsigned i) {
      return in.tryReadMessage(nullptr).then(
          [&in, i](kj::Maybe<capnp::MessageReaderAndFds> message) -> kj::Promise<void> {
            KJ_IF_MAYBE(m, message) {
              KJ_ASSERT(i < COUNT);
              auto got = m->reader->getRoot<capnp::AnyPointer>().getAs<capnp::Data>();
              KJ_ASSERT(got == pattern(SIZES[i % 8], i).asPtr(), i);
              return receive(in, i + 1);
            }
            KJ_ASSERT(i == COUNT, "early end", i);
            return kj::READY_NOW;
          });
    }
  };
  auto a = Side::send(client, 0).eagerlyEvaluate(nullptr);
  auto b = Side::send(server, 0).eagerlyEvaluate(nullptr);
  auto c = Side::receive(client, 0).eagerlyEvaluate(nullptr);
  auto d = Side::receive(server, 0).eagerlyEvaluate(nullptr);
  wait(kj::mv(d));
  wait(kj::mv(c));
  wait(kj::mv(a));
  wait(kj::mv(b));
}

TEST_F(TlsTest, SessionsOnSeveralThreadsShareIdentities) {
  // One identity, used by event loops on several threads at once (a vat with several loops).
  std::atomic<unsigned> done{0};
  {
    kj::Vector<kj::Own<kj::Thread>> threads;
    for (int t = 0; t < 3; t++) {
      threads.add(kj::heap<kj::Thread>([&done]() {
        auto io = kj::setupAsyncIo();
        for (int i = 0; i < 10; i++) {
          auto pipe = io.provider->newTwoWayPipe();
          auto server = accept(kj::mv(pipe.ends[0]), *serverId, false).eagerlyEvaluate(nullptr);
          auto client = connect(kj::mv(pipe.ends[1]), *clientId, serverId->fingerprint())
                            .eagerlyEvaluate(nullptr);
          auto s = server.wait(io.waitScope);
          auto c = client.wait(io.waitScope);
          c.stream->write("x", 1).wait(io.waitScope);
          kj::byte b;
          KJ_ASSERT(s.stream->tryRead(&b, 1, 1).wait(io.waitScope) == 1 && b == 'x');
          KJ_ASSERT(ERR_peek_error() == 0);
          done++;
        }
      }));
    }
  }
  EXPECT_EQ(done.load(), 30u);
}

// Authentication -----------------------------------------------------------------------------

TEST_F(TlsTest, WrongServerFingerprintIsRefused) {
  for (int maxVersion: {0, testing::TLS_1_2}) {
    testing::Options options;
    options.maxVersion = maxVersion;
    auto pipe = io.provider->newTwoWayPipe();
    auto server = testing::accept(kj::mv(pipe.ends[0]), *serverId, false, options)
                      .eagerlyEvaluate(nullptr);
    auto client = testing::connect(kj::mv(pipe.ends[1]), *clientId, clientId->fingerprint(), options)
                      .eagerlyEvaluate(nullptr);
    auto e = failure(kj::mv(client));
    EXPECT_EQ(e.getType(), kj::Exception::Type::FAILED);
    EXPECT_TRUE(isFingerprintMismatch(e)) << e.getDescription().cStr();
    EXPECT_TRUE(isAuthenticationFailure(e));
    auto expected = kj::str("(expected sha-256:", kj::encodeBase64Url(clientId->fingerprint()),
                            ", got sha-256:", kj::encodeBase64Url(serverId->fingerprint()), ")");
        EXPECT_TRUE(e.getDescription().endsWith(expected)) << e.getDescription().cStr();
    EXPECT_EQ(kj::encodeBase64Url(serverId->fingerprint()).size(), 43u) << "no padding";
    // The server learns of it through the client's alert.
    auto s = failure(kj::mv(server));
    EXPECT_TRUE(s.getDescription().startsWith("TLS handshake failed: ")) << s.getDescription().cStr();
  }
}

TEST_F(TlsTest, ExpectedFingerprintMustBe32Bytes) {
  auto pipe = io.provider->newTwoWayPipe();
  kj::byte shortFp[16] = {};
  auto e = failure(connect(kj::mv(pipe.ends[1]), *clientId, shortFp));
  EXPECT_EQ(e.getType(), kj::Exception::Type::FAILED);
}

TEST_F(TlsTest, AnonymousClientAcceptedWhenAllowed) {
  for (int maxVersion: {0, testing::TLS_1_2}) {
    testing::Options options;
    options.maxVersion = maxVersion;
    auto pair = handshake(options, {}, /*anonymousClient=*/true, /*require=*/false);
    EXPECT_TRUE(pair.server.peerFingerprint == nullptr);
    EXPECT_TRUE(pair.client.peerFingerprint != nullptr);
    exchange(pair, 200000);
  }
}

TEST_F(TlsTest, AnonymousClientRefusedWhenRequired) {
  for (int maxVersion: {0, testing::TLS_1_2}) {
    testing::Options options;
    options.maxVersion = maxVersion;
    auto pipe = io.provider->newTwoWayPipe();
    auto server = testing::accept(kj::mv(pipe.ends[0]), *serverId, true, options)
                      .eagerlyEvaluate(nullptr);
    auto client = testing::connect(kj::mv(pipe.ends[1]), nullptr, serverId->fingerprint(), options)
                      .then([](Session session) {
                        // TLS 1.3: the client has finished first; the refusal comes as an alert.
                        auto buffer = kj::heapArray<kj::byte>(16);
                        auto read = session.stream->tryRead(buffer.begin(), 1, buffer.size());
                        return read.attach(kj::mv(session), kj::mv(buffer));
                      })
                      .eagerlyEvaluate(nullptr);
    auto e = failure(kj::mv(server));
    EXPECT_EQ(e.getType(), kj::Exception::Type::FAILED);
    EXPECT_TRUE(e.getDescription() == NO_CLIENT_CERTIFICATE) << e.getDescription().cStr();
    EXPECT_TRUE(isAuthenticationFailure(e));
    auto c = failure(kj::mv(client));
    EXPECT_TRUE(c.getDescription().startsWith("TLS ")) << c.getDescription().cStr();
  }
}

TEST_F(TlsTest, ClientCertificateAcceptedWhenRequired) {
  auto pair = handshake({}, {}, false, /*require=*/true);
  EXPECT_TRUE(pair.server.peerFingerprint != nullptr);
  exchange(pair, 1000);
}

// Hostile and broken peers -------------------------------------------------------------------

TEST_F(TlsTest, PlaintextClientFailsTheServerHandshake) {
  // What a plaintext Cap'n Proto client sends first: a segment table and a Bootstrap message.
  static const kj::byte CAPNP[] = {0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0,
                                   8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                   0, 0, 0, 0, 0, 0, 0, 0};
  auto garbage = pattern(3000, 7);
  kj::ArrayPtr<const kj::byte> inputs[] = {
      kj::arrayPtr(CAPNP, sizeof(CAPNP)),
      kj::StringPtr("GET / HTTP/1.1\r\nHost: x\r\n\r\n").asBytes(),
      garbage,
  };
  for (auto input: inputs) {
    auto pipe = io.provider->newTwoWayPipe();
    auto server = accept(kj::mv(pipe.ends[0]), *serverId, false).eagerlyEvaluate(nullptr);
    wait(pipe.ends[1]->write(input.begin(), input.size()));
    auto e = failure(kj::mv(server));
    EXPECT_EQ(e.getType(), kj::Exception::Type::FAILED);
    EXPECT_TRUE(e.getDescription().startsWith("TLS handshake failed: "))
        << e.getDescription().cStr();
  }
}

TEST_F(TlsTest, GarbageServerFailsTheClientHandshake) {
  auto pipe = io.provider->newTwoWayPipe();
  auto client = connect(kj::mv(pipe.ends[1]), *clientId, serverId->fingerprint())
                    .eagerlyEvaluate(nullptr);
  auto& raw = *pipe.ends[0];
  kj::byte hello[512];
  EXPECT_GT(wait(raw.tryRead(hello, 1, sizeof(hello))), 0u);
  auto garbage = pattern(5000, 9);
  wait(raw.write(garbage.begin(), garbage.size()));
  auto e = failure(kj::mv(client));
  EXPECT_EQ(e.getType(), kj::Exception::Type::FAILED);
  EXPECT_TRUE(e.getDescription().startsWith("TLS handshake failed: ")) << e.getDescription().cStr();
}

TEST_F(TlsTest, PeerLeavingDuringTheHandshakeIsDisconnected) {
  {
    auto pipe = io.provider->newTwoWayPipe();
    auto client = connect(kj::mv(pipe.ends[1]), *clientId, serverId->fingerprint())
                      .eagerlyEvaluate(nullptr);
    pipe.ends[0] = nullptr;
    auto e = failure(kj::mv(client));
    EXPECT_EQ(e.getType(), kj::Exception::Type::DISCONNECTED) << e.getDescription().cStr();
  }
  {
    auto pipe = io.provider->newTwoWayPipe();
    auto server = accept(kj::mv(pipe.ends[0]), *serverId, false).eagerlyEvaluate(nullptr);
    // Half a ClientHello, then EOF.
    auto clientHello = kj::heapArray<kj::byte>(0);
    {
      auto other = io.provider->newTwoWayPipe();
      auto probe = connect(kj::mv(other.ends[1]), *clientId, serverId->fingerprint())
                       .eagerlyEvaluate(nullptr);
      kj::byte buffer[4096];
      size_t n = wait(other.ends[0]->tryRead(buffer, 1, sizeof(buffer)));
      clientHello = kj::heapArray(kj::arrayPtr(buffer, n / 2));
    }
    wait(pipe.ends[1]->write(clientHello.begin(), clientHello.size()));
    pipe.ends[1]->shutdownWrite();
    auto e = failure(kj::mv(server));
    EXPECT_EQ(e.getType(), kj::Exception::Type::DISCONNECTED) << e.getDescription().cStr();
    EXPECT_TRUE(e.getDescription() == "TLS handshake failed: peer disconnected") << e.getDescription().cStr();
  }
}

TEST_F(TlsTest, StreamClosedWithoutCloseNotifyIsTruncated) {
  auto pair = handshake();
  wait(pair.client.stream->write("data", 4));
  pair.client.stream = nullptr;  // closes the socket, no close_notify
  kj::byte buffer[16];
  EXPECT_EQ(wait(pair.server.stream->tryRead(buffer, 4, sizeof(buffer))), 4u);
  auto e = failure(readSome(*pair.server.stream, buffer, sizeof(buffer)));
  EXPECT_EQ(e.getType(), kj::Exception::Type::DISCONNECTED);
  EXPECT_TRUE(e.getDescription().startsWith("TLS stream truncated")) << e.getDescription().cStr();
  // Sticky.
  auto again = failure(readSome(*pair.server.stream, buffer, sizeof(buffer)));
  EXPECT_EQ(again.getType(), kj::Exception::Type::DISCONNECTED);
}

TEST_F(TlsTest, RecordCutInTheMiddleIsTruncated) {
  auto pipe = io.provider->newTwoWayPipe();
  auto observed = kj::heap<ObservedStream>(kj::mv(pipe.ends[1]));
  auto& cut = *observed;
  auto server = accept(kj::mv(pipe.ends[0]), *serverId, false).eagerlyEvaluate(nullptr);
  auto client = connect(kj::mv(observed), *clientId, serverId->fingerprint()).eagerlyEvaluate(nullptr);
  Pair pair{wait(kj::mv(client)), wait(kj::mv(server))};
  cut.cutNextWrite = true;
  auto data = pattern(1000, 3);
  wait(pair.client.stream->write(data.begin(), data.size()));
  kj::byte buffer[2000];
  auto e = failure(readSome(*pair.server.stream, buffer, sizeof(buffer)));
  EXPECT_EQ(e.getType(), kj::Exception::Type::DISCONNECTED) << e.getDescription().cStr();
}

TEST_F(TlsTest, CorruptRecordFails) {
  // A proxy that flips one byte of the first application record from client to server.
  auto toServer = io.provider->newTwoWayPipe();
  auto toClient = io.provider->newTwoWayPipe();
  auto server = accept(kj::mv(toServer.ends[0]), *serverId, false).eagerlyEvaluate(nullptr);
  auto client = connect(kj::mv(toClient.ends[1]), *clientId, serverId->fingerprint())
                    .eagerlyEvaluate(nullptr);
  auto& proxyServerSide = *toServer.ends[1];
  auto& proxyClientSide = *toClient.ends[0];
  bool corrupt = false;
  struct Pump {
    static kj::Promise<void> run(kj::AsyncIoStream& from, kj::AsyncIoStream& to, bool& corrupt) {
      return run(from, to, corrupt, kj::heap(kj::heapArray<kj::byte>(65536)));
    }
    static kj::Promise<void> run(kj::AsyncIoStream& from, kj::AsyncIoStream& to, bool& corrupt,
                                 kj::Own<kj::Array<kj::byte>> buffer) {
      auto& b = *buffer;
      return from.tryRead(b.begin(), 1, b.size())
          .then([&from, &to, &corrupt, buffer = kj::mv(buffer)](size_t n) mutable -> kj::Promise<void> {
            if (n == 0) { to.shutdownWrite(); return kj::READY_NOW; }
            if (corrupt && n > 10) { (*buffer)[n - 5] ^= 1; corrupt = false; }
            auto& bytes = *buffer;
            return to.write(bytes.begin(), n).then(
                [&from, &to, &corrupt, buffer = kj::mv(buffer)]() mutable {
                  return run(from, to, corrupt, kj::mv(buffer));
                });
          });
    }
  };
  bool never = false;
  auto up = Pump::run(proxyClientSide, proxyServerSide, corrupt).eagerlyEvaluate(nullptr);
  auto down = Pump::run(proxyServerSide, proxyClientSide, never).eagerlyEvaluate(nullptr);
  Pair pair{wait(kj::mv(client)), wait(kj::mv(server))};
  // Let any remaining handshake bytes through before corrupting.
  wait(pair.server.stream->write("x", 1));
  kj::byte buffer[64];
  EXPECT_EQ(wait(pair.client.stream->tryRead(buffer, 1, sizeof(buffer))), 1u);
  corrupt = true;
  wait(pair.client.stream->write("hello, server", 13));
  auto e = failure(readSome(*pair.server.stream, buffer, sizeof(buffer)));
  EXPECT_EQ(e.getType(), kj::Exception::Type::FAILED);
  EXPECT_TRUE(e.getDescription().startsWith("TLS error: ")) << e.getDescription().cStr();
}

TEST_F(TlsTest, CancellingAndDestroyingAtAnyPointIsSafe) {
  // A pending handshake dropped half-way.
  {
    auto pipe = io.provider->newTwoWayPipe();
    auto client = connect(kj::mv(pipe.ends[1]), *clientId, serverId->fingerprint())
                      .eagerlyEvaluate(nullptr);
    kj::byte hello[4096];
    wait(pipe.ends[0]->tryRead(hello, 1, sizeof(hello)));
  }
  // A session destroyed with a read and a large write pending.
  {
    auto pair = handshake();
    kj::byte buffer[100];
    auto read = pair.client.stream->tryRead(buffer, 1, sizeof(buffer)).eagerlyEvaluate(nullptr);
    auto big = pattern(4 * 1024 * 1024, 5);
    auto write = pair.client.stream->write(big.begin(), big.size()).eagerlyEvaluate(nullptr);
    wait(kj::evalLater([]() {}));
    pair.client.stream = nullptr;
  }
  // Shut down with nothing else happening; the stream goes before the shutdown is written.
  {
    auto pair = handshake();
    pair.client.stream->shutdownWrite();
    pair.client.stream = nullptr;
  }
}

// Interop with the openssl command line (another TLS configuration, in another process) ----

TEST_F(TlsTest, OurClientTalksToOpensslServer) {
  REQUIRE_OPENSSL_CLI();
  TempFile key(*serverPem);
  TempFile certificate(serverId->certificatePem());
  for (const char* version: {"-tls1_3", "-tls1_2"}) {
    auto socketPath = uniquePath("sock");
    auto output = uniquePath("out");
    // -Verify 1: the server requires a client certificate (and only logs that it is self-signed).
    Child server("exec openssl s_server -quiet -rev -naccept 1 -Verify 1 " + std::string(version) +
                 " -unix " + socketPath + " -unlink -key " + key.path + " -cert " +
                 certificate.path + " >" + output + " 2>&1");
    // Wait (bounded) for the server to listen.
    kj::Maybe<kj::Own<kj::AsyncIoStream>> connection;
    for (int attempt = 0; attempt < 200 && connection == nullptr; attempt++) {
      struct stat info;
      if (stat(socketPath.c_str(), &info) == 0) {
        auto connect = io.provider->getNetwork()
                           .parseAddress(kj::str("unix:", socketPath.c_str()))
                           .then([](kj::Own<kj::NetworkAddress> a) { return a->connect(); });
        kj::runCatchingExceptions([&]() { connection = wait(kj::mv(connect)); });
      }
      if (connection == nullptr) wait(io.provider->getTimer().afterDelay(50 * kj::MILLISECONDS));
    }
    KJ_IF_MAYBE(c, connection) {
      auto session = wait(connect(kj::mv(*c), *clientId, serverId->fingerprint()));
      EXPECT_TRUE(session.protocol == (version == std::string("-tls1_3") ? "TLSv1.3" : "TLSv1.2"))
          << session.protocol.cStr();
      wait(session.stream->write("hello, capnp\n", 13));
      auto line = wait(readLine(*session.stream));
      EXPECT_TRUE(line == "pnpac ,olleh\n") << line.cStr();
      // Our close_notify ends the server's only connection, and so the server.
      session.stream->shutdownWrite();
      kj::byte rest[64];
      kj::runCatchingExceptions([&]() { wait(readSome(*session.stream, rest, sizeof(rest))); });
      int status = server.wait();
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << readFile(output);
    } else {
      ADD_FAILURE() << "openssl s_server did not start: " << readFile(output);
    }
    unlink(socketPath.c_str());
    unlink(output.c_str());
  }
}

TEST_F(TlsTest, OpensslClientTalksToOurServer) {
  REQUIRE_OPENSSL_CLI();
  auto clientPem = generateRsaKeyPem();
  auto clientIdentity = Identity::fromPem(clientPem);
  TempFile key(clientPem);
  TempFile certificate(clientIdentity->certificatePem());
  for (const char* version: {"-tls1_3", "-tls1_2"}) {
    auto socketPath = uniquePath("sock");
    auto output = uniquePath("out");
    auto listener = wait(io.provider->getNetwork().parseAddress(kj::str("unix:", socketPath.c_str())))
                        ->listen();
    // -quiet implies -ign_eof: the client stays until our close_notify, then prints what it got.
    Child client("printf 'ping\\n' | exec openssl s_client -quiet " + std::string(version) +
                 " -unix " + socketPath + " -cert " + certificate.path + " -key " + key.path +
                 " >" + output + " 2>/dev/null");
    auto session = wait(listener->accept().then([&](kj::Own<kj::AsyncIoStream> socket) {
      return accept(kj::mv(socket), *serverId, /*requireClientCertificate=*/true);
    }));
    EXPECT_TRUE(session.protocol == (version == std::string("-tls1_3") ? "TLSv1.3" : "TLSv1.2"))
        << session.protocol.cStr();
    KJ_IF_MAYBE(fp, session.peerFingerprint) {
      EXPECT_TRUE(fp->asPtr() == clientIdentity->fingerprint());
    } else {
      ADD_FAILURE() << "the client's fingerprint";
    }
    auto line = wait(readLine(*session.stream));
    EXPECT_TRUE(line == "ping\n") << line.cStr();
    wait(session.stream->write("pong\n", 5));
    session.stream->shutdownWrite();
    // The client leaves when it sees close_notify (with or without its own).
    kj::byte rest[64];
    kj::runCatchingExceptions([&]() { wait(readSome(*session.stream, rest, sizeof(rest))); });
    int status = client.wait();
    EXPECT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(readFile(output), "pong\n");
    unlink(socketPath.c_str());
    unlink(output.c_str());
  }
}

}  // namespace
}  // namespace capnp_native::tls
