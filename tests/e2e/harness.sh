#!/bin/bash
# A real systemd, booted as PID 1 in private PID, mount, cgroup, UTS and IPC
# namespaces, for end-to-end tests (DESIGN §7). Source this file, then:
#   e2e_init              root check (exit 77, or fail with CI=true), work dir
#   e2e_need_jobs         the double's and kit's Python modules and dbus, then e2e_init
#   e2e_add_user NAME     a test user in the private /etc/passwd and /etc/group
#   e2e_install DESTDIR   what 'make install DESTDIR=' produced, seen inside
#   e2e_install_lanekeeper POLICY  lanectl, helper, register, units, kit
#   e2e_start_double ARGS...  the loopback GitHub double (E2E_PAT, E2E_PORT)
#   e2e_issued_tokens FILE [EXTRA...]  the double's tokens (and EXTRA) into FILE
#   e2e_leak_scan TOKENS FILE...  no token of TOKENS in any FILE of $E2E_WORK
#   e2e_audit_records FILTER EXPR  EXPR over the store's audit records x that FILTER holds for
#   e2e_bind FILE TARGET  a private copy of FILE mounted over TARGET inside
#   e2e_boot              boot; E2E_PID is systemd's pid in the host namespace
#   e2e_boot_code CODE    boot what CODE stages (a root of its own), as e2e_boot does
#   e2e_root CMD...       run CMD inside as root
#   e2e_as USER CMD...    run CMD inside as USER (setpriv, no PAM, no_new_privs)
#   e2e_as_plain USER CMD...  as USER without no_new_privs (a login-like
#                         caller, for references such as sudo)
#   e2e_shutdown          poweroff, then remove cgroups, mounts and files
# The host is never touched: /tmp, /var/tmp, /var/log/journal, /srv and
# /etc/systemd/system are private tmpfs inside, passwd and group are
# bind-mounted copies, units that act on the kernel or the console are
# masked, and an EXIT trap undoes everything even when a test fails.
# (../shared/reference/systemd-test-harness.md has the measurements.)

E2E_PID=
E2E_WORK=
E2E_CGROUP=
E2E_UNSHARE_PID=

# The e2e tests' counters: check WHAT CMD... counts CMD's success, or
# prints "FAIL: WHAT"; a test ends with its counts and fails on any FAIL.
passed=0 failed=0
ok()  { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }

e2e_log() { printf 'e2e: %s\n' "$*" >&2; }

e2e_skip() {
        if [ "${CI:-}" = true ]; then
                e2e_log "cannot run: $* (CI=true: a skip is a failure)"
                exit 1
        fi
        e2e_log "SKIP: $*"
        exit 77
}

# Where the cgroup2 hierarchy is mounted, from /proc/self/mountinfo: at
# /sys/fs/cgroup alone (stock Debian 12: unified), or beside the v1
# controllers (hybrid: /sys/fs/cgroup/unified), or elsewhere. The first
# cgroup2 mount that is reachable and really cgroup2; "" when none.
e2e_cgroup2_mount() {
        local mp
        # mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
        while read -r mp; do
                mp=$(printf '%b' "$mp")   # \040 and the like, as the kernel escapes them
                if [ "$(stat -fc %T "$mp" 2>/dev/null)" = cgroup2fs ]; then
                        printf '%s\n' "$mp"
                        return 0
                fi
        done < <(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
                        /proc/self/mountinfo)
}

e2e_init() {
        [ "$(id -u)" -eq 0 ] || e2e_skip "needs root"
        for c in unshare nsenter setpriv mountpoint; do
                command -v "$c" >/dev/null || e2e_skip "needs $c (util-linux)"
        done
        [ -x /lib/systemd/systemd ] || e2e_skip "needs systemd installed (/lib/systemd/systemd)"
        [ -d /srv ] && [ -d /var/log/journal ] || e2e_skip "needs /srv and /var/log/journal to mount over"
        [ -n "$(e2e_cgroup2_mount)" ] || e2e_skip "needs a cgroup2 hierarchy mounted (none in /proc/self/mountinfo)"
        # lanectl's built-in settings path is the build's sysconfdir: the
        # host's /etc under --sysconfdir=/etc, distcheck's _inst in the build
        # tree (unreadable by the maintainer under a 0700 /root). A test
        # reads the staged settings only, whatever the prefix and the
        # checkout's place (e2e_boot makes the file when a test wrote none).
        export LANEKEEPER_CONFIG=/usr/local/etc/lanekeeper/lanekeeper.conf
        # Not under /tmp: the namespace hides the host's /tmp behind its own.
        E2E_WORK=$(mktemp -d /var/lib/lanekeeper-e2e.XXXXXX)
        trap e2e_shutdown EXIT
        trap "exit 143" TERM INT   # a killed test still cleans up (EXIT runs)
        mkdir -p "$E2E_WORK/units" "$E2E_WORK/dest"
        cp /etc/passwd "$E2E_WORK/passwd"
        cp /etc/group "$E2E_WORK/group"
}

# What a test of jobs needs besides root: the double's and the kit's Python
# modules and a system bus; then e2e_init.
e2e_need_jobs() {
        /usr/bin/python3 -c 'import jsonschema, jwt, cryptography, yaml, prometheus_client' 2>/dev/null ||
                e2e_skip "needs python3-jsonschema python3-jwt python3-cryptography python3-yaml python3-prometheus-client"
        command -v curl >/dev/null || e2e_skip "needs curl (the double's test-only endpoints)"
        e2e_init
        command -v dbus-daemon >/dev/null || e2e_skip "needs dbus-daemon (package dbus) for the system bus"
}

# Every token the double has issued, and EXTRA values: one a line, sorted, into FILE.
e2e_issued_tokens() { # FILE [EXTRA...]
        local f=$1; shift
        { curl -sf "http://127.0.0.1:$E2E_PORT/_double/issued" |
                /usr/bin/python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["tokens"]))'
          printf '%s\n' "$@"; } | sort -u | grep -v '^$' >"$f"
}

# The leak scan: each FILE (in $E2E_WORK) holds none of the tokens listed in TOKENS.
e2e_leak_scan() { # TOKENS FILE...
        local t=$1 f hits; shift
        for f in "$@"; do
                hits=$(grep -c -F -f "$t" "$E2E_WORK/$f" 2>/dev/null); hits=${hits:-0}
                check "leak scan: $f holds no token ($hits hits)" test "$hits" = 0
        done
}

e2e_add_user() { # NAME [UID]
        local name=$1 uid=${2:-}
        if [ -z "$uid" ]; then
                uid=$(awk -F: '$3 >= 61000 && $3 < 62000 { if ($3 > m) m = $3 } END { print (m ? m + 1 : 61000) }' \
                        "$E2E_WORK/passwd")
        fi
        echo "$name:x:$uid:$uid:lanekeeper e2e:/nonexistent:/usr/sbin/nologin" >>"$E2E_WORK/passwd"
        echo "$name:x:$uid:" >>"$E2E_WORK/group"
}

# The maintainer lanekeeper and the lane user lkrunner: lanekeeper reads
# lane directories through lkrunner's group; lkrunner's home is the lane
# directory ROOT/LANE (baseline home_under_roots).
e2e_lane_users() { # ROOT LANE
        e2e_add_user lanekeeper
        e2e_add_user lkrunner
        sed -i "s/^lkrunner:x:\([0-9]*\):$/lkrunner:x:\1:lanekeeper/" "$E2E_WORK/group"
        sed -i "s|^\(lkrunner:x:[0-9]*:[0-9]*:[^:]*:\)[^:]*:|\1$1/$2:|" "$E2E_WORK/passwd"
}

e2e_store_and_lanes() { # ROOT TOKEN LANE...: after e2e_boot, the maintainer's store and token
        # file (0600) under /srv/lanekeeper, and each lane's directory in ROOT with the kit installed
        local root=$1 token=$2; shift 2
        e2e_root sh -c "set -e
        mkdir -p $root /srv/lanekeeper/store && chmod 755 /srv/lanekeeper $root
        chown lanekeeper:lanekeeper /srv/lanekeeper/store
        printf '%s\n' '$token' > /srv/lanekeeper/token
        chown lanekeeper /srv/lanekeeper/token && chmod 600 /srv/lanekeeper/token
        for l in $*; do mkdir -m 750 $root/\$l && $E2E_WORK/kit/install $root/\$l && chown -R lkrunner:lkrunner $root/\$l; done"
}

e2e_field() { # EXPR over the JSON on standard input, as d
        /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"
}

# The audit store's records (the e2e tests' store, /srv/lanekeeper/store),
# in order: EXPR over those x for which FILTER holds, as a list r.
e2e_audit_records() { # FILTER EXPR
        e2e_root sh -c 'cd /srv/lanekeeper/store/audit && ls | grep "^[0-9]" | sort -n | xargs cat' |
                /usr/bin/python3 -c 'import json,sys
r=[]
for line in sys.stdin.read().replace("}{", "}\n{").splitlines():
    try:
        x=json.loads(line)
    except ValueError:
        continue
    if eval(sys.argv[1], {"x": x}):
        r.append(x)
print(eval(sys.argv[2], {"r": r}))' "$1" "$2"
}

e2e_prom() { # FILE EXPR: EXPR over FILE's metrics parsed by prometheus_client, as
        # m = {(name, labels-as-sorted-tuple): value}
        /usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
m = {}
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        m[(s.name, tuple(sorted(s.labels.items())))] = s.value
print(eval(sys.argv[2], {"m": m}))' "$@"
}

e2e_bind() { # FILE TARGET (TARGET must exist on the host; it is never written)
        local n; n=$(ls "$E2E_WORK" | grep -c '^bind\.' || true)
        cp -p "$1" "$E2E_WORK/bind.$n"
        echo "$E2E_WORK/bind.$n $2" >>"$E2E_WORK/binds"
}

e2e_uid() { awk -F: -v n="$1" '$1 == n { print $3 }' "$E2E_WORK/passwd"; }

e2e_install() { # DESTDIR of 'make install', prefix /usr/local
        cp -a "$1/." "$E2E_WORK/dest/"
}

# The loopback GitHub double (tests/github/ghdouble.py; the namespace
# shares the host's network) with a fresh personal access token and the
# given arguments; its log in $E2E_WORK/double.log. Sets E2E_PAT,
# E2E_PORT; e2e_shutdown stops it.
E2E_DOUBLE_PID=
e2e_start_double() { # ARGS...
        E2E_PAT="ghp_$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 36)"
        /usr/bin/python3 -B "$TESTS_SRCDIR/github/ghdouble.py" --port-file "$E2E_WORK/port" --token "$E2E_PAT" "$@" \
                >"$E2E_WORK/double.log" 2>&1 &
        E2E_DOUBLE_PID=$!
        for _ in $(seq 100); do [ -s "$E2E_WORK/port" ] && break; sleep 0.05; done
        E2E_PORT=$(cat "$E2E_WORK/port")
}

# What lanectl apply needs, as 'make install' with prefix /usr/local puts it
# (seen inside as /usr/local): lanectl, lanekeeper-helper and
# lanekeeper-register from LANECTL, LANEKEEPER_HELPER, LANEKEEPER_REGISTER;
# the helper's socket and service (run with --policy POLICY); the shipped
# tmpfiles.d line of the registration hand-off (created at boot); and the
# runner kit in $E2E_WORK/kit, where the namespace sees it (a source tree
# under the host's /tmp is hidden inside). Call before e2e_boot.
e2e_install_lanekeeper() { # POLICY
        local d=$E2E_WORK/dest/usr/local src=$TESTS_SRCDIR/.. u=$E2E_WORK/units
        install -D -m 755 "$LANEKEEPER_HELPER" "$d/libexec/lanekeeper/lanekeeper-helper"
        install -D -m 755 "$LANEKEEPER_REGISTER" "$d/libexec/lanekeeper/lanekeeper-register"
        install -D -m 755 "$LANECTL" "$d/bin/lanectl"
        install -d -m 755 "$d/etc/lanekeeper/lanes.d" "$d/lib/tmpfiles.d" "$u/sockets.target.wants" "$E2E_WORK/kit"
        sed -e "s|@pkglibexecdir@|/usr/local/libexec/lanekeeper|" "$src/helper/lanekeeper-helper.socket.in" \
                >"$u/lanekeeper-helper.socket"
        sed -e "s|@pkglibexecdir@/lanekeeper-helper|/usr/local/libexec/lanekeeper/lanekeeper-helper --policy $1|" \
                "$src/helper/lanekeeper-helper.service.in" >"$u/lanekeeper-helper.service"
        ln -sf ../lanekeeper-helper.socket "$u/sockets.target.wants/lanekeeper-helper.socket"
        # The load-bpf instance and the observation object (lanekeeper-helper(8)).
        sed -e "s|@pkglibexecdir@|/usr/local/libexec/lanekeeper|" "$src/helper/lanekeeper-helper-bpf.socket.in" \
                >"$u/lanekeeper-helper-bpf.socket"
        sed -e "s|@pkglibexecdir@/lanekeeper-helper|/usr/local/libexec/lanekeeper/lanekeeper-helper --policy $1|" \
                "$src/helper/lanekeeper-helper-bpf.service.in" >"$u/lanekeeper-helper-bpf.service"
        ln -sf ../lanekeeper-helper-bpf.socket "$u/sockets.target.wants/lanekeeper-helper-bpf.socket"
        install -D -m 644 "$LANEKEEPER_BPF_OBJECT" "$d/lib/lanekeeper/bpf/lanekeeper-observe.bpf.o"
        grep -E '^d /run/lanekeeper-register ' "$src/policy/tmpfiles.d/lanekeeper.conf" \
                >"$d/lib/tmpfiles.d/lanekeeper-register.conf"
        cp -p "$TESTS_SRCDIR/runner-kit/install" "$TESTS_SRCDIR/runner-kit/kit.py" "$TESTS_SRCDIR/runner-kit/worker.py" "$E2E_WORK/kit/"
}

# FILE's identity as /proc/locks writes it (MAJOR:MINOR:INODE, the device
# in hex): an inode number alone matches locks on other file systems, the
# tmpfs of a test running beside this one included.
e2e_lock_id() { # FILE
        e2e_root stat -c '%Hd %Ld %i' "$1" | awk '{ printf "%02x:%02x:%s", $1, $2, $3 }'
}

# Whether anyone holds a flock on FILE.
e2e_flocked() { # FILE
        grep -qE "FLOCK .* $(e2e_lock_id "$1") " /proc/locks
}

# policy.conf under the staged /usr/local: maintainer lanekeeper, lane user
# lkrunner under ROOT, repository acme/site (lanekeeper-policy(5)).
e2e_policy() { # HOST ROOT
        printf '[helper]\nmaintainers = lanekeeper\nhost = %s\n[lanes]\nusers = lkrunner\nroots = %s\nrepositories = acme/site\n' \
                "$1" "$2" >"$E2E_WORK/dest/usr/local/etc/lanekeeper/policy.conf"
        chmod 644 "$E2E_WORK/dest/usr/local/etc/lanekeeper/policy.conf"
}

# The policy's [bpf] pin of the installed observation object, as NAME
# (default observe); DIGEST overrides the object's own sha256.
e2e_policy_bpf() { # [NAME [DIGEST]]
        local obj=$E2E_WORK/dest/usr/local/lib/lanekeeper/bpf/lanekeeper-observe.bpf.o
        local digest=${2:-$(sha256sum "$obj" | cut -d' ' -f1)}
        printf '[bpf]\n%s = /usr/local/lib/lanekeeper/bpf/lanekeeper-observe.bpf.o sha256:%s\n' "${1:-observe}" "$digest" \
                >>"$E2E_WORK/dest/usr/local/etc/lanekeeper/policy.conf"
}

# Units that would act on the host's kernel, devices, clock or console.
E2E_MASK="systemd-sysctl.service systemd-binfmt.service systemd-modules-load.service
systemd-remount-fs.service systemd-udevd.service systemd-udev-trigger.service
systemd-udev-settle.service systemd-udevd-control.socket systemd-udevd-kernel.socket
systemd-hwdb-update.service systemd-random-seed.service systemd-journal-flush.service
getty.target getty@.service serial-getty@.service console-getty.service
systemd-timesyncd.service systemd-networkd.service systemd-resolved.service
systemd-tmpfiles-clean.timer systemd-firstboot.service systemd-machine-id-commit.service
systemd-update-utmp.service systemd-update-utmp-runlevel.service systemd-ask-password-console.path
systemd-ask-password-wall.path sys-kernel-debug.mount sys-kernel-config.mount sys-fs-fuse-connections.mount
dev-hugepages.mount dev-mqueue.mount proc-sys-fs-binfmt_misc.automount apt-daily.timer
apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer logrotate.timer
cron.service ssh.service rsyslog.service"

# Inside the namespace only: the directory DIR (a path compiled into the
# build: its pkglibexecdir) shows SRC, whatever the prefix. DIR, or its
# nearest existing ancestor, gets an overlay whose upper layer is a tmpfs,
# so DIR can be made there and SRC bound over it; nothing is written on the
# host. Under /tmp or /var/tmp (the private tmpfs) it is simply made.
e2e_place() { # WORK SRC DIR
        local work=$1 src=$2 dir=$3 anc t
        case "$dir" in
        /tmp/*|/var/tmp/*) mkdir -p "$dir" ;;   # seen by the helper; a lane unit's PrivateTmp hides it (e2e_boot says so)
        *)
                anc=$dir
                while [ ! -d "$anc" ]; do anc=$(dirname "$anc"); done
                if [ "$anc" != "$dir" ]; then
                        [ "$anc" != / ] || { echo "e2e: cannot place $dir: no part of it exists"; return 1; }
                        t=$work/place/$(printf '%s' "$anc" | tr / _)
                        mkdir -p "$t" && mount -t tmpfs -o mode=755 tmpfs "$t" && mkdir "$t/upper" "$t/work"
                        mount -t overlay overlay -o "lowerdir=$anc,upperdir=$t/upper,workdir=$t/work" "$anc" ||
                                { echo "e2e: cannot place $dir: no overlay over $anc"; return 1; }
                        mkdir -p "$dir"
                fi ;;
        esac
        mount --bind "$src" "$dir"
}

# Runs as PID 1 of the new namespaces, then becomes systemd.
e2e_stage_two() {
        local work=$1
        set -e
        mount --make-rprivate /
        # First, before anything is mounted beneath: lane units run the
        # registration wrapper from the build's own pkglibexecdir (compiled
        # into the template), which need not be the staged /usr/local's.
        local lib=${PKGLIBEXECDIR:-/usr/local/libexec/lanekeeper}
        if [ "$lib" != /usr/local/libexec/lanekeeper ] && [ -d "$work/dest/usr/local/libexec/lanekeeper" ]; then
                e2e_place "$work" "$work/dest/usr/local/libexec/lanekeeper" "$lib"
        fi
        mount -t tmpfs -o mode=1777 tmpfs /tmp
        mount -t tmpfs -o mode=1777 tmpfs /var/tmp
        mount -t tmpfs -o mode=2755 tmpfs /var/log/journal
        mount -t tmpfs -o mode=755 tmpfs /srv          # registration roots of test lanes
        mount -t tmpfs -o mode=755 tmpfs /etc/systemd/system
        for u in $E2E_MASK; do ln -s /dev/null "/etc/systemd/system/$u"; done
        cp -a "$work/units/." /etc/systemd/system/
        mount --bind "$work/passwd" /etc/passwd
        mount --bind "$work/group" /etc/group
        if [ -f "$work/binds" ]; then
                while read -r src dst; do mount --bind "$src" "$dst"; done <"$work/binds"
        fi
        [ -d "$work/dest/usr/local" ] && mount --bind "$work/dest/usr/local" /usr/local
        # The namespace's own view of cgroup2, rooted at its cgroup. On a
        # host with cgroup2 alone at /sys/fs/cgroup the kernel refuses a
        # second mount of it there: the inherited one goes first.
        if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then umount -l /sys/fs/cgroup; fi
        mount -t cgroup2 cgroup2 /sys/fs/cgroup
        exec env -i container=lanekeeper-e2e PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                /lib/systemd/systemd --system --unit=multi-user.target --log-target=console \
                </dev/null >"$work/console.log" 2>&1
}

e2e_boot() {
        case "${PKGLIBEXECDIR:-}" in
        /tmp/*|/var/tmp/*)
                e2e_log "warning: pkglibexecdir $PKGLIBEXECDIR lies under /tmp: lane units (PrivateTmp=yes) cannot run" \
                        "lanekeeper-register from there; configure with --libexecdir elsewhere (scripts/test-all does)" ;;
        esac
        if [ -d "$E2E_WORK/dest/usr/local" ] && [ ! -e "$E2E_WORK/dest$LANEKEEPER_CONFIG" ]; then
                install -D -m 644 /dev/null "$E2E_WORK/dest$LANEKEEPER_CONFIG"   # built-in defaults
        fi
        e2e_boot_code "$(declare -p E2E_MASK); $(declare -f e2e_place e2e_stage_two); e2e_stage_two '$E2E_WORK'"
}

# CODE (bash) run as PID 1 of new PID, mount, UTS, IPC and cgroup
# namespaces, in a cgroup of our own, to become systemd; then wait until
# the system runs. Sets E2E_CGROUP, E2E_UNSHARE_PID, E2E_PID (e2e_shutdown
# undoes them). e2e_boot's stage two stages the host's root; another
# (scripts/test-package's) may pivot into a root of its own.
e2e_boot_code() { # CODE
        local i state cg2
        # A cgroup of our own in the cgroup2 hierarchy, wherever it is
        # mounted; the namespace's systemd runs in unified mode inside it
        # and nowhere else.
        cg2=$(e2e_cgroup2_mount)
        [ -n "$cg2" ] || { e2e_log "no cgroup2 hierarchy is mounted"; return 1; }
        E2E_CGROUP=$cg2/lanekeeper-e2e-$$
        mkdir "$E2E_CGROUP" || { e2e_log "cannot make the cgroup $E2E_CGROUP"; E2E_CGROUP=; return 1; }
        (
                echo "$BASHPID" >"$E2E_CGROUP/cgroup.procs"
                exec unshare --pid --fork --mount --uts --ipc --cgroup --mount-proc --propagation private bash -c "$1"
        ) &
        E2E_UNSHARE_PID=$!
        for i in $(seq 1 100); do
                E2E_PID=$(pgrep -x -P "$E2E_UNSHARE_PID" systemd || true)
                [ -n "$E2E_PID" ] && break
                sleep 0.1
        done
        [ -n "$E2E_PID" ] || { e2e_log "systemd did not start"; cat "$E2E_WORK/console.log" >&2; return 1; }
        for i in $(seq 1 300); do
                state=$(e2e_root systemctl is-system-running 2>/dev/null || true)
                case "$state" in
                running|degraded) e2e_log "booted ($state) in $((i / 10)).$((i % 10)) s, systemd pid $E2E_PID"; return 0 ;;
                esac
                sleep 0.1
        done
        e2e_log "system not running after 30 s (state '$state')"
        e2e_root systemctl --failed --no-pager >&2 || true
        return 1
}

e2e_root() {
        nsenter -t "$E2E_PID" -a -- "$@"
}

e2e_as() { # USER CMD...
        local user=$1; shift
        nsenter -t "$E2E_PID" -a -- setpriv --reuid="$user" --regid="$user" --init-groups \
                --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"
}

e2e_as_plain() { # USER CMD...
        local user=$1; shift
        nsenter -t "$E2E_PID" -a -- setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
}

e2e_shutdown() {
        local - i   # 'local -': the caller's set -e must not cut the cleanup short
        set +e
        trap - EXIT
        [ -n "$E2E_DOUBLE_PID" ] && kill "$E2E_DOUBLE_PID" 2>/dev/null
        if [ -n "$E2E_PID" ] && kill -0 "$E2E_PID" 2>/dev/null; then
                e2e_root systemctl poweroff --no-block >/dev/null 2>&1 || true
                for i in $(seq 1 100); do
                        kill -0 "$E2E_PID" 2>/dev/null || break
                        sleep 0.1
                done
                kill -0 "$E2E_PID" 2>/dev/null && { e2e_log "poweroff timed out: killing"; kill -KILL "$E2E_PID"; }
                # A namespace's init exits only once every process in it is
                # reaped: an nsenter left behind (its child a zombie) would
                # hold it for ever.
                pkill -KILL -f "^nsenter -t $E2E_PID " 2>/dev/null
        fi
        [ -n "$E2E_UNSHARE_PID" ] && wait "$E2E_UNSHARE_PID" 2>/dev/null
        if [ -n "$E2E_CGROUP" ] && [ -d "$E2E_CGROUP" ]; then
                # Depth first; any process left is killed first.
                find "$E2E_CGROUP" -depth -type d | while read -r d; do
                        if [ -f "$d/cgroup.kill" ]; then echo 1 >"$d/cgroup.kill"; fi 2>/dev/null
                done
                sleep 0.2
                find "$E2E_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || true
                [ -d "$E2E_CGROUP" ] && e2e_log "warning: cgroup $E2E_CGROUP left behind"
        fi
        if [ -n "$E2E_WORK" ] && [ -d "$E2E_WORK" ]; then
                [ -n "${E2E_KEEP:-}" ] && e2e_log "keeping $E2E_WORK" || rm -rf "$E2E_WORK"
        fi
        E2E_PID=
}
