/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Comparing observed runs (lanectl gate diff; lanectl gate run's runs 2..N
 * against run 1). */
#pragma once

#include <stdbool.h>
#include <stdio.h>

struct kobs_job;
struct kobs_report;

#define KOBS_GATE_FILES 3
extern const char *const kobs_gate_files[KOBS_GATE_FILES];

/* TEXT (a JSON object) without run_id and measurements, keys sorted,
 * indented: what the gate compares (the caller frees *RET). */
int kobs_gate_normalise(const char *text, char **ret);
/* A unified diff of A and B (3 lines of context) with the labels; 0 when
 * equal, 1 when printed. */
int kobs_unified_diff(const char *a, const char *b, const char *label_a, const char *label_b, FILE *out);
/* The gate files of two run directories: for each that differs, "FAIL:
 * FILE changed between LABEL1 and LABEL2" and its diff on OUT. The number
 * that differ, or -errno with ERR (a file missing or not JSON). */
int kobs_gate_compare(int dir1, int dir2, const char *label1, const char *label2, FILE *out, char *err,
                      size_t errlen);

/* Single-run acceptance of the observed run written in DIR (REP its
 * report, JOB its job as GitHub ended it): the job concluded success (a
 * skip, exit 40 or 77, concludes failure: no pass), the kernel layer
 * complete with 0 drops, the correlation clean, and every file as
 * manifest.json says, each with a schema and the one run_id. Whether it
 * passed; WHY gets every reason it did not, "; "-separated. */
bool kobs_gate_accept(int dir, const struct kobs_report *rep, const struct kobs_job *job, char *why, size_t size);
