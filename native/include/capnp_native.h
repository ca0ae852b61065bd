#ifndef CAPNP_NATIVE_H
#define CAPNP_NATIVE_H

/* The C ABI of libcapnp_native: the single source of truth for the boundary between .NET and the
 * Cap'n Proto C++ engine. The C# declarations in bindings/ are generated from this file, so it
 * keeps to a strict subset of C (see bindings/generator). Rules:
 *  - every handle is an opaque pointer with exactly one owner and one release function;
 *  - every function that can fail returns an int32_t capnp_status and writes results through
 *    out-parameters; on failure the calling thread's error record (capnp_last_error) says why;
 *  - no C++ exception ever crosses this boundary;
 *  - enum values are frozen: add new ones, never renumber. */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CAPNP_NATIVE_API __attribute__((visibility("default")))

/** Version of this ABI. The managed loader refuses a library whose capnp_abi_version() differs. */
#define CAPNP_NATIVE_ABI_VERSION 1

/** Status of a call, and kind of a failure. Values 1-4 are Cap'n Proto exception types. */
typedef enum capnp_status {
  CAPNP_STATUS_OK = 0,
  CAPNP_STATUS_FAILED = 1,
  CAPNP_STATUS_OVERLOADED = 2,
  CAPNP_STATUS_DISCONNECTED = 3,
  CAPNP_STATUS_UNIMPLEMENTED = 4,
  CAPNP_STATUS_INVALID_ARGUMENT = 16,
  CAPNP_STATUS_DISPOSED = 17,
  CAPNP_STATUS_NOT_INITIALIZED = 18,
} capnp_status;

/** A KJ event loop running on a dedicated thread owned by the shim. */
typedef struct capnp_loop capnp_loop;

/** Counters of live native objects, for leak tests. */
typedef struct capnp_counters {
  int64_t live_loops;
  int64_t live_loop_threads;
  int64_t live_pending_operations;
  int64_t commands_executed;
  int64_t wakeups;
} capnp_counters;

/** The one completion callback, registered once by capnp_initialize. It is called on a loop
 * thread when an asynchronous operation ends. tag identifies the operation (chosen by the
 * caller); status is a capnp_status; payload is the result (or a UTF-8 error message when
 * status is not OK) and is valid only during the call. It must not block and must not call
 * back into the shim. */
typedef void (*capnp_completion_fn)(uint64_t tag, int32_t status, const uint8_t* payload, size_t payload_len);

/** Returns CAPNP_NATIVE_ABI_VERSION as compiled into the library. */
CAPNP_NATIVE_API int32_t capnp_abi_version(void);

/** Writes the version of the Cap'n Proto library the shim was built against. */
CAPNP_NATIVE_API int32_t capnp_library_version(int32_t* out_major, int32_t* out_minor, int32_t* out_micro);

/** Registers the completion callback. Must be called before any loop is created; a second call
 * with the same callback is a no-op, with a different one fails with INVALID_ARGUMENT. */
CAPNP_NATIVE_API int32_t capnp_initialize(capnp_completion_fn on_complete);

/** Reads the calling thread's error record, set by the last call on this thread that failed.
 * The message is UTF-8, not NUL-terminated, and valid until the next failing call on this thread. */
CAPNP_NATIVE_API int32_t capnp_last_error(int32_t* out_kind, const char** out_message, size_t* out_message_len);

/** Starts an event loop on a new thread and returns once the loop is running. */
CAPNP_NATIVE_API int32_t capnp_loop_create(capnp_loop** out_loop);

/** Stops the loop: every queued command and pending operation completes with
 * CAPNP_STATUS_DISPOSED, the loop thread is joined, and the loop is freed. Releases exactly once;
 * the handle is invalid afterwards. Called from the loop's own thread, the join is skipped and
 * the thread frees the loop as it exits. */
CAPNP_NATIVE_API void capnp_loop_release(capnp_loop* loop);

/** Reads the live-object counters. */
CAPNP_NATIVE_API int32_t capnp_counters_read(capnp_counters* out_counters);

/** Test hook: copies data, queues a command that echoes it back through the completion
 * callback with tag, from the loop thread. */
CAPNP_NATIVE_API int32_t capnp_test_echo(capnp_loop* loop, uint64_t tag, const uint8_t* data, size_t data_len);

/** Test hook: throws a C++ kj::Exception of the given kind (a capnp_status 1-4) with the given
 * UTF-8 message inside the shim; the call returns that kind and sets the error record. */
CAPNP_NATIVE_API int32_t capnp_test_throw(int32_t kind, const char* message, size_t message_len);

/** Test hook: like capnp_test_throw, but the exception is thrown by a command on the loop thread
 * and arrives through the completion callback with tag. */
CAPNP_NATIVE_API int32_t capnp_test_throw_on_loop(capnp_loop* loop, uint64_t tag, int32_t kind, const char* message, size_t message_len);

/** Test hook: queues an operation that never completes by itself, as a call waiting for a
 * peer would; it completes with CAPNP_STATUS_DISPOSED when the loop is released. */
CAPNP_NATIVE_API int32_t capnp_test_hold(capnp_loop* loop, uint64_t tag);

/** Test hook: returns the id of the loop's thread (gettid), to check where code runs. */
CAPNP_NATIVE_API int32_t capnp_test_loop_thread_id(capnp_loop* loop, int64_t* out_thread_id);

/** Test hook: returns the id of the calling thread (gettid), comparable with the loop's. */
CAPNP_NATIVE_API int32_t capnp_test_current_thread_id(int64_t* out_thread_id);

#ifdef __cplusplus
}
#endif

#endif
