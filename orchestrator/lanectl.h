/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

struct settings;

/* lanectl helper VERB [LANE] [options]: exit 0 ok, 1 refused or failed,
 * 2 usage, 3 helper unavailable. */
int cmd_helper(int argc, char **argv);

/* lanectl lane validate [--lanes-dir DIR] [FILE...]: exit 0 all valid,
 * 1 errors, 2 usage. */
int cmd_lane(int argc, char **argv);

/* lanectl config show [--output text|json] */
int cmd_config(int argc, char **argv);

/* --config FILE from main(); the settings, loaded on first use from that
 * file, LANEKEEPER_CONFIG, or SYSCONFDIR/lanekeeper/lanekeeper.conf (which
 * may be absent: built-in defaults then). Errors are printed. */
void lanectl_set_config(const char *path);
int lanectl_settings(const struct settings **ret);

/* lanectl audit list | show SEQ | verify */
int cmd_audit(int argc, char **argv);
