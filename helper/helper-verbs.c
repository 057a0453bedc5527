/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* The unit of LANE must exist and be exactly what we wrote. */
static enum proto_error require_managed(struct verb_ctx *c, struct unit_params *ret) {
        static char text[UNIT_MAX_SIZE];
        size_t len;
        int r;

        if (proto_unit_name_for_lane(lane_of(c), c->res.unit_name, sizeof c->res.unit_name) < 0)
                return refuse(c, PROTO_E_INVALID_FIELD, "lane name is invalid");
        snprintf(c->res.unit_path, sizeof c->res.unit_path, UNIT_DIR "/%s", c->res.unit_name);
        r = unit_read_at(c->unit_dir, c->res.unit_name, text, sizeof text, &len);
        if (r == -ENOENT)
                return refuse(c, PROTO_E_NOT_MANAGED, "%s does not exist", c->res.unit_path);
        if (r < 0)
                return refuse(c, PROTO_E_NOT_MANAGED, "%s is not a regular unit file lanekeeper wrote", c->res.unit_path);
        if (!unit_is_managed(text, len, ret))
                return refuse(c, PROTO_E_NOT_MANAGED, "%s was not written by lanekeeper-helper (or was edited)",
                              c->res.unit_path);
        return PROTO_OK;
}

static int sys_fail(struct verb_ctx *c, int r, const char *err) {
        (void) r;
        snprintf(c->reason, sizeof c->reason, "%s", err);
        return PROTO_E_SYSTEMD_FAILED;
}

static enum proto_error verb_install_unit(struct verb_ctx *c) {
        static char text[UNIT_MAX_SIZE], old[UNIT_MAX_SIZE];
        struct unit_params p = {};
        const char *reason = NULL;
        size_t len, old_len;
        bool changed = false;
        size_t i;
        int r;

        snprintf(p.lane, sizeof p.lane, "%s", lane_of(c));
        snprintf(p.user, sizeof p.user, "%s", proto_msg_str(c->req, PROTO_TAG_USER));
        snprintf(p.root, sizeof p.root, "%s", proto_msg_str(c->req, PROTO_TAG_ROOT));
        for (i = 0; i < c->pol->n_users && strcmp(c->pol->users[i], p.user) != 0; i++)
                ;
        if (i == c->pol->n_users)
                return refuse(c, PROTO_E_POLICY_VIOLATION, "user '%s' is not a runner user in the policy", p.user);
        if (c->user_uids[i] == (uid_t) -1)
                return refuse(c, PROTO_E_POLICY_VIOLATION, "user '%s' does not exist on this host", p.user);
        if (!policy_find_root(c->pol, p.root))
                return refuse(c, PROTO_E_POLICY_VIOLATION, "root '%s' is not a registration root in the policy", p.root);
        r = unit_check_lane_dir(p.root, p.lane, c->user_uids[i], &reason);
        if (r < 0)
                return refuse(c, PROTO_E_POLICY_VIOLATION, "%s/%s: %s", p.root, p.lane, reason);
        if (unit_render(&p, text, sizeof text, &len, &reason) < 0)
                return refuse(c, PROTO_E_INVALID_FIELD, "%s", reason);
        proto_sha256_hex(text, len, c->res.digest);
        (void) proto_unit_name_for_lane(p.lane, c->res.unit_name, sizeof c->res.unit_name);
        snprintf(c->res.unit_path, sizeof c->res.unit_path, UNIT_DIR "/%s", c->res.unit_name);

        r = unit_read_at(c->unit_dir, c->res.unit_name, old, sizeof old, &old_len);
        if (r != -ENOENT && (r < 0 || !unit_is_managed(old, old_len, NULL)))
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
        enum proto_error e;
        int r;

        e = require_managed(c, NULL);
        if (e != PROTO_OK)
                return e;
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
        enum proto_error e;
        int r;

        e = require_managed(c, NULL);
        if (e != PROTO_OK)
                return e;
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

static enum proto_error verb_load_bpf(struct verb_ctx *c) {
        return refuse(c, PROTO_E_NOT_SUPPORTED, "load-bpf is not implemented by this lanekeeper-helper");
}

/* The dispatch table is the policy of what the helper does (OpenSSH's
 * monitor): a verb absent here is refused. */
static const struct {
        enum proto_verb verb;
        enum proto_error (*handler)(struct verb_ctx *c);
} verb_table[] = {
        { PROTO_VERB_INSTALL_UNIT, verb_install_unit },
        { PROTO_VERB_DAEMON_RELOAD, verb_daemon_reload },
        { PROTO_VERB_ENABLE_NOW, verb_enable_now },
        { PROTO_VERB_RESTART, verb_restart },
        { PROTO_VERB_STOP, verb_stop },
        { PROTO_VERB_REMOVE_UNIT, verb_remove_unit },
        { PROTO_VERB_LOAD_BPF, verb_load_bpf },
};

enum proto_error verb_dispatch(struct verb_ctx *c) {
        c->res.changed = -1;
        for (size_t i = 0; i < ELEMENTSOF(verb_table); i++)
                if (verb_table[i].verb == c->req->verb)
                        return verb_table[i].handler(c);
        return refuse(c, PROTO_E_UNKNOWN_VERB, "unknown verb");
}
