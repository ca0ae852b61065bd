// CapnpNative TLS — a vat's identity: its private key and a self-signed certificate for it.
//
// The rules make our vats interchangeable with mirage/capnp-rpc (OCaml) vats:
//   * Keys are PEM. We write RSA-2048 as unencrypted PKCS#8 ("BEGIN PRIVATE KEY"); on load we
//     also accept PKCS#1 RSA ("BEGIN RSA PRIVATE KEY") and EC keys ("BEGIN EC PRIVATE KEY", or
//     EC in PKCS#8). RSA keys under 2048 bits, encrypted keys and other key types are refused.
//   * The certificate is generated when the identity is made (it is not stored): self-signed
//     X.509 v3, subject and issuer CN=capnp, valid from one day ago for ten years, SHA-256
//     signature, random 128-bit serial, basicConstraints CA:FALSE.
//   * The fingerprint is SHA-256 over the DER SubjectPublicKeyInfo of the key, i.e. what
//     `openssl pkey -pubout -outform DER | sha256sum` prints. URIs show it as
//     "sha-256:" + base64url without padding.
//
// Errors: a bad key throws kj::Exception FAILED whose description starts with "TLS identity: "
// and names the problem. Nothing is left on the thread's OpenSSL error queue.
//
// An Identity is immutable and may be used from any thread; sessions made from it keep their
// own references, so it may be destroyed while they live.

#pragma once

#include <kj/array.h>
#include <kj/memory.h>
#include <kj/string.h>

namespace capnp_native::tls {

constexpr size_t FINGERPRINT_BYTES = 32;

class Identity {
public:
  static kj::Own<Identity> fromPem(kj::ArrayPtr<const kj::byte> pem);
  static kj::Own<Identity> fromPem(kj::StringPtr pem);
  // Loads a private key (see above for the formats) and makes its certificate.

  static kj::Own<Identity> generateEphemeral();
  // A fresh RSA-2048 key (tens to hundreds of milliseconds), never written anywhere. For a client
  // without an identity of its own; a process may keep one and reuse it.

  kj::ArrayPtr<const kj::byte> fingerprint() const;
  // SHA-256 of the DER SubjectPublicKeyInfo, FINGERPRINT_BYTES long.

  kj::String certificatePem() const;
  // The generated certificate, for diagnostics and tests.

  struct Impl;
  const Impl& impl() const { return *impl_; }
  explicit Identity(kj::Own<Impl> impl);
  ~Identity() noexcept;
  KJ_DISALLOW_COPY(Identity);

private:
  kj::Own<Impl> impl_;
};

kj::String generateRsaKeyPem();
// A new RSA-2048 private key as unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). The
// caller stores it (mode 0600) and loads it with Identity::fromPem.

}  // namespace capnp_native::tls
