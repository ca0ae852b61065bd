// The ABI's opaque handle types, defined as the C++ objects they stand for, and their checked
// unwrapping (a null handle is an INVALID_ARGUMENT failure, not a crash).

#pragma once

#include "loop.h"
#include "status.h"

// The opaque C types are never defined: a handle is a pointer to the C++ object it stands for.
namespace capnp_native {

inline Loop& unwrapLoop(capnp_loop* loop) {
  requireArgument(loop != nullptr, "null capnp_loop handle");
  return *reinterpret_cast<Loop*>(loop);
}

inline capnp_loop* wrapLoop(Loop* loop) { return reinterpret_cast<capnp_loop*>(loop); }

}  // namespace capnp_native
