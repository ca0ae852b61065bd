// CapnpNative TLS — internal: owners for OpenSSL objects, the thread's OpenSSL error queue, and
// the inside of an Identity.
// Not part of the API; included only by native/src/tls/*.c++.

#pragma once

#include "tls_identity.h"

#include <kj/string.h>
#include <kj/vector.h>
#include <memory>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace capnp_native::tls::internal {

// Every OpenSSL object has exactly one owner, which frees it exactly once.
template <typename T, void (*freeFn)(T*)>
struct OpenSslFree {
  void operator()(T* p) const noexcept { freeFn(p); }
};
template <typename T, void (*freeFn)(T*)>
using OpenSslOwn = std::unique_ptr<T, OpenSslFree<T, freeFn>>;

using PKeyOwn = OpenSslOwn<EVP_PKEY, EVP_PKEY_free>;
using X509Own = OpenSslOwn<X509, X509_free>;
using BioOwn = OpenSslOwn<BIO, BIO_free_all>;
using BignumOwn = OpenSslOwn<BIGNUM, BN_free>;
using X509ExtensionOwn = OpenSslOwn<X509_EXTENSION, X509_EXTENSION_free>;
using SslOwn = OpenSslOwn<SSL, SSL_free>;
using SslCtxOwn = OpenSslOwn<SSL_CTX, SSL_CTX_free>;

// The thread's OpenSSL error queue, taken (the queue is left empty).
struct OpenSslErrors {
  kj::Vector<unsigned long> codes;
  kj::String text;  // "reason (library): detail; ..." or "no OpenSSL error reported"

  bool hasReason(int reason) const {
    for (auto code: codes) {
      if (ERR_GET_REASON(code) == reason) return true;
    }
    return false;
  }
};
OpenSslErrors takeOpenSslErrors();

// SHA-256 over the DER SubjectPublicKeyInfo of `key` (32 bytes).
kj::Array<kj::byte> keyFingerprint(EVP_PKEY* key);

}  // namespace capnp_native::tls::internal

namespace capnp_native::tls {

struct Identity::Impl {
  internal::PKeyOwn key;
  internal::X509Own certificate;
  kj::Array<kj::byte> fingerprint;
};

}  // namespace capnp_native::tls
