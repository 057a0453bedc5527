/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the JSON that observation reads: GitHub's
 * list-runners response and a runner directory's .runner file. Whatever is
 * accepted holds only printable names: a name GitHub gave is kept as data,
 * and keeping it again changes nothing (valid UTF-8, no control character,
 * at most 255 bytes); a .runner's name is a runner name lanekeeper allows. */
#include <string.h>
#include <stdint.h>
#include <stdlib.h>

#include "inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct inventory inv;
        struct runner_file rf;
        char err[256];
        const char *reason;

        if (inventory_parse((const char *) data, size, &inv, err, sizeof err) == 0) {
                for (size_t i = 0; i < inv.n; i++) {
                        const char *name = inv.runners[i].name;
                        char again[PROTO_FOREIGN_NAME_MAX + 1];

                        if (proto_keep_foreign_name(name, strlen(name), again, sizeof again) != 0 || strcmp(again, name) != 0 ||
                            inv.runners[i].id <= 0)
                                abort();
                }
                inventory_free(&inv);
        } else if (!err[0])
                abort();
        if (runner_file_parse((const char *) data, size, &rf, err, sizeof err) == 0 &&
            (proto_validate_runner_name(rf.agent_name, &reason) < 0 || rf.agent_id <= 0))
                abort();
        return 0;
}
