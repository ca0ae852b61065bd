#include "status.h"
#include "tls/tls_stream.h"

#include <exception>
#include <string>

namespace capnp_native {
namespace {

struct ErrorRecord {
  int32_t kind = CAPNP_STATUS_OK;
  std::string message;
};

// One record per thread: the managed side reads it right after a failing call, on the same
// thread, so no locking is needed and concurrent callers never see each other's errors.
thread_local ErrorRecord errorRecord;

}  // namespace

int32_t statusOf(kj::Exception::Type type) {
  switch (type) {
    case kj::Exception::Type::FAILED: return CAPNP_STATUS_FAILED;
    case kj::Exception::Type::OVERLOADED: return CAPNP_STATUS_OVERLOADED;
    case kj::Exception::Type::DISCONNECTED: return CAPNP_STATUS_DISCONNECTED;
    case kj::Exception::Type::UNIMPLEMENTED: return CAPNP_STATUS_UNIMPLEMENTED;
  }
  return CAPNP_STATUS_FAILED;
}

int32_t statusOf(const kj::Exception& exception) {
  if (tls::isAuthenticationFailure(exception)) return CAPNP_STATUS_AUTHENTICATION_FAILED;
  return statusOf(exception.getType());
}

kj::Exception::Type exceptionTypeOf(int32_t status) {
  switch (status) {
    case CAPNP_STATUS_OVERLOADED: return kj::Exception::Type::OVERLOADED;
    case CAPNP_STATUS_DISCONNECTED: return kj::Exception::Type::DISCONNECTED;
    case CAPNP_STATUS_UNIMPLEMENTED: return kj::Exception::Type::UNIMPLEMENTED;
    default: return kj::Exception::Type::FAILED;
  }
}

int32_t recordError(int32_t status, kj::StringPtr message) {
  // Assigning may allocate; a bad_alloc here must not escape, so fall back to an empty message.
  try {
    errorRecord.kind = status;
    errorRecord.message.assign(message.begin(), message.size());
  } catch (...) {
    errorRecord.message.clear();
  }
  return status;
}

CaughtError describeCurrentException() noexcept {
  try {
    throw;
  } catch (const ShimError& e) {
    return { e.status, kj::str(e.message) };
  } catch (const kj::Exception& e) {
    // The description alone: file and line of the throw are for logs, not for the caller.
    return { statusOf(e), kj::str(e.getDescription()) };
  } catch (const std::exception& e) {
    return { CAPNP_STATUS_FAILED, kj::str(e.what()) };
  } catch (...) {
    return { CAPNP_STATUS_FAILED, kj::str("unknown C++ exception") };
  }
}

}  // namespace capnp_native

extern "C" int32_t capnp_last_error(int32_t* out_kind, const char** out_message,
                                    size_t* out_message_len) {
  using namespace capnp_native;
  if (out_kind == nullptr || out_message == nullptr || out_message_len == nullptr) {
    return CAPNP_STATUS_INVALID_ARGUMENT;
  }
  *out_kind = errorRecord.kind;
  *out_message = errorRecord.message.data();
  *out_message_len = errorRecord.message.size();
  return CAPNP_STATUS_OK;
}
