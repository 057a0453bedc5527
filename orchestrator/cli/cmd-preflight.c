/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl preflight [--output json]: everything a host needs before its
 * first lane, each check with a specific fix. Reads only: the helper is
 * asked for a dry-run daemon-reload (admitted and validated, nothing
 * done), GitHub for one listing per scope, systemd for unit states. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "cli.h"
#include "gh-client.h"
#include "helper-client.h"
#include "inventory.h"
#include "macro.h"
#include "observation.h"
#include "settings.h"

#define SCHEMA "lanekeeper.preflight/1"
#define MAX_CHECKS 160

enum pf_status { PF_OK, PF_WARN, PF_FAIL };
static const char *const status_names[] = { "ok", "warn", "fail" };

struct pf_check {
        char name[48];
        enum pf_status status;
        char detail[400];
        char fix[300];
};

struct preflight {
        struct cli_exec x;
        const char *policy, *lanes_dir;
        bool json;
        size_t n;
        struct pf_check c[MAX_CHECKS];
        size_t n_scopes;
        char scopes[2 * POLICY_MAX_ITEMS + 64][CLI_SCOPE_MAX];
};

static void add_scope(struct preflight *p, const char *kind, const char *name) {
        cli_add_scope(p->scopes, &p->n_scopes, ELEMENTSOF(p->scopes), kind, name);
}

static void add(struct preflight *p, const char *name, enum pf_status st, const char *fix, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static void add(struct preflight *p, const char *name, enum pf_status st, const char *fix, const char *fmt, ...) {
        struct pf_check *c;
        va_list ap;

        if (p->n == MAX_CHECKS)
                return;
        c = &p->c[p->n++];
        snprintf(c->name, sizeof c->name, "%s", name);
        c->status = st;
        snprintf(c->fix, sizeof c->fix, "%s", st == PF_OK || !fix ? "" : fix);
        va_start(ap, fmt);
        vsnprintf(c->detail, sizeof c->detail, fmt, ap);
        va_end(ap);
}

static void check_maintainer(struct preflight *p) {
        struct passwd *pw = getpwuid(getuid());
        const char *me = pw ? pw->pw_name : "?";
        char fix[256];

        snprintf(fix, sizeof fix, "add %.32s to [helper] maintainers in %.150s (root's file)", me, p->x.s->policy_file);
        if (policy_has_maintainer(&p->x.hp, me))
                add(p, "maintainer", PF_OK, NULL, "%s is a maintainer in the policy", me);
        else
                add(p, "maintainer", PF_FAIL, fix, "%s is not one of the policy's maintainers: the helper refuses it", me);
}

/* A dry-run daemon-reload: the helper admits us, validates, does nothing. */
static void check_helper(struct preflight *p) {
        struct helper_conn conn = { .socket_path = p->x.real.helper.socket_path };
        struct helper_request req = { .dry_run = true };
        struct helper_reply reply = {};
        int r = helper_daemon_reload(&conn, &req, &reply);

        if (r == 0)
                add(p, "helper", PF_OK, NULL, "%s answers and admits this user (a dry-run daemon-reload)", conn.socket_path);
        else if (r == -EPERM)
                add(p, "helper", PF_FAIL, "check the policy's maintainers and the socket's group (lanekeeper-helper(8))",
                    "the helper refused: %s: %.200s", proto_error_to_string(reply.error), reply.reason);
        else
                add(p, "helper", PF_FAIL, "systemctl enable --now lanekeeper-helper.socket (as root)",
                    "%s cannot be reached: %.200s", conn.socket_path, reply.reason[0] ? reply.reason : strerror(-r));
}

/* A unit's property over the bus into BUF ("" when unknown). */
static void unit_prop(sd_bus *bus, const char *unit, const char *prop, char *buf, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL;
        const char *path = NULL;
        char *v = NULL;

        buf[0] = '\0';
        if (sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "LoadUnit", &e, &m, "s", unit) < 0 ||
            sd_bus_message_read(m, "o", &path) < 0) {
                sd_bus_message_unref(m);
                return;
        }
        if (sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path, "org.freedesktop.systemd1.Unit", prop,
                                       &e, &v) >= 0)
                snprintf(buf, size, "%s", v);
        free(v);
        sd_bus_message_unref(m);
}

static void check_units(struct preflight *p) {
        static const struct {
                const char *unit, *want, *prop, *fix;
                enum pf_status missing;
        } units[] = {
                { "lanekeeper-helper.socket", "active", "ActiveState",
                  "systemctl enable --now lanekeeper-helper.socket (as root)", PF_FAIL },
                { "lanekeeper-helper.service", "loaded", "LoadState",
                  "install lanekeeper's units (make install, or the package) and run systemctl daemon-reload", PF_FAIL },
                { "lanekeeper-health.timer", "active", "ActiveState",
                  "systemctl enable --now lanekeeper-health.timer (as root)", PF_WARN },
                { "lanekeeper-prune.timer", "active", "ActiveState",
                  "systemctl enable --now lanekeeper-prune.timer (as root)", PF_WARN },
        };
        char v[64];

        if (!p->x.bus)
                return add(p, "units", PF_FAIL, "as root: apt-get install dbus && systemctl start dbus.socket "
                           "(dbus starts its socket only at the next boot when installed later)",
                           "no system bus (/run/dbus/system_bus_socket): systemd cannot be read");
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                unit_prop(p->x.bus, units[i].unit, units[i].prop, v, sizeof v);
                if (strcmp(v, units[i].want) == 0)
                        add(p, "unit", PF_OK, NULL, "%s is %s", units[i].unit, v);
                else
                        add(p, "unit", units[i].missing, units[i].fix, "%s is %s, not %s", units[i].unit,
                            v[0] ? v : "unknown", units[i].want);
        }
}

static void check_store(struct preflight *p) {
        const char *dir = p->x.s->store_dir;
        struct statvfs sv;
        unsigned long long need = (unsigned long long) p->x.s->min_free_mib << 20, free_b;

        if (access(dir, W_OK) < 0)
                return add(p, "store", PF_FAIL, "create it owned by the maintainer, mode 0750 (systemd-tmpfiles "
                           "does, from lanekeeper's tmpfiles.d)", "%s is not writable: %m", dir);
        if (statvfs(dir, &sv) < 0)
                return add(p, "store", PF_FAIL, NULL, "%s: %m", dir);
        free_b = (unsigned long long) sv.f_bavail * sv.f_frsize;
        add(p, "store", free_b >= need ? PF_OK : PF_FAIL, "free disk space where the store lives",
            "%s writable, %llu MiB free (needs %llu)", dir, free_b >> 20, need >> 20);
}

/* One read-only listing per scope: credentials, permission, rate limit. */
static void check_github(struct preflight *p) {
        if (!p->x.real.gh)
                return add(p, "github", PF_FAIL, "set token_file or a GitHub App in lanekeeper.conf [github]", "%s",
                           p->x.real.gh_problem);
        if (!p->n_scopes)
                return add(p, "github", PF_WARN, "list repositories or organisations in the policy's [lanes]",
                           "no repository or organisation to ask GitHub about");
        for (size_t i = 0; i < p->n_scopes; i++) {
                struct inventory inv = {};
                char err[512];
                int r = gh_list_runners(p->x.real.gh, p->scopes[i], NULL, &inv, err, sizeof err);

                if (r == 0)
                        add(p, "github", PF_OK, NULL, "%s: runners readable (%zu); registering needs write access to "
                            "self-hosted runners, which only a registration proves", p->scopes[i], inv.n);
                else
                        add(p, "github", PF_FAIL, r == -EPERM || r == -EACCES || r == -ENOENT ?
                            "give the token Administration (repository) or Self-hosted runners (organisation) "
                            "read and write permission, or install the App on it" : "check [github] api_url and "
                            "the network", "%s: %.300s", p->scopes[i], err);
                inventory_free(&inv);
        }
}

static void check_clock(struct preflight *p) {
        long long off;

        if (!p->x.real.gh || !gh_clock_offset(p->x.real.gh, &off))
                return add(p, "clock", PF_WARN, "run preflight where GitHub answers",
                           "no GitHub Date header seen to compare the clock with");
        add(p, "clock", llabs(off) <= 60 ? PF_OK : PF_FAIL, "timedatectl set-ntp true (as root)",
            "%llds off GitHub's clock (limit 60 s)", llabs(off));
}

/* A lane file: valid, allowed by the policy, its runner installed and of
 * an accepted version, and the baseline its observation measures. */
static void check_lane(struct preflight *p, const struct lane_file *f) {
        _cleanup_(freep) struct lane_entry *e = calloc(1, sizeof *e);
        _cleanup_(freep) struct observation *o = calloc(1, sizeof *o);
        FILE *devnull = fopen("/dev/null", "we");
        char name[64], fix[400];
        int v;

        if (!e || !o || !devnull) {
                if (devnull)
                        fclose(devnull);
                return add(p, "lane", PF_FAIL, NULL, "%s: out of memory", f->path);
        }
        snprintf(e->path, sizeof e->path, "%s", f->path);
        snprintf(name, sizeof name, "lane %.40s", f->stem);
        if (!lane_entry_load(e, devnull)) {
                fclose(devnull);
                return add(p, name, PF_FAIL, "lanectl lane validate shows each error with its line",
                           "%s is not a valid lane file", f->path);
        }
        fclose(devnull);
        if (!policy_find_root(&p->x.hp, e->lane.root) || !policy_has_user(&p->x.hp, e->lane.user)) {
                snprintf(fix, sizeof fix, "add root %.200s and user %s to [lanes] of the policy (root's file)",
                         e->lane.root, e->lane.user);
                add(p, name, PF_FAIL, fix, "its root or user is not in the policy: the helper refuses it");
        }
        add_scope(p, e->lane.repository[0] ? "repos" : "orgs",
                  e->lane.repository[0] ? e->lane.repository : e->lane.organisation);
        p->x.ops.observe(p->x.ops.data, &e->lane, o);
        snprintf(fix, sizeof fix, "download actions/runner (actions-runner-linux-x64-VERSION.tar.gz) and extract it "
                 "into %.150s/%.60s as %s", e->lane.root, e->lane.name, e->lane.user);
        if (!o->local_exists)
                add(p, name, PF_FAIL, fix, "%s/%s does not exist: no runner installed", e->lane.root, e->lane.name);
        else if (!o->runner_version[0])
                add(p, name, PF_FAIL, fix, "%s/%s holds no runner whose version can be told", e->lane.root, e->lane.name);
        else if ((v = version_satisfies(&e->lane.version, o->runner_version)) != 1)
                add(p, name, PF_FAIL, "install a runner the lane's version policy accepts, or change 'version'",
                    "runner %s is not accepted by the lane's version policy", o->runner_version);
        else
                add(p, name, PF_OK, NULL, "runner %s installed in %s/%s", o->runner_version, e->lane.root, e->lane.name);
        for (size_t i = 0; i < o->n_checks; i++) {
                char check[64];

                snprintf(check, sizeof check, "%.40s %s", name, o->checks[i].name);
                add(p, check, o->checks[i].state == BASELINE_READY ? PF_OK : o->checks[i].state == BASELINE_NOT_READY ?
                    PF_FAIL : PF_WARN, "see the detail", "%s", o->checks[i].detail);
        }
}

static void print_text(const struct preflight *p) {
        size_t fails = 0, warns = 0;

        for (size_t i = 0; i < p->n; i++) {
                const struct pf_check *c = &p->c[i];

                fails += c->status == PF_FAIL;
                warns += c->status == PF_WARN;
                printf("%-4s %-28.28s %s\n", status_names[c->status], c->name, c->detail);
                if (c->fix[0])
                        printf("     %-28s fix: %s\n", "", c->fix);
        }
        printf("preflight: %zu checks, %zu failed, %zu warnings\n", p->n, fails, warns);
}

static void print_json(const struct preflight *p) {
        struct json_object *doc = json_object_new_object(), *a = json_object_new_array();
        bool ok = true;

        for (size_t i = 0; i < p->n; i++) {
                struct json_object *o = json_object_new_object();

                ok = ok && p->c[i].status != PF_FAIL;
                json_object_object_add(o, "name", json_object_new_string(p->c[i].name));
                json_object_object_add(o, "status", json_object_new_string(status_names[p->c[i].status]));
                json_object_object_add(o, "detail", json_object_new_string(p->c[i].detail));
                json_object_object_add(o, "fix", p->c[i].fix[0] ? json_object_new_string(p->c[i].fix) : NULL);
                json_object_array_add(a, o);
        }
        json_object_object_add(doc, "schema", json_object_new_string(SCHEMA));
        json_object_object_add(doc, "ok", json_object_new_boolean(ok));
        json_object_object_add(doc, "checks", a);
        printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(doc);
}

static int parse_args(struct preflight *p, int argc, char **argv) {
        static const struct option options[] = {
                { "output", required_argument, NULL, 'o' }, { "policy", required_argument, NULL, 'p' },
                { "lanes-dir", required_argument, NULL, 'd' }, {}
        };
        int opt;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                if (cli_common_option(opt, optarg, &p->json, &p->policy, &p->lanes_dir) <= 0)
                        goto usage;
        if (optind == argc)
                return 0;
usage:
        fprintf(stderr, "usage: lanectl preflight [--output text|json] [--policy FILE] [--lanes-dir DIR]\n");
        return -EINVAL;
}

int cmd_preflight(struct cli *cli, int argc, char **argv) {
        _cleanup_(freep) struct preflight *p = calloc(1, sizeof *p);
        int ret = 0;

        if (!p)
                return 2;
        cli_exec_init(&p->x);
        if (parse_args(p, argc, argv) < 0)
                return 2;
        /* the settings and a root-owned, valid policy are the first checks: without them nothing else can be */
        if (cli_exec_open(cli, &p->x, p->policy, p->lanes_dir, "preflight") < 0) {
                fprintf(stderr, "lanectl preflight: fix the error above first (lanekeeper.conf and the policy, "
                                "root's file, must be readable and valid)\n");
                cli_exec_close(&p->x);
                return 1;
        }
        add(p, "settings", PF_OK, NULL, "lanekeeper.conf read; store %s, lanes %s", p->x.s->store_dir, p->x.lanes_dir);
        add(p, "policy", PF_OK, NULL, "%s readable and owned by root, not writable by others; host %s, managed "
            "label %s", p->policy ?: getenv("LANEKEEPER_POLICY") ?: p->x.s->policy_file,
            p->x.hp.host[0] ? p->x.hp.host : "(not set)", policy_managed_label(&p->x.hp));
        if (!p->x.hp.host[0])
                add(p, "policy host", PF_WARN, "set [helper] host = this host's name in the policy",
                    "no host name: cleanup-stale cannot tell this host's runners");
        check_maintainer(p);
        check_helper(p);
        check_units(p);
        check_store(p);
        for (size_t i = 0; i < p->x.hp.n_repositories; i++)
                add_scope(p, "repos", p->x.hp.repositories[i]);
        for (size_t i = 0; i < p->x.hp.n_organisations; i++)
                add_scope(p, "orgs", p->x.hp.organisations[i]);
        check_github(p);
        check_clock(p);
        if (!p->x.n_files)
                add(p, "lanes", PF_WARN, "write one in the lanes directory (lanekeeper-lane(5))",
                    "no lane file in %s", p->x.lanes_dir);
        for (size_t i = 0; i < p->x.n_files; i++)
                check_lane(p, &p->x.files[i]);
        p->json ? print_json(p) : print_text(p);
        for (size_t i = 0; i < p->n; i++)
                if (p->c[i].status == PF_FAIL)
                        ret = 1;
        cli_exec_close(&p->x);
        return ret;
}
