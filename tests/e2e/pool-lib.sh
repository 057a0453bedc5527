# The pool suites' common part (test-pool-supervise, test-pool-scaleset),
# sourced after harness.sh. pool_double starts the double with a GitHub
# App whose key the supervisor holds; pool_install writes the settings,
# one pool file and the shipped supervisor unit with the test's drop-in;
# the rest reads GitHub, systemd and the supervisor's audit records.

py=/usr/bin/python3
R=/srv/lanekeeper/runners
etc=/usr/local/etc/lanekeeper
policy=$etc/policy.conf
host=$(hostname)

pool_double() { # DOUBLE-ARGS...: the double for acme/site and App 4242
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$E2E_WORK/app.pem" 2>/dev/null
        openssl pkey -in "$E2E_WORK/app.pem" -pubout -out "$E2E_WORK/app.pub" 2>/dev/null
        e2e_start_double --repo acme/site --heartbeat-timeout 12 --app-id 4242 --app-public-key "$E2E_WORK/app.pub" \
                --installation-id 777 "$@"
        pat=$E2E_PAT port=$E2E_PORT
        . "$TESTS_SRCDIR/github/jobs-lib.sh"
}

pool_install() { # NAME POOL-KEYS SUPERVISE-ARGS: lanekeeper installed, pool NAME's file, the unit
        d=$E2E_WORK/dest/usr/local
        e2e_install_lanekeeper "$policy"
        e2e_policy "$host" "$R"
        printf '[github]\napi_url = http://127.0.0.1:%s\napp_id = 4242\ninstallation_id = 777\nprivate_key_file = /srv/lanekeeper/app.pem\ntimeout_s = 8\n[helper]\npolicy = %s\n[store]\ndir = /srv/lanekeeper/store\n[lanes]\ndir = %s/lanes.d\n[pools]\ndir = %s/pools.d\n[baseline]\nmin_free_mib = 1\ncommands = sh\n' \
                "$port" "$policy" "$etc" "$etc" >"$d/etc/lanekeeper/lanekeeper.conf"
        mkdir -p "$d/etc/lanekeeper/pools.d"
        printf '[pool]\nname = %s\nrepository = acme/site\nhost = %s\nroot = %s\nuser = lkrunner\n%b' \
                "$1" "$host" "$R" "$2" >"$d/etc/lanekeeper/pools.d/$1.conf"
        u=$E2E_WORK/units
        sed -e "s|@bindir@|/usr/local/bin|" "$TESTS_SRCDIR/../units/lanekeeper-pool.service.in" >"$u/lanekeeper-pool.service"
        mkdir -p "$u/lanekeeper-pool.service.d"
        printf '[Service]\nReadWritePaths=/srv/lanekeeper/store\nEnvironment=LANEKEEPER_CONFIG=%s/lanekeeper.conf\nExecStart=\nExecStart=/usr/local/bin/lanectl pool supervise %s\n' \
                "$etc" "$3" >"$u/lanekeeper-pool.service.d/test.conf"
}

pool_boot() { # SLOTS...: systemd booted, the store, the slots' lanes, the App's key
        e2e_boot || exit 1
        e2e_store_and_lanes $R "$pat" "$@"
        e2e_root install -o lanekeeper -m 600 "$E2E_WORK/app.pem" /srv/lanekeeper/app.pem
}

lanectl() { e2e_as lanekeeper /usr/local/bin/lanectl --config "$etc/lanekeeper.conf" "$@"; }
rootctl() { e2e_root env LANEKEEPER_CONFIG="$etc/lanekeeper.conf" /usr/local/bin/lanectl "$@"; }
field() { e2e_field "$1"; }
runners() { # "name:status:busy ..." of GitHub's runners, sorted
        api GET "/repos/acme/site/actions/runners?per_page=100" |
                "$py" -c 'import json,sys; print(" ".join(sorted("%s:%s:%s" % (r["name"], r["status"], r["busy"]) for r in json.load(sys.stdin)["runners"])))'
}
no_runners() { [ -z "$(runners)" ]; }
unit_state() { e2e_root systemctl show -P ActiveState "lanekeeper-lane@$1.service"; }
wait_for() { # SECONDS CMD...: until CMD succeeds
        local n=$(($1 * 10)); shift
        for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1
}
records() { e2e_audit_records 'x.get("command") == "pool-supervise"' "$1"; }   # EXPR over the supervisor's
live_slots() { # POOL N: how many of slots POOL-1..N have a running unit
        local n=0 i
        for i in $(seq "$2"); do case "$(unit_state "$1-$i")" in active|activating) n=$((n + 1)) ;; esac; done
        echo $n
}
supervisor_restarted() { # PID: systemd started the supervisor again, a new process
        local p; p=$(e2e_root systemctl show -P MainPID lanekeeper-pool.service)
        [ "$p" != 0 ] && [ "$p" != "$1" ] && [ "$(e2e_root systemctl show -P ActiveState lanekeeper-pool.service)" = active ]
}
