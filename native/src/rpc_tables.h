// The four tables of the RPC protocol for one connection, as seen on the wire: questions we asked
// and answers we owe, capabilities we import from the peer and export to it, each with its
// reference count.
//
// The engine (0.9.2) keeps these tables privately; the shim rebuilds its own view from the
// messages that pass, to tell when a connection holds nothing for either side (so an idle
// timeout may close it without breaking anything) and to describe a connection for debugging
// (the vat dump). The counting follows rpc.c++: every CapDescriptor of kind senderHosted or
// senderPromise adds one reference to its export (or, received, its import); Release takes
// referenceCount away; Finish with releaseResultCaps releases one reference to each export sent
// in that answer's Return; a Return to a question we finished before it came carries
// capabilities the engine ignores (the peer releases them itself).

#pragma once

#include <capnp/rpc.capnp.h>
#include <kj/map.h>
#include <kj/string.h>
#include <kj/vector.h>

namespace capnp_native {

class RpcTables {
public:
  // Every message the connection receives and sends, before the engine handles it / as it
  // goes out. Malformed content (a hostile peer's) is counted as far as it can be read; the
  // engine rejects it on its own.
  void received(capnp::rpc::Message::Reader message);
  void sent(capnp::rpc::Message::Reader message);

  // True when neither side holds anything of the other: no questions, answers, imports or
  // exports.
  bool isEmpty() const;

  // Answers we owe (the peer's questions not yet finished).
  size_t answerCount() const { return answers.size(); }

  // One line per table, for the vat dump, e.g. "  imports: 2 (id 0 ×1, id 3 ×2)".
  kj::String describe() const;

  // With tracing on, each change to the import and export tables is recorded as a line (e.g.
  // "import 3: 2 references", "export 0 released") until taken.
  void setTracing(bool on) { tracing = on; }
  kj::Vector<kj::String> takeChanges() { return kj::mv(changes); }

private:
  struct Question {
    bool returned = false;
    bool finished = false;
    // We finished it before its Return came with releaseResultCaps: the capabilities in that
    // Return are not imported.
    bool resultCapsIgnored = false;
  };
  struct Answer {
    // Exports (one reference each) in the Return we sent for it.
    kj::Vector<uint32_t> resultExports;
  };

  // Counts senderHosted/senderPromise descriptors into `table` (imports or exports); returns
  // the IDs counted.
  kj::Vector<uint32_t> addReferences(kj::HashMap<uint32_t, uint32_t>& table,
                                     capnp::List<capnp::rpc::CapDescriptor>::Reader descriptors);
  void addReference(kj::HashMap<uint32_t, uint32_t>& table, capnp::rpc::CapDescriptor::Reader descriptor,
                    kj::Vector<uint32_t>* counted);
  void dropReferences(kj::HashMap<uint32_t, uint32_t>& table, uint32_t id, uint32_t count);
  void traceChange(const kj::HashMap<uint32_t, uint32_t>& table, uint32_t id);

  kj::HashMap<uint32_t, Question> questions;
  kj::HashMap<uint32_t, Answer> answers;
  kj::HashMap<uint32_t, uint32_t> imports;
  kj::HashMap<uint32_t, uint32_t> exports;
  bool tracing = false;
  kj::Vector<kj::String> changes;
};

}  // namespace capnp_native
