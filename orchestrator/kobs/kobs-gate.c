/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The determinism comparison of observed runs (../shared/reference/
 * determinism-gates.md): the canonical files compared as parsed JSON, with
 * what is run-local by nature left out ("run_id", and "measurements":
 * counts, times, kernel ids, the window), printed sorted and indented; a
 * difference is a FAIL line and a unified diff. The raw event stream is
 * not compared: its order is no claim. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kobs-gate.h"
#include "kobs-report.h"
#include "kobs-write.h"
#include "macro.h"
#include "store-file.h"

const char *const kobs_gate_files[KOBS_GATE_FILES] = {
        "capability-surface.json", "correlation-report.json", "observation-health.json",
};

int kobs_gate_normalise(const char *text, char **ret) {
        struct json_object *o = json_tokener_parse(text), *keep;
        const char *out;

        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        json_object_object_del(o, "run_id");
        json_object_object_del(o, "measurements");
        out = kobs_json_text(o, true, &keep);
        *ret = out ? strdup(out) : NULL;
        json_object_put(keep);
        json_object_put(o);
        return *ret ? 0 : -ENOMEM;
}

/* TEXT split into lines (in place). */
static char **lines_of(char *text, size_t *n) {
        size_t cap = 64;
        char **v = malloc(cap * sizeof *v);

        *n = 0;
        for (char *p = text; v && *p;) {
                char *nl = strchr(p, '\n');

                if (*n == cap) {
                        char **w = realloc(v, (cap *= 2) * sizeof *v);

                        if (!w)
                                return free(v), NULL;
                        v = w;
                }
                v[(*n)++] = p;
                if (!nl)
                        break;
                *nl = '\0';
                p = nl + 1;
        }
        return v;
}

#define CONTEXT 3
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define DIFF_MAX_CELLS (16u << 20)

/* The edit script from the table of longest common subsequences: ' ', '-', '+'. */
static char *edit_script(char **a, size_t na, char **b, size_t nb, size_t *ret_len) {
        uint32_t *t = calloc((na + 1) * (nb + 1), sizeof *t);
        char *ops = malloc(na + nb + 1);
        size_t i = 0, j = 0, k = 0;

        if (!t || !ops)
                return free(t), free(ops), NULL;
        for (size_t x = na; x-- > 0;)
                for (size_t y = nb; y-- > 0;)
                        t[x * (nb + 1) + y] = strcmp(a[x], b[y]) == 0 ? t[(x + 1) * (nb + 1) + y + 1] + 1 :
                                              MAX(t[(x + 1) * (nb + 1) + y], t[x * (nb + 1) + y + 1]);
        while (i < na || j < nb) {
                if (i < na && j < nb && strcmp(a[i], b[j]) == 0)
                        ops[k++] = ' ', i++, j++;
                else if (i < na && (j == nb || t[(i + 1) * (nb + 1) + j] >= t[i * (nb + 1) + j + 1]))
                        ops[k++] = '-', i++;   /* deletions first, as diff -u prints them */
                else
                        ops[k++] = '+', j++;
        }
        free(t);
        *ret_len = k;
        return ops;
}

/* Hunks of the script, CONTEXT lines around each change. */
static void print_hunks(FILE *out, char **a, char **b, const char *ops, size_t n) {
        size_t i = 0, ai = 0, bi = 0;

        while (i < n) {
                size_t s, e, as, bs, ac = 0, bc = 0, x, y, last;

                while (i < n && ops[i] == ' ')
                        i++, ai++, bi++;
                if (i == n)
                        return;
                s = i >= CONTEXT ? i - CONTEXT : 0;
                as = ai - (i - s);
                bs = bi - (i - s);
                /* extend while changes come within 2 * CONTEXT of each other */
                last = i;
                for (e = i; e < n; e++) {
                        if (ops[e] != ' ')
                                last = e;
                        else if (e - last > 2 * CONTEXT)
                                break;
                }
                e = MIN(n, last + 1 + CONTEXT);
                for (size_t k = s; k < e; k++)
                        ac += ops[k] != '+', bc += ops[k] != '-';
                fprintf(out, "@@ -%zu,%zu +%zu,%zu @@\n", as + 1, ac, bs + 1, bc);
                for (x = as, y = bs; s < e; s++) {
                        if (ops[s] == ' ')
                                fprintf(out, " %s\n", a[x++]), y++;
                        else if (ops[s] == '-')
                                fprintf(out, "-%s\n", a[x++]);
                        else
                                fprintf(out, "+%s\n", b[y++]);
                }
                for (; i < e; i++)
                        ai += ops[i] != '+', bi += ops[i] != '-';
        }
}

int kobs_unified_diff(const char *a_text, const char *b_text, const char *label_a, const char *label_b, FILE *out) {
        _cleanup_(freep) char *a_copy = strdup(a_text), *b_copy = strdup(b_text), *ops = NULL;
        _cleanup_(freep) char **a = NULL, **b = NULL;
        size_t na = 0, nb = 0, n = 0;

        if (strcmp(a_text, b_text) == 0)
                return 0;
        if (!a_copy || !b_copy || !(a = lines_of(a_copy, &na)) || !(b = lines_of(b_copy, &nb)))
                return -ENOMEM;
        fprintf(out, "--- %s\n+++ %s\n", label_a, label_b);
        if ((na + 1) * (nb + 1) > DIFF_MAX_CELLS || !(ops = edit_script(a, na, b, nb, &n))) {
                /* too large to align: the whole of both */
                fprintf(out, "@@ -1,%zu +1,%zu @@\n", na, nb);
                for (size_t i = 0; i < na; i++)
                        fprintf(out, "-%s\n", a[i]);
                for (size_t i = 0; i < nb; i++)
                        fprintf(out, "+%s\n", b[i]);
                return 1;
        }
        print_hunks(out, a, b, ops, n);
        return 1;
}

int kobs_gate_compare(int dir1, int dir2, const char *label1, const char *label2, FILE *out, char *err,
                      size_t errlen) {
        int changed = 0;

        for (size_t i = 0; i < KOBS_GATE_FILES; i++) {
                _cleanup_(freep) char *t1 = NULL, *t2 = NULL, *n1 = NULL, *n2 = NULL;
                char la[300], lb[300];
                size_t l1, l2;
                int r;

                if (store_read_file(dir1, kobs_gate_files[i], KOBS_MAX_FILE, &t1, &l1) < 0 ||
                    store_read_file(dir2, kobs_gate_files[i], KOBS_MAX_FILE, &t2, &l2) < 0)
                        return snprintf(err, errlen, "%s is missing in %s", kobs_gate_files[i], t1 ? label2 : label1),
                               -ENOENT;
                if (kobs_gate_normalise(t1, &n1) < 0 || kobs_gate_normalise(t2, &n2) < 0)
                        return snprintf(err, errlen, "%s in %s is not a JSON object", kobs_gate_files[i],
                                        n1 ? label2 : label1), -EBADMSG;
                if (strcmp(n1, n2) == 0)
                        continue;
                fprintf(out, "FAIL: %s changed between %s and %s\n", kobs_gate_files[i], label1, label2);
                snprintf(la, sizeof la, "%s/%s", label1, kobs_gate_files[i]);
                snprintf(lb, sizeof lb, "%s/%s", label2, kobs_gate_files[i]);
                r = kobs_unified_diff(n1, n2, la, lb, out);
                if (r < 0)
                        return snprintf(err, errlen, "out of memory"), r;
                changed++;
        }
        return changed;
}

static void reason(char *why, size_t size, const char *fmt, ...) _printf_(3, 4);
static void reason(char *why, size_t size, const char *fmt, ...) {
        size_t l = strlen(why);
        va_list ap;

        if (l + 3 >= size)
                return;
        if (l)
                l += (size_t) snprintf(why + l, size - l, "; ");
        va_start(ap, fmt);
        vsnprintf(why + l, size - l, fmt, ap);
        va_end(ap);
}

/* manifest.json against the files; every file's schema and run_id. */
static void accept_files(int dir, char *why, size_t size) {
        _cleanup_(freep) char *text = NULL;
        struct json_object *m, *files;
        const char *run_id;
        size_t len;

        if (store_read_file(dir, "manifest.json", KOBS_MAX_FILE, &text, &len) < 0 || !(m = json_tokener_parse(text)))
                return reason(why, size, "manifest.json is missing or not JSON");
        files = json_object_object_get(m, "files");
        run_id = json_object_get_string(json_object_object_get(m, "run_id"));
        if (!json_object_is_type(files, json_type_array) || json_object_array_length(files) != _KOBS_FILE_MAX || !run_id)
                reason(why, size, "manifest.json does not list the %d files with their run_id", _KOBS_FILE_MAX);
        for (size_t i = 0; json_object_is_type(files, json_type_array) && i < json_object_array_length(files); i++) {
                char w[400];

                if (kobs_check_entry(dir, json_object_array_get_idx(files, i), w, sizeof w) < 0)
                        reason(why, size, "%s", w);
        }
        for (size_t i = KOBS_HEALTH; run_id && i < _KOBS_FILE_MAX; i++) {
                _cleanup_(freep) char *t = NULL;
                struct json_object *o = NULL;

                if (store_read_file(dir, kobs_file_names[i], KOBS_MAX_FILE, &t, &len) < 0 || !(o = json_tokener_parse(t)) ||
                    !json_object_get_string(json_object_object_get(o, "schema")) ||
                    strcmp(json_object_get_string(json_object_object_get(o, "run_id")) ?: "", run_id) != 0)
                        reason(why, size, "%s lacks its schema or the run_id %s", kobs_file_names[i], run_id);
                json_object_put(o);
        }
        json_object_put(m);
}

bool kobs_gate_accept(int dir, const struct kobs_report *rep, const struct kobs_job *job, char *why, size_t size) {
        why[0] = '\0';
        if (strcmp(job->status, "completed") != 0)
                reason(why, size, "job %lld did not complete (%s)", job->id, job->status[0] ? job->status : "unknown");
        else if (strcmp(job->conclusion, "success") != 0)
                reason(why, size, "job %lld concluded %s, not success (a skip, exit 40 or 77, is a failure)", job->id,
                       job->conclusion[0] ? job->conclusion : "nothing");
        if (!rep->complete)
                reason(why, size, "kernel layer %s", rep->drops ? "partial_ringbuf_drops" : "partial (records refused)");
        if (rep->drops)
                reason(why, size, "%llu ring buffer drops (zero tolerance)", (unsigned long long) rep->drops);
        if (!rep->clean)
                reason(why, size, "cgroup correlation not clean");
        accept_files(dir, why, size);
        return why[0] == '\0';
}
