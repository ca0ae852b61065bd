// CapnpNative TLS — identities: loading and generating keys, self-signed certificates,
// fingerprints. See tls_identity.h for the rules.

#include "tls_internal.h"

#include <climits>
#include <cstring>
#include <kj/debug.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

namespace capnp_native::tls {

namespace internal {

OpenSslErrors takeOpenSslErrors() {
  OpenSslErrors result;
  kj::Vector<kj::String> parts;
  for (;;) {
    const char* data = nullptr;
    int flags = 0;
    unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags);
    if (code == 0) break;
    result.codes.add(code);
    const char* reason = ERR_reason_error_string(code);
    const char* library = ERR_lib_error_string(code);
    auto text = reason != nullptr ? kj::str(reason) : kj::str("error ", code);
    if (library != nullptr) text = kj::str(text, " (", library, ")");
    if ((flags & ERR_TXT_STRING) && data != nullptr && *data != '\0') {
      text = kj::str(text, ": ", data);
    }
    parts.add(kj::mv(text));
  }
  result.text = parts.empty() ? kj::str("no OpenSSL error reported") : kj::strArray(parts, "; ");
  return result;
}

kj::Array<kj::byte> keyFingerprint(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(key, &der);
  if (length <= 0) {
    KJ_FAIL_ASSERT("TLS identity: cannot encode the public key", takeOpenSslErrors().text);
  }
  KJ_DEFER(OPENSSL_free(der));
  auto digest = kj::heapArray<kj::byte>(FINGERPRINT_BYTES);
  unsigned int digestLength = 0;
  if (EVP_Digest(der, static_cast<size_t>(length), digest.begin(), &digestLength, EVP_sha256(),
                 nullptr) != 1 || digestLength != FINGERPRINT_BYTES) {
    KJ_FAIL_ASSERT("TLS identity: SHA-256 failed", takeOpenSslErrors().text);
  }
  return digest;
}

}  // namespace internal

using namespace internal;

namespace {

#define TLS_IDENTITY_FAIL(...)                                                            \
  ::kj::throwFatalException(::kj::Exception(::kj::Exception::Type::FAILED, __FILE__, __LINE__, \
                                            ::kj::str("TLS identity: ", __VA_ARGS__)))

constexpr long CERTIFICATE_BACKDATE_SECONDS = 24L * 60 * 60;
constexpr long CERTIFICATE_VALIDITY_SECONDS = 10L * 365 * 24 * 60 * 60 + 3 * 24 * 60 * 60;  // 10 years
constexpr int MIN_RSA_BITS = 2048;

// PEM reading must never prompt on a terminal for a pass phrase.
int refusePassphrase(char*, int, int, void*) { return -1; }

PKeyOwn generateRsaKey() {
  ERR_clear_error();
  PKeyOwn key(EVP_RSA_gen(MIN_RSA_BITS));
  if (!key) KJ_FAIL_ASSERT("TLS identity: RSA key generation failed", takeOpenSslErrors().text);
  return key;
}

void addExtension(X509* certificate, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
  X509ExtensionOwn extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value));
  if (!extension || X509_add_ext(certificate, extension.get(), -1) != 1) {
    KJ_FAIL_ASSERT("TLS identity: cannot add certificate extension", value,
                   takeOpenSslErrors().text);
  }
}

X509Own makeSelfSignedCertificate(EVP_PKEY* key) {
  X509Own certificate(X509_new());
  KJ_ASSERT(certificate != nullptr, "out of memory");
  X509* x = certificate.get();

  bool ok = X509_set_version(x, X509_VERSION_3) == 1;

  // A random positive 128-bit serial number.
  kj::byte serialBytes[16];
  ok = ok && RAND_bytes(serialBytes, sizeof(serialBytes)) == 1;
  serialBytes[0] = (serialBytes[0] & 0x7f) | 0x40;  // positive, and exactly 16 bytes long
  BignumOwn serial(BN_bin2bn(serialBytes, sizeof(serialBytes), nullptr));
  ok = ok && serial != nullptr &&
       BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x)) != nullptr;

  ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -CERTIFICATE_BACKDATE_SECONDS) != nullptr;
  ok = ok && X509_gmtime_adj(X509_getm_notAfter(x), CERTIFICATE_VALIDITY_SECONDS) != nullptr;

  X509_NAME* name = X509_get_subject_name(x);
  ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                        reinterpret_cast<const unsigned char*>("capnp"), -1, -1,
                                        0) == 1;
  ok = ok && X509_set_issuer_name(x, name) == 1;
  ok = ok && X509_set_pubkey(x, key) == 1;
  if (!ok) KJ_FAIL_ASSERT("TLS identity: cannot build certificate", takeOpenSslErrors().text);

  addExtension(x, NID_basic_constraints, "critical,CA:FALSE");
  addExtension(x, NID_subject_key_identifier, "hash");

  if (X509_sign(x, key, EVP_sha256()) <= 0) {
    KJ_FAIL_ASSERT("TLS identity: cannot sign certificate", takeOpenSslErrors().text);
  }
  return certificate;
}

kj::Own<Identity> makeIdentity(PKeyOwn key) {
  auto impl = kj::heap<Identity::Impl>();
  impl->certificate = makeSelfSignedCertificate(key.get());
  impl->fingerprint = keyFingerprint(key.get());
  impl->key = kj::mv(key);
  return kj::heap<Identity>(kj::mv(impl));
}

bool contains(kj::ArrayPtr<const kj::byte> haystack, kj::StringPtr needle) {
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); i++) {
    if (memcmp(haystack.begin() + i, needle.begin(), needle.size()) == 0) return true;
  }
  return false;
}

kj::String bioContents(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  KJ_ASSERT(length >= 0);
  return kj::heapString(data, static_cast<size_t>(length));
}

}  // namespace

Identity::Identity(kj::Own<Impl> impl): impl_(kj::mv(impl)) {}
Identity::~Identity() noexcept {}

kj::Own<Identity> Identity::fromPem(kj::StringPtr pem) {
  return fromPem(pem.asBytes());
}

kj::Own<Identity> Identity::fromPem(kj::ArrayPtr<const kj::byte> pem) {
  if (pem.size() == 0) TLS_IDENTITY_FAIL("the key file is empty");
  if (pem.size() > INT_MAX) TLS_IDENTITY_FAIL("the key file is too large");
  if (!contains(pem, "-----BEGIN ")) {
    TLS_IDENTITY_FAIL("no PEM block found (expected \"-----BEGIN PRIVATE KEY-----\", "
                      "\"-----BEGIN RSA PRIVATE KEY-----\" or \"-----BEGIN EC PRIVATE KEY-----\")");
  }
  if (contains(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") || contains(pem, "Proc-Type: 4,ENCRYPTED")) {
    TLS_IDENTITY_FAIL("encrypted private keys are not supported");
  }

  ERR_clear_error();
  BioOwn bio(BIO_new_mem_buf(pem.begin(), static_cast<int>(pem.size())));
  KJ_ASSERT(bio != nullptr, "out of memory");
  PKeyOwn key(PEM_read_bio_PrivateKey(bio.get(), nullptr, refusePassphrase, nullptr));
  if (!key) {
    auto errors = takeOpenSslErrors();
    TLS_IDENTITY_FAIL("no valid private key in the PEM (expected \"-----BEGIN PRIVATE KEY-----\", "
                      "\"-----BEGIN RSA PRIVATE KEY-----\" or \"-----BEGIN EC PRIVATE KEY-----\"): ",
                      errors.text);
  }
  ERR_clear_error();  // PEM reading may leave notes about blocks it skipped

  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_RSA: {
      int bits = EVP_PKEY_get_bits(key.get());
      if (bits < MIN_RSA_BITS) {
        TLS_IDENTITY_FAIL("RSA key of ", bits, " bits is too small (at least ", MIN_RSA_BITS,
                          " bits)");
      }
      break;
    }
    case EVP_PKEY_EC:
      break;
    default:
      TLS_IDENTITY_FAIL("unsupported key type ", EVP_PKEY_get0_type_name(key.get()),
                        " (RSA or EC keys only)");
  }
  return makeIdentity(kj::mv(key));
}

kj::Own<Identity> Identity::generateEphemeral() {
  return makeIdentity(generateRsaKey());
}

kj::ArrayPtr<const kj::byte> Identity::fingerprint() const {
  return impl_->fingerprint;
}

kj::String Identity::certificatePem() const {
  BioOwn bio(BIO_new(BIO_s_mem()));
  KJ_ASSERT(bio != nullptr, "out of memory");
  if (PEM_write_bio_X509(bio.get(), impl_->certificate.get()) != 1) {
    KJ_FAIL_ASSERT("TLS identity: cannot write certificate", takeOpenSslErrors().text);
  }
  return bioContents(bio.get());
}

kj::String generateRsaKeyPem() {
  auto key = generateRsaKey();
  BioOwn bio(BIO_new(BIO_s_mem()));
  KJ_ASSERT(bio != nullptr, "out of memory");
  // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted without a cipher.
  if (PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    KJ_FAIL_ASSERT("TLS identity: cannot write private key", takeOpenSslErrors().text);
  }
  return bioContents(bio.get());
}

}  // namespace capnp_native::tls
