/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper-sandbox.h"
#include "helper-systemd.h"
#include "helper-unit.h"
#include "helper-verbs.h"
#include "macro.h"

#define START_TIMEOUT_USEC (30u * 1000000u)
#define STOP_TIMEOUT_USEC  (20u * 1000000u)   /* a running job may take longer: reported, not waited for */

_printf_(3, 4)
static enum proto_error refuse(struct verb_ctx *c, enum proto_error e, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(c->reason, sizeof c->reason, fmt, ap);
        va_end(ap);
        return e;
}

_printf_(2, 3)
static void action(struct verb_ctx *c, const char *fmt, ...) {
        va_list ap;

        if (c->res.n_actions >= VERB_MAX_ACTIONS)
                return;
        va_start(ap, fmt);
        vsnprintf(c->res.actions[c->res.n_actions++], sizeof c->res.actions[0], fmt, ap);
        va_end(ap);
}

static const char *lane_of(struct verb_ctx *c) {
        return proto_msg_str(c->req, PROTO_TAG_LANE);
}

/* Why a unit file cannot be ours, from unit_read_at()'s error. */
static const char *unreadable_reason(int r) {
        switch (r) {
        case -ELOOP:
                return "is a symbolic link, not a unit lanekeeper wrote";
        case -EBADFD:
                return "is not a regular file";
        case -EFBIG:
                return "is larger than 16 KiB, larger than any unit lanekeeper writes";
        case -EMLINK:
                return "has more than one hard link: another name could change it";
        default:
                return "cannot be read";
        }
}

/* The user, root and lane directory of a lane, against the policy as it is
 * now. START adds the checks of the lane directory that install-unit makes
 * (repeated before every start: a root or directory may have changed).
 * CAP_DAC_READ_SEARCH is effective only while the lane directory is read. */
static enum proto_error check_lane(struct verb_ctx *c, const struct unit_params *p, bool start) {
        const struct identity *id = ids_find(c->ids, p->user);
        char reason[PROTO_REASON_MAX - 64];
        _cleanup_(closep) int slash = -EBADF;
        int r;

        if (!policy_has_user(c->pol, p->user))
                return refuse(c, PROTO_E_POLICY_VIOLATION, "user '%s' is not a runner user in the policy", p->user);
        if (!id)
                return refuse(c, PROTO_E_POLICY_VIOLATION, "user '%s' did not exist on this host when the helper "
                              "started (or was added to the policy since): retry", p->user);
        if (!policy_find_root(c->pol, p->root))
                return refuse(c, PROTO_E_POLICY_VIOLATION, "root '%s' is not a registration root in the policy", p->root);
        if (!start)
                return PROTO_OK;
        slash = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (slash < 0)
                return refuse(c, PROTO_E_INTERNAL, "cannot open '/': %m");
        r = sandbox_raise_dac_read_search();
        if (r >= 0)
                r = unit_check_lane_dir_at(slash, p->root + 1, 0, p->lane, id->uid, reason, sizeof reason);
        else
                snprintf(reason, sizeof reason, "cannot raise CAP_DAC_READ_SEARCH: %s", strerror(-r));
        if (sandbox_lower_dac_read_search() < 0)
                return refuse(c, PROTO_E_INTERNAL, "cannot lower CAP_DAC_READ_SEARCH");
        return r < 0 ? refuse(c, PROTO_E_POLICY_VIOLATION, "%s", reason) : PROTO_OK;
}

/* The unit of LANE must exist, be exactly what we wrote, under its own
 * name, with one link, and name a user, root and (START) lane directory
 * that today's policy allows: the helper re-validates every time. */
static enum proto_error require_managed(struct verb_ctx *c, bool start) {
        char text[UNIT_MAX_SIZE];
        struct unit_params p = {};
        size_t len;
        int r;

        if (proto_unit_name_for_lane(lane_of(c), c->res.unit_name, sizeof c->res.unit_name) < 0)
                return refuse(c, PROTO_E_INVALID_FIELD, "lane name is invalid");
        snprintf(c->res.unit_path, sizeof c->res.unit_path, UNIT_DIR "/%s", c->res.unit_name);
        r = unit_read_at(c->unit_dir, c->res.unit_name, text, sizeof text, &len);
        if (r == -ENOENT)
                return refuse(c, PROTO_E_NOT_MANAGED, "%s does not exist", c->res.unit_path);
        if (r < 0)
                return refuse(c, PROTO_E_NOT_MANAGED, "%s %s", c->res.unit_path, unreadable_reason(r));
        if (!proto_unit_is_managed(text, len, &p))
                return refuse(c, PROTO_E_NOT_MANAGED, "%s was not written by lanekeeper-helper (or was edited)",
                              c->res.unit_path);
        if (strcmp(p.lane, lane_of(c)) != 0)
                return refuse(c, PROTO_E_NOT_MANAGED, "%s was written for lane '%s', not '%s' (copied or linked)",
                              c->res.unit_path, p.lane, lane_of(c));
        return check_lane(c, &p, start);
}

static int sys_fail(struct verb_ctx *c, int r, const char *err) {
        (void) r;
        snprintf(c->reason, sizeof c->reason, "%s", err);
        return PROTO_E_SYSTEMD_FAILED;
}

static enum proto_error verb_install_unit(struct verb_ctx *c) {
        char text[UNIT_MAX_SIZE], old[UNIT_MAX_SIZE];
        struct unit_params p = {};
        const char *reason = NULL;
        size_t len, old_len;
        bool changed = false;
        enum proto_error e;
        int r;

        snprintf(p.lane, sizeof p.lane, "%s", lane_of(c));
        snprintf(p.user, sizeof p.user, "%s", proto_msg_str(c->req, PROTO_TAG_USER));
        snprintf(p.root, sizeof p.root, "%s", proto_msg_str(c->req, PROTO_TAG_ROOT));
        e = check_lane(c, &p, true);
        if (e != PROTO_OK)
                return e;
        if (proto_unit_render(&p, text, sizeof text, &len, &reason) < 0)
                return refuse(c, PROTO_E_INVALID_FIELD, "%s", reason);
        proto_sha256_hex(text, len, c->res.digest);
        (void) proto_unit_name_for_lane(p.lane, c->res.unit_name, sizeof c->res.unit_name);
        snprintf(c->res.unit_path, sizeof c->res.unit_path, UNIT_DIR "/%s", c->res.unit_name);

        r = unit_read_at(c->unit_dir, c->res.unit_name, old, sizeof old, &old_len);
        if (r < 0 && r != -ENOENT)
                return refuse(c, PROTO_E_NOT_MANAGED, "%s exists and %s", c->res.unit_path, unreadable_reason(r));
        if (r == 0 && !proto_unit_is_managed(old, old_len, NULL))
                return refuse(c, PROTO_E_NOT_MANAGED, "%s exists and was not written by lanekeeper-helper",
                              c->res.unit_path);
        changed = r == -ENOENT || old_len != len || memcmp(old, text, len) != 0;
        if (c->dry_run) {
                action(c, changed ? "write %s (sha256 %s)" : "leave %s unchanged (sha256 %s)", c->res.unit_path,
                       c->res.digest);
                c->res.changed = changed;
                return PROTO_OK;
        }
        r = unit_write_at(c->unit_dir, c->res.unit_name, text, len, &changed);
        if (r == -EEXIST)
                return refuse(c, PROTO_E_NOT_MANAGED, "%s exists and was not written by lanekeeper-helper",
                              c->res.unit_path);
        if (r < 0)
                return refuse(c, PROTO_E_INTERNAL, "cannot write %s: %s", c->res.unit_path, strerror(-r));
        c->res.changed = changed;
        action(c, changed ? "wrote %s" : "%s already up to date", c->res.unit_path);
        return PROTO_OK;
}

static enum proto_error verb_daemon_reload(struct verb_ctx *c) {
        char err[256];
        int r;

        action(c, "Reload()");
        if (c->dry_run)
                return PROTO_OK;
        r = sysd_reload(c->bus, err, sizeof err);
        return r < 0 ? sys_fail(c, r, err) : PROTO_OK;
}

/* enable-now, restart, stop: the same shape. */
static enum proto_error unit_job(struct verb_ctx *c, bool enable, const char *method, uint64_t timeout) {
        struct sysd_state st;
        char err[256];
        int r;

        if (enable)
                action(c, "EnableUnitFiles([%s], runtime=false, force=false)", c->res.unit_name);
        action(c, "%s(%s, \"replace\")", method, c->res.unit_name);
        if (c->dry_run)
                return PROTO_OK;
        if (enable && (r = sysd_enable(c->bus, c->res.unit_name, err, sizeof err)) < 0)
                return sys_fail(c, r, err);
        r = sysd_job(c->bus, method, c->res.unit_name, timeout, &st, err, sizeof err);
        snprintf(c->res.active, sizeof c->res.active, "%s", st.active);
        snprintf(c->res.sub, sizeof c->res.sub, "%s", st.sub);
        if (r < 0)
                return sys_fail(c, r, err);
        c->res.changed = 1;
        return PROTO_OK;
}

static enum proto_error verb_enable_now(struct verb_ctx *c) {
        return unit_job(c, true, "StartUnit", START_TIMEOUT_USEC);
}

static enum proto_error verb_restart(struct verb_ctx *c) {
        return unit_job(c, false, "RestartUnit", START_TIMEOUT_USEC);
}

static enum proto_error verb_stop(struct verb_ctx *c) {
        return unit_job(c, false, "StopUnit", STOP_TIMEOUT_USEC);
}

static enum proto_error verb_remove_unit(struct verb_ctx *c) {
        struct sysd_state st;
        char err[256];
        int r;

        action(c, "StopUnit(%s, \"replace\")", c->res.unit_name);
        action(c, "DisableUnitFiles([%s], runtime=false)", c->res.unit_name);
        action(c, "unlink %s", c->res.unit_path);
        action(c, "Reload()");
        if (c->dry_run)
                return PROTO_OK;
        r = sysd_job(c->bus, "StopUnit", c->res.unit_name, STOP_TIMEOUT_USEC, &st, err, sizeof err);
        if (r < 0)
                return sys_fail(c, r, err);
        r = sysd_disable(c->bus, c->res.unit_name, err, sizeof err);
        if (r < 0)
                return sys_fail(c, r, err);
        if (unlinkat(c->unit_dir, c->res.unit_name, 0) < 0 || fsync(c->unit_dir) < 0)
                return refuse(c, PROTO_E_INTERNAL, "cannot remove %s: %m", c->res.unit_path);
        r = sysd_reload(c->bus, err, sizeof err);
        if (r < 0)
                return sys_fail(c, r, err);
        c->res.changed = 1;
        return PROTO_OK;
}

/* The lane unit's cgroup as systemd has it (never from the request): its
 * id is the cgroup v2 directory's inode number. */
static enum proto_error lane_cgroup(struct verb_ctx *c) {
        struct sysd_state st;
        char err[256];
        int r;

        r = sysd_unit_cgroup(c->bus, c->res.unit_name, &st, c->res.cgroup_path, sizeof c->res.cgroup_path, err,
                             sizeof err);
        if (r < 0)
                return sys_fail(c, r, err);
        snprintf(c->res.active, sizeof c->res.active, "%s", st.active);
        snprintf(c->res.sub, sizeof c->res.sub, "%s", st.sub);
        if (strcmp(st.active, "active") != 0 || c->res.cgroup_path[0] != '/')
                return refuse(c, PROTO_E_NOT_ACTIVE, "%s is %s (%s): a lane is observed only while it runs",
                              c->res.unit_name, st.active, st.sub);
        r = proto_cgroup_id(c->res.cgroup_path, &c->res.cgroup_id, err, sizeof err);
        return r < 0 ? refuse(c, r == -EMEDIUMTYPE ? PROTO_E_NOT_SUPPORTED : PROTO_E_INTERNAL, "%s", err) : PROTO_OK;
}

/* The object the policy names, read once: its bytes are digested here and
 * those very bytes are loaded (no second open). */
static enum proto_error verb_load_bpf(struct verb_ctx *c) {
        const char *name = proto_msg_str(c->req, PROTO_TAG_BPF_OBJECT);
        const struct policy_bpf_object *o = policy_find_bpf(c->pol, name);
        _cleanup_(freep) void *buf = NULL;
        uint32_t ring = LK_OBS_RING_DEFAULT;
        char err[PROTO_REASON_MAX - 64];
        enum proto_error e;
        size_t size;
        int r;

        if (!o)
                return refuse(c, PROTO_E_POLICY_VIOLATION, "BPF object '%s' is not in the policy", name);
        (void) proto_msg_u32(c->req, PROTO_TAG_RINGBUF_SIZE, &ring);   /* the decoder checked its range */
        if ((e = lane_cgroup(c)) != PROTO_OK)
                return e;
        if (policy_read_object(o->path, &buf, &size, c->res.digest, err, sizeof err) < 0)
                return refuse(c, PROTO_E_POLICY_VIOLATION, "BPF object '%s': %s", name, err);
        if (strcmp(c->res.digest, o->sha256) != 0)
                return refuse(c, PROTO_E_POLICY_VIOLATION, "BPF object '%s' (%s) has sha256 %s, the policy pins %s",
                              name, o->path, c->res.digest, o->sha256);
        c->res.ringbuf_size = ring;
        action(c, "load %s (sha256 %s), ring buffer %u bytes", o->path, c->res.digest, ring);
        action(c, "attach its tracepoints for cgroup %s (id %llu)", c->res.cgroup_path,
               (unsigned long long) c->res.cgroup_id);
        if (c->dry_run)
                return PROTO_OK;
        r = sandbox_raise_bpf() < 0 ? snprintf(err, sizeof err, "cannot raise CAP_BPF and CAP_PERFMON"), -EPERM
                                    : hbpf_load(buf, size, c->res.cgroup_id, ring, &c->res.bpf, err, sizeof err);
        if (sandbox_lower_bpf() < 0) {
                hbpf_release(&c->res.bpf);
                return refuse(c, PROTO_E_INTERNAL, "cannot lower CAP_BPF and CAP_PERFMON");
        }
        if (r < 0)
                return refuse(c, PROTO_E_INTERNAL, "BPF object '%s': %s", name, err);
        c->res.prog_count = (uint32_t) c->res.bpf.n_links;
        c->res.changed = 1;
        return PROTO_OK;
}

/* The dispatch table is the policy of what the helper does (OpenSSH's
 * monitor): a verb absent here is refused; its flags say what it may do. */
enum {
        VF_MUTATES = 1 << 0,    /* changes systemd or the unit directory; nothing in a dry run */
        VF_MANAGED = 1 << 1,    /* acts only on a unit the helper wrote, re-validated against the policy */
        VF_STARTS = 1 << 2,     /* starts a runner: the lane directory is checked again first */
        VF_FDS = 1 << 3,        /* passes file descriptors back (SCM_RIGHTS) */
};

static const struct {
        enum proto_verb verb;
        unsigned flags;
        enum proto_error (*handler)(struct verb_ctx *c);
} verb_table[] = {
        { PROTO_VERB_INSTALL_UNIT,  VF_MUTATES,                         verb_install_unit },
        { PROTO_VERB_DAEMON_RELOAD, VF_MUTATES,                         verb_daemon_reload },
        { PROTO_VERB_ENABLE_NOW,    VF_MUTATES | VF_MANAGED | VF_STARTS, verb_enable_now },
        { PROTO_VERB_RESTART,       VF_MUTATES | VF_MANAGED | VF_STARTS, verb_restart },
        { PROTO_VERB_STOP,          VF_MUTATES | VF_MANAGED,            verb_stop },
        { PROTO_VERB_REMOVE_UNIT,   VF_MUTATES | VF_MANAGED,            verb_remove_unit },
        { PROTO_VERB_LOAD_BPF,      VF_MANAGED | VF_FDS,                verb_load_bpf },
};

enum proto_error verb_dispatch(struct verb_ctx *c) {
        c->res.changed = -1;
        /* The decoder refuses replies and incomplete requests; a handler
         * never sees one, whatever the decoder's future. */
        if (proto_msg_is_reply(c->req) || !proto_msg_complete(c->req))
                return refuse(c, PROTO_E_MALFORMED, "not a complete request");
        for (size_t i = 0; i < ELEMENTSOF(verb_table); i++) {
                enum proto_error e;

                if (verb_table[i].verb != c->req->verb)
                        continue;
                /* Each instance serves its own verbs (lanekeeper-helper(8)). */
                if ((c->mode == SANDBOX_BPF) != (c->req->verb == PROTO_VERB_LOAD_BPF))
                        return refuse(c, PROTO_E_NOT_SUPPORTED, c->mode == SANDBOX_BPF ?
                                      "this is the load-bpf instance (lanekeeper-helper-bpf.socket): it serves no other verb" :
                                      "load-bpf is served by lanekeeper-helper-bpf.socket, not this instance");
                if (verb_table[i].flags & VF_MANAGED) {
                        e = require_managed(c, verb_table[i].flags & VF_STARTS);
                        if (e != PROTO_OK)
                                return e;
                }
                return verb_table[i].handler(c);
        }
        return refuse(c, PROTO_E_UNKNOWN_VERB, "unknown verb");
}
