// Writes the seed corpora of the fuzz targets: small valid inputs and the edge cases the
// hostile-peer list names. Usage: make_seeds <corpus folder> (fuzz/corpus). The first byte(s) of
// each seed are the target's option bytes (see each target's header comment).

#include <capnp/message.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize.h>
#include <kj/debug.h>
#include <kj/vector.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <string>
#include <sys/stat.h>

namespace {

using Bytes = std::string;
using capnp::rpc::Message;
constexpr uint64_t TEST_INTERFACE = 0x9aa0a7f1c6e5b3d1ull;  // as rpc_fuzz calls

std::string root;

void write(const std::string& target, const std::string& name, const Bytes& bytes) {
  auto dir = root + "/" + target;
  mkdir(dir.c_str(), 0755);
  auto path = dir + "/" + name;
  FILE* f = fopen(path.c_str(), "wb");
  KJ_REQUIRE(f != nullptr, path);
  fwrite(bytes.data(), 1, bytes.size(), f);
  fclose(f);
}

Bytes flat(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return Bytes(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

template <typename Fill>
Bytes rpc(Fill&& fill) {
  capnp::MallocMessageBuilder message;
  fill(message.initRoot<Message>());
  return flat(message);
}

Bytes bootstrap(uint32_t question) {
  return rpc([&](Message::Builder m) { m.initBootstrap().setQuestionId(question); });
}

// A call to method `method` of TEST_INTERFACE on the answer to `promised`, or on import `import`.
Bytes call(uint32_t question, kj::Maybe<uint32_t> promised, uint32_t import, uint16_t method) {
  return rpc([&](Message::Builder m) {
    auto c = m.initCall();
    c.setQuestionId(question);
    c.setInterfaceId(TEST_INTERFACE);
    c.setMethodId(method);
    KJ_IF_MAYBE(p, promised) {
      c.initTarget().initPromisedAnswer().setQuestionId(*p);
    } else {
      c.initTarget().setImportedCap(import);
    }
    c.initParams().getContent().initAsAnyStruct(1, 0);  // one data word, no pointers
  });
}

Bytes finish(uint32_t question) {
  return rpc([&](Message::Builder m) { m.initFinish().setQuestionId(question); });
}

Bytes release(uint32_t id, uint32_t count) {
  return rpc([&](Message::Builder m) {
    auto r = m.initRelease();
    r.setId(id);
    r.setReferenceCount(count);
  });
}

// A Return for `answer` (one of our questions, or one never asked): results with one capability
// the peer hosts (export 0), or an exception.
Bytes returnTo(uint32_t answer, bool exception) {
  return rpc([&](Message::Builder m) {
    auto r = m.initReturn();
    r.setAnswerId(answer);
    if (exception) {
      r.initException().setReason("seed: failed");
    } else {
      auto results = r.initResults();
      results.getContent().initAsAnyStruct(0, 1);  // one (null) pointer
      results.initCapTable(1)[0].setSenderHosted(0);
    }
  });
}

Bytes disembargo(uint32_t import, uint32_t embargo) {
  return rpc([&](Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().setImportedCap(import);
    d.initContext().setSenderLoopback(embargo);
  });
}

Bytes resolve(uint32_t promise) {
  return rpc([&](Message::Builder m) {
    auto r = m.initResolve();
    r.setPromiseId(promise);
    r.initCap().setSenderHosted(1);
  });
}

Bytes abortWith(const char* reason) {
  return rpc([&](Message::Builder m) { m.initAbort().setReason(reason); });
}

Bytes unimplemented() {
  return rpc([&](Message::Builder m) { m.initUnimplemented().initBootstrap().setQuestionId(0); });
}

Bytes word(uint32_t a, uint32_t b) {
  Bytes out(8, '\0');
  for (int i = 0; i < 4; ++i) {
    out[i] = char((a >> (8 * i)) & 0xff);
    out[4 + i] = char((b >> (8 * i)) & 0xff);
  }
  return out;
}

// Raw framings: a segment table with `count` segments of the given sizes (words), then `body`.
Bytes frame(uint32_t countMinusOne, std::initializer_list<uint32_t> sizes, const Bytes& body) {
  Bytes out;
  Bytes table;
  auto put = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) table.push_back(char((v >> (8 * i)) & 0xff));
  };
  put(countMinusOne);
  for (auto s: sizes) put(s);
  while (table.size() % 8 != 0) table.push_back('\0');
  return table + body;
}

// A Call whose params point at themselves (a struct pointer with offset -1), or far away.
Bytes hostileParams(bool cyclic) {
  // The Call message, built normally, then its params' root pointer patched: simpler as a raw
  // one-segment message holding only a struct whose pointer loops.
  Bytes body;
  // Root: struct pointer, offset 0, 0 data words, 1 pointer.
  body += word(0x00000000, 0x00010000);
  // Its pointer: struct pointer with offset -1 (itself) or 1,000,000 (out of bounds).
  uint32_t offset = cyclic ? uint32_t(-1) : 1000000u;
  body += word(offset << 2, 0x00010000);
  return frame(0, {2}, body);
}

std::string clientHello(int maxVersion) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, maxVersion);
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  SSL_set_connect_state(ssl);
  SSL_do_handshake(ssl);  // wants to read: the ClientHello is in `out`
  char* data;
  long length = BIO_get_mem_data(out, &data);
  std::string hello(data, length);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return hello;
}

}  // namespace

int main(int argc, char** argv) {
  KJ_REQUIRE(argc == 2, "usage: make_seeds <corpus folder>");
  root = argv[1];
  mkdir(root.c_str(), 0755);

  // transport_fuzz: [options][write size] then the stream.
  {
    capnp::MallocMessageBuilder one;
    one.initRoot<capnp::rpc::Message>().initAbort().setReason("hello");
    auto single = flat(one);
    capnp::MallocMessageBuilder many(2, capnp::AllocationStrategy::FIXED_SIZE);
    auto list = many.initRoot<capnp::rpc::Message>().initCall().initParams().initCapTable(6);
    for (auto d: list) d.setSenderHosted(7);
    auto multi = flat(many);
    std::string opts[] = {std::string("\x00\x06", 2), std::string("\x39\x01", 2), std::string("\x5a\x03", 2)};
    int n = 0;
    for (auto& o: opts) {
      auto tag = std::to_string(n++);
      write("transport_fuzz", "single-" + tag, o + single);
      write("transport_fuzz", "multi-segment-" + tag, o + multi);
      write("transport_fuzz", "two-messages-" + tag, o + single + multi);
      write("transport_fuzz", "truncated-" + tag, o + (single + multi).substr(0, single.size() + 12));
    }
    write("transport_fuzz", "empty", std::string("\x00\x00", 2));
    write("transport_fuzz", "zero-size-segments", std::string("\x00\x02", 2) + frame(2, {0, 0, 0}, ""));
    write("transport_fuzz", "2pow32-segments", std::string("\x00\x02", 2) + frame(0xffffffffu, {1}, word(0, 0)));
    write("transport_fuzz", "huge-segment", std::string("\x08\x02", 2) + frame(0, {0x7fffffffu}, word(0, 0)));
    write("transport_fuzz", "five-segments", std::string("\x10\x02", 2) + frame(4, {1, 1, 1, 1, 1}, Bytes(40, '\0')));
    write("transport_fuzz", "over-1k", std::string("\x20\x04", 2) + frame(0, {200}, Bytes(1600, 'x')));
  }

  // rpc_fuzz: [flags] then the peer's messages.
  {
    std::string plain("\x00", 1), calling("\x0f", 1), answering("\x08", 1);
    auto bootAndCall = bootstrap(0) + call(1, uint32_t(0), 0, 0) + finish(0) + finish(1);
    write("rpc_fuzz", "empty", plain);
    write("rpc_fuzz", "bootstrap", plain + bootstrap(0));
    write("rpc_fuzz", "bootstrap-call-finish", plain + bootAndCall);
    write("rpc_fuzz", "bootstrap-call-answered", answering + bootAndCall);
    write("rpc_fuzz", "call-unknown-import", plain + call(0, nullptr, 42, 0));
    write("rpc_fuzz", "call-unknown-question", plain + call(0, uint32_t(99), 0, 0));
    write("rpc_fuzz", "return-never-asked", plain + returnTo(17, false));
    write("rpc_fuzz", "return-to-our-bootstrap", calling + returnTo(0, false) + returnTo(1, false));
    write("rpc_fuzz", "return-exception", calling + returnTo(0, true));
    write("rpc_fuzz", "release-more-than-held", plain + bootstrap(0) + release(0, 1000));
    write("rpc_fuzz", "release-unknown", plain + release(12, 1));
    write("rpc_fuzz", "disembargo-for-nothing", plain + disembargo(3, 0));
    write("rpc_fuzz", "resolve-unknown", calling + resolve(5));
    write("rpc_fuzz", "abort", calling + abortWith("seed: go away"));
    write("rpc_fuzz", "unimplemented", calling + unimplemented());
    write("rpc_fuzz", "finish-unknown", plain + finish(7));
    write("rpc_fuzz", "cyclic-pointer", plain + hostileParams(true));
    write("rpc_fuzz", "out-of-bounds-pointer", plain + hostileParams(false));
    write("rpc_fuzz", "2pow32-segments", plain + frame(0xffffffffu, {1}, word(0, 0)));
    write("rpc_fuzz", "garbage", plain + "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  }

  // tls_fuzz: [side/options][write size] then what the peer sends.
  {
    write("tls_fuzz", "client-hello-1.3", std::string("\x00\x03", 2) + clientHello(TLS1_3_VERSION));
    write("tls_fuzz", "client-hello-1.2", std::string("\x01\x02", 2) + clientHello(TLS1_2_VERSION));
    write("tls_fuzz", "client-hello-bytewise", std::string("\x00\x00", 2) + clientHello(TLS1_3_VERSION));
    write("tls_fuzz", "plaintext-to-server", std::string("\x00\x03", 2) + bootstrap(0));
    write("tls_fuzz", "plaintext-to-client", std::string("\x02\x03", 2) + "HTTP/1.1 200 OK\r\n\r\n");
    write("tls_fuzz", "alert-to-client", std::string("\x02\x03", 2) + std::string("\x15\x03\x03\x00\x02\x02\x28", 7));
    write("tls_fuzz", "empty", std::string("\x00\x00", 2));
  }
  return 0;
}
