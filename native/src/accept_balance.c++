#include "accept_balance.h"

namespace capnp_native {

size_t AcceptBalance::join() const {
  auto lock = members.lockExclusive();
  lock->add();
  return lock->size() - 1;
}

bool AcceptBalance::mayAcceptLocked(const kj::Vector<Member>& members, size_t member) {
  auto mine = members[member].connections;
  for (auto& other: members) {
    if (other.listening && other.connections < mine) return false;
  }
  return true;
}

kj::Vector<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> AcceptBalance::takeReady(kj::Vector<Member>& members) {
  kj::Vector<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> ready;
  for (size_t i = 0; i < members.size(); i++) {
    if (members[i].waiting == nullptr || !mayAcceptLocked(members, i)) continue;
    KJ_IF_MAYBE(fulfiller, members[i].waiting) { ready.add(kj::mv(*fulfiller)); }
    members[i].waiting = nullptr;
  }
  return ready;
}

bool AcceptBalance::mayAccept(size_t member) const {
  auto lock = members.lockExclusive();
  return mayAcceptLocked(*lock, member);
}

kj::Promise<void> AcceptBalance::whenMayAccept(size_t member) const {
  auto lock = members.lockExclusive();
  if (mayAcceptLocked(*lock, member)) return kj::READY_NOW;
  auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
  (*lock)[member].waiting = kj::mv(paf.fulfiller);
  return kj::mv(paf.promise);
}

void AcceptBalance::update(size_t member, uint32_t connections) const {
  kj::Vector<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> ready;
  {
    auto lock = members.lockExclusive();
    (*lock)[member].connections = connections;
    ready = takeReady(*lock);
  }
  for (auto& fulfiller: ready) fulfiller->fulfill();
}

void AcceptBalance::leave(size_t member) const {
  kj::Vector<kj::Own<kj::CrossThreadPromiseFulfiller<void>>> ready;
  {
    auto lock = members.lockExclusive();
    (*lock)[member].listening = false;
    (*lock)[member].waiting = nullptr;
    ready = takeReady(*lock);
  }
  for (auto& fulfiller: ready) fulfiller->fulfill();
}

}  // namespace capnp_native
