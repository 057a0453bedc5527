/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What lanectl gate run and lanectl proof share: the dispatch options, the
 * gate's output directory, and its result file gate.json (cli-gate.c). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include "kobs-observe.h"
#include "kobs-proof.h"
#include "lane-file.h"

struct cli;
int cmd_gate_run(struct cli *cli, int argc, char **argv);

/* --workflow/--dispatch ('W'), --ref ('f'), --input ('i') into D; 0, or
 * -EINVAL (said, as CMD's) for a bad value or another option. */
int cli_gate_dispatch_option(struct kobs_dispatch *d, int opt, const char *arg, const char *cmd);

/* --timeout ('t', 5 s to 24 h), --ringbuf-size ('R', as the protocol
 * allows), --object ('b', a policy name), which observe and gate run
 * share: 0 taken, 1 not one of them, -EINVAL (said, as CMD's). */
int cli_gate_observe_option(int opt, const char *arg, const char *cmd, unsigned *timeout_s, uint32_t *ring,
                            const char **object);

/* DIR made (or an empty or earlier gate's directory: its run-N, gate.json
 * and gate.log are replaced), opened into *RET_DIR, gate.log opened
 * afresh into *RET_LOG. */
int cli_gate_open_out(const char *dir, int *ret_dir, FILE **ret_log, char *err, size_t errlen);

/* gate.json as it begins: what was asked. */
struct json_object *cli_gate_result_new(const char *gate, const struct lane_desired *lane, const char *host,
                                        const struct kobs_dispatch *d, unsigned runs, const char *object);
/* One run's entry of "runs". */
struct json_object *cli_gate_run_json(unsigned n, const char *dir, const char *run_id, const struct kobs_job *job,
                                      bool accepted, const char *why);
/* A file that changed between run 1 and run N, into CHANGED. */
void cli_gate_changed(struct json_object *changed, unsigned n, const char *file);
/* The outcome into RESULT (taking RUNS and CHANGED): SAME -1 not compared. */
void cli_gate_result(struct json_object *result, struct json_object *runs, struct json_object *changed,
                     unsigned passed, unsigned requested, int same);
/* gate.json written into DIR (canonical, compact); *LOG flushed, synced
 * and closed. */
int cli_gate_write_result(int dir, struct json_object *result, FILE **log, char *err, size_t errlen);
