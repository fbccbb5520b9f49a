/*
 * switchyard.h — the Switchyard plugin ABI, version 1.
 *
 * This header is the specification of the boundary between the Switchyard host and a
 * protocol plugin (a shared library). The Rust SDK (`switchyard-sdk`, module `abi`)
 * mirrors it field for field; a test compiles this header and compares every size and
 * offset with the Rust side.
 *
 * The model
 * ---------
 * A plugin is a sans-I/O state machine. The host owns every socket, timer and file; it
 * delivers events (`SyEvent`) to a plugin instance, and the instance answers by calling
 * the host functions in `SyHostApi` *during* that call. A plugin never blocks, never
 * spawns threads and keeps no pointer it was lent after the call returns.
 *
 * Rules
 * -----
 *  - All data passed by pointer is borrowed for the duration of one call. Nothing
 *    allocated on one side is ever freed on the other.
 *  - Tags and statuses are uint32_t constants; unknown event tags must be ignored.
 *  - Structs that may grow start with `struct_size`; check it before reading fields.
 *  - Calls into one instance are never concurrent, but different instances of one
 *    plugin may run on different threads at the same time (each handler has its own
 *    thread): keep state in the instance; global state must be thread-safe.
 *  - Strings are UTF-8, not NUL-terminated: (ptr, len).
 *  - A plugin runs with the host's full rights. Only load plugins you trust.
 *
 * Loading
 * -------
 *  1. The host reads the data symbol `switchyard_plugin_decl` (SyPluginDecl) before it
 *     calls any plugin function, and refuses the library unless magic == SY_MAGIC,
 *     abi_version == SY_ABI_VERSION and flags has SY_FLAG_PANIC_UNWIND or
 *     SY_FLAG_NO_UNWIND. The library's ELF constructors (C `__attribute__((constructor))`,
 *     C++ static initializers) do run at dlopen, before that check: a plugin must not
 *     have any that act (the Rust SDK adds none).
 *  2. It calls `switchyard_plugin_entry(SY_ABI_VERSION)`; a null result refuses the host.
 *  3. It checks the returned vtable's struct_size and abi_version, then its declarations.
 *
 * A minimal C plugin: see examples/plugins/c-echo/c_echo.c.
 *
 * Changelog (ABI version 1 grows only at the end of its structs)
 * ---------
 *  - SyHostApi.prefetch_file, then SyHostApi.open_partial: new host calls.
 *  - SyPluginVTable.storage (SY_STORAGE_SERVED / SY_STORAGE_PRIVATE): a vtable of
 *    SY_VTABLE_SIZE_V1 bytes still loads and is taken as served.
 *  - SY_EV_REPLACED, SY_EV_DRAIN_DEADLINE (status SY_CUT_*): a replaced instance tells
 *    its shared-socket sessions; the drain deadline lets each session left be told.
 *  - SySession, SyHostApi.session_update and SyHostApi.session_end: what a session is
 *    doing, known to the host (cut-session log lines, metrics' bounded `result`).
 *  - SyPluginVTable.export_state / import_state and SyHostApi.hand_over_state: state
 *    handed over across a reload; a vtable of SY_VTABLE_SIZE_V2 bytes still loads, as a
 *    plugin that hands nothing over.
 *  - SY_ERR_PANICKED_CONN: on_event's answer when a panic costs only its connection.
 *  - SyPluginVTable.config_format (SY_CONFIG_RON / SY_CONFIG_JSON): a C plugin may take
 *    its config as JSON, converted by the host (switchyard_json.h reads it); a vtable of
 *    SY_VTABLE_SIZE_V3 bytes gets RON, as before.
 *  - SyPluginVTable.sharding (SY_SHARD_*) and input_delivery (SY_INPUT_*), with
 *    SyHostApi.counter_take / counter_give: a handler may run on several workers
 *    (threads, each with its own instances); a vtable of SY_VTABLE_SIZE_V4 bytes runs on
 *    one worker, as before.
 *  - Outcome word "probe" (session_end, TransferCompleted.result): the peer only asked
 *    about a file (a TFTP size probe); a host that predates it counts it as "other".
 *  - SyHostApi.file_digest: a served file's sha256 from the host's cache (keyed by the
 *    file's inode and times), so a download need not read a side file each time.
 *  - SyHostApi.open_udp_in: open_udp on a port of a range (TFTP transfer ports behind a
 *    firewall); SY_ERR_BUSY when every port of the range is taken.
 *  - SyHostApi.storage_begin / storage_listing, SyStorageOp, SyStorageDone,
 *    SY_EV_STORAGE_DONE (17) and SY_PENDING: storage that may wait on the network (an
 *    object store) completes by an event; read_file and send_datagram_file may answer
 *    SY_PENDING on such a storage (prefetch first). SyPluginVTable.storage_calls
 *    (SY_STORAGE_CALLS_*): a vtable of SY_VTABLE_SIZE_V5 bytes uses the synchronous
 *    calls only and is refused on a storage that may wait.
 *  - SY_EV_SESSION_CANCEL (token = the session key of session_update): the operator
 *    cancelled a session from the admin console; tell the peer, end the session.
 *  - SyHostApi.bus_publish / bus_subscribe / bus_unsubscribe, SY_EV_BUS_DONE (19),
 *    SY_EV_BUS_MESSAGE (20), SY_BUS_OWN: the cluster bus (a topology with `bus`):
 *    publish typed messages on a subject, subscribe at run time (confirmed by an
 *    event), messages of other hosts delivered as events.
 *  - SyHostApi.bus_kv_begin, SyBusKvOp, SY_BUS_KV_*, SY_EV_BUS_KV_DONE (21): a key-value
 *    bucket on the bus (get, put, create-if-absent, compare-and-set, delete) with
 *    expiry, completing by an event: a claim two hosts cannot both win.
 *  - SyHostApi.bus_identity: this handler's name on the bus ("host/handler"), the
 *    address other hosts see as a message's source, so a plugin can ask for answers.
 *  - SyHostApi.bus_stream_read, SY_EV_BUS_STREAM_MESSAGE (22): read one of the
 *    topology's JetStream streams from a sequence, each message with its sequence, so
 *    a reader that keeps its position with its output (the audit's transcript) reads
 *    every message exactly once across its restarts.
 */
#ifndef SWITCHYARD_H
#define SWITCHYARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SY_ABI_VERSION 1u
#define SY_MAGIC 0x53575944u /* "SWYD" */

/* Declaration flags */
#define SY_FLAG_PANIC_UNWIND (1u << 0) /* Rust, panic=unwind: panics are caught   */
#define SY_FLAG_NO_UNWIND    (1u << 1) /* C or another language without unwinding */

/* Status codes */
#define SY_OK              0u
#define SY_ERR_PANICKED    1u  /* a panic was caught; the instance is poisoned */
#define SY_ERR_INVALID     2u  /* malformed argument, unknown id              */
#define SY_ERR_NOT_FOUND   3u
#define SY_ERR_ACCESS      4u  /* path escapes the root, or not permitted     */
#define SY_ERR_EXISTS      5u
#define SY_ERR_NO_SPACE    6u
#define SY_ERR_IO          7u
#define SY_ERR_CLOSED      8u  /* peer, connection or socket gone             */
#define SY_ERR_LIMIT       9u  /* a host limit was reached                    */
#define SY_ERR_CONFIG      10u /* configuration refused                       */
#define SY_ERR_UNSUPPORTED 11u
#define SY_ERR_IS_DIR      12u
#define SY_ERR_BUSY        13u /* in use by another handle (open_partial), or
                               * every port of a range taken (open_udp_in)  */
/* on_event only (added later in version 1): a panic cost only the connection of the
 * event (the plugin keeps state per connection and opted in); the instance is intact,
 * the host closes that connection. A C plugin has no panics; it may return it to ask
 * the same for a connection it cannot go on with. */
#define SY_ERR_PANICKED_CONN 14u
/* Not an error (added later in version 1): storage_begin started an operation whose
 * result comes by SY_EV_STORAGE_DONE; read_file / send_datagram_file on a storage that
 * may wait: the range is not in memory, prefetch_file it and try again after
 * SY_EV_FILE_PREFETCHED. An older host never answers it. */
#define SY_PENDING 15u

/* Listener kinds (bit mask) */
#define SY_LISTEN_UDP (1u << 0)
#define SY_LISTEN_TCP (1u << 1)

/* Instance modes */
#define SY_INSTANCE_PER_HANDLER    0u /* one instance for the whole handler      */
#define SY_INSTANCE_PER_CONNECTION 1u /* one per TCP connection (TCP only)        */

/* Port directions; a type name of "*" on an input port accepts every type. */
#define SY_PORT_IN  1u
#define SY_PORT_OUT 2u

/* Storage kinds (SyPluginVTable.storage). SERVED is 0, so a vtable that leaves the field
 * zero, or predates it, is served: the safe side for the topology's check that no
 * private root lies inside a served one. */
#define SY_STORAGE_SERVED  0u /* peers read files from the handler's root (tftp, files) */
#define SY_STORAGE_PRIVATE 1u /* only the plugin reads its root (audit transcripts)     */

/* Log levels */
#define SY_LOG_ERROR 1u
#define SY_LOG_WARN  2u
#define SY_LOG_INFO  3u
#define SY_LOG_DEBUG 4u
#define SY_LOG_TRACE 5u

/* Event tags; the fields each one sets are listed, all others are zero. */
#define SY_EV_START         1u  /* (none): instance created                         */
#define SY_EV_DATAGRAM      2u  /* socket, peer, local, listener, data               */
#define SY_EV_CONN_OPENED   3u  /* conn, peer, local, listener                       */
#define SY_EV_BYTES         4u  /* conn, data                                        */
#define SY_EV_PEER_EOF      5u  /* conn: peer shut its write side                    */
#define SY_EV_CONN_CLOSED   6u  /* conn, status                                      */
#define SY_EV_TIMER         7u  /* token                                             */
#define SY_EV_DRAINED       8u  /* conn, token                                       */
#define SY_EV_FILE_SENT     9u  /* conn, token, status, amount                       */
#define SY_EV_FILE_RECEIVED 10u /* conn, token, status, amount, digest               */
#define SY_EV_MESSAGE       11u /* port, type_name, data, source                     */
#define SY_EV_DRAIN         12u /* host is shutting down: finish, start nothing new  */
#define SY_EV_SOCKET_ERROR  13u /* socket, status                                    */
#define SY_EV_FILE_PREFETCHED 14u /* token, status: prefetch_file done (range cached) */
/* Added later in version 1 (older hosts never send them; unknown tags are ignored). */
/* A reload replaced this instance and the successor did not take its state: the
 * listener sockets now deliver to the successor, so sessions living on them (datagram
 * peers of a shared socket) are gone from here: tell them now (sending on a listener
 * socket still works). Own sockets and connections stay until their sessions end.
 * SY_EV_DRAIN follows. */
#define SY_EV_REPLACED      15u /* (none)                                            */
/* status (SY_CUT_*): the drain deadline passed; every session still open is cut when
 * this call returns: send each its protocol's goodbye now. File sends in flight were
 * stopped where they were (no SY_EV_FILE_SENT follows). */
#define SY_EV_DRAIN_DEADLINE 16u
/* token, status, amount (the stat's size), data: an SyStorageDone (data.len is its
 * struct_size): a storage_begin that answered SY_PENDING is done. */
#define SY_EV_STORAGE_DONE  17u
/* token = the session key given to session_update: the operator cancelled that session
 * (admin console). Tell its peer in the protocol's terms (an error packet, a refusal
 * line), then end it (session_end) and release what it holds. An unknown key: ignore. */
#define SY_EV_SESSION_CANCEL 18u
/* token (the subscription's), status: a bus_subscribe is done: SY_OK, the server has
 * it and SY_EV_BUS_MESSAGE follows for each message; else it failed (SY_ERR_IO: no
 * connection to the bus). */
#define SY_EV_BUS_DONE      19u
/* token (the subscription's), listener (the subject, without the host's prefix),
 * type_name (the publisher's type with its schema version, "" when untyped), source
 * (the publisher, "host/handler"), data: a message on a subscribed subject. */
#define SY_EV_BUS_MESSAGE   20u

/* token, status, amount (the key's revision), data (GET: the value): a bus_kv_begin
 * is done. SY_OK; SY_ERR_NOT_FOUND: GET of a key with no live value; SY_ERR_EXISTS:
 * CREATE of a key that has one, UPDATE of a key no longer at the revision (someone
 * else wrote or claimed it first); SY_ERR_IO: no bus connection, or NATS failed. */
#define SY_EV_BUS_KV_DONE   21u
/* token (the stream read's), amount (the message's stream sequence), listener (the
 * subject, without the host's prefix), type_name, source, data: the next message of a
 * bus_stream_read, in stream order. Sequences only grow; a gap means the stream no
 * longer held those messages (its size or age bound removed them). */
#define SY_EV_BUS_STREAM_MESSAGE 22u

/* Key-value operations (SyBusKvOp.kind). */
#define SY_BUS_KV_GET    1u /* key -> value, revision                                  */
#define SY_BUS_KV_PUT    2u /* key, value -> revision (whatever was there)              */
#define SY_BUS_KV_CREATE 3u /* key, value -> revision, only if the key has no live value */
#define SY_BUS_KV_UPDATE 4u /* key, value, revision -> revision, only if still at it     */
#define SY_BUS_KV_DELETE 5u /* key (a released claim: a later CREATE succeeds)          */

/* bus_subscribe flags. */
#define SY_BUS_OWN (1u << 0) /* this host's own messages too (else other hosts' only) */

/* Storage operations that may wait (SyStorageOp.kind), each the counterpart of a
 * synchronous call of the first table. */
#define SY_STORE_OPEN_READ    1u /* path -> file, stat (its size)         (open_read)    */
#define SY_STORE_STAT         2u /* path -> stat                          (stat)         */
#define SY_STORE_LIST         3u /* path -> entries by storage_listing    (list_dir)     */
#define SY_STORE_CREATE_TEMP  4u /* path -> file                          (create_temp)  */
#define SY_STORE_OPEN_PARTIAL 5u /* path -> file, stat (size so far)      (open_partial) */
#define SY_STORE_COMMIT       6u /* file, path, flags (SY_COMMIT_*)       (commit_file)  */
#define SY_STORE_REMOVE       7u /* path                                  (remove_file)  */

/* Which storage calls a plugin makes (SyPluginVTable.storage_calls). Zero, so a vtable
 * that predates the field is taken as synchronous: the host refuses such a handler on a
 * storage that may wait (an s3 storage), naming the reason, and serves it on a dir. */
#define SY_STORAGE_CALLS_SYNC 0u /* open_read, stat, ... answer during the call          */
#define SY_STORAGE_CALLS_WAIT 1u /* storage_begin for everything that may wait, and
                                    read_file / send_datagram_file ready for SY_PENDING */

/* Config formats (SyPluginVTable.config_format). With SY_CONFIG_JSON the host converts
 * the handler's RON `config:` to JSON (an object, `{}` for none) before check_config and
 * create; bare words (unit enum variants) have no JSON form, so such configs use
 * strings. Positions in config_error then refer to text the operator never sees: report
 * line 0, col 0 and begin the message with "`field`: ", which the host places on that
 * field's value in the topology (switchyard_json.h's sy_config_field_error does it). */
#define SY_CONFIG_RON  0u
#define SY_CONFIG_JSON 1u

/* Sharding (SyPluginVTable.sharding): whether a handler of this plugin may run on several
 * workers (`workers:` in the topology), each a thread with its own instances, and which
 * worker gets what. Zero, so a vtable that predates the field runs on one worker.
 * A sharded plugin may assume: calls into one instance are never concurrent; all the
 * datagrams of one peer (SY_SHARD_PEER_IP: of one IP address) reach the same instance,
 * in order; a connection stays with the instance it was given to; per-handler limits
 * the host enforces (max_connections, max_connections_per_ip) are counted across the
 * workers; a limit of the plugin's own that must hold across them is kept with
 * counter_take/counter_give. It must not assume that it sees every peer, nor that
 * another instance's state is visible to it. */
#define SY_SHARD_NONE    0u /* one worker: the instance's state is global (chat rooms)    */
#define SY_SHARD_ANY     1u /* any worker: connections to the least loaded one, a peer's
                                datagrams to the worker its address hashes to            */
#define SY_SHARD_PEER_IP 2u /* everything from one client IP to one worker (per-client
                                limits of the plugin's own stay exact: TFTP)             */

/* Typed messages to a sharded handler (SyPluginVTable.input_delivery). */
#define SY_INPUT_ONE_WORKER   0u /* each message to one worker, in turn              */
#define SY_INPUT_EVERY_WORKER 1u /* each message to every worker (a copy each)       */

/* Why sessions are cut (SY_EV_DRAIN_DEADLINE's status) */
#define SY_CUT_SHUTDOWN 0u /* the host is shutting down: drain_timeout_secs passed      */
#define SY_CUT_RELOAD   1u /* retired by a reload: reload_drain_timeout_secs passed     */

/* Session directions (SySession.direction) */
#define SY_DIR_NONE    0u /* neither: a chat member, a control connection */
#define SY_DIR_SEND    1u /* bytes go to the peer: a download              */
#define SY_DIR_RECEIVE 2u /* bytes come from the peer: an upload           */

/* Flags of host calls */
#define SY_COMMIT_OVERWRITE (1u << 0) /* commit_file: replace an existing file      */
#define SY_RECV_SHA256      (1u << 0) /* recv_to_file: sha256 of the whole file      */

/* File kinds in SyStat */
#define SY_FILE_REGULAR 1u
#define SY_FILE_DIR     2u
#define SY_FILE_OTHER   3u

typedef struct SyStr {
    const uint8_t *ptr; /* may be NULL when len == 0 */
    size_t len;
} SyStr;

typedef struct SyBytes {
    const uint8_t *ptr; /* may be NULL when len == 0 */
    size_t len;
} SyBytes;

/* A socket address; family is 4 or 6. For IPv4 only ip[0..4] is used. Port in host order. */
typedef struct SyAddr {
    uint16_t family;
    uint16_t port;
    uint32_t flowinfo;
    uint32_t scope_id;
    uint8_t ip[16];
} SyAddr;

/* What a session is doing (session_update). The host copies it, strings included. */
typedef struct SySession {
    uint32_t struct_size; /* sizeof(SySession) */
    uint32_t direction;   /* SY_DIR_* */
    SyAddr peer;          /* family 0: none */
    uint64_t conn;        /* its connection, 0: none (the host then counts its bytes) */
    SyStr resource;       /* what it works on (a file name), or empty */
    SyStr state;          /* a short word: "sending", "waiting", "joined"; or empty */
    uint64_t bytes_done;
    uint64_t bytes_total; /* 0: unknown */
} SySession;

typedef struct SyStat {
    uint32_t struct_size;
    uint32_t kind; /* SY_FILE_* */
    uint64_t size;
    int64_t modified_unix;
} SyStat;

/* A storage operation (storage_begin). The host copies what it needs. */
typedef struct SyStorageOp {
    uint32_t struct_size; /* sizeof(SyStorageOp) */
    uint32_t kind;        /* SY_STORE_* */
    SyStr path;           /* relative, '/'-separated, as for the synchronous calls */
    uint64_t file;        /* SY_STORE_COMMIT: the temp or partial handle; else 0 */
    uint32_t flags;       /* SY_STORE_COMMIT: SY_COMMIT_*; else 0 */
    uint32_t reserved0;   /* 0 */
} SyStorageOp;

/* What a storage operation gave (storage_begin's out, or SY_EV_STORAGE_DONE's data). */
typedef struct SyStorageDone {
    uint32_t struct_size; /* sizeof(SyStorageDone) */
    uint32_t kind;        /* the SY_STORE_* that finished */
    uint64_t file;        /* OPEN_READ, CREATE_TEMP, OPEN_PARTIAL: the new handle */
    SyStat stat;          /* OPEN_READ, OPEN_PARTIAL, STAT (struct_size 0: none) */
} SyStorageDone;

/* A key-value operation on the bus (bus_kv_begin). The host copies what it needs. */
typedef struct SyBusKvOp {
    uint32_t struct_size;   /* sizeof(SyBusKvOp) */
    uint32_t kind;          /* SY_BUS_KV_* */
    SyStr bucket;           /* one token of A-Z a-z 0-9 _ - (the host prefixes it) */
    SyStr key;              /* dotted tokens of A-Z a-z 0-9 - _ / = */
    SyBytes value;          /* PUT, CREATE, UPDATE */
    uint64_t revision;      /* UPDATE: the revision the key must still be at */
    uint32_t max_age_secs;  /* the bucket's expiry: an entry goes this long after its
                               last write (0: never); every user of a bucket gives the
                               same (the last to open it sets it) */
    uint32_t reserved0;     /* 0 */
} SyBusKvOp;

typedef struct SyEvent {
    uint32_t struct_size;
    uint32_t tag;       /* SY_EV_* */
    uint64_t now_ms;    /* host monotonic clock: the only time a plugin should read */
    uint64_t socket;
    uint64_t conn;
    uint64_t token;
    uint64_t amount;
    uint32_t status;
    uint32_t port;      /* input port index (SY_EV_MESSAGE) */
    SyAddr peer;
    SyAddr local;
    SyStr listener;     /* listener name */
    SyStr type_name;    /* message type (SY_EV_MESSAGE) */
    SyBytes data;
    uint8_t digest[32]; /* sha256 (SY_EV_FILE_RECEIVED with SY_RECV_SHA256) */
    uint64_t wall_ms;   /* wall clock, ms since the Unix epoch: for records, never for timeouts */
    SyStr source;       /* sender of a typed message, "handler.port" (SY_EV_MESSAGE) */
} SyEvent;

typedef struct SyPortDecl {
    uint32_t direction; /* SY_PORT_IN or SY_PORT_OUT */
    SyStr name;
    SyStr type_name;    /* e.g. "switchyard.TransferCompleted/1", or "*" */
} SyPortDecl;

typedef struct SyHostCtx SyHostCtx;   /* opaque, host side   */
typedef struct SyInstance SyInstance; /* opaque, plugin side */

typedef void (*SyListFn)(void *user, SyStr name, const SyStat *stat);

/*
 * The host's functions. Each takes the ctx of the current call and is valid only during
 * that call. Each returns SY_OK or an SY_ERR_* status unless it returns void.
 */
typedef struct SyHostApi {
    uint32_t struct_size;
    uint32_t abi_version;
    void (*log)(SyHostCtx *ctx, uint32_t level, SyStr msg);
    /* Report a configuration error at 1-based line/col of the config text (0 = unknown). */
    void (*config_error)(SyHostCtx *ctx, SyStr msg, uint32_t line, uint32_t col);

    uint32_t (*send_datagram)(SyHostCtx *ctx, uint64_t socket, const SyAddr *to, SyBytes data);
    /* One datagram: `header` then `len` bytes of `file` at `offset`, sent only whole: when the
     * file holds fewer than `len` bytes there (it ends, or shrank since it was opened), nothing
     * is sent and *out_sent is the count it holds. Otherwise *out_sent = len. */
    uint32_t (*send_datagram_file)(SyHostCtx *ctx, uint64_t socket, const SyAddr *to, SyBytes header,
                                   uint64_t file, uint64_t offset, uint32_t len, uint32_t *out_sent);
    /* Bind a UDP socket on the local IP of `like_socket`, ephemeral port. */
    uint32_t (*open_udp)(SyHostCtx *ctx, uint64_t like_socket, uint64_t *out_socket, SyAddr *out_local);
    uint32_t (*close_socket)(SyHostCtx *ctx, uint64_t socket);

    /* Queue bytes on a connection; the host copies what it cannot send now. */
    uint32_t (*write)(SyHostCtx *ctx, uint64_t conn, SyBytes data);
    /* SY_EV_DRAINED with `token` once everything queued so far is written. */
    uint32_t (*notify_drained)(SyHostCtx *ctx, uint64_t conn, uint64_t token);
    uint32_t (*shutdown_write)(SyHostCtx *ctx, uint64_t conn);
    uint32_t (*close)(SyHostCtx *ctx, uint64_t conn);
    /* on = 0 pauses reading (backpressure), 1 resumes. */
    uint32_t (*set_reading)(SyHostCtx *ctx, uint64_t conn, uint32_t on);
    /* sendfile(2) a range after the queued bytes; completion: SY_EV_FILE_SENT. */
    uint32_t (*send_file)(SyHostCtx *ctx, uint64_t conn, uint64_t file, uint64_t offset, uint64_t len,
                          uint64_t token);
    /* Receive exactly `len` more bytes into temp `file` (appended). With SY_RECV_SHA256 the
     * digest covers the whole file. Completion: SY_EV_FILE_RECEIVED (bytes after the `len`
     * and the peer's EOF arrive after it; the file does not change after it). The host may
     * reserve disk space ahead: a disk that is too full may fail the call itself with
     * SY_ERR_NO_SPACE. */
    uint32_t (*recv_to_file)(SyHostCtx *ctx, uint64_t conn, uint64_t file, uint64_t len, uint32_t flags,
                             uint64_t token);

    uint32_t (*set_timer)(SyHostCtx *ctx, uint64_t token, uint64_t delay_ms); /* re-arms */
    uint32_t (*cancel_timer)(SyHostCtx *ctx, uint64_t token);
    /* Emit a typed message (JSON bytes) on output port index `port`.
     * For "switchyard.TransferCompleted/1", `result` must be one of: "ok", "refused",
     * "not_found", "aborted", "partial", "timeout", "invalid", "error", "other", "probe" (the
     * Rust SDK's messages::Outcome documents each); put the free-text reason in a log
     * line. The host counts any other value as "other" in switchyard_transfers_total. */
    uint32_t (*emit)(SyHostCtx *ctx, uint32_t port, SyBytes data);

    /* Storage confined to the handler's root: relative '/'-separated paths only. */
    uint32_t (*open_read)(SyHostCtx *ctx, SyStr path, uint64_t *out_file, uint64_t *out_size);
    uint32_t (*read_file)(SyHostCtx *ctx, uint64_t file, uint64_t offset, uint8_t *buf, size_t len,
                          size_t *out_read);
    /* Hidden temp file in the directory of `path`; nothing visible until commit_file. */
    uint32_t (*create_temp)(SyHostCtx *ctx, SyStr path, uint64_t *out_file);
    uint32_t (*write_file)(SyHostCtx *ctx, uint64_t file, SyBytes data); /* append */
    /* fsync, move to `path` (SY_ERR_EXISTS unless SY_COMMIT_OVERWRITE), fsync dir, close. */
    uint32_t (*commit_file)(SyHostCtx *ctx, uint64_t file, SyStr path, uint32_t flags);
    /* Close a handle; an uncommitted temp file is deleted. */
    uint32_t (*close_file)(SyHostCtx *ctx, uint64_t file);
    uint32_t (*stat)(SyHostCtx *ctx, SyStr path, SyStat *out);
    uint32_t (*list_dir)(SyHostCtx *ctx, SyStr path, SyListFn each, void *user);
    uint32_t (*remove_file)(SyHostCtx *ctx, SyStr path);
    uint32_t (*free_space)(SyHostCtx *ctx, uint64_t *out_bytes);
    /* Added after the first table of ABI version 1: an older host's table ends before it,
     * so check api->struct_size >= offsetof(SyHostApi, prefetch_file) + sizeof(void *)
     * before calling it (the Rust SDK refuses hosts whose table is shorter than its own).
     * Bring `len` bytes at `offset` of a file from open_read into the page cache off the
     * handler thread (read_file is synchronous: on a cold cache it stalls the handler).
     * Completion: SY_EV_FILE_PREFETCHED with `token`; reads of the range then come from
     * memory. */
    uint32_t (*prefetch_file)(SyHostCtx *ctx, uint64_t file, uint64_t offset, uint64_t len,
                              uint64_t token);
    /* Added after prefetch_file (check struct_size the same way). Continue the hidden file
     * `path` (name starting with '.', e.g. a partial upload committed earlier) in place:
     * `out_file` is a temp-file handle positioned at its end, `out_size` its size.
     * write_file and recv_to_file append (a receive's sha256 covers the file from byte 0);
     * commit_file moves it to its final name. Unlike a temp, close_file keeps it with what
     * was appended (remove_file deletes it). SY_ERR_BUSY while another handle continues
     * the same file. */
    uint32_t (*open_partial)(SyHostCtx *ctx, SyStr path, uint64_t *out_file, uint64_t *out_size);
    /* Added after open_partial (check struct_size the same way). Describe session
     * `session` (a key the plugin chooses, unique within the instance) or update its
     * description: cheap, call it as the session progresses (not per byte). */
    uint32_t (*session_update)(SyHostCtx *ctx, uint64_t session, const SySession *info);
    /* Session `session` ended with `result`: ok, refused, not_found, aborted, partial,
     * timeout, invalid, error, other or probe (anything else counts as other): the metrics'
     * bounded `result` label. A session never described may be ended too (a request
     * refused at once): its result is counted all the same. */
    uint32_t (*session_end)(SyHostCtx *ctx, uint64_t session, SyStr result);
    /* Only during export_state: the instance's state, tagged with the plugin's state
     * version. The host copies it. */
    uint32_t (*hand_over_state)(SyHostCtx *ctx, uint32_t version, SyBytes data);
    /* Added after hand_over_state (check struct_size the same way). A counter shared by
     * every worker of the handler, across reloads, named by the plugin: take one unit of
     * `name` if fewer than `limit` are taken (SY_ERR_LIMIT otherwise, nothing taken);
     * *out_value is the count after the call. The host gives back what an instance still
     * holds when it is destroyed (a panic included), so a limit never leaks. */
    uint32_t (*counter_take)(SyHostCtx *ctx, SyStr name, uint64_t limit, uint64_t *out_value);
    /* Give back one unit of `name` this instance took (SY_ERR_INVALID if it holds none). */
    uint32_t (*counter_give)(SyHostCtx *ctx, SyStr name);
    /* Added after counter_give (check struct_size the same way). The sha256 of the
     * whole of `file` (a handle from open_read) into the 32 bytes at `out_sha256`, as
     * the host knows it for that exact version of the file (device, inode, size,
     * modification and change times, taken when it was opened): from a cache, else
     * from the digest side file beside it (`.NAME.sha256`, see the Rust SDK's `sums`),
     * if that still matches the file's size and modification time. Costs no system
     * call once known. SY_ERR_NOT_FOUND when the host does not know it (hash the file
     * yourself); SY_ERR_INVALID for a temp file or an unknown handle. */
    uint32_t (*file_digest)(SyHostCtx *ctx, uint64_t file, uint8_t *out_sha256);
    /* Added after file_digest (check struct_size the same way). As open_udp, on a port
     * within port_lo..=port_hi (1 <= port_lo <= port_hi): the host tries the ports from a
     * random one, wrapping, so the workers of a handler (and handlers sharing a range)
     * do not contend for the same ports, and takes the first it can bind. SY_ERR_BUSY
     * when every port of the range is taken (by this host or anyone); SY_ERR_INVALID for
     * an empty range or port 0. */
    uint32_t (*open_udp_in)(SyHostCtx *ctx, uint64_t like_socket, uint16_t port_lo, uint16_t port_hi,
                            uint64_t *out_socket, SyAddr *out_local);
    /* Added after open_udp_in (check struct_size the same way). Start storage operation
     * `op`, answered by `token`. SY_OK: it is done now and *out says what it gave (a
     * dir storage answers at once); SY_PENDING: it runs off the handler thread and
     * SY_EV_STORAGE_DONE with `token` tells how it ended (an s3 storage; keep `token`
     * unique among the instance's operations in flight); any other status: it failed
     * now, as the synchronous call would have. The results are those of the
     * synchronous calls, with the same confinement to the handler's storage. */
    uint32_t (*storage_begin)(SyHostCtx *ctx, const SyStorageOp *op, uint64_t token,
                              SyStorageDone *out);
    /* The entries of SY_STORE_LIST `token`, as list_dir gives them: only during the
     * call in which that operation finished (right after storage_begin answered SY_OK,
     * or in its SY_EV_STORAGE_DONE); SY_ERR_INVALID otherwise. */
    uint32_t (*storage_listing)(SyHostCtx *ctx, uint64_t token, SyListFn each, void *user);
    /* Added after storage_listing (check struct_size the same way). The cluster bus: a
     * handler of a topology with `bus`; SY_ERR_UNSUPPORTED without one. A subject is
     * dotted tokens (no empty token, no `*`, `>` or whitespace; SY_ERR_INVALID), under
     * the host's subject prefix, which the plugin never sees.
     * Publish `data` (at most 1 MiB, SY_ERR_LIMIT) on `subject`, typed `type_name`
     * (e.g. "switchyard.ChatMessage/1"; "" for untyped bytes). SY_OK: queued, at most
     * once, no event; SY_ERR_BUSY: the host's queue towards NATS is full (NATS away or
     * slow), the message is dropped (counted). */
    uint32_t (*bus_publish)(SyHostCtx *ctx, SyStr subject, SyStr type_name, SyBytes data);
    /* Subscribe to `subject` (SY_BUS_OWN in `flags`: this host's messages too), named
     * `token` (unique among the instance's subscriptions). SY_PENDING: SY_EV_BUS_DONE
     * with `token` says when the server has it; SY_ERR_EXISTS: `token` is taken;
     * SY_ERR_LIMIT: too many subscriptions. Ends with bus_unsubscribe or the instance. */
    uint32_t (*bus_subscribe)(SyHostCtx *ctx, SyStr subject, uint32_t flags, uint64_t token);
    /* End subscription `token`: no SY_EV_BUS_MESSAGE of it after this call.
     * SY_ERR_NOT_FOUND for an unknown token. */
    uint32_t (*bus_unsubscribe)(SyHostCtx *ctx, uint64_t token);
    /* Start key-value operation `op`, answered by `token` (unique among the instance's
     * operations in flight): SY_PENDING, then SY_EV_BUS_KV_DONE; SY_ERR_INVALID for a
     * bad bucket, key or kind; SY_ERR_LIMIT: too many in flight or a value over 1 MiB;
     * SY_ERR_UNSUPPORTED without a bus. */
    uint32_t (*bus_kv_begin)(SyHostCtx *ctx, const SyBusKvOp *op, uint64_t token);
    /* Added after bus_kv_begin. This handler's name on the bus, "host/handler" (the
     * topology's bus `name` and the handler's), as other hosts see it in a message's
     * source: copied into `buf` (up to `cap` bytes), its length in *len. SY_ERR_LIMIT:
     * `cap` is too small (*len says how much is needed); SY_ERR_UNSUPPORTED without a
     * bus. It may change across a reload that renames the host: ask again when needed. */
    uint32_t (*bus_identity)(SyHostCtx *ctx, uint8_t *buf, size_t cap, size_t *len);
    /* Read stream `stream` (a name of the topology's `bus.streams`) from stream
     * sequence `start` (1: the oldest message kept) as `token`, which shares the
     * subscription tokens (bus_unsubscribe ends it): SY_PENDING, then SY_EV_BUS_DONE,
     * then SY_EV_BUS_STREAM_MESSAGE for each stored message in order, the messages
     * stored later included. The read survives NATS restarts, continuing after the
     * last sequence delivered. SY_ERR_NOT_FOUND: no such stream in the topology. */
    uint32_t (*bus_stream_read)(SyHostCtx *ctx, SyStr stream, uint64_t start, uint64_t token);
} SyHostApi;

typedef struct SyPluginVTable {
    uint32_t struct_size;
    uint32_t abi_version;
    SyStr name;
    SyStr version;
    SyStr description;
    uint32_t listener_kinds; /* SY_LISTEN_* mask; 0 = message-only handler */
    uint32_t instance_mode;  /* SY_INSTANCE_* */
    const SyPortDecl *ports;
    uint32_t port_count;
    /* May be NULL (every config accepted). Report errors with api->config_error. */
    uint32_t (*check_config)(const SyHostApi *api, SyHostCtx *ctx, SyStr config);
    uint32_t (*create)(const SyHostApi *api, SyHostCtx *ctx, SyStr config, SyInstance **out);
    void (*destroy)(SyInstance *inst); /* exactly once per created instance */
    uint32_t (*on_event)(SyInstance *inst, const SyHostApi *api, SyHostCtx *ctx, const SyEvent *event);
    uint64_t (*active_sessions)(SyInstance *inst); /* may be NULL */
    /* Added after the first vtable of ABI version 1 (SY_VTABLE_SIZE_V1 bytes, which the
     * host still accepts and reads as SY_STORAGE_SERVED). SY_STORAGE_*. */
    uint32_t storage;
    /* Added after `storage` (a vtable of SY_VTABLE_SIZE_V2 bytes loads as one that hands
     * nothing over): state handed over across a reload, Erlang's code_change. Both NULL
     * or both set. export_state hands the instance's state out with
     * api->hand_over_state during the call (at most once); its connections move to the
     * successor. If the successor takes the state, the host then destroys the instance
     * without another event; if it refuses it, the instance gets SY_EV_CONN_CLOSED
     * (SY_ERR_CLOSED) for each moved connection, then SY_EV_REPLACED and SY_EV_DRAIN.
     * Handing nothing over keeps everything here: the instance retires as without
     * the hook (SY_EV_REPLACED, SY_EV_DRAIN).
     * import_state takes a predecessor's state (same or older build) right after create
     * and before any event: SY_OK takes it (migrating an older version); any other
     * status refuses it, and the instance must be as create left it (it starts fresh).
     * `now_ms` is each instance's own clock (the successor's starts anew): hand
     * deadlines over as time left. Timers, files and own sockets do not move. */
    uint32_t (*export_state)(SyInstance *inst, const SyHostApi *api, SyHostCtx *ctx,
                             uint64_t now_ms);
    uint32_t (*import_state)(SyInstance *inst, const SyHostApi *api, SyHostCtx *ctx,
                             uint64_t now_ms, uint32_t version, SyBytes data);
    /* Added after import_state (a vtable of SY_VTABLE_SIZE_V3 bytes gets RON). SY_CONFIG_*. */
    uint32_t config_format;
    /* The padding a vtable of SY_VTABLE_SIZE_V4 bytes ended with: set it to 0. */
    uint32_t reserved0;
    /* Added after config_format (a vtable of SY_VTABLE_SIZE_V4 bytes runs on one worker).
     * SY_SHARD_* and SY_INPUT_*. */
    uint32_t sharding;
    uint32_t input_delivery;
    /* Added after input_delivery (a vtable of SY_VTABLE_SIZE_V5 bytes is synchronous).
     * SY_STORAGE_CALLS_*. */
    uint32_t storage_calls;
    uint32_t reserved1; /* 0 */
} SyPluginVTable;

/* struct_size of a vtable built before `storage` was added. */
#define SY_VTABLE_SIZE_V1 ((uint32_t)offsetof(SyPluginVTable, storage))
/* struct_size of a vtable built before the state handover was added. */
#define SY_VTABLE_SIZE_V2 ((uint32_t)offsetof(SyPluginVTable, export_state))
/* struct_size of a vtable built before `config_format` was added. */
#define SY_VTABLE_SIZE_V3 ((uint32_t)offsetof(SyPluginVTable, config_format))
/* struct_size of a vtable built before `sharding` was added. */
#define SY_VTABLE_SIZE_V4 ((uint32_t)offsetof(SyPluginVTable, sharding))
/* struct_size of a vtable built before `storage_calls` was added. */
#define SY_VTABLE_SIZE_V5 ((uint32_t)offsetof(SyPluginVTable, storage_calls))

typedef struct SyPluginDecl {
    uint32_t magic;       /* SY_MAGIC */
    uint32_t abi_version; /* SY_ABI_VERSION */
    uint32_t struct_size; /* sizeof(SyPluginDecl) */
    uint32_t flags;       /* SY_FLAG_* */
} SyPluginDecl;

/* What a plugin exports. */
typedef const SyPluginVTable *(*SyEntryFn)(uint32_t host_abi_version);

/* Declare a C plugin: exports the declaration symbol with SY_FLAG_NO_UNWIND.
 * The plugin still defines `switchyard_plugin_entry` itself. */
#define SWITCHYARD_DECLARE_C_PLUGIN()                                                     \
    __attribute__((visibility("default"))) const SyPluginDecl switchyard_plugin_decl = { \
        SY_MAGIC, SY_ABI_VERSION, (uint32_t)sizeof(SyPluginDecl), SY_FLAG_NO_UNWIND}

#define SY_STR(lit) ((SyStr){(const uint8_t *)(lit), sizeof(lit) - 1})

/* Layout pins, checked against the Rust side by the test suite (x86-64 / aarch64 LP64). */
#if defined(__LP64__)
_Static_assert(sizeof(SyStr) == 16, "SyStr");
_Static_assert(sizeof(SyAddr) == 28, "SyAddr");
_Static_assert(sizeof(SyStat) == 24, "SyStat");
_Static_assert(sizeof(SyEvent) == 216, "SyEvent");
_Static_assert(sizeof(SyPortDecl) == 40, "SyPortDecl");
_Static_assert(sizeof(SyPluginDecl) == 16, "SyPluginDecl");
_Static_assert(sizeof(SyPluginVTable) == 168, "SyPluginVTable");
_Static_assert(offsetof(SyPluginVTable, storage_calls) == 160, "SyPluginVTable v5 size");
_Static_assert(offsetof(SyPluginVTable, sharding) == 152, "SyPluginVTable v4 size");
_Static_assert(offsetof(SyPluginVTable, config_format) == 144, "SyPluginVTable v3 size");
_Static_assert(offsetof(SyPluginVTable, storage) == 120, "SyPluginVTable v1 size");
_Static_assert(offsetof(SyPluginVTable, export_state) == 128, "SyPluginVTable v2 size");
_Static_assert(sizeof(SySession) == 96, "SySession");
_Static_assert(sizeof(SyHostApi) == 352, "SyHostApi");
_Static_assert(sizeof(SyBusKvOp) == 72, "SyBusKvOp");
_Static_assert(sizeof(SyStorageOp) == 40, "SyStorageOp");
_Static_assert(sizeof(SyStorageDone) == 40, "SyStorageDone");
#endif

#ifdef __cplusplus
}
#endif
#endif /* SWITCHYARD_H */
