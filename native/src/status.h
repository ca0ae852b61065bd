// The error boundary of the C ABI: the per-thread error record, and the one wrapper that keeps
// every C++ exception on this side of the boundary.

#pragma once

#include <capnp_native.h>
#include <kj/exception.h>
#include <kj/string.h>

namespace capnp_native {

// Maps a kj::Exception type to the ABI's status code (the Cap'n Proto exception types are 1-4).
int32_t statusOf(kj::Exception::Type type);
// The status for a failure: its type's, except AUTHENTICATION_FAILED for a TLS authentication
// failure (which KJ can only express as FAILED).
int32_t statusOf(const kj::Exception& exception);

// Maps an ABI status code back to a kj::Exception type (for test hooks and failed commands).
kj::Exception::Type exceptionTypeOf(int32_t status);

// Records a failure in the calling thread's error record and returns its status.
int32_t recordError(int32_t status, kj::StringPtr message);

// Converts the exception currently being handled into (status, message); never throws.
struct CaughtError {
  int32_t status;
  kj::String message;
};
CaughtError describeCurrentException() noexcept;

// Runs the body of an ABI function. Every exported function that can fail is written as
// `return guarded([&] { ...; return CAPNP_STATUS_OK; });`: any exception becomes a status
// plus the thread's error record.
template <typename Body>
int32_t guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (...) {
    auto error = describeCurrentException();
    return recordError(error.status, error.message);
  }
}

// A failure of the shim itself (bad argument, disposed loop) rather than of the engine: thrown
// inside guarded bodies and turned into its status like any other exception.
struct ShimError {
  int32_t status;
  kj::String message;
};

// Throws an INVALID_ARGUMENT failure unless `condition` holds. Used for null handles and lengths.
inline void requireArgument(bool condition, const char* what) {
  if (!condition) throw ShimError{CAPNP_STATUS_INVALID_ARGUMENT, kj::str(what)};
}

}  // namespace capnp_native
