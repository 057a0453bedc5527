/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* lanectl helper VERB [LANE] [options]: exit 0 ok, 1 refused or failed,
 * 2 usage, 3 helper unavailable. */
int cmd_helper(int argc, char **argv);

/* lanectl lane validate [--lanes-dir DIR] [FILE...]: exit 0 all valid,
 * 1 errors, 2 usage. */
int cmd_lane(int argc, char **argv);
