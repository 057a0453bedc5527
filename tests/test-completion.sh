#!/bin/bash
# bash completion for lanectl (completion/lanectl), driven as bash drives
# it (COMP_WORDS, COMP_CWORD, then the function) with the built lanectl
# first in PATH: commands are lanectl --help's; each command's options are
# ones lanectl(1) documents; lane and pool names come from the directories
# lanectl config show names; audit show offers the store's sequence
# numbers; --output offers text and json. Needs no root.
set -u
passed=0 failed=0
ok()  { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }

w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/bin" "$w/lanes.d" "$w/pools.d" "$w/store/audit"
ln -s "$LANECTL" "$w/bin/lanectl"
export PATH="$w/bin:$PATH"
printf '[store]\ndir = %s/store\n[lanes]\ndir = %s/lanes.d\n[pools]\ndir = %s/pools.d\n' "$w" "$w" "$w" >"$w/lk.conf"
export LANEKEEPER_CONFIG=$w/lk.conf
touch "$w/lanes.d/build-01.conf" "$w/lanes.d/build-02.conf" "$w/lanes.d/notes.txt" "$w/pools.d/web.conf"
printf '{"schema":"lanekeeper.audit/1","seq":1,"prev":"%064d","lane":"x","status":"planned"}' 0 \
        >"$w/store/audit/00000000000000000001.json"
printf '1 %s\n' "$(sha256sum <"$w/store/audit/00000000000000000001.json" | cut -d' ' -f1)" >"$w/store/audit/HEAD"

. "$TESTS_SRCDIR/../completion/lanectl"
complete -p lanectl >/dev/null 2>&1 && ok || bad "complete -F _lanectl lanectl is not registered"

comp() { # WORDS...: the completions of the last word (may be "")
        COMP_WORDS=(lanectl "$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMPREPLY=()
        _lanectl
        printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

help_cmds=$("$LANECTL" --help 2>&1 | awk '/^  [a-z]/ { print $1 }' | sort -u | tr '\n' ' ' | sed 's/ $//')
got=$(comp "" | tr ' ' '\n' | grep -v '^-' | tr '\n' ' ' | sed 's/ $//')
check "commands: lanectl --help's ($got)" test "$got" = "$help_cmds"
check "a prefix: ap -> apply" test "$(comp ap)" = apply
check "lane names from the lanes directory, *.conf only" test "$(comp apply "")" = "build-01 build-02"
check "... for drain too, with a prefix" test "$(comp drain build-0)" = "build-01 build-02"
check "--confirm offers the lanes" grep -q "build-01" <<<"$(comp apply build-01 --confirm "")"
check "pool names: pool status" test "$(comp pool status "")" = web
check "smoke --pool offers the pools" test "$(comp smoke --pool "")" = web
check "audit show offers the sequence numbers" test "$(comp audit show "")" = 1
check "audit's words" test "$(comp audit "")" = "list prune show verify"
check "--output: text json" test "$(comp status --output "")" = "json text"
check "apply's options include --smoke-repo" grep -qw -- "--smoke-repo" <<<"$(comp apply --sm)"
check "--config names another settings file: its lanes" \
        test "$(printf '[lanes]\ndir = %s/pools.d\n' "$w" >"$w/other.conf"; comp --config "$w/other.conf" apply "")" = web

# every option offered, for every command, is one lanectl(1) documents
man1="$TESTS_SRCDIR/../man/lanectl.1"
for c in $help_cmds; do
        for o in $(_lanectl_words "$c" | tr ' ' '\n' | grep -- '^--'); do
                grep -qF -- "${o//-/\\-}" "$man1" && ok || bad "completion offers $c $o, which lanectl(1) does not document"
        done
done
# and lanectl's own option tables offer nothing the completion leaves out
src="$TESTS_SRCDIR/../orchestrator/cli"
all_offered=$(for c in $help_cmds; do _lanectl_words "$c"; echo; done | tr ' ' '\n' | grep -- '^--' | sort -u)
for o in $(cat "$src"/cmd-*.c | grep -o '{ *"[a-z-]*", *[a-z_]*_argument' | sed 's/{ *"\([a-z-]*\)".*/--\1/' | sort -u); do
        case $o in --help|--version|--config) continue ;; esac
        grep -qx -- "$o" <<<"$all_offered" && ok || bad "lanectl takes $o, which no command's completion offers"
done

echo "test-completion: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
