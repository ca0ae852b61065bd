#include "rpc_tables.h"

#include <algorithm>

namespace capnp_native {

namespace {

using capnp::rpc::CapDescriptor;
using capnp::rpc::Message;

// The vat dump lists at most this many entries per table (then "…").
constexpr size_t MAX_LISTED = 16;

template <typename Value, typename Format>
kj::String listTable(kj::StringPtr name, const kj::HashMap<uint32_t, Value>& table, Format&& format) {
  if (table.size() == 0) return kj::str("  ", name, ": 0\n");
  kj::Vector<const typename kj::HashMap<uint32_t, Value>::Entry*> entries(table.size());
  for (auto& entry: table) entries.add(&entry);
  std::sort(entries.begin(), entries.end(), [](auto a, auto b) { return a->key < b->key; });
  kj::Vector<kj::String> shown;
  for (auto entry: entries) {
    if (shown.size() == MAX_LISTED) {
      shown.add(kj::str("…"));
      break;
    }
    shown.add(format(entry->key, entry->value));
  }
  return kj::str("  ", name, ": ", table.size(), " (", kj::strArray(shown, ", "), ")\n");
}

}  // namespace

void RpcTables::addReference(kj::HashMap<uint32_t, uint32_t>& table, CapDescriptor::Reader descriptor,
                             kj::Vector<uint32_t>* counted) {
  uint32_t id;
  switch (descriptor.which()) {
    case CapDescriptor::SENDER_HOSTED: id = descriptor.getSenderHosted(); break;
    case CapDescriptor::SENDER_PROMISE: id = descriptor.getSenderPromise(); break;
    default: return;  // the receiver's own objects, or none: no new reference
  }
  table.upsert(id, 1u, [](uint32_t& count, uint32_t&&) { ++count; });
  if (counted != nullptr) counted->add(id);
  traceChange(table, id);
}

void RpcTables::traceChange(const kj::HashMap<uint32_t, uint32_t>& table, uint32_t id) {
  if (!tracing) return;
  auto kind = &table == &imports ? "import" : "export";
  KJ_IF_MAYBE(count, table.find(id)) {
    changes.add(kj::str(kind, " ", id, ": ", *count, *count == 1 ? " reference" : " references"));
  } else {
    changes.add(kj::str(kind, " ", id, " released"));
  }
}

kj::Vector<uint32_t> RpcTables::addReferences(kj::HashMap<uint32_t, uint32_t>& table,
                                              capnp::List<CapDescriptor>::Reader descriptors) {
  kj::Vector<uint32_t> counted;
  for (auto descriptor: descriptors) addReference(table, descriptor, &counted);
  return counted;
}

void RpcTables::dropReferences(kj::HashMap<uint32_t, uint32_t>& table, uint32_t id, uint32_t count) {
  KJ_IF_MAYBE(held, table.find(id)) {
    if (count >= *held) {
      table.erase(id);
    } else {
      *held -= count;
    }
    traceChange(table, id);
  }
}

void RpcTables::received(Message::Reader message) {
  switch (message.which()) {
    case Message::CALL: {
      auto call = message.getCall();
      answers.upsert(call.getQuestionId(), Answer(), [](Answer&, Answer&&) {});
      addReferences(imports, call.getParams().getCapTable());
      return;
    }
    case Message::BOOTSTRAP:
      answers.upsert(message.getBootstrap().getQuestionId(), Answer(), [](Answer&, Answer&&) {});
      return;
    case Message::RETURN: {
      auto ret = message.getReturn();
      KJ_IF_MAYBE(question, questions.find(ret.getAnswerId())) {
        question->returned = true;
        if (ret.isResults() && !question->resultCapsIgnored) {
          addReferences(imports, ret.getResults().getCapTable());
        }
        if (question->finished) questions.erase(ret.getAnswerId());
      }
      return;
    }
    case Message::FINISH: {
      auto finish = message.getFinish();
      KJ_IF_MAYBE(answer, answers.find(finish.getQuestionId())) {
        if (finish.getReleaseResultCaps()) {
          for (auto id: answer->resultExports) dropReferences(exports, id, 1);
        }
        answers.erase(finish.getQuestionId());
      }
      return;
    }
    case Message::RESOLVE: {
      auto resolve = message.getResolve();
      if (resolve.isCap()) addReference(imports, resolve.getCap(), nullptr);
      return;
    }
    case Message::RELEASE: {
      auto release = message.getRelease();
      dropReferences(exports, release.getId(), release.getReferenceCount());
      return;
    }
    default:
      return;
  }
}

void RpcTables::sent(Message::Reader message) {
  switch (message.which()) {
    case Message::CALL: {
      auto call = message.getCall();
      questions.upsert(call.getQuestionId(), Question(), [](Question&, Question&&) {});
      addReferences(exports, call.getParams().getCapTable());
      return;
    }
    case Message::BOOTSTRAP:
      questions.upsert(message.getBootstrap().getQuestionId(), Question(), [](Question&, Question&&) {});
      return;
    case Message::RETURN: {
      auto ret = message.getReturn();
      if (!ret.isResults()) return;
      auto counted = addReferences(exports, ret.getResults().getCapTable());
      KJ_IF_MAYBE(answer, answers.find(ret.getAnswerId())) {
        answer->resultExports = kj::mv(counted);
      }
      return;
    }
    case Message::FINISH: {
      auto finish = message.getFinish();
      KJ_IF_MAYBE(question, questions.find(finish.getQuestionId())) {
        if (question->returned) {
          questions.erase(finish.getQuestionId());
        } else {
          question->finished = true;
          question->resultCapsIgnored = finish.getReleaseResultCaps();
        }
      }
      return;
    }
    case Message::RESOLVE: {
      auto resolve = message.getResolve();
      if (resolve.isCap()) addReference(exports, resolve.getCap(), nullptr);
      return;
    }
    case Message::RELEASE: {
      auto release = message.getRelease();
      dropReferences(imports, release.getId(), release.getReferenceCount());
      return;
    }
    default:
      return;
  }
}

bool RpcTables::isEmpty() const {
  return questions.size() == 0 && answers.size() == 0 && imports.size() == 0 && exports.size() == 0;
}

kj::String RpcTables::describe() const {
  auto id = [](uint32_t id, auto&) { return kj::str(id); };
  auto counted = [](uint32_t id, const uint32_t& count) { return kj::str(id, " ×", count); };
  return kj::str(listTable("questions (asked, not finished)", questions, id),
                 listTable("answers (owed or not finished by the peer)", answers, id),
                 listTable("imports (id ×references)", imports, counted),
                 listTable("exports (id ×references)", exports, counted));
}

}  // namespace capnp_native
