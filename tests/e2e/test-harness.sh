#!/bin/bash
# The harness leaves the host as it found it, even when the test using it
# fails under set -e: no work directory, no cgroup, no process, and the
# host's /tmp untouched (the booted systemd runs systemd-tmpfiles). It
# finds the cgroup2 hierarchy wherever it is mounted: stock Debian 12's
# (cgroup2 alone at /sys/fs/cgroup) and a hybrid host's
# (/sys/fs/cgroup/unified), each stood in for by a private mount and
# cgroup namespace. It places the build's pkglibexecdir inside the
# namespace whatever the prefix (a parent that is not empty, as
# /usr/libexec under --prefix=/usr), writing nothing on the host.
set -u
passed=0 failed=0
ok()  { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
[ "$(id -u)" -eq 0 ] || { [ "${CI:-}" = true ] && { echo "needs root (CI=true: failure)"; exit 1; }; echo "SKIP: needs root"; exit 77; }

canary=$(mktemp /tmp/lanekeeper-canary.XXXXXX)
state=$(mktemp /var/tmp/lanekeeper-harness-state.XXXXXX)
# A test that boots, then fails, under set -e.
(
        set -eu
        . "$TESTS_SRCDIR/e2e/harness.sh"
        e2e_init
        e2e_boot >/dev/null 2>&1
        echo "$E2E_WORK $E2E_CGROUP $E2E_PID" >"$state"
        e2e_root true
        false   # the failure
        echo "not reached" >>"$state"
)
rc=$?
read -r work cgroup pid rest <"$state"
[ "$rc" -ne 0 ] && ok || bad "the failing test did not fail (rc $rc)"
[ -n "${work:-}" ] && ok || bad "the harness did not boot"
[ -z "${rest:-}" ] && ! grep -q "not reached" "$state" && ok || bad "set -e did not stop the test"
[ -n "${work:-}" ] && [ ! -e "$work" ] && ok || bad "work directory $work left behind"
[ -n "${cgroup:-}" ] && [ ! -e "$cgroup" ] && ok || bad "cgroup $cgroup left behind"
[ -n "${pid:-}" ] && ! kill -0 "$pid" 2>/dev/null && ok || bad "systemd (pid $pid) still running"
[ -f "$canary" ] && ok || bad "the host's /tmp was emptied"

# A boot in a private mount and cgroup namespace whose /sys/fs/cgroup is
# laid out as LAYOUT (unified: cgroup2 alone; hybrid: a tmpfs with cgroup2
# at unified/); with PKGLIBEXECDIR LIB, whose staged copy holds a marker.
# Writes "CGROUP RUNNING MARKER WORK" to $state.
layout_boot() { # LAYOUT LIB
        : >"$state"
        unshare --mount --cgroup --propagation private env LAYOUT="$1" PKGLIBEXECDIR="$2" STATE="$state" bash -c '
                set -eu
                umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup
                if [ "$LAYOUT" = unified ]; then
                        mount -t cgroup2 cgroup2 /sys/fs/cgroup
                else
                        mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
                        mkdir /sys/fs/cgroup/unified
                        mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
                fi
                . "$TESTS_SRCDIR/e2e/harness.sh"
                e2e_init
                mkdir -p "$E2E_WORK/dest/usr/local/libexec/lanekeeper"
                echo "staged $$" >"$E2E_WORK/dest/usr/local/libexec/lanekeeper/marker"
                e2e_boot >/dev/null 2>&1
                running=$(e2e_root systemctl is-system-running 2>/dev/null || true)
                marker=$(e2e_root cat "$PKGLIBEXECDIR/marker" 2>/dev/null | tr " " _ || true)
                echo "$E2E_CGROUP ${running:-none} ${marker:-none} $E2E_WORK" >"$STATE"'
}

lib=/usr/libexec/lanekeeper-e2e-$$      # /usr/libexec exists and is not empty
for layout in unified hybrid; do
        layout_boot $layout "$lib"
        read -r cgroup running marker work rest <"$state"
        case $layout in
        unified) want=/sys/fs/cgroup/lanekeeper-e2e- ;;
        hybrid) want=/sys/fs/cgroup/unified/lanekeeper-e2e- ;;
        esac
        [ "${cgroup#"$want"}" != "${cgroup:-}" ] && ok || bad "$layout: the cgroup ${cgroup:-none} is not under $want"
        case ${running:-} in running|degraded) ok ;; *) bad "$layout: systemd did not boot (${running:-none})" ;; esac
        [ "${marker:-}" != none ] && [ "${marker#staged_}" != "${marker:-}" ] && ok ||
                bad "$layout: $lib does not show the staged pkglibexecdir inside (${marker:-none})"
        [ -n "${work:-}" ] && [ ! -e "$work" ] && ok || bad "$layout: work directory ${work:-none} left behind"
        # the namespace's cgroup2 is the host's hierarchy: the same cgroup, seen from here
        [ -n "${cgroup:-}" ] && [ -z "$(find /sys/fs/cgroup -maxdepth 2 -name "${cgroup##*/}" 2>/dev/null)" ] && ok ||
                bad "$layout: cgroup ${cgroup:-none} left behind"
done
[ ! -e "$lib" ] && ok || bad "$lib was made on the host"
[ -f "$canary" ] && ok || bad "the host's /tmp was emptied"

rm -f "$canary" "$state"
echo "test-harness: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
