/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for lane files: any bytes parse without a crash; an
 * accepted file satisfies every rule the parser promises. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lane-file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct lane_desired l;
        static struct ini_diags d;
        FILE *f;

        if (size == 0 || size > 65536)
                return 0;
        f = fmemopen((void *) data, size, "r");
        if (!f)
                return 0;
        d = (struct ini_diags) {};
        if (lane_file_parse(f, &l, &d) == 0) {
                const char *reason;

                if (d.n != 0 || proto_validate_lane_name(l.name, &reason) < 0 ||
                    proto_validate_user_name(l.user, &reason) < 0 || proto_validate_abs_path(l.root, &reason) < 0 ||
                    (l.repository[0] != '\0') == (l.organisation[0] != '\0') || !lane_has_label(&l, "self-hosted"))
                        abort();
        } else if (d.n == 0 && d.dropped == 0)
                abort();   /* refused without a word */
        for (size_t i = 0; i < d.n; i++)
                if (d.d[i].line < 0 || !d.d[i].message[0])
                        abort();
        fclose(f);
        return 0;
}
