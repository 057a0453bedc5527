/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON renderers (pure) for the desired state, an observation and a plan:
 * the "lanes[]" entries of lanekeeper.plan/1 and of planned audit records.
 * Field names are the schema's; see lanectl(1). */
#pragma once

#include "lane-file.h"
#include "plan.h"

struct json_object;

struct json_object *desired_to_json(const struct lane_desired *d);
struct json_object *observation_to_json(const struct observation *o);
struct json_object *plan_to_json(const struct plan *p);
/* { lane, status, action, shape, blockers, next_steps, desired, observed } */
struct json_object *lane_plan_to_json(const struct lane_desired *d, const struct observation *o, const struct plan *p);
