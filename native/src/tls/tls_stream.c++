// CapnpNative TLS — sessions: OpenSSL driven by a KJ stream through a custom BIO.
//
// OpenSSL never touches the socket. Its BIO reads ciphertext from `inbound`, which one
// tryRead() of the underlying stream fills (64 KiB at a time), and appends ciphertext to
// `outgoing`, which one write() at a time hands to the underlying stream. The BIO never refuses a
// write, so SSL_write always completes at once; back-pressure is applied above it, by waiting for
// the underlying stream before encrypting more than WRITE_AHEAD_BYTES. Everything runs on the
// event loop's thread, so the read and write sides may interleave their OpenSSL calls freely.

#include "tls_stream.h"
#include "tls_internal.h"

#include <algorithm>
#include <cstring>
#include <kj/debug.h>
#include <kj/encoding.h>

namespace capnp_native::tls {

using namespace internal;

namespace {

constexpr size_t READ_CHUNK_BYTES = 64 * 1024;     // ciphertext read from the stream at once
constexpr size_t RECORD_BYTES = 16 * 1024;         // largest TLS record payload
constexpr size_t WRITE_AHEAD_BYTES = 256 * 1024;   // ciphertext encrypted ahead of the stream
constexpr size_t RECORD_OVERHEAD_BYTES = 256;       // header, tag, padding: generous
// Most ciphertext an output buffer holds: WRITE_AHEAD_BYTES, plus one more record's worth.
constexpr size_t OUTPUT_BUFFER_BYTES = WRITE_AHEAD_BYTES + 2 * (RECORD_BYTES + RECORD_OVERHEAD_BYTES);

#define TLS_FAIL(type, ...)                                                       \
  ::kj::Exception(::kj::Exception::Type::type, __FILE__, __LINE__, ::kj::str(__VA_ARGS__))

enum class Role { CLIENT, SERVER };

// A growable byte buffer that keeps its capacity.
class ByteBuffer {
public:
  size_t size() const { return used; }
  const kj::byte* begin() const { return data.begin(); }
  void clear() { used = 0; }
  void append(const void* bytes, size_t count) {
    if (used + count > data.size()) {
      auto bigger = kj::heapArray<kj::byte>(
          std::max(used + count, std::min(data.size() * 2, OUTPUT_BUFFER_BYTES)));
      if (used > 0) memcpy(bigger.begin(), data.begin(), used);
      data = kj::mv(bigger);
    }
    memcpy(data.begin() + used, bytes, count);
    used += count;
  }
  void swap(ByteBuffer& other) {
    auto otherData = kj::mv(other.data);
    other.data = kj::mv(data);
    data = kj::mv(otherData);
    std::swap(used, other.used);
  }

private:
  kj::Array<kj::byte> data;
  size_t used = 0;
};

kj::String formatFingerprint(kj::ArrayPtr<const kj::byte> fingerprint) {
  return kj::str("sha-256:", kj::encodeBase64Url(fingerprint));
}

class TlsStream;

// Process-lifetime singletons (created once, thread-safe to share, deliberately never freed: a
// loop thread may still be using them while the process exits).
BIO_METHOD* bioMethod();
SSL_CTX* sharedContext(Role role);

class TlsStream final: public kj::AsyncIoStream {
public:
  TlsStream(kj::Own<kj::AsyncIoStream> transportParam, Role role,
            kj::Maybe<const Identity&> identity, kj::ArrayPtr<const kj::byte> expected,
            bool requireClientCertificate, testing::Options options)
      : transport(kj::mv(transportParam)), role(role),
        requireClientCertificate(requireClientCertificate),
        expectedFingerprint(kj::heapArray(expected)),
        inbound(kj::heapArray<kj::byte>(READ_CHUNK_BYTES)) {
    ERR_clear_error();
    ssl.reset(SSL_new(sharedContext(role)));
    if (!ssl) throwOpenSslFailure("SSL_new");
    SSL_set_app_data(ssl.get(), this);

    BIO* bio = BIO_new(bioMethod());
    if (bio == nullptr) throwOpenSslFailure("BIO_new");
    BIO_set_data(bio, this);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl.get(), bio, bio);  // the SSL owns the BIO from here on

    KJ_IF_MAYBE(id, identity) {
      auto& impl = id->impl();
      if (SSL_use_certificate(ssl.get(), impl.certificate.get()) != 1 ||
          SSL_use_PrivateKey(ssl.get(), impl.key.get()) != 1) {
        throwOpenSslFailure("cannot use the identity");
      }
    }
    if (options.minVersion != 0 && SSL_set_min_proto_version(ssl.get(), options.minVersion) != 1) {
      throwOpenSslFailure("bad minimum version");
    }
    if (options.maxVersion != 0 && SSL_set_max_proto_version(ssl.get(), options.maxVersion) != 1) {
      throwOpenSslFailure("bad maximum version");
    }
    if (role == Role::SERVER) {
      SSL_set_verify(ssl.get(),
                     SSL_VERIFY_PEER | (requireClientCertificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                     nullptr);
      SSL_set_accept_state(ssl.get());
    } else {
      SSL_set_connect_state(ssl.get());
    }
  }

  ~TlsStream() noexcept(false) {}
  KJ_DISALLOW_COPY(TlsStream);

  // Handshake -------------------------------------------------------------------------------

  kj::Promise<void> handshake() {
    ERR_clear_error();
    int result = SSL_do_handshake(ssl.get());
    if (result == 1) {
      kick();  // e.g. the client's Finished
      checkPeerAfterHandshake();
      return kj::READY_NOW;
    }
    int error = SSL_get_error(ssl.get(), result);
    kick();  // what the handshake produced so far, or the alert telling the peer why it failed
    if (error == SSL_ERROR_WANT_READ && !inboundEof) {
      return fillInbound().then([this]() { return handshake(); });
    }
    return handshakeFailure(error);
  }

  kj::Maybe<kj::Array<kj::byte>> takePeerFingerprint() { return kj::mv(peerFingerprint); }
  kj::StringPtr protocol() { return SSL_get_version(ssl.get()); }

  // Called by OpenSSL (through verifyCertificate) with the peer's certificate. Never throws.
  bool checkPeerCertificate(X509* certificate) noexcept {
    EVP_PKEY* key = certificate == nullptr ? nullptr : X509_get0_pubkey(certificate);
    if (key == nullptr) return false;
    kj::Array<kj::byte> fingerprint;
    KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() { fingerprint = keyFingerprint(key); })) {
      return false;
    }
    if (role == Role::CLIENT && fingerprint.asPtr() != expectedFingerprint.asPtr()) {
      rejectedFingerprint = kj::mv(fingerprint);
      return false;
    }
    return true;
  }

  // Implements AsyncIoStream ---------------------------------------------------------------

  kj::Promise<size_t> tryRead(void* buffer, size_t minBytes, size_t maxBytes) override {
    if (maxBytes == 0) return size_t(0);
    return readLoop(static_cast<kj::byte*>(buffer), std::max<size_t>(minBytes, 1), maxBytes, 0);
  }

  kj::Promise<void> write(const void* buffer, size_t size) override {
    singlePiece = kj::arrayPtr(static_cast<const kj::byte*>(buffer), size);
    return write(kj::arrayPtr(&singlePiece, 1));
  }

  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override {
    KJ_IF_MAYBE(e, writeError) return kj::cp(*e);
    if (shutdownSent) return TLS_FAIL(FAILED, "TLS: write() after shutdownWrite()");
    staged = 0;
    return kj::evalNow([&]() { return writeLoop(pieces, 0, 0); });
  }

  kj::Promise<void> whenWriteDisconnected() override {
    return transport->whenWriteDisconnected();
  }

  void shutdownWrite() override {
    if (shutdownSent) return;
    shutdownSent = true;
    ERR_clear_error();
    if (SSL_shutdown(ssl.get()) < 0) takeOpenSslErrors();  // after a fatal error: just close
    kick();
    shutdownTask = waitWritten(queuedBytes)
        .then([this]() { transport->shutdownWrite(); })
        .eagerlyEvaluate([](kj::Exception&&) {});  // a write error is reported to writers
  }

  void abortRead() override { transport->abortRead(); }
  void getsockopt(int level, int option, void* value, uint* length) override {
    transport->getsockopt(level, option, value, length);
  }
  void setsockopt(int level, int option, const void* value, uint length) override {
    transport->setsockopt(level, option, value, length);
  }
  void getsockname(struct sockaddr* addr, uint* length) override {
    transport->getsockname(addr, length);
  }
  void getpeername(struct sockaddr* addr, uint* length) override {
    transport->getpeername(addr, length);
  }

  // BIO callbacks ---------------------------------------------------------------------------

  int bioRead(BIO* bio, char* out, size_t count, size_t* done) noexcept {
    BIO_clear_retry_flags(bio);
    size_t available = inboundEnd - inboundBegin;
    if (available == 0) {
      *done = 0;
      if (!inboundEof) BIO_set_retry_read(bio);
      return 0;
    }
    size_t n = std::min(count, available);
    memcpy(out, inbound.begin() + inboundBegin, n);
    inboundBegin += n;
    *done = n;
    return 1;
  }

  int bioWrite(BIO* bio, const char* bytes, size_t count, size_t* done) noexcept {
    BIO_clear_retry_flags(bio);
    KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() { outgoing.append(bytes, count); })) {
      return 0;
    }
    queuedBytes += count;
    *done = count;
    return 1;
  }

  long bioCtrl(int command) noexcept {
    switch (command) {
      case BIO_CTRL_FLUSH: return 1;
      case BIO_CTRL_EOF: return inboundEof && inboundBegin == inboundEnd;
      case BIO_CTRL_PENDING: return static_cast<long>(inboundEnd - inboundBegin);
      case BIO_CTRL_WPENDING: return 0;
      default: return 0;
    }
  }

private:
  kj::Own<kj::AsyncIoStream> transport;
  Role role;
  bool requireClientCertificate;
  SslOwn ssl;

  // Authentication.
  kj::Array<kj::byte> expectedFingerprint;           // client only
  kj::Maybe<kj::Array<kj::byte>> rejectedFingerprint;  // client: the server's, when wrong
  kj::Maybe<kj::Array<kj::byte>> peerFingerprint;

  // Inbound ciphertext: [inboundBegin, inboundEnd) not yet taken by OpenSSL.
  kj::Array<kj::byte> inbound;
  size_t inboundBegin = 0;
  size_t inboundEnd = 0;
  bool inboundEof = false;
  bool closeNotifyReceived = false;
  kj::Maybe<kj::Exception> readError;  // sticky: the TLS state is lost after a failure

  // Outgoing ciphertext: `outgoing` is being filled, `writing` is being written.
  ByteBuffer outgoing;
  ByteBuffer writing;
  uint64_t queuedBytes = 0;   // ever appended to `outgoing`
  uint64_t writtenBytes = 0;  // ever written to the stream
  bool pumping = false;
  kj::Maybe<kj::Exception> writeError;  // sticky
  struct Waiter {
    uint64_t until;
    kj::Own<kj::PromiseFulfiller<void>> fulfiller;
  };
  kj::Vector<Waiter> waiters;

  // Plaintext of the write in progress: small pieces are packed into full records here.
  kj::Array<kj::byte> stage;
  size_t staged = 0;
  kj::ArrayPtr<const kj::byte> singlePiece;  // for write(buffer, size)
  bool shutdownSent = false;

  // Last: cancelled before anything they use goes away.
  kj::Promise<void> pump = nullptr;
  kj::Promise<void> shutdownTask = nullptr;

  [[noreturn]] void throwOpenSslFailure(const char* what) {
    kj::throwFatalException(TLS_FAIL(FAILED, "TLS setup failed: ", what, ": ",
                                     takeOpenSslErrors().text));
  }

  // Reading ---------------------------------------------------------------------------------

  kj::Promise<void> fillInbound() {
    KJ_ASSERT(inboundBegin == inboundEnd);
    inboundBegin = inboundEnd = 0;
    return transport->tryRead(inbound.begin(), 1, inbound.size()).then([this](size_t n) {
      inboundEnd = n;
      if (n == 0) inboundEof = true;
    });
  }

  kj::Promise<size_t> readLoop(kj::byte* buffer, size_t minBytes, size_t maxBytes, size_t done) {
    KJ_IF_MAYBE(e, readError) return kj::cp(*e);
    while (done < maxBytes && !closeNotifyReceived) {
      // Once minBytes are there, take only what needs no waiting.
      if (done >= minBytes && !SSL_has_pending(ssl.get()) && inboundBegin == inboundEnd) break;
      ERR_clear_error();
      size_t n = 0;
      int result = SSL_read_ex(ssl.get(), buffer + done, maxBytes - done, &n);
      if (result == 1) {
        done += n;
        continue;
      }
      int error = SSL_get_error(ssl.get(), result);
      kick();  // reading may have produced something to send (an alert, a key update)
      if (error == SSL_ERROR_ZERO_RETURN) {
        takeOpenSslErrors();
        closeNotifyReceived = true;
        break;
      }
      if (error == SSL_ERROR_WANT_READ && !inboundEof) {
        if (done >= minBytes) break;
        return fillInbound().then([this, buffer, minBytes, maxBytes, done]() {
          return readLoop(buffer, minBytes, maxBytes, done);
        });
      }
      auto e = readFailure(error);
      readError = kj::cp(e);
      return kj::mv(e);
    }
    kick();
    return done;
  }

  kj::Exception readFailure(int error) {
    auto errors = takeOpenSslErrors();
    if (inboundEof && (error == SSL_ERROR_SYSCALL || error == SSL_ERROR_WANT_READ ||
                       errors.hasReason(SSL_R_UNEXPECTED_EOF_WHILE_READING))) {
      return TLS_FAIL(DISCONNECTED,
                      "TLS stream truncated: the peer closed the connection without close_notify");
    }
    return TLS_FAIL(FAILED, "TLS error: ", errors.text);
  }

  // Writing ---------------------------------------------------------------------------------

  kj::Promise<void> writeLoop(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces,
                              size_t index, size_t offset) {
    while (index < pieces.size()) {
      auto piece = pieces[index].slice(offset, pieces[index].size());
      size_t used;
      if (piece.size() == 0) {
        used = 0;
      } else if (staged == 0 && index + 1 == pieces.size()) {
        // The last piece, nothing staged: straight from the caller's memory.
        used = std::min(piece.size(), encryptRoom());
        encrypt(piece.begin(), used);
      } else if (staged == 0 && piece.size() >= RECORD_BYTES) {
        // Whole records straight from the caller's memory.
        used = std::min(piece.size() / RECORD_BYTES * RECORD_BYTES, encryptRoom());
        encrypt(piece.begin(), used);
      } else {
        // Small pieces are packed into full records.
        if (stage.size() == 0) stage = kj::heapArray<kj::byte>(RECORD_BYTES);
        used = std::min(RECORD_BYTES - staged, piece.size());
        memcpy(stage.begin() + staged, piece.begin(), used);
        staged += used;
        if (staged == RECORD_BYTES) {
          encrypt(stage.begin(), staged);
          staged = 0;
        }
      }
      offset += used;
      if (offset == pieces[index].size()) {
        index++;
        offset = 0;
      }
      if (outgoing.size() >= WRITE_AHEAD_BYTES) {
        kick();
        if (outgoing.size() >= WRITE_AHEAD_BYTES) {
          // The stream is still writing the previous batch: wait for it, then go on.
          return waitWritten(queuedBytes - outgoing.size())
              .then([this, pieces, index, offset]() { return writeLoop(pieces, index, offset); });
        }
      }
    }
    if (staged > 0) {
      encrypt(stage.begin(), staged);
      staged = 0;
    }
    kick();
    return waitWritten(queuedBytes);
  }

  // How much plaintext to encrypt at once: whole records up to WRITE_AHEAD_BYTES of output.
  size_t encryptRoom() const {
    size_t room = outgoing.size() < WRITE_AHEAD_BYTES ? WRITE_AHEAD_BYTES - outgoing.size() : 0;
    return std::max(RECORD_BYTES, room / RECORD_BYTES * RECORD_BYTES);
  }

  void encrypt(const kj::byte* data, size_t size) {
    ERR_clear_error();
    size_t written = 0;
    int result = SSL_write_ex(ssl.get(), data, size, &written);
    if (result != 1 || written != size) {
      auto errors = takeOpenSslErrors();
      // Without an error of its own, OpenSSL refuses to write because the session already ended
      // (the peer closed it, or a read failed): a disconnection, not a protocol failure, so the
      // RPC layer treats it as a peer going away rather than logging an error.
      auto e = errors.codes.empty()
          ? TLS_FAIL(DISCONNECTED, "TLS session closed: cannot write after the connection ended")
          : TLS_FAIL(FAILED, "TLS error: ", errors.text);
      failWrites(kj::cp(e));
      kj::throwFatalException(kj::mv(e));
    }
  }

  // Starts writing `outgoing` to the stream unless a write is in progress (it then follows).
  void kick() {
    if (!pumping && outgoing.size() > 0 && writeError == nullptr) {
      pumping = true;
      // evalNow: the stream's write may throw at once (e.g. EPIPE), which must not escape here.
      pump = kj::evalNow([this]() { return pumpLoop(); }).eagerlyEvaluate([this](kj::Exception&& e) {
        pumping = false;
        failWrites(kj::mv(e));
      });
    }
  }

  kj::Promise<void> pumpLoop() {
    if (outgoing.size() == 0) {
      pumping = false;
      return kj::READY_NOW;
    }
    writing.swap(outgoing);
    outgoing.clear();
    size_t size = writing.size();
    return transport->write(writing.begin(), size).then([this, size]() {
      writtenBytes += size;
      writing.clear();
      releaseWaiters();
      return pumpLoop();
    });
  }

  kj::Promise<void> waitWritten(uint64_t until) {
    if (writtenBytes >= until) return kj::READY_NOW;
    KJ_IF_MAYBE(e, writeError) return kj::cp(*e);
    auto paf = kj::newPromiseAndFulfiller<void>();
    waiters.add(Waiter{until, kj::mv(paf.fulfiller)});
    return kj::mv(paf.promise);
  }

  void releaseWaiters() {
    size_t kept = 0;
    for (auto& waiter: waiters) {
      if (waiter.until <= writtenBytes) {
        waiter.fulfiller->fulfill();
      } else {
        if (&waiters[kept] != &waiter) waiters[kept] = kj::mv(waiter);
        kept++;
      }
    }
    waiters.resize(kept);
  }

  void failWrites(kj::Exception&& e) {
    for (auto& waiter: waiters) waiter.fulfiller->reject(kj::cp(e));
    waiters.clear();
    if (writeError == nullptr) writeError = kj::mv(e);
  }

  // Authentication --------------------------------------------------------------------------

  void checkPeerAfterHandshake() {
    X509* certificate = SSL_get0_peer_certificate(ssl.get());
    if (certificate != nullptr) {
      EVP_PKEY* key = X509_get0_pubkey(certificate);
      if (key == nullptr) {
        kj::throwFatalException(TLS_FAIL(FAILED, "TLS handshake failed: unusable peer key"));
      }
      peerFingerprint = keyFingerprint(key);
    }
    // What the verify callback decided, checked again (it is not called for every handshake
    // kind OpenSSL knows, e.g. resumption, which is off).
    if (role == Role::CLIENT) {
      KJ_IF_MAYBE(fingerprint, peerFingerprint) {
        if (fingerprint->asPtr() != expectedFingerprint.asPtr()) {
          rejectedFingerprint = kj::mv(*fingerprint);
          kj::throwFatalException(fingerprintMismatch());
        }
      } else {
        kj::throwFatalException(TLS_FAIL(FAILED, FINGERPRINT_MISMATCH, " (no server certificate)"));
      }
    } else if (requireClientCertificate && peerFingerprint == nullptr) {
      kj::throwFatalException(TLS_FAIL(FAILED, NO_CLIENT_CERTIFICATE));
    }
  }

  kj::Exception fingerprintMismatch() {
    KJ_IF_MAYBE(got, rejectedFingerprint) {
      return TLS_FAIL(FAILED, FINGERPRINT_MISMATCH, " (expected ",
                      formatFingerprint(expectedFingerprint), ", got ", formatFingerprint(*got),
                      ")");
    }
    return TLS_FAIL(FAILED, FINGERPRINT_MISMATCH);
  }

  kj::Promise<void> handshakeFailure(int error) {
    auto errors = takeOpenSslErrors();
    if (rejectedFingerprint != nullptr) return fingerprintMismatch();
    if (role == Role::SERVER && errors.hasReason(SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)) {
      return TLS_FAIL(FAILED, NO_CLIENT_CERTIFICATE);
    }
    if (inboundEof && (error == SSL_ERROR_SYSCALL || error == SSL_ERROR_WANT_READ ||
                       errors.hasReason(SSL_R_UNEXPECTED_EOF_WHILE_READING))) {
      return TLS_FAIL(DISCONNECTED, "TLS handshake failed: peer disconnected");
    }
    return TLS_FAIL(FAILED, "TLS handshake failed: ", errors.text);
  }
};

// OpenSSL callbacks ---------------------------------------------------------------------------

TlsStream& streamOf(BIO* bio) { return *static_cast<TlsStream*>(BIO_get_data(bio)); }

int bioReadCallback(BIO* bio, char* out, size_t count, size_t* done) {
  return streamOf(bio).bioRead(bio, out, count, done);
}
int bioWriteCallback(BIO* bio, const char* bytes, size_t count, size_t* done) {
  return streamOf(bio).bioWrite(bio, bytes, count, done);
}
long bioCtrlCallback(BIO* bio, int command, long, void*) {
  if (BIO_get_data(bio) == nullptr) return 0;
  return streamOf(bio).bioCtrl(command);
}
int bioCreateCallback(BIO* bio) {
  BIO_set_data(bio, nullptr);
  return 1;
}
int bioDestroyCallback(BIO* bio) {
  BIO_set_data(bio, nullptr);
  BIO_set_init(bio, 0);
  return 1;
}

// Replaces certificate chain verification altogether: the peer is who its key says it is.
int verifyCertificate(X509_STORE_CTX* store, void*) {
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* stream = ssl == nullptr ? nullptr : static_cast<TlsStream*>(SSL_get_app_data(ssl));
  if (stream != nullptr && stream->checkPeerCertificate(X509_STORE_CTX_get0_cert(store))) {
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return 0;
}

BIO_METHOD* makeBioMethod() {
  BIO_METHOD* method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "capnp-native-kj");
  KJ_ASSERT(method != nullptr, "BIO_meth_new failed", takeOpenSslErrors().text);
  BIO_meth_set_read_ex(method, bioReadCallback);
  BIO_meth_set_write_ex(method, bioWriteCallback);
  BIO_meth_set_ctrl(method, bioCtrlCallback);
  BIO_meth_set_create(method, bioCreateCallback);
  BIO_meth_set_destroy(method, bioDestroyCallback);
  return method;
}

BIO_METHOD* bioMethod() {
  static BIO_METHOD* const method = makeBioMethod();
  return method;
}

SSL_CTX* makeContext(Role role) {
  ERR_clear_error();
  SSL_CTX* context = SSL_CTX_new(role == Role::SERVER ? TLS_server_method() : TLS_client_method());
  KJ_ASSERT(context != nullptr, "SSL_CTX_new failed", takeOpenSslErrors().text);
  bool ok = SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1 &&
            SSL_CTX_set_max_proto_version(context, TLS1_3_VERSION) == 1;
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
                               SSL_OP_NO_COMPRESSION |
                               (role == Role::SERVER ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  ok = ok && SSL_CTX_set_num_tickets(context, 0) == 1;
  SSL_CTX_set_read_ahead(context, 1);
  SSL_CTX_set_default_read_buffer_len(context, READ_CHUNK_BYTES);
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(context, verifyCertificate, nullptr);
  KJ_ASSERT(ok, "TLS context setup failed", takeOpenSslErrors().text);
  return context;
}

SSL_CTX* sharedContext(Role role) {
  static SSL_CTX* const client = makeContext(Role::CLIENT);
  static SSL_CTX* const server = makeContext(Role::SERVER);
  return role == Role::SERVER ? server : client;
}

kj::Promise<Session> handshake(kj::Own<TlsStream> stream) {
  auto promise = stream->handshake();
  return promise.then([stream = kj::mv(stream)]() mutable {
    Session session;
    session.peerFingerprint = stream->takePeerFingerprint();
    session.protocol = stream->protocol();
    session.stream = kj::mv(stream);
    return session;
  });
}

}  // namespace

bool isFingerprintMismatch(const kj::Exception& e) {
  return e.getDescription().startsWith(FINGERPRINT_MISMATCH);
}

bool isAuthenticationFailure(const kj::Exception& e) {
  return e.getDescription().startsWith(AUTHENTICATION_FAILED);
}

kj::Promise<Session> connect(kj::Own<kj::AsyncIoStream> transport, const Identity& clientIdentity,
                             kj::ArrayPtr<const kj::byte> expectedServerFingerprint) {
  return testing::connect(kj::mv(transport), clientIdentity, expectedServerFingerprint, {});
}

kj::Promise<Session> accept(kj::Own<kj::AsyncIoStream> transport, const Identity& serverIdentity,
                            bool requireClientCertificate) {
  return testing::accept(kj::mv(transport), serverIdentity, requireClientCertificate, {});
}

namespace testing {

kj::Promise<Session> connect(kj::Own<kj::AsyncIoStream> transport,
                             kj::Maybe<const Identity&> clientIdentity,
                             kj::ArrayPtr<const kj::byte> expectedServerFingerprint,
                             Options options) {
  return kj::evalNow([&]() {
    KJ_REQUIRE(expectedServerFingerprint.size() == FINGERPRINT_BYTES,
               "TLS: the expected server fingerprint must be 32 bytes (SHA-256)",
               expectedServerFingerprint.size());
    return handshake(kj::heap<TlsStream>(kj::mv(transport), Role::CLIENT, clientIdentity,
                                         expectedServerFingerprint, false, options));
  });
}

kj::Promise<Session> accept(kj::Own<kj::AsyncIoStream> transport, const Identity& serverIdentity,
                            bool requireClientCertificate, Options options) {
  return kj::evalNow([&]() {
    return handshake(kj::heap<TlsStream>(kj::mv(transport), Role::SERVER, serverIdentity, nullptr,
                                         requireClientCertificate, options));
  });
}

}  // namespace testing

}  // namespace capnp_native::tls
