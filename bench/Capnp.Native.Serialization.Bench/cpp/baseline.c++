// C++ baseline for the serialization benchmark: same message and operations as ../Program.cs.
// Prints "name ns_per_op" lines; the C# bench runs it with --compare. Usage: serialization-baseline [scale [operation]]
#include "bench.capnp.h"
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <capnp/serialize-packed.h>
#include <kj/io.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <vector>

static void build(capnp::MessageBuilder& mb) {
  auto p = mb.initRoot<Person>();
  p.setId(123456789);
  p.setAge(42);
  p.setScore(98.6);
  p.setName("Alice Example");
  p.setEmail("alice@example.com");
  auto phones = p.initPhones(8);
  for (int i = 0; i < 8; i++) {
    phones[i].setKind(i);
    phones[i].setNumber("555-0100");
  }
}

static long readAll(Person::Reader p) {
  long sum = p.getId() + p.getAge() + (long)p.getScore();
  sum += p.getName().size() + p.getEmail().size();
  for (auto ph : p.getPhones()) sum += ph.getKind() + ph.getNumber().size();
  return sum;
}

// argv[2], when given, names the one operation to run (the C# side interleaves its rows with ours that way).
static const char* onlyOperation = nullptr;

template <typename F>
static void run(const char* name, long iters, F&& f) {
  if (onlyOperation != nullptr && std::strcmp(name, onlyOperation) != 0) return;
  volatile long sink = 0;
  for (long i = 0; i < iters / 10; i++) sink = sink + f();
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < iters; i++) sink = sink + f();
  auto t1 = std::chrono::steady_clock::now();
  double ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / iters;
  std::printf("%s %.3f\n", name, ns);
}

int main(int argc, char** argv) {
  long scale = argc > 1 ? std::atol(argv[1]) : 1;
  if (argc > 2) onlyOperation = argv[2];
  capnp::ReaderOptions unlimited;
  unlimited.traversalLimitInWords = kj::maxValue;

  kj::Array<capnp::word> framed;
  {
    capnp::MallocMessageBuilder mb;
    build(mb);
    framed = capnp::messageToFlatArray(mb);
  }
  capnp::FlatArrayMessageReader parsed(framed, unlimited);
  auto root = parsed.getRoot<Person>();

  std::vector<kj::byte> out(4096);
  run("BuildSerializeRead", 200000 * scale, [&]() -> long {
    capnp::MallocMessageBuilder mb(128);
    build(mb);
    kj::ArrayOutputStream os(kj::arrayPtr(out.data(), out.size()));
    capnp::writeMessage(os, mb);
    auto bytes = os.getArray();
    capnp::FlatArrayMessageReader r(kj::arrayPtr(reinterpret_cast<const capnp::word*>(bytes.begin()), bytes.size() / 8));
    return readAll(r.getRoot<Person>());
  });
  run("BuildPackedRead", 100000 * scale, [&]() -> long {
    capnp::MallocMessageBuilder mb(128);
    build(mb);
    kj::ArrayOutputStream os(kj::arrayPtr(out.data(), out.size()));
    capnp::writePackedMessage(os, mb);
    auto bytes = os.getArray();
    kj::ArrayInputStream is(bytes);
    capnp::PackedMessageReader r(is);
    return readAll(r.getRoot<Person>());
  });
  run("ReadAllFields", 1000000 * scale, [&]() -> long { return readAll(root); });
  run("ReadOneField", 20000000 * scale, [&]() -> long { return root.getId(); });

  // Issue #12: 1,000-element List(Inner). Building includes the message builder, as a caller pays for it.
  constexpr int kListCount = 1000;
  run("BuildList1000", 100000 * scale, [&]() -> long {
    capnp::MallocMessageBuilder mb(4096);
    auto items = mb.initRoot<Outer>().initItems(kListCount);
    for (int i = 0; i < kListCount; i++) {
      auto it = items[i];
      it.setValue(i);
      it.setKind(static_cast<Kind>(i & 3));
    }
    return items[kListCount - 1].getValue();
  });
  kj::Array<capnp::word> listFramed;
  {
    capnp::MallocMessageBuilder mb(4096);
    auto items = mb.initRoot<Outer>().initItems(kListCount);
    for (int i = 0; i < kListCount; i++) {
      items[i].setValue(i);
      items[i].setKind(static_cast<Kind>(i & 3));
    }
    listFramed = capnp::messageToFlatArray(mb);
  }
  capnp::FlatArrayMessageReader listReader(listFramed, unlimited);
  run("ReadList1000", 200000 * scale, [&]() -> long {
    long sum = 0;
    for (auto it : listReader.getRoot<Outer>().getItems()) sum += it.getValue() + static_cast<long>(it.getKind());
    return sum;
  });
  run("ParseFramed", 2000000 * scale, [&]() -> long {
    capnp::FlatArrayMessageReader r(framed);
    return r.getRoot<Person>().getPhones().size();
  });

  kj::Array<capnp::word> big;
  {
    capnp::MallocMessageBuilder mb(140000);
    auto d = mb.initRoot<Blob>().initData(1 << 20);
    for (size_t i = 0; i < d.size(); i++) d[i] = (kj::byte)(i * 31);
    big = capnp::messageToFlatArray(mb);
  }
  capnp::FlatArrayMessageReader bigReader(big, unlimited);
  run("Read1MiBDataNative", 2000000 * scale, [&]() -> long {
    auto d = bigReader.getRoot<Blob>().getData();
    return d.size() + d[d.size() - 1];
  });
  run("ParseAndRead1MiBData", 2000000 * scale, [&]() -> long {
    capnp::FlatArrayMessageReader r(big);
    auto d = r.getRoot<Blob>().getData();
    return d.size() + d[0];
  });
  return 0;
}
