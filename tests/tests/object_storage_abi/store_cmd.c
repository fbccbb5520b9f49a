/* A UDP plugin whose every storage call goes through storage_begin: one datagram is
 * one command, answered by one datagram once its storage operation is done.
 *   put NAME BYTES   -> "ok" | "err S"     (create_temp, write_file, commit)
 *   get NAME         -> "data BYTES"       (open_read, read_file)
 *   stat NAME        -> "size N"
 *   list DIR         -> "entries A,B,..."  (storage_listing)
 *   del NAME         -> "ok"
 *   sync NAME        -> "err S"            (the synchronous open_read, for comparison)
 *   claim NAME       -> "claimed N"        (open_partial: held until release or finish)
 *   append NAME B    -> "ok"               (write_file to the held partial)
 *   release NAME     -> "ok"               (close_file: the partial keeps what was added)
 *   finish NAME      -> "ok"               (commit the held partial as NAME)
 * S is the SY_* status. Pending operations wait in a small table keyed by token. */
#include <stdio.h>
#include <string.h>
#include "switchyard.h"
SWITCHYARD_DECLARE_C_PLUGIN();

#define MAX_WAIT 64
typedef struct {
    int used;
    uint64_t token, socket;
    SyAddr peer;
} Wait;
struct SyInstance {
    uint64_t next_token;
    uint64_t held; /* the claimed partial's handle, 0: none */
    Wait waits[MAX_WAIT];
};
static SyInstance ONE;

static void reply(const SyHostApi *a, SyHostCtx *c, uint64_t socket, const SyAddr *to,
                  const char *text, size_t len) {
    SyBytes b = {(const uint8_t *)text, len};
    a->send_datagram(c, socket, to, b);
}
static void reply_status(const SyHostApi *a, SyHostCtx *c, uint64_t socket, const SyAddr *to,
                         uint32_t status) {
    char buf[32];
    int n = status == SY_OK ? snprintf(buf, sizeof buf, "ok")
                            : snprintf(buf, sizeof buf, "err %u", status);
    reply(a, c, socket, to, buf, (size_t)n);
}

typedef struct {
    char text[1024];
    size_t len;
} Names;
static void each(void *user, SyStr name, const SyStat *st) {
    Names *n = user;
    (void)st;
    if (n->len + name.len + 1 >= sizeof n->text) return;
    if (n->len > 0) n->text[n->len++] = ',';
    memcpy(n->text + n->len, name.ptr, name.len);
    n->len += name.len;
}

/* What an operation gave, told to its peer. */
static void answer(const SyHostApi *a, SyHostCtx *c, uint64_t token, uint64_t socket,
                   const SyAddr *peer, uint32_t status, const SyStorageDone *done) {
    char buf[1100];
    if (status != SY_OK) {
        reply_status(a, c, socket, peer, status);
        return;
    }
    switch (done->kind) {
    case SY_STORE_OPEN_READ: {
        size_t got = 0;
        int n = snprintf(buf, sizeof buf, "data ");
        uint64_t size = done->stat.size < 1024 ? done->stat.size : 1024;
        a->read_file(c, done->file, 0, (uint8_t *)buf + n, (size_t)size, &got);
        a->close_file(c, done->file);
        reply(a, c, socket, peer, buf, (size_t)n + got);
        break;
    }
    case SY_STORE_OPEN_PARTIAL: {
        ONE.held = done->file;
        int n = snprintf(buf, sizeof buf, "claimed %llu", (unsigned long long)done->stat.size);
        reply(a, c, socket, peer, buf, (size_t)n);
        break;
    }
    case SY_STORE_STAT: {
        int n = snprintf(buf, sizeof buf, "size %llu", (unsigned long long)done->stat.size);
        reply(a, c, socket, peer, buf, (size_t)n);
        break;
    }
    case SY_STORE_LIST: {
        Names names = {{0}, 0};
        uint32_t s = a->storage_listing(c, token, each, &names);
        if (s != SY_OK) {
            reply_status(a, c, socket, peer, s);
            break;
        }
        int n = snprintf(buf, sizeof buf, "entries %.*s", (int)names.len, names.text);
        reply(a, c, socket, peer, buf, (size_t)n);
        break;
    }
    default:
        reply_status(a, c, socket, peer, SY_OK);
    }
}

/* Begin `op` for the datagram's peer: answered now, or kept until STORAGE_DONE. */
static uint32_t begin(SyInstance *i, const SyHostApi *a, SyHostCtx *c, const SyEvent *e,
                      SyStorageOp *op, int answer_now) {
    uint64_t token = ++i->next_token;
    SyStorageDone done;
    memset(&done, 0, sizeof done);
    uint32_t s = a->storage_begin(c, op, token, &done);
    if (s == SY_PENDING) {
        for (int k = 0; k < MAX_WAIT; k++) {
            if (!i->waits[k].used) {
                i->waits[k] = (Wait){1, token, e->socket, e->peer};
                return SY_PENDING;
            }
        }
        reply_status(a, c, e->socket, &e->peer, SY_ERR_LIMIT);
        return SY_ERR_LIMIT;
    }
    if (answer_now || s != SY_OK) answer(a, c, token, e->socket, &e->peer, s, &done);
    if (s == SY_OK && op->kind == SY_STORE_CREATE_TEMP) op->file = done.file;
    return s;
}

static void command(SyInstance *i, const SyHostApi *a, SyHostCtx *c, const SyEvent *e) {
    const char *d = (const char *)e->data.ptr;
    size_t len = e->data.len;
    const char *sp = memchr(d, ' ', len);
    if (!sp) return;
    size_t verb = (size_t)(sp - d);
    const char *name = sp + 1;
    size_t rest = len - verb - 1;
    const char *sp2 = memchr(name, ' ', rest);
    size_t name_len = sp2 ? (size_t)(sp2 - name) : rest;
    SyStorageOp op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    op.path = (SyStr){(const uint8_t *)name, name_len};
    if (verb == 3 && memcmp(d, "put", 3) == 0 && sp2) {
        op.kind = SY_STORE_CREATE_TEMP;
        if (begin(i, a, c, e, &op, 0) != SY_OK) return;
        SyBytes body = {(const uint8_t *)sp2 + 1, rest - name_len - 1};
        uint32_t s = a->write_file(c, op.file, body);
        if (s != SY_OK) {
            a->close_file(c, op.file);
            reply_status(a, c, e->socket, &e->peer, s);
            return;
        }
        op.kind = SY_STORE_COMMIT;
        begin(i, a, c, e, &op, 1);
    } else if (verb == 3 && memcmp(d, "get", 3) == 0) {
        op.kind = SY_STORE_OPEN_READ;
        begin(i, a, c, e, &op, 1);
    } else if (verb == 4 && memcmp(d, "stat", 4) == 0) {
        op.kind = SY_STORE_STAT;
        begin(i, a, c, e, &op, 1);
    } else if (verb == 4 && memcmp(d, "list", 4) == 0) {
        op.kind = SY_STORE_LIST;
        begin(i, a, c, e, &op, 1);
    } else if (verb == 3 && memcmp(d, "del", 3) == 0) {
        op.kind = SY_STORE_REMOVE;
        begin(i, a, c, e, &op, 1);
    } else if (verb == 5 && memcmp(d, "claim", 5) == 0) {
        op.kind = SY_STORE_OPEN_PARTIAL;
        begin(i, a, c, e, &op, 1);
    } else if (verb == 6 && memcmp(d, "append", 6) == 0 && sp2) {
        SyBytes body = {(const uint8_t *)sp2 + 1, rest - name_len - 1};
        reply_status(a, c, e->socket, &e->peer, a->write_file(c, i->held, body));
    } else if (verb == 7 && memcmp(d, "release", 7) == 0) {
        uint32_t s = a->close_file(c, i->held);
        i->held = 0;
        reply_status(a, c, e->socket, &e->peer, s);
    } else if (verb == 6 && memcmp(d, "finish", 6) == 0) {
        op.kind = SY_STORE_COMMIT;
        op.file = i->held;
        i->held = 0;
        begin(i, a, c, e, &op, 1);
    } else if (verb == 4 && memcmp(d, "sync", 4) == 0) {
        uint64_t file = 0, size = 0;
        uint32_t s = a->open_read(c, op.path, &file, &size);
        if (s == SY_OK) a->close_file(c, file);
        reply_status(a, c, e->socket, &e->peer, s);
    }
}

static uint32_t create(const SyHostApi *a, SyHostCtx *c, SyStr cfg, SyInstance **out) {
    (void)a; (void)c; (void)cfg;
    memset(&ONE, 0, sizeof ONE);
    *out = &ONE;
    return SY_OK;
}
static void destroy(SyInstance *i) { (void)i; }
static uint32_t on_event(SyInstance *i, const SyHostApi *a, SyHostCtx *c, const SyEvent *e) {
    if (e->tag == SY_EV_DATAGRAM) {
        command(i, a, c, e);
    } else if (e->tag == SY_EV_STORAGE_DONE) {
        for (int k = 0; k < MAX_WAIT; k++) {
            Wait *w = &i->waits[k];
            if (w->used && w->token == e->token) {
                SyStorageDone done;
                memset(&done, 0, sizeof done);
                if (e->data.len >= sizeof done) memcpy(&done, e->data.ptr, sizeof done);
                w->used = 0;
                answer(a, c, e->token, w->socket, &w->peer, e->status, &done);
            }
        }
    }
    return SY_OK;
}
static const SyPluginVTable VTABLE = {
    .struct_size = sizeof(SyPluginVTable),
    .abi_version = SY_ABI_VERSION,
    .name = SY_STR("store-cmd"),
    .version = SY_STR("0.1.0"),
    .listener_kinds = SY_LISTEN_UDP,
    .instance_mode = SY_INSTANCE_PER_HANDLER,
    .create = create,
    .destroy = destroy,
    .on_event = on_event,
    .storage_calls = SY_STORAGE_CALLS_WAIT,
};
__attribute__((visibility("default"))) const SyPluginVTable *switchyard_plugin_entry(uint32_t v) {
    (void)v;
    return &VTABLE;
}
