#!/bin/bash
# The two binaries exist honestly: help, version, refusals, and lanectl's
# redact and check-name commands on real input.
set -u
fail=0 passed=0
ok()  { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
expect() { # expect STATUS DESCRIPTION -- command...
        local want=$1 what=$2; shift 3
        out=$("$@" 2>&1); got=$?
        if [ "$got" -eq "$want" ]; then ok; else bad "$what: exit $got, expected $want: $out"; fi
}
: "${LANECTL:?}" "${LANEKEEPER_HELPER:?}"

expect 0 "lanectl --help" -- "$LANECTL" --help
grep -q 'redact' <<<"$out" && ok || bad "lanectl --help does not list redact"
expect 0 "lanectl --version" -- "$LANECTL" --version
[[ $out =~ ^lanectl\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && ok || bad "lanectl --version printed '$out'"
expect 2 "lanectl with no command" -- "$LANECTL"
expect 2 "lanectl unknown command" -- "$LANECTL" frobnicate
expect 2 "lanectl unknown option" -- "$LANECTL" --frobnicate

expect 0 "helper --help" -- "$LANEKEEPER_HELPER" --help
grep -q 'socket' <<<"$out" && ok || bad "helper --help does not mention socket activation"
expect 0 "helper --version" -- "$LANEKEEPER_HELPER" --version
[[ $out =~ ^lanekeeper-helper\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && ok || bad "helper --version printed '$out'"
expect 2 "helper run by hand" -- env -u LISTEN_FDS -u LISTEN_PID "$LANEKEEPER_HELPER"
grep -q 'socket-activated' <<<"$out" && ok || bad "helper run by hand does not explain itself: $out"
expect 2 "helper with an argument" -- "$LANEKEEPER_HELPER" install-unit

# redact: a token in a log line never reaches the output.
secret="ghs_$(printf 'Zq%.0s' {1..40}).$(printf 'x9%.0s' {1..30})"
out=$(printf 'runner registered with token=%s ok\n' "$secret" | "$LANECTL" redact); rc=$?
[ $rc -eq 0 ] && ok || bad "lanectl redact exited $rc"
[ "$out" = "runner registered with token=[REDACTED] ok" ] && ok || bad "lanectl redact printed '$out'"
grep -qF "${secret:4:16}" <<<"$out" && bad "secret leaked through lanectl redact" || ok
tmp=$(mktemp); printf 'password: hunter2\n' >"$tmp"
out=$("$LANECTL" redact "$tmp"); [ "$out" = "password: [REDACTED]" ] && ok || bad "redact FILE printed '$out'"
rm -f "$tmp"
expect 1 "redact of a missing file" -- "$LANECTL" redact /nonexistent/lanekeeper-file
out=$(printf 'a\0b' | "$LANECTL" redact 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q 'NUL' <<<"$out" && ok || bad "redact of binary input: exit $rc: $out"

# check-name: a valid name, and an injection refused with its reason.
expect 0 "check-name lane valid" -- "$LANECTL" check-name lane cm-website-chris-testing
expect 1 "check-name lane injection" -- "$LANECTL" check-name lane $'x\nExecStart=/bin/sh'
grep -q 'contains a newline' <<<"$out" && ok || bad "check-name reason: $out"
grep -q 'ExecStart' <<<"$out" && bad "check-name echoed the hostile value" || ok
expect 0 "check-name repository" -- "$LANECTL" check-name repository acme/odoo-tenant-cm-website
expect 2 "check-name unknown kind" -- "$LANECTL" check-name colour blue

# The man page and --help list the same commands.
man1="$TESTS_SRCDIR/../man/lanectl.1"
help_cmds=$("$LANECTL" --help | sed -n '/^Commands:/,/^$/p' | grep -oE '^  [a-z-]+' | tr -d ' ' | sort -u)
man_cmds=$(sed -n '/^\.SH COMMANDS/,/^\.SH OPTIONS/p' "$man1" | awk '/^\.RS/ { d++ } /^\.RE/ { d-- } d == 0' |
        grep -A1 '^\.TP' | sed 's/\\-/-/g' | grep -oE '^\.B[IR]? "?[a-z][a-z-]+' | sed -E 's/^\.B[IR]? "?//' | sort -u)
[ -n "$help_cmds" ] && ok || bad "no commands found in lanectl --help"
[ "$help_cmds" = "$man_cmds" ] && ok || bad "lanectl --help lists [$(echo $help_cmds)] but lanectl.1 documents [$(echo $man_cmds)]"

for v in install-unit daemon-reload enable-now restart stop remove-unit; do
        n=${v//-/\\-}; grep -qF -e ".BI \"$n " -e ".B $n" "$man1" && ok || bad "lanectl.1 does not document helper verb $v"
done
out=$("$LANECTL" helper frobnicate lane 2>&1); [ $? -eq 2 ] && grep -q "unknown verb" <<<"$out" && ok || bad "helper with an unknown verb: $out"
out=$("$LANECTL" helper stop $'x\nExecStart=/bin/sh' 2>&1); [ $? -eq 1 ] && grep -q "field 'lane' contains a newline" <<<"$out" && ok ||
        bad "helper refuses a hostile lane before connecting: $out"
out=$(LANEKEEPER_HELPER_SOCKET=/nonexistent/helper.socket "$LANECTL" helper daemon-reload 2>&1); [ $? -eq 3 ] &&
        grep -q "unavailable" <<<"$out" && ok || bad "helper unavailable is exit 3: $out"

# lane validate: good, bad, duplicate and misnamed files, every error with its line.
lanes=$(mktemp -d)
good_lane() { printf '[lane]\nname = %s\nrepository = acme/x\nhost = h\nroot = /srv/r\nuser = ghrunner\nlabels = self-hosted, lanekeeper-managed\nmanaged = true\n' "$1"; }
good_lane lane-a >"$lanes/lane-a.conf"
out=$("$LANECTL" lane validate --lanes-dir "$lanes"); rc=$?
[ $rc -eq 0 ] && grep -q "^1 lane file, 1 valid$" <<<"$out" && ok || bad "lane validate, one good file: exit $rc: $out"
printf '[lane]\nname = Bad\nfoo = 1\n' >"$lanes/bad.conf"
out=$(LANEKEEPER_LANES_DIR="$lanes" "$LANECTL" lane validate); rc=$?
[ $rc -eq 1 ] && ok || bad "lane validate with a bad file: exit $rc"
grep -q "bad.conf:2: 'name' contains an upper-case letter" <<<"$out" && grep -q "bad.conf:3: unknown key 'foo'" <<<"$out" &&
        grep -q "bad.conf: required key 'host' is missing" <<<"$out" && ok || bad "lane validate errors: $out"
rm "$lanes/bad.conf"; good_lane lane-a >"$lanes/other.conf"
out=$("$LANECTL" lane validate "$lanes/lane-a.conf" "$lanes/other.conf"); rc=$?
[ $rc -eq 1 ] && grep -q "other.conf: the file of lane 'lane-a' must be named lane-a.conf" <<<"$out" && ok ||
        bad "misnamed lane file: exit $rc: $out"
mkdir "$lanes/b"; good_lane LANE-A >"$lanes/b/lane-a.conf" 2>/dev/null; good_lane lane-a >"$lanes/b/lane-a.conf"
out=$("$LANECTL" lane validate "$lanes/lane-a.conf" "$lanes/b/lane-a.conf"); rc=$?
[ $rc -eq 1 ] && grep -q "lane 'lane-a' is also declared in" <<<"$out" && ok || bad "duplicate lane: exit $rc: $out"
out=$("$LANECTL" lane validate --lanes-dir /nonexistent/lanes 2>&1); [ $? -eq 1 ] && grep -q "cannot read" <<<"$out" && ok ||
        bad "missing lanes dir: $out"
expect 2 "lane without validate" -- "$LANECTL" lane
# the lanes directory from lanekeeper.conf
printf '[lanes]\ndir = %s\n' "$lanes" >"$lanes.conf"
rm -rf "$lanes/b" "$lanes/other.conf"
out=$(env -u LANEKEEPER_LANES_DIR "$LANECTL" --config "$lanes.conf" lane validate); rc=$?
[ $rc -eq 0 ] && grep -q "^1 lane file, 1 valid$" <<<"$out" && ok || bad "lane validate with lanes dir from --config: exit $rc: $out"

# config show: settings from --config or LANEKEEPER_CONFIG; errors with lines
out=$(LANEKEEPER_CONFIG="$lanes.conf" "$LANECTL" config show --output json); rc=$?
[ $rc -eq 0 ] && grep -q "\"lanes_dir\": \"$lanes\"" <<<"$out" && grep -q '"auth": "none"' <<<"$out" && ok ||
        bad "config show --output json: exit $rc: $out"
printf '[github]\napi_url = http://example.com\ntoken = x\n' >"$lanes.conf"
out=$("$LANECTL" --config "$lanes.conf" config show 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "$lanes.conf:2: 'api_url' uses http://" <<<"$out" && grep -q "$lanes.conf:3: unknown key 'token'" <<<"$out" &&
        ok || bad "config show with a bad file: exit $rc: $out"
out=$("$LANECTL" --config /nonexistent/lanekeeper.conf config show 2>&1); [ $? -eq 1 ] && grep -q "cannot open" <<<"$out" && ok ||
        bad "config show with a missing --config file: $out"
expect 2 "config without show" -- "$LANECTL" config
rm -rf "$lanes" "$lanes.conf"

# pool validate: good, bad and misnamed pool files, and their slots against the policy.
pools=$(mktemp -d)
printf '[helper]\nmaintainers = lanekeeper\nhost = h1\n[lanes]\nusers = ghrunner\nroots = /srv/r\nrepositories = acme/site\n' >"$pools/policy.conf"
chmod 644 "$pools/policy.conf"
mkdir "$pools/pools.d"
printf '[store]\ndir = %s\n[pools]\ndir = %s/pools.d\n' "$pools" "$pools" >"$pools.conf"
printf '[pool]\nname = eph\nrepository = acme/site\nhost = h1\nroot = /srv/r\nuser = ghrunner\nlabels = self-hosted, lanekeeper-managed\nmax = 4\nspare = 1\n' >"$pools/pools.d/eph.conf"
out=$("$LANECTL" --config "$pools.conf" pool validate --policy "$pools/policy.conf" 2>&1); rc=$?
[ $rc -eq 0 ] && grep -q "^1 pool file, 1 valid$" <<<"$out" && ok || bad "pool validate, one good file: exit $rc: $out"
printf '[pool]\nname = other\norganisation = elsewhere\nhost = h2\nroot = /srv/x\nuser = root\nlabels = self-hosted\nmax = 2\nspare = 3\n' >"$pools/pools.d/bad.conf"
out=$("$LANECTL" --config "$pools.conf" pool validate --policy "$pools/policy.conf" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "bad.conf: 'min' (0) and 'spare' (3) cannot exceed 'max' (2)" <<<"$out" && ok || bad "pool validate, spare over max: exit $rc: $out"
sed -i 's/^spare = 3/spare = 1/' "$pools/pools.d/bad.conf"
out=$("$LANECTL" --config "$pools.conf" pool validate --policy "$pools/policy.conf" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "bad.conf: the file of pool 'other' must be named other.conf" <<<"$out" && ok || bad "pool validate, misnamed: $out"
mv "$pools/pools.d/bad.conf" "$pools/pools.d/other.conf"
out=$("$LANECTL" --config "$pools.conf" pool validate --policy "$pools/policy.conf" 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$(grep -c -e 'allows no lane in elsewhere' -e 'root /srv/x is not' -e 'user root is not' -e "host h2 is not the policy's" \
        -e "must include the managed label 'lanekeeper-managed'" <<<"$out")" = 5 ] && grep -q "^2 pool files, 1 valid$" <<<"$out" &&
        ok || bad "pool validate against the policy: exit $rc: $out"
expect 2 "pool without validate" -- "$LANECTL" pool

# pool scale, drain, undrain: the file's counts rewritten, the rest kept;
# a refused result changes nothing; each change audited.
rm "$pools/pools.d/other.conf"
printf '# the web pool\n[pool]\nname = eph\nrepository = acme/site\nhost = h1\nroot = /srv/r\nuser = ghrunner\nlabels = self-hosted, lanekeeper-managed\nmax = 4 ; four slots\nspare = 1\n' >"$pools/pools.d/eph.conf"
chmod 640 "$pools/pools.d/eph.conf"
out=$("$LANECTL" --config "$pools.conf" pool scale eph --max 6 --min 2 2>&1); rc=$?
want=$(printf '# the web pool\n[pool]\nname = eph\nrepository = acme/site\nhost = h1\nroot = /srv/r\nuser = ghrunner\nlabels = self-hosted, lanekeeper-managed\nmax = 6 ; four slots\nspare = 1\nmin = 2')
[ $rc -eq 0 ] && [ "$(cat "$pools/pools.d/eph.conf")" = "$want" ] && grep -q "min 0 -> 2, max 4 -> 6, spare 1 -> 1" <<<"$out" &&
        [ "$(stat -c %a "$pools/pools.d/eph.conf")" = 640 ] && ok || bad "pool scale: exit $rc: $out: $(cat "$pools/pools.d/eph.conf")"
sum=$(sha256sum <"$pools/pools.d/eph.conf")
out=$("$LANECTL" --config "$pools.conf" pool scale eph --max 1 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "'min' (2) and 'spare' (1) cannot exceed 'max' (1)" <<<"$out" && [ "$(sha256sum <"$pools/pools.d/eph.conf")" = "$sum" ] &&
        ok || bad "pool scale below min refused, file unchanged: exit $rc: $out"
expect 2 "pool scale with no count" -- "$LANECTL" --config "$pools.conf" pool scale eph
expect 2 "pool scale with a bad count" -- "$LANECTL" --config "$pools.conf" pool scale eph --max -1
expect 1 "pool scale of no pool" -- "$LANECTL" --config "$pools.conf" pool scale nope --max 2
expect 2 "pool drain without a reason" -- "$LANECTL" --config "$pools.conf" pool drain eph
expect 0 "pool drain" -- "$LANECTL" --config "$pools.conf" pool drain eph --reason "maintenance window"
[ -f "$pools/pool-eph.drain" ] && ok || bad "pool drain leaves STORE/pool-eph.drain"
expect 0 "pool undrain" -- "$LANECTL" --config "$pools.conf" pool undrain eph
[ ! -e "$pools/pool-eph.drain" ] && ok || bad "pool undrain removes the drain file"
out=$(cat "$pools"/audit/0*.json)
[ "$(grep -o '"command":"pool-[a-z]*"' <<<"$out" | tr '\n' ' ')" = '"command":"pool-scale" "command":"pool-drain" "command":"pool-undrain" ' ] &&
        grep -q '"reason":"maintenance window"' <<<"$out" && ok || bad "pool changes audited: $out"
rm -rf "$pools" "$pools.conf"

# audit: an empty store verifies; a broken chain is named; show and list.
store=$(mktemp -d)
printf '[store]\ndir = %s\n' "$store" >"$store.conf"
out=$("$LANECTL" --config "$store.conf" audit verify); [ $? -eq 0 ] && grep -q "^0 records, chain intact" <<<"$out" && ok ||
        bad "audit verify of an empty store: $out"
printf '{"schema":"lanekeeper.audit/1","seq":1,"prev":"%064d","lane":"x","status":"planned"}' 1 \
        >"$store/audit/00000000000000000001.json"
out=$("$LANECTL" --config "$store.conf" audit verify); [ $? -eq 1 ] && grep -q "record 1 does not follow record 0" <<<"$out" &&
        ok || bad "audit verify of a record that links to nothing: $out"
printf '{"schema":"lanekeeper.audit/1","seq":1,"prev":"%064d","lane":"x","status":"planned"}' 0 \
        >"$store/audit/00000000000000000001.json"
printf '1 %s\n' "$(sha256sum <"$store/audit/00000000000000000001.json" | cut -d' ' -f1)" >"$store/audit/HEAD"
out=$("$LANECTL" --config "$store.conf" audit verify); [ $? -eq 0 ] && grep -q "^1 records, chain intact, head 1" <<<"$out" && ok ||
        bad "audit verify of one record: $out"
out=$("$LANECTL" --config "$store.conf" audit list); grep -qE '^1 +planned +x' <<<"$out" && ok || bad "audit list: $out"
out=$("$LANECTL" --config "$store.conf" audit show 1); grep -q '"status":"planned"' <<<"$out" && ok || bad "audit show: $out"
expect 1 "audit show of a missing record" -- "$LANECTL" --config "$store.conf" audit show 9
expect 2 "audit with no subcommand" -- "$LANECTL" --config "$store.conf" audit
sed -i 's/planned/PLANNED/' "$store/audit/00000000000000000001.json"
out=$("$LANECTL" --config "$store.conf" audit verify); [ $? -eq 1 ] && grep -q "record 1 was altered" <<<"$out" && ok ||
        bad "audit verify of an altered record: $out"
rm -rf "$store" "$store.conf"

# plan: a lane directory and an inventory file, no GitHub, no root needed.
# Without a system bus the unit is unknown and nothing is guessed.
w=$(mktemp -d /tmp/lanekeeper-cli-plan.XXXXXX)
host=$(hostname)
mkdir -p "$w/lanes.d" "$w/runners/cm-website" "$w/store"
chmod 755 "$w"
printf '[store]\ndir = %s/store\n[lanes]\ndir = %s/lanes.d\n[baseline]\nmin_free_mib = 1\ncommands = sh\n' "$w" "$w" >"$w/lk.conf"
printf '[helper]\nmaintainers = root\nhost = %s\n[lanes]\nusers = %s\nroots = %s/runners\nrepositories = acme/site\n' \
        "$host" "$(id -un)" "$w" >"$w/policy.conf"
chmod 644 "$w/policy.conf"
for l in cm-website other; do
        printf '[lane]\nname = %s\nrepository = acme/site\nhost = %s\nroot = %s/runners\nuser = %s\nlabels = self-hosted, lanekeeper-managed\nmanaged = true\n' \
                "$l" "$host" "$w" "$(id -un)" >"$w/lanes.d/$l.conf"
done
secret="ghs_$(printf 'Pq%.0s' {1..45})"
# GitHub's shape; an extra member holding a token must go nowhere.
printf '{"total_count":1,"runners":[{"id":7,"name":"CM-Website","os":"linux","status":"online","busy":true,"token":"%s","labels":[{"id":1,"name":"self-hosted","type":"read-only"}]}]}' \
        "$secret" >"$w/inv.json"
P=("$LANECTL" --config "$w/lk.conf" plan --policy "$w/policy.conf")
DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/lanekeeper-bus expect 1 "plan with blocked lanes" -- "${P[@]}" --inventory "$w/inv.json"
text=$out
grep -qE '^cm-website +blocked +noop +unknown_conflict +#1' <<<"$text" && ok || bad "plan table row: $text"
grep -q 'lane_status_unknown: systemd: cannot connect to the system bus' <<<"$text" && ok || bad "plan does not say systemd is unread: $text"
grep -q '^2 lanes: 0 ready, 2 blocked' <<<"$text" && ok || bad "plan summary: $text"
out=$(DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/lanekeeper-bus "${P[@]}" --inventory "$w/inv.json" --output json cm-website); rc=$?
[ $rc -eq 1 ] && ok || bad "plan --output json exited $rc"
python3 - "$out" <<'PY' && ok || bad "plan JSON: $out"
import json, sys
d = json.loads(sys.argv[1])
assert d["schema"] == "lanekeeper.plan/1", d["schema"]
assert d["summary"] == {"lanes": 1, "ready": 0, "blocked": 1, "errors": 0}, d["summary"]
(l,) = d["lanes"]
assert l["lane"] == "cm-website" and l["status"] == "blocked" and l["audit_seq"] == 3
gh = l["observed"]["github"]
assert gh["known"] and gh["runners"][0]["id"] == 7 and gh["runners"][0]["busy"] is True
assert l["observed"]["local"] == {"known": True, "exists": True, "configured": False, "credentials_present": False, "runner_version": None}
assert not l["observed"]["unit"]["known"]
checks = {c["name"]: c["state"] for c in l["observed"]["baseline"]["checks"]}
assert checks["disk_space"] == "ready" and checks["commands"] == "ready" and checks["clock_offset"] == "unknown", checks
assert l["desired"]["labels"] == ["self-hosted", "lanekeeper-managed"]
PY
out=$("$LANECTL" --config "$w/lk.conf" audit verify); grep -q '^3 records, chain intact' <<<"$out" && ok || bad "audit after plan: $out"
out=$("$LANECTL" --config "$w/lk.conf" audit list); grep -qE '^3 +planned +cm-website' <<<"$out" && ok || bad "audit list after plan: $out"
grep -rqF "${secret:4:20}" "$w/store" <<<"" && bad "a token from the inventory reached the audit store" || ok
grep -qF "${secret:4:20}" <<<"$text$out" && bad "a token from the inventory reached plan output" || ok
# errors: exit 2, nothing recorded
expect 2 "plan of a lane with no file" -- "${P[@]}" --inventory "$w/inv.json" no-such-lane
grep -q 'no lane file' <<<"$out" && ok || bad "plan of an unknown lane: $out"
printf '{"total_count":1,"runners":[]' >"$w/bad.json"
expect 2 "plan with a malformed inventory" -- "${P[@]}" --inventory "$w/bad.json"
grep -q 'not valid JSON' <<<"$out" && ok || bad "plan with a malformed inventory: $out"
expect 2 "plan with no policy" -- "$LANECTL" --config "$w/lk.conf" plan --policy "$w/none.conf"
chmod 666 "$w/policy.conf"
expect 2 "plan with a policy others may write" -- "${P[@]}"
grep -q 'writable by group or others' <<<"$out" && ok || bad "plan with a writable policy: $out"
chmod 644 "$w/policy.conf"
expect 2 "plan --output yaml" -- "${P[@]}" --output yaml
printf '[lane]\nname = other\nbogus = 1\n' >"$w/lanes.d/other.conf"
expect 2 "plan with an invalid lane file" -- "${P[@]}" --inventory "$w/inv.json"
grep -q "other.conf:3: unknown key 'bogus'" <<<"$out" && ok || bad "plan with an invalid lane file: $out"
out=$("$LANECTL" --config "$w/lk.conf" audit list | grep -c planned); [ "$out" -eq 4 ] && ok ||
        bad "errors wrote records: $out planned records, expected 4"
rm -rf "$w"

# The helper binary: no HTTP or JSON library, nothing that starts a program,
# and helper/ stays small enough to read in one sitting.
libs=$(ldd "$LANEKEEPER_HELPER" 2>/dev/null)
grep -qE 'libcurl|libjson-c' <<<"$libs" && bad "helper links libcurl or json-c: $libs" || ok
imports=$(nm -D --undefined-only "$LANEKEEPER_HELPER" 2>/dev/null | awk '{ print $NF }')
[ -n "$imports" ] && ok || bad "cannot list the helper's imports"
hits=$(grep -E '^(exec[a-z]*|fexecve|fork|vfork|clone|clone3|posix_spawnp?|system|popen)(@|$)' <<<"$imports")
[ -z "$hits" ] && ok || bad "helper imports: $hits"
loc=$(cat "$TESTS_SRCDIR"/../helper/*.c "$TESTS_SRCDIR"/../helper/*.h | grep -cv '^[[:space:]]*$')
[ "$loc" -lt 1500 ] && ok || bad "helper/ has $loc non-blank lines (limit 1500)"

# The boundary: lanectl reaches the helper only through its socket. No
# orchestrator build rule names a helper/ source, no orchestrator file
# includes a helper header, and the built lanectl holds none of the
# helper's functions (what both need lives in protocol/).
hits=$(grep -n 'helper/[a-z-]*\.[ch]\b\|-I[^ ]*/helper\b' "$TESTS_SRCDIR"/../orchestrator/*.am)
[ -z "$hits" ] && ok || bad "an orchestrator build rule compiles helper/: $hits"
hits=$(for h in "$TESTS_SRCDIR"/../helper/*.h; do grep -rnF "#include \"$(basename "$h")\"" "$TESTS_SRCDIR"/../orchestrator; done)
[ -z "$hits" ] && ok || bad "orchestrator/ includes a helper header: $hits"
syms=$(nm "$LANECTL" 2>/dev/null | awk '{ print $NF }')
[ -n "$syms" ] && ok || bad "cannot list lanectl's symbols"
hits=$(grep -xE 'verb_dispatch|admit_peer|ids_resolve|unit_write_at|unit_read_at|unit_check_lane_dir_at|sandbox_[a-z_]+|sysd_[a-z_]+' <<<"$syms")
[ -z "$hits" ] && ok || bad "lanectl contains helper functions: $hits"

# orchestrator/README's import table holds: a subsystem includes headers
# of the subsystems it lists and of no other.
o=$TESTS_SRCDIR/../orchestrator
rules=$(sed -n 's/^| \([a-z]*\) *|.*| \([a-z ()]*\) *|$/\1:\2/p' "$o/README" | grep -v '^subsystem:')
[ "$(wc -l <<<"$rules")" -ge 8 ] && ok || bad "cannot read the import table of orchestrator/README: $rules"
hits=
while IFS=: read -r sub allowed; do
        for f in "$o/$sub"/*.[ch]; do
                for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
                        owner=$(cd "$o" && ls */"$inc" 2>/dev/null | head -n 1 | cut -d/ -f1)
                        [ -z "$owner" ] || [ "$owner" = "$sub" ] && continue
                        grep -qw "$owner" <<<"$allowed" || hits="$hits $sub/$(basename "$f") includes $owner/$inc;"
                done
        done
done <<<"$rules"
[ -z "$hits" ] && ok || bad "imports outside orchestrator/README's table:$hits"

# No runner is ever started outside systemd: no nohup, no backgrounded
# run.sh, no PID file anywhere in what ships (the tests' kit aside).
src=$TESTS_SRCDIR/..
hits=$(grep -rnE 'nohup[[:space:]]|(run\.sh|Runner\.Listener)([^|;&]|[0-9]?>&|&>)*&[[:space:]]*($|[;)#])|(^|[^-])>[[:space:]]*[^[:space:]]*\.pid|"[^"]*\.pid"|PIDFile=' "$src/helper" "$src/orchestrator" "$src/policy" \
        "$src/protocol" "$src/scripts" 2>/dev/null)
[ -z "$hits" ] && ok || bad "a runner may be started outside systemd: $hits"

echo "test-cli: $passed passed, $fail failed"
[ "$fail" -eq 0 ]
