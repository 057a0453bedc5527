/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "helper-systemd.h"
#include "macro.h"
#include "proto-time.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MGR "org.freedesktop.systemd1.Manager"

static void sd_bus_error_freep(sd_bus_error *e) {
        sd_bus_error_free(e);
}

static int bus_fail(int r, const sd_bus_error *e, const char *what, char *err, size_t errlen) {
        snprintf(err, errlen, "%s: %s", what, e && e->message ? e->message : strerror(-r));
        return r;
}

int sysd_open(sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, "unix:path=/run/systemd/private");
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0) {
                *ret = bus;
                return 0;
        }
        sd_bus_unref(bus);
        return sd_bus_open_system(ret);
}

int sysd_reload(sd_bus *bus, char *err, size_t errlen) {
        _cleanup_(sd_bus_error_freep) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MGR, "Reload", &e, NULL, NULL);

        return r < 0 ? bus_fail(r, &e, "Reload", err, errlen) : 0;
}

struct job_wait {
        const char *path;
        char result[SYSD_STATE_MAX];
        bool done;
};

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct job_wait *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        (void) ret_error;
        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0 || !w->path)
                return 0;
        if (strcmp(path, w->path) == 0) {
                snprintf(w->result, sizeof w->result, "%s", result);
                w->done = true;
        }
        return 0;
}

int sysd_job(sd_bus *bus, const char *method, const char *unit, uint64_t timeout_usec, struct sysd_state *ret,
             char *err, size_t errlen) {
        _cleanup_(sd_bus_error_freep) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        struct job_wait w = {};
        uint64_t deadline = proto_now_usec() + timeout_usec;
        int r;

        /* Listen before asking, so the job's end cannot pass unseen. */
        r = sd_bus_match_signal(bus, &slot, SD_DEST, SD_PATH, SD_MGR, "JobRemoved", on_job_removed, &w);
        if (r < 0)
                return bus_fail(r, NULL, "cannot watch jobs", err, errlen);
        r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MGR, "Subscribe", &e, NULL, NULL);
        if (r < 0 && !sd_bus_error_has_name(&e, "org.freedesktop.systemd1.AlreadySubscribed"))
                return bus_fail(r, &e, "Subscribe", err, errlen);
        sd_bus_error_free(&e);
        r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MGR, method, &e, &reply, "ss", unit, "replace");
        if (r < 0)
                return bus_fail(r, &e, method, err, errlen);
        r = sd_bus_message_read(reply, "o", &w.path);
        if (r < 0)
                return bus_fail(r, NULL, method, err, errlen);
        while (!w.done && proto_now_usec() < deadline) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return bus_fail(r, NULL, "waiting for the job", err, errlen);
                if (r == 0 && !w.done)
                        (void) sd_bus_wait(bus, deadline - proto_now_usec());
        }
        r = sysd_unit_state(bus, unit, ret, err, errlen);
        if (r < 0)
                return r;
        snprintf(ret->job_result, sizeof ret->job_result, "%s", w.done ? w.result : "running");
        if (w.done && strcmp(w.result, "done") != 0)
                return snprintf(err, errlen, "%s %s: job %s", method, unit, w.result), -EIO;
        return 0;
}

static int unit_files(sd_bus *bus, const char *method, const char *unit, char *err, size_t errlen) {
        _cleanup_(sd_bus_error_freep) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MGR, method);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, (char *[]) { (char *) unit, NULL });
        if (r >= 0)
                r = strcmp(method, "EnableUnitFiles") == 0 ? sd_bus_message_append(m, "bb", false, false)
                                                           : sd_bus_message_append(m, "b", false);
        if (r < 0)
                return bus_fail(r, NULL, method, err, errlen);
        r = sd_bus_call(bus, m, 0, &e, &reply);
        return r < 0 ? bus_fail(r, &e, method, err, errlen) : 0;
}

int sysd_enable(sd_bus *bus, const char *unit, char *err, size_t errlen) {
        return unit_files(bus, "EnableUnitFiles", unit, err, errlen);
}

int sysd_disable(sd_bus *bus, const char *unit, char *err, size_t errlen) {
        return unit_files(bus, "DisableUnitFiles", unit, err, errlen);
}

int sysd_unit_cgroup(sd_bus *bus, const char *unit, struct sysd_state *ret, char *cgroup, size_t size,
                     char *err, size_t errlen) {
        _cleanup_(sd_bus_error_freep) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(freep) char *active = NULL, *sub = NULL, *cg = NULL;
        const char *path;
        int r;

        *ret = (struct sysd_state) {};
        r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MGR, "LoadUnit", &e, &reply, "s", unit);
        if (r < 0)
                return bus_fail(r, &e, "LoadUnit", err, errlen);
        r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, SD_DEST, path, "org.freedesktop.systemd1.Unit", "ActiveState", &e,
                                               &active);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, SD_DEST, path, "org.freedesktop.systemd1.Unit", "SubState", &e,
                                               &sub);
        if (r >= 0 && cgroup)
                r = sd_bus_get_property_string(bus, SD_DEST, path, "org.freedesktop.systemd1.Service", "ControlGroup",
                                               &e, &cg);
        if (r < 0)
                return bus_fail(r, &e, "reading unit state", err, errlen);
        snprintf(ret->active, sizeof ret->active, "%s", active);
        snprintf(ret->sub, sizeof ret->sub, "%s", sub);
        if (cgroup && snprintf(cgroup, size, "%s", cg ?: "") >= (int) size)
                return snprintf(err, errlen, "the unit's cgroup path is too long"), -ENAMETOOLONG;
        return 0;
}

int sysd_unit_state(sd_bus *bus, const char *unit, struct sysd_state *ret, char *err, size_t errlen) {
        return sysd_unit_cgroup(bus, unit, ret, NULL, 0, err, errlen);
}
