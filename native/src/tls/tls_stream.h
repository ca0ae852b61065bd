// CapnpNative TLS — TLS 1.2/1.3 sessions over a kj::AsyncIoStream, authenticated by key
// fingerprint only (OpenSSL 3 on the KJ event loop; kj-tls 0.9.2 cannot verify that way).
//
//   auto identity = Identity::fromPem(pemBytes);          // or Identity::generateEphemeral()
//   // client: verifies the server by its key fingerprint (no CA, no host name, no expiry)
//   connect(kj::mv(socket), *identity, serverFingerprint).then([](Session session) {...});
//   // server: asks every client for a certificate; anonymous clients allowed unless required
//   accept(kj::mv(socket), *identity, /*requireClientCertificate=*/false).then(...);
//   capnp_native::CoalescingMessageStream messages(*session.stream);
//
// Rules
//   * TLS 1.2 and 1.3 only; no renegotiation, no session resumption, no compression.
//   * The client always presents its identity's certificate. The server requests one: with
//     requireClientCertificate false a client without one is accepted and its
//     Session::peerFingerprint is null ("anonymous"); with true it is refused. Any certificate
//     the client sends is accepted; its key fingerprint is the client's identity.
//   * Certificates are never checked against a CA, a host name or their validity dates.
//
// Errors (kj::Exception; the description prefixes below are stable, match on them):
//   * FAILED "TLS authentication failed: server key fingerprint mismatch (expected sha-256:…,
//     got sha-256:…)" — connect(): the server's key is not the expected one (see
//     FINGERPRINT_MISMATCH and isFingerprintMismatch()). The client sends an alert, the server's
//     accept() then fails with "TLS handshake failed: …".
//   * FAILED "TLS authentication failed: client presented no certificate" — accept() with
//     requireClientCertificate. With TLS 1.3 the client's connect() has usually succeeded by
//     then; the client sees the server's alert as a failed read ("TLS error: …").
//   * FAILED "TLS handshake failed: <OpenSSL reasons>" — any other handshake failure: a
//     plaintext or garbage peer, no common protocol version or cipher, an alert from the peer.
//   * DISCONNECTED "TLS handshake failed: peer disconnected" — EOF during the handshake; errors
//     of the underlying stream pass through unchanged (usually DISCONNECTED).
//   * On the session stream: FAILED "TLS error: <reasons>" for a corrupt or forged record or an
//     alert; DISCONNECTED "TLS stream truncated: …" when the peer closes the underlying stream
//     without close_notify (at or inside a record). A close_notify ends reads cleanly (0 bytes).
//   * Errors of the underlying stream (reads and writes) pass through unchanged.
//   A handshake fails as soon as what arrives is not TLS; a peer that sends nothing, or stops
//   half-way, is waited for indefinitely: the caller bounds the handshake with a timeout
//   (cancelling is safe). Suggested mapping: isAuthenticationFailure() → a typed authentication
//   exception; other FAILED → a TLS/protocol error; DISCONNECTED → disconnected.
//
// The session stream
//   * Full duplex: one read and one write may be outstanding at the same time (KJ rule: at most
//     one of each). Reads return as much decrypted data as is already available, up to maxBytes.
//   * write(pieces) packs small pieces into full 16 KiB records (one copy) and encrypts large
//     pieces, and a last piece, straight from the caller's memory; the ciphertext is copied once
//     into an output buffer and sent in large writes, encrypting up to 256 KiB ahead of the
//     stream. A write resolves when its ciphertext has been handed to the underlying stream.
//     Reads take ciphertext 64 KiB at a time (one copy into OpenSSL, one out of it).
//   * shutdownWrite() sends close_notify, then shuts down the write side of the underlying
//     stream once everything queued is written; reading goes on until the peer closes.
//   * set/getsockopt, getsockname, getpeername, whenWriteDisconnected and abortRead go to the
//     underlying stream; getFd() is null (raw bytes must not bypass TLS).
//   * Destroying the stream (or a pending connect/accept promise) cancels everything at once
//     and sends nothing more (no close_notify). Use on the thread of the event loop that owns
//     the underlying stream. Nothing is left on the thread's OpenSSL error queue.
//   * Memory per session: 64 KiB of ciphertext read buffer, OpenSSL's own 64 KiB read buffer,
//     and two output buffers that grow with the writes to at most ~290 KiB each.

#pragma once

#include "tls_identity.h"

#include <kj/async-io.h>

namespace capnp_native::tls {

struct Session {
  kj::Own<kj::AsyncIoStream> stream;
  kj::Maybe<kj::Array<kj::byte>> peerFingerprint;
  // The peer's key fingerprint (FINGERPRINT_BYTES). Client: the server's (equal to the expected
  // one). Server: the client's, or null for an anonymous client.
  kj::StringPtr protocol;  // "TLSv1.3" or "TLSv1.2"
};

kj::Promise<Session> connect(kj::Own<kj::AsyncIoStream> transport, const Identity& clientIdentity,
                             kj::ArrayPtr<const kj::byte> expectedServerFingerprint);
// Client handshake over `transport`. `expectedServerFingerprint` must be FINGERPRINT_BYTES long
// (FAILED otherwise); it is copied. `clientIdentity` may go away once this returns.

kj::Promise<Session> accept(kj::Own<kj::AsyncIoStream> transport, const Identity& serverIdentity,
                            bool requireClientCertificate);
// Server handshake over `transport`.

constexpr char FINGERPRINT_MISMATCH[] =
    "TLS authentication failed: server key fingerprint mismatch";
constexpr char NO_CLIENT_CERTIFICATE[] =
    "TLS authentication failed: client presented no certificate";
constexpr char AUTHENTICATION_FAILED[] = "TLS authentication failed: ";  // prefix of both

bool isFingerprintMismatch(const kj::Exception& e);
bool isAuthenticationFailure(const kj::Exception& e);  // either of the two above

namespace testing {
// For tests and interop checks only.

constexpr int TLS_1_2 = 0x0303;
constexpr int TLS_1_3 = 0x0304;

struct Options {
  int minVersion = 0;  // 0: TLS 1.2
  int maxVersion = 0;  // 0: TLS 1.3
};

kj::Promise<Session> connect(kj::Own<kj::AsyncIoStream> transport,
                             kj::Maybe<const Identity&> clientIdentity,
                             kj::ArrayPtr<const kj::byte> expectedServerFingerprint,
                             Options options);
// `clientIdentity` null: a client without a certificate (what C++ and Python clients often are).

kj::Promise<Session> accept(kj::Own<kj::AsyncIoStream> transport, const Identity& serverIdentity,
                            bool requireClientCertificate, Options options);

}  // namespace testing

}  // namespace capnp_native::tls
