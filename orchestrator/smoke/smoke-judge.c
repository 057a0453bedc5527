/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The smoke's pure part (smoke.h): the workflow it dispatches, GitHub's
 * job object read, and the verdict on an ended job and its log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "gh-json.h"
#include "smoke.h"

/* runs-on is the lane's labels, given as a JSON array (fromJSON); the
 * nonce reaches the step through env, never pasted into its script. */
static const char workflow[] =
        "# lanekeeper's smoke workflow (lanectl smoke --print-workflow). Commit it as\n"
        "# .github/workflows/" SMOKE_WORKFLOW_DEFAULT " on the default branch of every\n"
        "# repository a lane serves; lanectl smoke dispatches it with the lane's\n"
        "# routing labels and a nonce, and passes only when the job ran on that\n"
        "# lane's runner, concluded success and printed the marker with the nonce.\n"
        "name: lanekeeper smoke\n"
        "run-name: lanekeeper smoke ${{ inputs.nonce }}\n"
        "on:\n"
        "  workflow_dispatch:\n"
        "    inputs:\n"
        "      labels:\n"
        "        description: The lane's routing labels, a JSON array (set by lanectl smoke)\n"
        "        required: true\n"
        "        type: string\n"
        "      nonce:\n"
        "        description: This smoke's nonce (set by lanectl smoke)\n"
        "        required: true\n"
        "        type: string\n"
        "      sleep:\n"
        "        description: Seconds the step waits first (lanectl smoke --negative)\n"
        "        required: false\n"
        "        type: string\n"
        "        default: \"0\"\n"
        "      timeout:\n"
        "        description: The job's timeout-minutes (lanectl smoke --negative)\n"
        "        required: false\n"
        "        type: string\n"
        "        default: \"10\"\n"
        "permissions:\n"
        "  contents: read\n"
        "jobs:\n"
        "  smoke:\n"
        "    runs-on: ${{ fromJSON(inputs.labels) }}\n"
        "    timeout-minutes: ${{ fromJSON(inputs.timeout) }}\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "        with:\n"
        "          persist-credentials: false\n"
        "      - name: lanekeeper smoke\n"
        "        env:\n"
        "          NONCE: ${{ inputs.nonce }}\n"
        "          SLEEP: ${{ inputs.sleep }}\n"
        "        run: |\n"
        "          case \"$SLEEP\" in *[!0-9]*) echo \"sleep: not a number\"; exit 2;; esac\n"
        "          sleep \"$SLEEP\"\n"
        "          printf '" SMOKE_MARKER " %s on %s\\n' \"$NONCE\" \"$RUNNER_NAME\"\n";

const char *smoke_workflow(void) {
        return workflow;
}

int smoke_nonce(struct smoke_expect *e) {
        unsigned char b[SMOKE_NONCE_HEX / 2];

        if (getrandom(b, sizeof b, 0) != (ssize_t) sizeof b)
                return -EIO;
        for (size_t i = 0; i < sizeof b; i++)
                snprintf(e->nonce + 2 * i, 3, "%02x", b[i]);
        return 0;
}

int smoke_parse_job(struct json_object *o, struct smoke_job *ret) {
        struct json_object *steps = gh_json_member(o, "steps");
        bool after_setup = false;

        *ret = (struct smoke_job) { .id = gh_json_int(o, "id"), .runner_id = gh_json_int(o, "runner_id") };
        if (!ret->id)
                return -EBADMSG;
        snprintf(ret->name, sizeof ret->name, "%s", gh_json_str(o, "name") ?: "");
        snprintf(ret->status, sizeof ret->status, "%s", gh_json_str(o, "status") ?: "");
        snprintf(ret->conclusion, sizeof ret->conclusion, "%s", gh_json_str(o, "conclusion") ?: "");
        snprintf(ret->runner_name, sizeof ret->runner_name, "%s", gh_json_str(o, "runner_name") ?: "");
        snprintf(ret->html_url, sizeof ret->html_url, "%s", gh_json_str(o, "html_url") ?: "");
        ret->created = gh_json_time(o, "created_at");
        ret->completed = gh_json_time(o, "completed_at");
        if (strcmp(ret->status, "queued") != 0)     /* a queued job's started_at is no start */
                ret->started = gh_json_time(o, "started_at");
        for (size_t i = 0; steps && json_object_is_type(steps, json_type_array) && i < json_object_array_length(steps);
             i++) {
                struct json_object *s = json_object_array_get_idx(steps, i);
                const char *name = gh_json_str(s, "name") ?: "", *concl = gh_json_str(s, "conclusion");

                if (strcmp(name, "Set up job") == 0) {
                        after_setup = true;
                        continue;
                }
                if (after_setup && !ret->first_step && !(concl && strcmp(concl, "skipped") == 0))
                        ret->first_step = gh_json_time(s, "started_at");
        }
        return 0;
}

bool smoke_runner_ok(const struct smoke_expect *e, const char *name, long long id) {
        size_t n = strlen(e->name);
        char *end;
        unsigned long k;

        if (!e->pool)
                return id == e->runner_id && strcasecmp(name, e->name) == 0;
        if (strncasecmp(name, e->name, n) != 0 || name[n] != '-' || name[n + 1] < '1' || name[n + 1] > '9')
                return false;
        k = strtoul(name + n + 1, &end, 10);
        return *end == '\0' && k >= 1 && k <= e->pool_max;
}

/* The log's first "##[error]" line (the runner's annotation of why). */
static void first_error(const char *log, char *buf, size_t size) {
        const char *p = log ? strstr(log, "##[error]") : NULL;
        size_t len;

        buf[0] = '\0';
        if (!p)
                return;
        p += strlen("##[error]");
        len = strcspn(p, "\r\n");
        snprintf(buf, size, ": %.*s", (int) (len > 300 ? 300 : len), p);
}

static bool has_marker(const char *log, const char *nonce) {
        char want[sizeof SMOKE_MARKER + SMOKE_NONCE_HEX + 8];

        snprintf(want, sizeof want, SMOKE_MARKER " %s ", nonce);
        return log && strstr(log, want) != NULL;
}

void smoke_judge(const struct smoke_expect *e, const struct smoke_job *j, const char *log, struct smoke_result *r) {
        char why[400];
        const char *who = e->pool ? "pool" : "lane";

        r->have_job = true;
        r->job = *j;
        r->claimed = j->runner_id != 0 || j->runner_name[0];
        r->marker = has_marker(log, e->nonce);
        r->queue_wait_s = r->claimed && j->started && j->created ? (long long) (j->started - j->created) : -1;
        r->setup_s = j->first_step && j->started ? (long long) (j->first_step - j->started) : -1;
        r->duration_s = r->claimed && j->completed && j->started ? (long long) (j->completed - j->started) : -1;
        r->passed = false;
        if (!r->claimed)
                snprintf(r->reason, sizeof r->reason, "no runner claimed the job (labels asked: %s%s)", e->labels[0],
                         e->n_labels > 1 ? ", ..." : "");
        else if (!smoke_runner_ok(e, j->runner_name, j->runner_id))
                snprintf(r->reason, sizeof r->reason, "the job ran on runner %s (id %lld), not on %s %s's%s",
                         j->runner_name, j->runner_id, who, e->name, e->pool ? " slots" : " runner");
        else if (strcmp(j->conclusion, "success") != 0) {
                first_error(log, why, sizeof why);
                snprintf(r->reason, sizeof r->reason, "the job concluded %s%s", j->conclusion[0] ? j->conclusion : "nothing",
                         why);
        } else if (!log)
                snprintf(r->reason, sizeof r->reason, "the job's log could not be read");
        else if (!r->marker)
                snprintf(r->reason, sizeof r->reason, "the step's marker line (\"" SMOKE_MARKER " %s\") is not in the job's log",
                         e->nonce);
        else {
                r->passed = true;
                r->reason[0] = '\0';
        }
}
