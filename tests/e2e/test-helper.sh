#!/bin/bash
# End to end: the built helper, socket-activated by a real systemd (PID 1 in
# private namespaces), driven by the unprivileged maintainer through
# 'lanectl helper'. Every refusal checks that nothing on disk or in systemd
# changed. Needs root: exits 77 otherwise (a failure when CI=true).
set -u
. "$TESTS_SRCDIR/e2e/harness.sh"

e2e_init
e2e_add_user lanekeeper
e2e_add_user lkrunner
e2e_add_user lkother
e2e_add_user intruder
# intruder may reach the socket (group lanekeeper) but is no maintainer
sed -i "s/^lanekeeper:x:\([0-9]*\):$/lanekeeper:x:\1:intruder/" "$E2E_WORK/group"

# Install what the build made, as 'make install' with prefix /usr/local would.
d=$E2E_WORK/dest/usr/local
install -D -m 755 "$LANEKEEPER_HELPER" "$d/libexec/lanekeeper/lanekeeper-helper"
install -D -m 755 "$LANECTL" "$d/bin/lanectl"
install -D -m 755 "$LANEKEEPER_REGISTER" "$d/libexec/lanekeeper/lanekeeper-register"
install -D -m 755 "$RAW_CLIENT" "$d/bin/raw-client"
install -d -m 755 "$d/etc/lanekeeper"
cat >"$d/etc/lanekeeper/policy.conf" <<POLICY
[helper]
maintainers = lanekeeper
host = e2e
[lanes]
users = lkrunner lkother
roots = /srv/lanekeeper/runners /srv/lanekeeper/other
POLICY
chmod 644 "$d/etc/lanekeeper/policy.conf"
policy=/usr/local/etc/lanekeeper/policy.conf
sed -e "s|@pkglibexecdir@|/usr/local/libexec/lanekeeper|" "$TESTS_SRCDIR/../helper/lanekeeper-helper.socket.in" \
        >"$E2E_WORK/units/lanekeeper-helper.socket"
sed -e "s|@pkglibexecdir@/lanekeeper-helper|/usr/local/libexec/lanekeeper/lanekeeper-helper --policy $policy|" \
        "$TESTS_SRCDIR/../helper/lanekeeper-helper.service.in" >"$E2E_WORK/units/lanekeeper-helper.service"
mkdir -p "$E2E_WORK/units/sockets.target.wants"
ln -s ../lanekeeper-helper.socket "$E2E_WORK/units/sockets.target.wants/lanekeeper-helper.socket"

e2e_boot || exit 1
R=/srv/lanekeeper/runners
runner=$(e2e_uid lkrunner)
e2e_root sh -c "set -e
        mkdir -p $R && chmod 755 /srv/lanekeeper $R
        for l in lane-a lane-b foo; do
                mkdir -m 750 $R/\$l
                printf '#!/bin/sh\nexec sleep infinity\n' > $R/\$l/run.sh
                chmod 755 $R/\$l/run.sh
        done
        chown -R lkrunner:lkrunner $R/lane-a $R/foo
        chown -R lkother:lkother $R/lane-b
        ln -s lane-a $R/lane-link
        mkdir -p /srv/lanekeeper/other/lane-o && chmod 755 /srv/lanekeeper/other
        printf '#!/bin/sh\nexec sleep infinity\n' > /srv/lanekeeper/other/lane-o/run.sh
        chmod 750 /srv/lanekeeper/other/lane-o && chmod 755 /srv/lanekeeper/other/lane-o/run.sh
        chown -R lkrunner:lkrunner /srv/lanekeeper/other/lane-o"
check "helper socket active" e2e_root systemctl -q is-active lanekeeper-helper.socket

lk() { e2e_as lanekeeper /usr/local/bin/lanectl helper "$@"; }
snapshot() {
        e2e_root sh -c 'cd /etc/systemd/system && ls -la --time-style=+%s . && sha256sum lanekeeper-lane@* 2>/dev/null
                systemctl list-units --all --plain --no-legend "lanekeeper-lane@*"
                systemctl list-unit-files --plain --no-legend "lanekeeper-lane@*"'
}
# refused WHAT EXPECTED-ERROR COMMAND...: refused with that error, nothing changed
refused() {
        local what=$1 want=$2 before after out rc; shift 2
        before=$(snapshot)
        out=$("$@" 2>&1); rc=$?
        after=$(snapshot)
        if [ $rc -ne 0 ] && grep -q -- "$want" <<<"$out"; then ok; else bad "$what: exit $rc, wanted '$want': $out"; fi
        if [ "$before" = "$after" ]; then ok; else bad "$what: state changed:"; diff <(echo "$before") <(echo "$after"); fi
}

# ---- happy path ----
out=$(lk install-unit lane-a --user lkrunner --root $R --dry-run 2>&1)
check "dry-run install: would write" grep -q "would: write /etc/systemd/system/lanekeeper-lane@lane-a.service" <<<"$out"
check "dry-run install wrote nothing" e2e_root test ! -e /etc/systemd/system/lanekeeper-lane@lane-a.service
out=$(lk install-unit lane-a --user lkrunner --root $R --output json 2>&1)
check "install-unit: changed" grep -q '"changed": true' <<<"$out"
digest=$(sed -n 's/.*"digest": "\([0-9a-f]*\)".*/\1/p' <<<"$out")
file_digest=$(e2e_root sha256sum /etc/systemd/system/lanekeeper-lane@lane-a.service | cut -d' ' -f1)
check "install-unit: reported digest is the file's ($digest)" test -n "$digest" -a "$digest" = "$file_digest"
out=$(lk install-unit lane-a --user lkrunner --root $R 2>&1)
check "install-unit again: unchanged" grep -q "changed: no" <<<"$out"
check "daemon-reload" lk daemon-reload
out=$(lk enable-now lane-a 2>&1)
check "enable-now: running ($out)" grep -q "state:   active (running)" <<<"$out"
check "enable-now: enabled" e2e_root systemctl -q is-enabled lanekeeper-lane@lane-a.service
# MainPID is root until systemd's executor has set up the sandbox and
# exec'd run.sh: wait for the exec (sleep), then read its credentials.
for _ in $(seq 1 50); do
        pid=$(e2e_root systemctl show -P MainPID lanekeeper-lane@lane-a.service)
        [ "$pid" != 0 ] && [ "$(e2e_root cat /proc/$pid/comm 2>/dev/null)" = sleep ] && break
        sleep 0.1
done
uid=$(e2e_root awk '/^Uid:/ { print $2 }' /proc/$pid/status)
check "lane main process runs as lkrunner (uid $uid, want $runner)" test "$uid" = "$runner"
check "lane does not see the helper socket" e2e_root nsenter -t "$pid" -m test ! -e /run/lanekeeper/helper.socket
check "lane does not see lane-b" e2e_root nsenter -t "$pid" -m test ! -e $R/lane-b
out=$(lk restart lane-a 2>&1)
pid2=$(e2e_root systemctl show -P MainPID lanekeeper-lane@lane-a.service)
check "restart: new main process ($pid -> $pid2)" test "$pid2" != "$pid" -a "$pid2" != 0
out=$(lk stop lane-a 2>&1)
check "stop: inactive ($out)" grep -q "state:   inactive" <<<"$out"

# ---- the running helper is confined ----
# It stays up between requests (Accept=no, exits when idle): read it now.
lk daemon-reload --dry-run >/dev/null
hpid=$(e2e_root systemctl show -P MainPID lanekeeper-helper.service)
status=$(e2e_root cat /proc/$hpid/status 2>/dev/null)
check "helper: one running process (pid $hpid)" test "$hpid" != 0 -a -n "$status"
check "helper: Seccomp 2" grep -qE '^Seccomp:\s+2$' <<<"$status"
check "helper: NoNewPrivs 1" grep -qE '^NoNewPrivs:\s+1$' <<<"$status"
check "helper: no capability effective between requests" grep -qE '^CapEff:\s+0000000000000000$' <<<"$status"
check "helper: CAP_DAC_READ_SEARCH permitted only" grep -qE '^CapPrm:\s+0000000000000004$' <<<"$status"

# ---- refusals: each changes nothing ----
refused "caller not a maintainer" permission-denied \
        e2e_as intruder /usr/local/bin/lanectl helper stop lane-a
refused "caller inside a lane unit" permission-denied \
        e2e_root systemd-run -q --wait --pipe --collect --uid=lanekeeper --gid=lanekeeper --unit=lanekeeper-lane@probe.service \
        -E LANEKEEPER_CONFIG="$LANEKEEPER_CONFIG" /usr/local/bin/lanectl helper daemon-reload
e2e_root sh -c 'printf "[Service]\nExecStart=/bin/sleep infinity\n" > /etc/systemd/system/lanekeeper-lane@foo.service'
for v in stop restart enable-now remove-unit; do
        refused "$v on a hand-written unit" not-managed lk $v foo
done
refused "install-unit over a hand-written unit" not-managed lk install-unit foo --user lkrunner --root $R
refused "root outside the policy" policy-violation lk install-unit lane-a --user lkrunner --root /srv/lanekeeper
refused "symlinked lane directory" "symbolic link" lk install-unit lane-link --user lkrunner --root $R
refused "lane directory of another user" "not owned by the lane's user" lk install-unit lane-b --user lkrunner --root $R
refused "user not in the policy" policy-violation lk install-unit lane-a --user intruder --root $R
e2e_root chmod 666 $policy
refused "policy writable by others" "writable by group or others" lk daemon-reload
e2e_root chmod 644 $policy
e2e_root chown lanekeeper $policy
refused "policy owned by a non-root user" "not owned by root" lk daemon-reload
e2e_root chown root $policy
raw() { out=$(e2e_as lanekeeper /usr/local/bin/raw-client /run/lanekeeper/helper.socket "$@"); echo "$out"; [ "$out" = ok ]; }
refused "oversized message" message-too-large raw oversized
refused "unknown verb" unknown-verb raw unknown-verb
refused "field of the wrong type" invalid-field raw wrong-type
refused "unknown field" unknown-field raw unknown-field
check "every refusal was logged" test "$(e2e_root journalctl -q -o cat MESSAGE_ID=72092b4431c04991a3bafee2bd9fe8ab | wc -l)" -ge 2
# one request's record carries the structured fields
rec=$(e2e_root journalctl -q -o export MESSAGE_ID=7ba907cd1bc946ad93aef022bec284e6 LANEKEEPER_VERB=install-unit \
        LANEKEEPER_RESULT=ok LANEKEEPER_DRY_RUN=0 | tr -d '\0')
for f in "LANEKEEPER_LANE=lane-a" "LANEKEEPER_PEER_UID=$(e2e_uid lanekeeper)" "LANEKEEPER_REQUEST_ID=" "LANEKEEPER_PEER_PID="; do
        check "journal record has $f" grep -q "^$f" <<<"$rec"
done

# ---- a message flagged as a reply is never acted on (issue 11) ----
# Probe: a loaded unit whose file changed on disk says NeedDaemonReload=yes
# until PID 1 reloads; the reply-shaped daemon-reload must leave it so.
e2e_root sh -c 'printf "[Service]\nExecStart=/bin/sleep infinity\n" > /etc/systemd/system/lk-probe.service'
e2e_root systemctl daemon-reload
e2e_root systemctl start lk-probe.service   # running, so systemd keeps it loaded
e2e_root sh -c 'printf "[Service]\nExecStart=/bin/sleep 1d\n" > /etc/systemd/system/lk-probe.service'
check "probe: systemd sees the change" test "$(e2e_root systemctl show -P NeedDaemonReload lk-probe.service)" = yes
reply_reload=4c4b485001000200010000800c0000000700000000000000100003000400000000000000
out=$(e2e_as lanekeeper /usr/local/bin/raw-client /run/lanekeeper/helper.socket hex "$reply_reload")
check "reply-shaped daemon-reload refused ($out)" test "$out" = malformed-message
check "reply-shaped daemon-reload: PID 1 did not reload" \
        test "$(e2e_root systemctl show -P NeedDaemonReload lk-probe.service)" = yes
before=$(snapshot)
out=$(e2e_as lanekeeper /usr/local/bin/raw-client /run/lanekeeper/helper.socket reply-install)
check "reply-shaped install-unit refused ($out)" test "$out" = malformed-message
check "reply-shaped install-unit changed nothing" test "$before" = "$(snapshot)"
for _ in $(seq 1 20); do
        rec=$(e2e_root journalctl -q -o cat MESSAGE_ID=a5f03434538f45ad87e4e2a00c3a6d08 | grep -c 'where a request was expected')
        [ "$rec" -ge 2 ] && break
        sleep 0.1
done
check "reply-shaped messages logged with their reason ($rec: $(e2e_root journalctl -q -o cat MESSAGE_ID=a5f03434538f45ad87e4e2a00c3a6d08 | tail -n 3))" test "$rec" -ge 2
lk daemon-reload >/dev/null
check "probe: a real daemon-reload clears it" test "$(e2e_root systemctl show -P NeedDaemonReload lk-probe.service)" = no
e2e_root systemctl stop lk-probe.service
e2e_root rm -f /etc/systemd/system/lk-probe.service

# ---- unit verbs re-validate against today's policy (issue 11) ----
verbs="enable-now restart stop remove-unit"
# each unit verb, dry run and real: refused with WANT, nothing changed
refused_all() {
        local what=$1 want=$2 lane=$3 v
        for v in $verbs; do
                refused "$what: $v --dry-run" "$want" lk $v "$lane" --dry-run
                refused "$what: $v" "$want" lk $v "$lane"
        done
}
lk install-unit lane-a --user lkrunner --root $R >/dev/null
lk install-unit lane-o --user lkrunner --root /srv/lanekeeper/other >/dev/null
lk daemon-reload >/dev/null
e2e_root sed -i 's|^roots = .*|roots = /srv/lanekeeper/runners|' $policy
refused_all "root removed from the policy" "root '/srv/lanekeeper/other' is not a registration root in the policy" lane-o
e2e_root sed -i 's|^roots = .*|roots = /srv/lanekeeper/runners /srv/lanekeeper/other|' $policy
check "root back in the policy: lane-o served" lk stop lane-o --dry-run
e2e_root sh -c "sed -e 's/lane-a/lane-r/g; s/lkrunner/root/g' /etc/systemd/system/lanekeeper-lane@lane-a.service \
        > /etc/systemd/system/lanekeeper-lane@lane-r.service"
refused_all "marked unit with User=root" "user 'root' is not a runner user in the policy" lane-r
e2e_root cp /etc/systemd/system/lanekeeper-lane@lane-a.service /etc/systemd/system/lanekeeper-lane@lane-c.service
refused_all "lane-a's unit copied as lane-c" "was written for lane 'lane-a', not 'lane-c'" lane-c
e2e_root ln /etc/systemd/system/lanekeeper-lane@lane-a.service /etc/systemd/system/lanekeeper-lane@lane-h.service
refused_all "lane-a's unit hard-linked as lane-h" "has more than one hard link" lane-h
refused "lane-a itself while hard-linked" "has more than one hard link" lk stop lane-a
refused "install-unit over a hard-linked unit" "has more than one hard link" lk install-unit lane-a --user lkrunner --root $R
e2e_root rm -f /etc/systemd/system/lanekeeper-lane@lane-r.service /etc/systemd/system/lanekeeper-lane@lane-c.service \
        /etc/systemd/system/lanekeeper-lane@lane-h.service
# The lane directory is checked again before every start, naming what is wrong.
e2e_root chmod 770 $R/lane-a
for v in enable-now restart; do
        refused "$v: group-writable lane directory" \
                "lane directory '$R/lane-a' is writable by group or others (mode 0770)" lk $v lane-a
done
e2e_root chmod 750 $R/lane-a
e2e_root chmod 777 $R/lane-a/run.sh
refused "restart: world-writable run.sh" "run.sh '$R/lane-a/run.sh' is writable by group or others (mode 0777)" \
        lk restart lane-a --dry-run
e2e_root chmod 755 $R/lane-a/run.sh
e2e_root chmod 777 /srv/lanekeeper
refused "enable-now: a parent of the root writable by all" \
        "directory 'lanekeeper' is writable by group or others (mode 0777)" lk enable-now lane-a
e2e_root chmod 755 /srv/lanekeeper
e2e_root sh -c "mv $R/lane-a/run.sh $R/lane-a/real.sh && ln -s real.sh $R/lane-a/run.sh"
refused "enable-now: symlinked run.sh" "run.sh '$R/lane-a/run.sh' is a symbolic link" lk enable-now lane-a
e2e_root sh -c "rm $R/lane-a/run.sh && mv $R/lane-a/real.sh $R/lane-a/run.sh"
e2e_root sh -c "head -c 20480 /dev/zero | tr '\\0' '#' > /etc/systemd/system/lanekeeper-lane@big.service"
refused "a 20 KB unit" "is larger than 16 KiB" lk stop big
e2e_root rm -f /etc/systemd/system/lanekeeper-lane@big.service
out=$(e2e_as lanekeeper /usr/local/bin/raw-client /run/lanekeeper/helper.socket hex 0001020304050607080910111213141516171819202122232425)
check "random bytes: unsupported-version" test "$out" = unsupported-version
out=$(e2e_root journalctl -q -o cat MESSAGE_ID=a5f03434538f45ad87e4e2a00c3a6d08 | grep 'bad magic' | tail -n 1)
check "random bytes: the reason says what was expected ($out)" grep -q 'expected 0x50484b4c' <<<"$out"
lk remove-unit lane-o >/dev/null

# ---- floods and idle connections deny no one (issue 11) ----
# Another local user in the socket's group floods connect/close; the socket
# stays active and the maintainer is served meanwhile.
e2e_as intruder /usr/local/bin/raw-client /run/lanekeeper/helper.socket flood 100000 >"$E2E_WORK/flood.out" 2>&1 &
flooder=$!
sleep 0.3
out=$(e2e_as lanekeeper /usr/local/bin/raw-client /run/lanekeeper/helper.socket burst 5)
wait $flooder
check "flood: thousands of connects ($(cat "$E2E_WORK/flood.out"))" \
        test "$(sed -n 's/^connected \([0-9]*\) of.*/\1/p' "$E2E_WORK/flood.out")" -ge 2000
echo "flood: $(cat "$E2E_WORK/flood.out"); maintainer meanwhile: $(tr '\n' ' ' <<<"$out")"
check "flood: maintainer answered during it ($out)" grep -q "answered 5 of 5" <<<"$out"
p99=$(sed -n 's/.*p99_us \([0-9]*\).*/\1/p' <<<"$out")
check "flood: maintainer served within 1 s (slowest ${p99:-?} us)" test "${p99:-9999999}" -lt 1000000
check "flood: socket still active" e2e_root systemctl -q is-active lanekeeper-helper.socket
check "flood: maintainer served after it" lk daemon-reload --dry-run
# Idle connections: the maintainer's own (admitted, given 1 s) and another
# user's (refused at once) do not hold the maintainer's next request.
e2e_as lanekeeper /usr/local/bin/raw-client /run/lanekeeper/helper.socket idle 40 3 >"$E2E_WORK/idle-m.out" &
idler1=$!
e2e_as intruder /usr/local/bin/raw-client /run/lanekeeper/helper.socket idle 40 3 >"$E2E_WORK/idle-i.out" &
idler2=$!
sleep 0.5
out=$(e2e_as lanekeeper /usr/local/bin/raw-client /run/lanekeeper/helper.socket burst 5)
p99=$(sed -n 's/.*p99_us \([0-9]*\).*/\1/p' <<<"$out")
echo "idle: 40 + 40 idle connections; maintainer meanwhile: $(tr '\n' ' ' <<<"$out")"
check "idle: maintainer served within 1 s while 80 connections idle ($out)" test "${p99:-9999999}" -lt 1000000
wait $idler1 $idler2
check "idle: the maintainer's idle connections were closed ($(cat "$E2E_WORK/idle-m.out"))" \
        grep -qE "answered 40 of 40: (malformed-message|message-too-large)" "$E2E_WORK/idle-m.out"
check "idle: the other user's were refused ($(cat "$E2E_WORK/idle-i.out"))" \
        grep -q "answered 40 of 40: permission-denied" "$E2E_WORK/idle-i.out"
check "idle: socket still active" e2e_root systemctl -q is-active lanekeeper-helper.socket
unlogged=$(e2e_root journalctl -q -o export MESSAGE_ID=72092b4431c04991a3bafee2bd9fe8ab | tr -d '\0' | grep -c '^LANEKEEPER_UNLOGGED=')
check "flood: refusals past the burst counted, not logged one by one ($unlogged summaries)" test "$unlogged" -ge 1

# ---- a burst of connections leaves the socket working ----
out=$(e2e_as lanekeeper /usr/local/bin/raw-client /run/lanekeeper/helper.socket burst 300)
check "burst: every connection answered ($out)" grep -q "answered 300 of 300" <<<"$out"
burst_pids=()
for i in 1 2 3 4; do
        e2e_as lanekeeper /usr/local/bin/raw-client /run/lanekeeper/helper.socket burst 100 >"$E2E_WORK/par.$i" 2>&1 &
        burst_pids+=($!)
done
wait "${burst_pids[@]}"   # not a bare wait: the harness's systemd runs in the background too
check "parallel burst: 4 x 100 answered ($(cat "$E2E_WORK"/par.* | grep answered | tr '\n' ' '))" \
        test "$(cat "$E2E_WORK"/par.* | grep -c 'answered 100 of 100')" = 4
check "socket still active after the burst" e2e_root systemctl -q is-active lanekeeper-helper.socket
check "maintainer still served after the burst" lk daemon-reload --dry-run

# ---- remove ----
out=$(lk remove-unit lane-a 2>&1)
check "remove-unit: ok ($out)" grep -q "remove-unit lane-a: ok" <<<"$out"
check "remove-unit: file gone" e2e_root test ! -e /etc/systemd/system/lanekeeper-lane@lane-a.service
check "remove-unit: unit not found" test "$(e2e_root systemctl show -P LoadState lanekeeper-lane@lane-a.service)" = not-found

echo "test-helper: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
