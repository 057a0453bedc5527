/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper-bpf.h"
#include "macro.h"

/* libbpf's last warning, for a refusal's reason (the verifier log stays out). */
static char libbpf_last[200];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
        if (level != LIBBPF_DEBUG) {
                vsnprintf(libbpf_last, sizeof libbpf_last, fmt, ap);
                libbpf_last[strcspn(libbpf_last, "\n")] = '\0';
        }
        return 0;
}

/* lk_config is the whole of .rodata (its BTF says so): set it. */
static int set_config(struct bpf_object *obj, uint64_t cgroup_id, char *err, size_t errlen) {
        const struct lk_obs_config cfg = { .cgroup_id = cgroup_id };
        const struct btf *btf = bpf_object__btf(obj);
        struct bpf_map *map;

        bpf_object__for_each_map(map, obj) {
                const char *name = bpf_map__name(map);
                size_t len = strlen(name);

                if (bpf_map__is_internal(map) && len >= 7 && strcmp(name + len - 7, ".rodata") == 0 && btf &&
                    btf__find_by_name_kind(btf, "lk_config", BTF_KIND_VAR) > 0 &&
                    bpf_map__value_size(map) == sizeof cfg && bpf_map__set_initial_value(map, &cfg, sizeof cfg) == 0)
                        return 0;
        }
        return snprintf(err, errlen, "the object's .rodata is not lk_config alone"), -EINVAL;
}

/* Before load: the maps lanectl reads, the ring's size, and only tp_btf
 * programs (observation; nothing that could change what a task does). */
static int prepare(struct hbpf_loaded *l, uint64_t cgroup_id, uint32_t ring_size, char *err, size_t errlen) {
        struct bpf_map *ring = bpf_object__find_map_by_name(l->obj, "lk_events");
        struct bpf_map *ctrs = bpf_object__find_map_by_name(l->obj, "lk_counters");
        struct bpf_program *prog;
        size_t n = 0;

        if (!ring || bpf_map__type(ring) != BPF_MAP_TYPE_RINGBUF || !ctrs ||
            bpf_map__type(ctrs) != BPF_MAP_TYPE_ARRAY || !(bpf_map__map_flags(ctrs) & BPF_F_MMAPABLE) ||
            bpf_map__value_size(ctrs) != sizeof(uint64_t) || bpf_map__max_entries(ctrs) != LK_CTR_MAX)
                return snprintf(err, errlen, "the object lacks the lk_events ring buffer or the mmapable "
                                "lk_counters array of lk-observe.h"), -EINVAL;
        if (bpf_map__set_max_entries(ring, ring_size) < 0)
                return snprintf(err, errlen, "cannot size the ring buffer"), -EINVAL;
        bpf_object__for_each_program(prog, l->obj) {
                if (bpf_program__type(prog) != BPF_PROG_TYPE_TRACING ||
                    bpf_program__expected_attach_type(prog) != BPF_TRACE_RAW_TP)
                        return snprintf(err, errlen, "program %s is not a BTF tracepoint (tp_btf): refused",
                                        bpf_program__name(prog)), -EPERM;
                if (++n > HBPF_MAX_LINKS)
                        return snprintf(err, errlen, "more than %d programs", HBPF_MAX_LINKS), -E2BIG;
        }
        if (n == 0)
                return snprintf(err, errlen, "the object has no programs"), -EINVAL;
        return set_config(l->obj, cgroup_id, err, errlen);
}

int hbpf_load(const void *buf, size_t size, uint64_t cgroup_id, uint32_t ring_size, struct hbpf_loaded *ret,
              char *err, size_t errlen) {
        LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "lanekeeper");
        struct bpf_program *prog;
        int r;

        *ret = (struct hbpf_loaded) {};
        libbpf_set_print(libbpf_print);
        libbpf_last[0] = '\0';
        ret->obj = bpf_object__open_mem(buf, size, &opts);
        if (!ret->obj)
                return snprintf(err, errlen, "not a BPF object libbpf can open: %s", libbpf_last), -EINVAL;
        r = prepare(ret, cgroup_id, ring_size, err, errlen);
        if (r < 0)
                return hbpf_release(ret), r;
        r = bpf_object__load(ret->obj);
        if (r < 0)
                return snprintf(err, errlen, "the kernel refused the object: %s%s%s", strerror(-r),
                                libbpf_last[0] ? ": " : "", libbpf_last), hbpf_release(ret), r;
        ret->fds[ret->n_fds++] = bpf_map__fd(bpf_object__find_map_by_name(ret->obj, "lk_events"));
        ret->fds[ret->n_fds++] = bpf_map__fd(bpf_object__find_map_by_name(ret->obj, "lk_counters"));
        bpf_object__for_each_program(prog, ret->obj) {
                struct bpf_link *link = bpf_program__attach(prog);

                if (!link)
                        return snprintf(err, errlen, "cannot attach %s: %s", bpf_program__name(prog),
                                        strerror(errno)), hbpf_release(ret), -errno;
                ret->links[ret->n_links++] = link;
                ret->fds[ret->n_fds++] = bpf_link__fd(link);
        }
        return 0;
}

void hbpf_release(struct hbpf_loaded *l) {
        for (size_t i = 0; i < l->n_links; i++)
                bpf_link__destroy(l->links[i]);
        bpf_object__close(l->obj);
        *l = (struct hbpf_loaded) {};
}
