/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl's settings: loaded once, on demand, by the commands that use
 * them; and 'lanectl config show'. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "macro.h"
#include "settings.h"


int cmd_config(struct cli *cli, int argc, char **argv) {
        static const struct option options[] = {
                { "output", required_argument, NULL, 'o' },
                {}
        };
        const struct settings *s;
        bool json = false;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'o':
                        if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
                                return fprintf(stderr, "lanectl config: --output is text or json\n"), 2;
                        json = strcmp(optarg, "json") == 0;
                        break;
                default:
                        return 2;
                }
        if (optind + 1 != argc || strcmp(argv[optind], "show") != 0) {
                fprintf(stderr, "usage: lanectl [--config FILE] config show [--output text|json]\n");
                return 2;
        }
        if (cli_settings(cli, &s) < 0)
                return 1;
        if (json) {
                struct json_object *o = json_object_new_object(), *cmds;

                json_object_object_add(o, "schema", json_object_new_string("lanekeeper.settings/1"));
                json_object_object_add(o, "api_url", json_object_new_string(s->api_url));
                json_object_object_add(o, "auth", json_object_new_string(settings_auth(s)));
                if (s->app_id) {
                        json_object_object_add(o, "app_id", json_object_new_uint64(s->app_id));
                        json_object_object_add(o, "installation_id", json_object_new_uint64(s->installation_id));
                        json_object_object_add(o, "private_key_file", json_object_new_string(s->private_key_file));
                }
                if (s->token_file[0])
                        json_object_object_add(o, "token_file", json_object_new_string(s->token_file));
                json_object_object_add(o, "timeout_s", json_object_new_uint64(s->timeout_s));
                json_object_object_add(o, "store_dir", json_object_new_string(s->store_dir));
                json_object_object_add(o, "lanes_dir", json_object_new_string(s->lanes_dir));
                json_object_object_add(o, "pools_dir", json_object_new_string(s->pools_dir));
                json_object_object_add(o, "helper_socket", json_object_new_string(s->helper_socket));
                json_object_object_add(o, "policy_file", json_object_new_string(s->policy_file));
                json_object_object_add(o, "min_free_mib", json_object_new_uint64(s->min_free_mib));
                cmds = json_object_new_array();
                for (size_t i = 0; i < s->n_commands; i++)
                        json_object_array_add(cmds, json_object_new_string(s->commands[i]));
                json_object_object_add(o, "commands", cmds);
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
                return 0;
        }
        printf("api_url          %s\n", s->api_url);
        printf("auth             %s\n", settings_auth(s));
        if (s->app_id)
                printf("app_id           %lu\ninstallation_id  %lu\nprivate_key_file %s\n", s->app_id,
                       s->installation_id, s->private_key_file);
        if (s->token_file[0])
                printf("token_file       %s\n", s->token_file);
        printf("timeout_s        %lu\n", s->timeout_s);
        printf("store_dir        %s\nlanes_dir        %s\npools_dir        %s\nhelper_socket    %s\npolicy_file      %s\n",
               s->store_dir, s->lanes_dir, s->pools_dir, s->helper_socket, s->policy_file);
        printf("min_free_mib     %lu\ncommands        ", s->min_free_mib);
        for (size_t i = 0; i < s->n_commands; i++)
                printf("%s%s", i ? ", " : " ", s->commands[i]);
        printf("\n");
        return 0;
}
