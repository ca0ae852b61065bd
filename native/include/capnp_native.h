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
#define CAPNP_NATIVE_ABI_VERSION 8

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
  CAPNP_STATUS_CANCELLED = 19,
  /** The loop's thread failed (an exception escaped the KJ event loop): the loop refuses every
   * command and has failed all its work. */
  CAPNP_STATUS_LOOP_FAILED = 20,
  /** TLS authentication failed: the server's key is not the expected one, or a client without a
   * certificate met a server that requires one. */
  CAPNP_STATUS_AUTHENTICATION_FAILED = 21,
  CAPNP_EVENT_INCOMING_CALL = 64,
  CAPNP_EVENT_CALL_CANCELLED = 65,
  CAPNP_EVENT_SERVER_RELEASED = 66,
  CAPNP_EVENT_RESTORE = 67,
  CAPNP_EVENT_RESTORER_RELEASED = 68,
  CAPNP_EVENT_LOG = 69,
} capnp_status;

/** A KJ event loop running on a dedicated thread owned by the shim. */
typedef struct capnp_loop capnp_loop;

/** A reference to a capability (a Capability::Client), possibly remote, possibly a promise. */
typedef struct capnp_cap capnp_cap;

/** The pipeline of an outgoing call: capabilities in its results, usable before they arrive. */
typedef struct capnp_pipeline capnp_pipeline;

/** A received message (call results or call parameters), flattened for reading in place. */
typedef struct capnp_message capnp_message;

/** An incoming call to a managed server, waiting for capnp_call_return or capnp_call_fail. */
typedef struct capnp_call capnp_call;

/** A two-party RPC connection (one RpcSystem over one byte stream). */
typedef struct capnp_connection capnp_connection;

/** A listening socket that accepts two-party connections. */
typedef struct capnp_listener capnp_listener;

/** A vat's TLS identity: a private key and a self-signed certificate for it (CN=capnp). Peers
 * know a vat by the SHA-256 of its key's DER SubjectPublicKeyInfo. Immutable; any thread. */
typedef struct capnp_tls_identity capnp_tls_identity;

/** The resolving end of a promise capability (see capnp_promise_cap_create). */
typedef struct capnp_resolver capnp_resolver;

/** Counters of live native objects, for leak tests. */
typedef struct capnp_counters {
  int64_t live_loops;
  int64_t live_loop_threads;
  int64_t live_pending_operations;
  int64_t commands_executed;
  int64_t wakeups;
  int64_t live_caps;
  int64_t live_messages;
  int64_t live_servers;
  int64_t live_calls;
  int64_t live_connections;
  /** Received messages handed over in place, without a copy (cumulative). */
  int64_t messages_read_in_place;
  /** Small received messages the managed side copied straight from the transport (cumulative). */
  int64_t messages_borrowed;
  /** Large Data/Text blobs sent from the caller's segments, without a copy (cumulative). */
  int64_t blobs_sent_by_reference;
} capnp_counters;

/** How a listener serves its connections (see capnp_listen). */
typedef struct capnp_listen_options {
  /** Offered to every connection (nullable, referenced). */
  capnp_cap* bootstrap;
  /** Non-zero: peers may also ask for services by ID (see capnp_listen). */
  uint64_t restorer_tag;
  /** Non-null: connections are TLS, served with this identity (referenced). Null: plain. */
  capnp_tls_identity* tls_identity;
  /** With TLS: non-zero refuses clients that present no certificate (else they are anonymous). */
  int32_t require_client_certificate;
  /** With TLS: a client that has not completed its handshake after this long is dropped (0: 10 s). */
  uint32_t handshake_timeout_ms;
  /** A peer with more questions outstanding (calls and bootstraps asked and not finished) is
   * disconnected (0: 4096; UINT32_MAX: unlimited). */
  uint32_t max_outstanding_questions;
  /** While more than this many bytes sent to a peer are not yet written (it does not read), its
   * messages are not read (0: 16 MiB; UINT64_MAX: unlimited). */
  uint64_t max_unwritten_bytes;
  /** A connection on which neither side holds anything of the other (no questions, answers,
   * imports or exports) and no message passed for this long is closed (0: 120 s; UINT32_MAX:
   * never). */
  uint32_t idle_timeout_ms;
  /** Non-zero: each change to a connection's import and export tables (a capability the peer
   * passed us or we passed it, and each release) is logged at severity DBG (see
   * capnp_loop_route_log), for debugging. */
  int32_t trace_tables;
} capnp_listen_options;

/** How to connect (see capnp_connect). */
typedef struct capnp_connect_options {
  /** Offered to the peer (nullable, referenced). */
  capnp_cap* bootstrap;
  /** Non-null with a fingerprint: connect with TLS, presenting this identity (referenced). */
  capnp_tls_identity* tls_identity;
  /** The server's key fingerprint (32 bytes, SHA-256 of its DER SubjectPublicKeyInfo): the
   * server is authenticated by it alone. Null: a plain connection. */
  const uint8_t* server_fingerprint;
  size_t server_fingerprint_len;
  /** With TLS: the handshake fails after this long (0: 10 s). */
  uint32_t handshake_timeout_ms;
  /** As in capnp_listen_options. */
  uint32_t max_outstanding_questions;
  uint64_t max_unwritten_bytes;
  uint32_t idle_timeout_ms;
  int32_t trace_tables;
} capnp_connect_options;

/** A serving listener's statistics (see capnp_listener_serve). */
typedef struct capnp_listener_stats {
  /** Connections served now. */
  uint32_t connections;
  /** The most connections served at once. */
  uint32_t peak_connections;
  /** Connections accepted so far. */
  uint64_t accepted;
  /** Accepts that failed (each followed by a back-off), e.g. for lack of file descriptors. */
  uint64_t accept_failures;
  /** TLS handshakes that failed or timed out (the connection was dropped). */
  uint64_t handshake_failures;
} capnp_listener_stats;

/** One segment of a message in the standard encoding; size is in bytes, a multiple of 8. */
typedef struct capnp_segment {
  const uint8_t* data;
  size_t size;
} capnp_segment;

/** A received message as the completion payload of a call (status OK) or inside an incoming
 * call. The receiver owns the message (release it with capnp_message_release after reading) and
 * each of the cap_count capabilities of its cap table (release each with capnp_cap_release). */
typedef struct capnp_message_view {
  capnp_message* message;
  const capnp_segment* segments;
  capnp_cap* const* caps;
  /** For each capability: the tag of the managed server it points to directly (a capability of
   * ours that came back, path shortened), or 0. */
  const uint64_t* cap_server_tags;
  uint32_t segment_count;
  uint32_t cap_count;
  /** 0: the root is the message's root pointer (segment 0, word 0). 1: the message is read in
   * place inside the RPC message that carried it (large messages without capabilities), and
   * segments are that message's: the root is the struct at word root_word_offset of segment
   * root_segment, with root_data_words data words and root_pointer_count pointers. */
  uint32_t root_is_struct;
  uint32_t root_segment;
  uint32_t root_word_offset;
  uint16_t root_data_words;
  uint16_t root_pointer_count;
  /** 1: the segments are borrowed from the engine and valid only during the callback that
   * delivers the view: copy them (and release the message) before it returns. Only ever set on
   * small messages without capabilities. */
  uint32_t segments_borrowed;
} capnp_message_view;

/** The payload of a CAPNP_EVENT_INCOMING_CALL event, delivered with the server's tag. The
 * receiver answers the call exactly once, with capnp_call_return or capnp_call_fail, and owns
 * params as described for capnp_message_view. */
typedef struct capnp_incoming_call {
  capnp_call* call;
  uint64_t interface_id;
  uint16_t method_id;
  uint16_t is_streaming;
  /** Who made the call: 0 not known (a call made in this process, or one the shim cannot trace
   * to a connection), 1 a peer that presented no key (plain connection or anonymous TLS client),
   * 2 a peer with the key whose fingerprint is caller_fingerprint. */
  uint32_t caller;
  uint8_t caller_fingerprint[32];
  capnp_message_view params;
} capnp_incoming_call;

/** The payload of a CAPNP_EVENT_RESTORE event, delivered with a listener's restorer tag: a peer
 * asked for the service with this ID (raw bytes; valid only during the callback). The receiver
 * owns the resolver and consumes it exactly once: capnp_resolver_resolve with the service, or
 * capnp_resolver_reject (e.g. FAILED "Unknown persistent service ID"). */
typedef struct capnp_restore_request {
  capnp_resolver* resolver;
  const uint8_t* service_id;
  size_t service_id_len;
} capnp_restore_request;

/** The payload of a CAPNP_EVENT_LOG event: a message the engine or the shim logged on a loop
 * thread (severity: 0 info, 1 warning, 2 error, 3 fatal, 4 debug; text valid only during the
 * callback). */
typedef struct capnp_log_message {
  int32_t severity;
  uint32_t reserved;
  const uint8_t* text;
  size_t text_len;
} capnp_log_message;

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

/** Tells the C allocator to serve blocks of up to max_block_bytes from its heap instead of fresh
 * memory mappings, and to keep up to retained_bytes of freed heap memory for reuse. The engine
 * allocates every message afresh; without this, each message larger than 128 KiB costs a new
 * mapping, page faults and zeroing by the kernel. Process-wide; fails with UNIMPLEMENTED where
 * the C library has no such settings, INVALID_ARGUMENT when max_block_bytes is above 32 MiB. */
CAPNP_NATIVE_API int32_t capnp_allocator_retain_freed(uint64_t max_block_bytes, uint64_t retained_bytes);

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

/** Routes what the engine and the shim log on this loop's thread (KJ_LOG: e.g. a connection
 * aborted by a misbehaving peer) to CAPNP_EVENT_LOG events with tag, from the loop thread, instead
 * of standard error, from when the loop runs this command. Tag 0 discards them. The tag then
 * gets one last completion (CAPNP_STATUS_DISPOSED, or the failure) when the loop stops, when a
 * later call replaces it, or if the loop never runs this command; it is never used after. */
CAPNP_NATIVE_API int32_t capnp_loop_route_log(capnp_loop* loop, uint64_t tag);

/** Completes tag when the loop stops: CAPNP_STATUS_DISPOSED when it is released, or
 * CAPNP_STATUS_LOOP_FAILED with the reason when its thread failed, so the owner learns of it. */
CAPNP_NATIVE_API int32_t capnp_loop_watch(capnp_loop* loop, uint64_t tag);

/** Queues a command that completes tag with CAPNP_STATUS_OK (and no payload) on the loop thread,
 * in order with the other commands: how managed code asks to run on the loop thread. If the loop
 * stops first, tag completes with CAPNP_STATUS_DISPOSED (or the failure) instead. */
CAPNP_NATIVE_API int32_t capnp_loop_call_back(capnp_loop* loop, uint64_t tag);

/** Releases a received message. Any thread. */
CAPNP_NATIVE_API void capnp_message_release(capnp_message* message);

/** Releases a capability reference. Any thread; the reference is dropped on its loop. */
CAPNP_NATIVE_API void capnp_cap_release(capnp_cap* cap);

/** Creates a second, independent reference to the same capability. */
CAPNP_NATIVE_API int32_t capnp_cap_duplicate(capnp_cap* cap, capnp_cap** out_cap);

/** Calls a method. The parameters are a message (segments, plus the capabilities its capability
 * pointers index; each is referenced, not consumed). tag completes with status OK and a
 * capnp_message_view of the results, or with the failure. With out_pipeline non-null, a pipeline
 * of the results is returned at once. For a streaming method (is_streaming non-zero) the
 * engine's flow control applies: tag completes (with no results: an empty view) when the stream
 * window allows the next call.
 * With segments_lease_tag 0, the segments must stay unchanged until tag completes. Otherwise they
 * are lent: the engine may send large Data/Text blobs straight from them, and they must stay
 * unchanged until segments_lease_tag completes (exactly once, on a loop thread, with any status;
 * possibly after tag), which it does once nothing reads them any more. If this function fails,
 * neither tag completes. */
CAPNP_NATIVE_API int32_t capnp_cap_call(capnp_cap* target, uint64_t interface_id, uint16_t method_id, int32_t is_streaming, const capnp_segment* segments, uint32_t segment_count, capnp_cap* const* caps, uint32_t cap_count, uint64_t tag, uint64_t segments_lease_tag, capnp_pipeline** out_pipeline);

/** Cancels a pending operation of this loop (a call: the engine sends Finish). Its tag completes
 * with CAPNP_STATUS_CANCELLED unless it completed already. */
CAPNP_NATIVE_API int32_t capnp_operation_cancel(capnp_loop* loop, uint64_t tag);

/** Returns a capability from a call's results before they arrive: the pointer at pointer_path[0]
 * of the results struct, then at pointer_path[1] of that struct, and so on. */
CAPNP_NATIVE_API int32_t capnp_pipeline_get_cap(capnp_pipeline* pipeline, const uint16_t* pointer_path, uint32_t path_length, capnp_cap** out_cap);

/** Releases a pipeline. Capabilities taken from it stay valid. */
CAPNP_NATIVE_API void capnp_pipeline_release(capnp_pipeline* pipeline);

/** Completes tag with OK when the capability has resolved to its final target, or with the
 * failure if it is (or becomes) broken while resolving. */
CAPNP_NATIVE_API int32_t capnp_cap_when_resolved(capnp_cap* cap, uint64_t tag);

/** Fails tag with the reason once the capability is broken: its connection was lost, or it
 * resolved to an error. Never completes for a capability that cannot break (one of this vat's
 * servers); cancel tag to stop watching. The watch holds a reference to the capability until it
 * completes or is cancelled. Nothing is sent to the peer. */
CAPNP_NATIVE_API int32_t capnp_cap_when_broken(capnp_cap* cap, uint64_t tag);

/** Creates a capability that is a promise: calls made on it are queued, in order, and delivered
 * once it is resolved (capnp_resolver_resolve) to its target, or fail once it is rejected. */
CAPNP_NATIVE_API int32_t capnp_promise_cap_create(capnp_loop* loop, capnp_cap** out_cap, capnp_resolver** out_resolver);

/** Resolves a promise capability to target (referenced, not consumed). Consumes the resolver. */
CAPNP_NATIVE_API int32_t capnp_resolver_resolve(capnp_resolver* resolver, capnp_cap* target);

/** Rejects a promise capability with an exception of kind (a capnp_status 1-4). Consumes the
 * resolver. */
CAPNP_NATIVE_API int32_t capnp_resolver_reject(capnp_resolver* resolver, int32_t kind, const char* message, size_t message_len);

/** Creates a capability served by managed code. Incoming calls arrive as
 * CAPNP_EVENT_INCOMING_CALL events with tag; a cancelled call as CAPNP_EVENT_CALL_CANCELLED
 * (payload: the capnp_call pointer); when the last reference anywhere is dropped,
 * CAPNP_EVENT_SERVER_RELEASED arrives once and the tag is never used again. Methods listed in
 * streaming_method_keys ((interface_id, method_id) pairs as interface_id, method_id in
 * consecutive uint64_t) are dispatched as streaming methods. */
CAPNP_NATIVE_API int32_t capnp_server_create(capnp_loop* loop, uint64_t tag, const uint64_t* streaming_method_keys, uint32_t streaming_method_count, capnp_cap** out_cap);

/** Answers an incoming call with results (a message as for capnp_cap_call) and consumes the call
 * handle. With tag non-zero the segments are lent as with capnp_cap_call's segments_lease_tag:
 * they must stay unchanged until tag completes (exactly once, with any status), once nothing
 * reads them any more. With tag 0 they are read before this returns (for small results, where a
 * copy costs less than a completion): on the loop thread, with no command posted before still
 * waiting, the call is answered at once; otherwise they are copied and the answer is posted. */
CAPNP_NATIVE_API int32_t capnp_call_return(capnp_call* call, const capnp_segment* segments, uint32_t segment_count, capnp_cap* const* caps, uint32_t cap_count, uint64_t tag);

/** Answers an incoming call with an exception of kind (a capnp_status 1-4) and consumes the
 * call handle. */
CAPNP_NATIVE_API int32_t capnp_call_fail(capnp_call* call, int32_t kind, const char* message, size_t message_len);

/** Starts listening. address is "tcp:HOST:PORT" (an IPv6 host in brackets) or "unix:PATH";
 * port 0 picks a free port; a stale unix socket file is replaced, and the listener removes its
 * own when released. options (nullable: plain, no bootstrap) say what connections are offered
 * and whether they are TLS. With a restorer tag, peers may also ask for services by ID
 * (Bootstrap.deprecatedObjectId as Text): each such request arrives as a CAPNP_EVENT_RESTORE
 * event with the restorer tag (the empty ID is the bootstrap, without an event);
 * CAPNP_EVENT_RESTORER_RELEASED arrives once when no connection can ask any more, even when this
 * call fails. tag completes with the bound address in the same syntax (UTF-8). */
CAPNP_NATIVE_API int32_t capnp_listen(capnp_loop* loop, const char* address, size_t address_len, const capnp_listen_options* options, uint64_t tag, capnp_listener** out_listener);

/** Accepts the next connection. tag completes with a capnp_connection* (the payload holds the
 * pointer; the receiver owns it). */
CAPNP_NATIVE_API int32_t capnp_listener_accept(capnp_listener* listener, uint64_t tag);

/** Serves the listener: its loop accepts connections by itself, at most max_connections at once
 * (further peers wait in the kernel's backlog until one goes), owns each and frees it when its
 * peer goes. A failed accept (e.g. out of file descriptors) is retried after a back-off growing
 * from 10 ms to 1 s, so serving survives exhaustion. tag completes once serving has started. Do
 * not mix with capnp_listener_accept. */
CAPNP_NATIVE_API int32_t capnp_listener_serve(capnp_listener* listener, uint32_t max_connections, uint64_t tag);

/** Reads a serving listener's statistics: tag completes with a capnp_listener_stats payload. */
CAPNP_NATIVE_API int32_t capnp_listener_read_stats(capnp_listener* listener, uint64_t tag);

/** Describes each connection a serving listener serves (its peer and what each side holds of the
 * other: the protocol's question, answer, import and export tables with reference counts): tag
 * completes with UTF-8 text. For debugging (the vat dump). */
CAPNP_NATIVE_API int32_t capnp_listener_describe(capnp_listener* listener, uint64_t tag);

/** Stops listening. Connections accepted with capnp_listener_accept stay open; those it serves
 * close. */
CAPNP_NATIVE_API void capnp_listener_release(capnp_listener* listener);

/** Another listener, on loop, accepting from the same listening socket as source (which must
 * have been bound: its capnp_listen tag completed): a vat spreads its connections over several
 * loops this way, each loop taking the connections it accepts first. options as for capnp_listen
 * (a bootstrap and restorer of loop). tag completes with the bound address, as for capnp_listen.
 * source must not be released before this call returns; the socket file of a unix listener
 * stays source's to remove. */
CAPNP_NATIVE_API int32_t capnp_listener_share(capnp_listener* source, capnp_loop* loop, const capnp_listen_options* options, uint64_t tag, capnp_listener** out_listener);

/** Connects to address (syntax as for capnp_listen); options (nullable: plain, no bootstrap) say
 * what is offered to the peer and whether to use TLS. tag completes with a capnp_connection* as
 * for capnp_listener_accept; a server whose key is not the expected one fails it with
 * CAPNP_STATUS_AUTHENTICATION_FAILED. */
CAPNP_NATIVE_API int32_t capnp_connect(capnp_loop* loop, const char* address, size_t address_len, const capnp_connect_options* options, uint64_t tag);

/** Loads a TLS identity from a private key in PEM (PKCS#8 RSA or EC, PKCS#1 RSA, SEC1 EC; RSA
 * keys of at least 2048 bits) and makes its certificate. A bad key fails with FAILED naming the
 * problem. */
CAPNP_NATIVE_API int32_t capnp_tls_identity_create(const uint8_t* key_pem, size_t key_pem_len, capnp_tls_identity** out_identity);

/** Releases the handle; listeners and connections that use the identity keep it. */
CAPNP_NATIVE_API void capnp_tls_identity_release(capnp_tls_identity* identity);

/** Writes the peer's TLS key fingerprint (32 bytes) and sets *out_known to 1, or sets it to 0 for
 * a plain connection or an anonymous client (TLS without a certificate). Any thread. */
CAPNP_NATIVE_API int32_t capnp_connection_peer_fingerprint(capnp_connection* connection, uint8_t* out_fingerprint, size_t fingerprint_len, int32_t* out_known);

/** Runs a two-party connection over an already connected socket, taking ownership of fd (closed
 * if anything fails, including a loop that stops before running the command).
 * is_server selects the two-party side (the two ends must differ). tag completes as for
 * capnp_connect. */
CAPNP_NATIVE_API int32_t capnp_connection_from_fd(capnp_loop* loop, int32_t fd, int32_t is_server, capnp_cap* bootstrap, uint64_t tag);

/** Returns the peer's bootstrap capability (a promise until the peer answers). */
CAPNP_NATIVE_API int32_t capnp_connection_bootstrap(capnp_connection* connection, capnp_cap** out_cap);

/** Returns the peer's service with the given ID (raw bytes, sent as Text; a promise until the peer
 * answers), as the seed's vats ask for a sturdy ref's service. An empty ID is the bootstrap. */
CAPNP_NATIVE_API int32_t capnp_connection_restore(capnp_connection* connection, const uint8_t* service_id, size_t service_id_len, capnp_cap** out_cap);

/** Completes tag when the connection is lost (OK when the peer closed it cleanly, else the
 * failure). */
CAPNP_NATIVE_API int32_t capnp_connection_when_disconnected(capnp_connection* connection, uint64_t tag);

/** Describes the connection as capnp_listener_describe does: tag completes with UTF-8 text. */
CAPNP_NATIVE_API int32_t capnp_connection_describe(capnp_connection* connection, uint64_t tag);

/** Closes the connection: its capabilities break with DISCONNECTED. */
CAPNP_NATIVE_API void capnp_connection_release(capnp_connection* connection);

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

/** Test hook: makes an exception escape an event of the loop's KJ event loop (outside any
 * command), which ends the loop thread: its work then fails with CAPNP_STATUS_LOOP_FAILED. tag
 * is held pending until then. */
CAPNP_NATIVE_API int32_t capnp_test_fail_loop_thread(capnp_loop* loop, uint64_t tag);

/** Test hook: returns the id of the loop's thread (gettid), to check where code runs. */
CAPNP_NATIVE_API int32_t capnp_test_loop_thread_id(capnp_loop* loop, int64_t* out_thread_id);

/** Test hook: returns the id of the calling thread (gettid), comparable with the loop's. */
CAPNP_NATIVE_API int32_t capnp_test_current_thread_id(int64_t* out_thread_id);

/** Test hook: when enable is non-zero, the transport overwrites each received message once the
 * engine has released it (unless it was shared in place), so a late reader sees garbage. */
CAPNP_NATIVE_API int32_t capnp_test_poison_released_messages(int32_t enable);

/** Test hook: writes 1 if a block of `size` bytes comes from a fresh memory mapping, else 0. */
CAPNP_NATIVE_API int32_t capnp_test_allocation_is_mapped(size_t size, int32_t* out_mapped);

#ifdef __cplusplus
}
#endif

#endif
