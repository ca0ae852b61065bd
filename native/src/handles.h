// The ABI's opaque handle types, defined as the C++ objects they stand for, and their checked
// unwrapping (a null handle is an INVALID_ARGUMENT failure, not a crash).

#pragma once

#include "loop.h"
#include "status.h"

struct capnp_loop final: public capnp_native::Loop {};

namespace capnp_native {

inline Loop& unwrapLoop(capnp_loop* loop) {
  requireArgument(loop != nullptr, "null capnp_loop handle");
  return *loop;
}

}  // namespace capnp_native
