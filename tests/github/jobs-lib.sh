# Shell helpers for tests that drive jobs through the GitHub double
# (repository acme/site). Source after setting port (the double's), pat (a
# token it knows) and py (/usr/bin/python3).
api() { # METHOD PATH [BODY]: GitHub's REST API, as a client with the token
        curl -s -X "$1" -H "Authorization: Bearer $pat" -H "User-Agent: lanekeeper-test" "http://127.0.0.1:$port$2" ${3:+-d "$3"}
}
ctl() { curl -sf -X POST "http://127.0.0.1:$port/_double/$1" -d "$2"; }   # the test's controls
newrun() { ctl run "$1" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["run_id"])'; }
job() { # RUN FIELD: a field of the run's (latest) job, lists and objects as JSON
        api GET "/repos/acme/site/actions/runs/$1/jobs" |
                "$py" -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]; v=j[sys.argv[1]]; print(json.dumps(v) if isinstance(v,(list,dict)) else v)' "$2"
}
wait_job() { for _ in $(seq 300); do [ "$(job "$1" status)" = "$2" ] && return 0; sleep 0.1; done; return 1; }   # RUN STATUS
joblog() { # RUN: the job's log, through GitHub's 302 to a signed URL
        curl -s -L -H "Authorization: Bearer $pat" -H "User-Agent: lanekeeper-test" \
                "http://127.0.0.1:$port/repos/acme/site/actions/jobs/$(job "$1" id)/logs"
}
concluded() { # RUN CONCLUSION [LOG-TEXT]: the job's conclusion, and its log holds the text
        [ "$(job "$1" conclusion)" = "$2" ] && { [ -z "${3:-}" ] || joblog "$1" | grep -qF -- "$3"; }
}
steps() { # RUN: "name=conclusion ..." of the job's steps, spaces in names as _
        job "$1" steps | "$py" -c 'import json,sys; print(" ".join("%s=%s" % (s["name"].replace(" ", "_"), s["conclusion"]) for s in json.load(sys.stdin)))'
}
# a process of the e2e namespace by its marker (exec -a), as root sees it
marked() { e2e_root pgrep -f "$1" | head -n 1; }
wait_marked() { for _ in $(seq 150); do [ -n "$(marked "$1")" ] && return 0; sleep 0.1; done; return 1; }
