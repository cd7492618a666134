#!/bin/sh
# `make bench`: stockx against plain C references, run in the same
# invocation on the same machine: GET throughput over HTTP/1.1 and HTTP/2
# (nginx from tests/nginx.sh), startup time, and peak RSS of 10,000 parked
# tasks, the requests a repricing pass costs (tests/bench/quota.lua), and
# the adaptive limiter's 429s against a server slower than the client's
# rate (tests/bench/adaptive.lua), and the requests the GET cache saves on
# repricing runs (tests/bench/cache.lua).  Reports numbers and ratios; exits
# non-zero only when something broke, never for a missed target.
#
# Environment (defaults): STOCKX (./stockx), BENCH_N (50000), BENCH_C (50),
# BENCH_ROUNDS (2), BENCH_STARTUP_RUNS (200), BENCH_TASKS (10000),
# BENCH_TASKS_PATH (/_test/delay?s=0.2), BENCH_TASKS_TIMEOUT (300 s),
# BENCH_ADAPTIVE_N (20), CC (cc).
set -u
cd "$(dirname "$0")/../.." || exit 1

STOCKX=${STOCKX:-./stockx}
N=${BENCH_N:-50000}
C=${BENCH_C:-50}
ROUNDS=${BENCH_ROUNDS:-2}
STARTUP_RUNS=${BENCH_STARTUP_RUNS:-200}
TASKS=${BENCH_TASKS:-10000}
TASKS_PATH=${BENCH_TASKS_PATH:-/_test/delay?s=0.2}
TASKS_TIMEOUT=${BENCH_TASKS_TIMEOUT:-300}
ADAPTIVE_N=${BENCH_ADAPTIVE_N:-20}
CC=${CC:-cc}
WARMUP=$((N < 5000 ? N : 5000))
OUT=build/bench
WARN="-Wall -Wextra -Wshadow -Wundef -Wwrite-strings -Wmissing-prototypes
      -Wstrict-prototypes"
ROW='%-8s %-20s %-20s %6s  %-9s %s\n'

broke=0
summary=
sandbox_pid=
limited_pids=
tmp=

broken() {
    echo "bench: BROKEN: $*" >&2
    broke=1
}

# row TEST PLAIN STOCKX RATIO TARGET RESULT: one line of the summary.
row() {
    # shellcheck disable=SC2059 # ROW is the format
    summary="$summary$(printf "$ROW" "$@")
"
}

cleanup() {
    stop_sandbox
    stop_limited
    if [ -n "$tmp" ]; then
        sh tests/nginx.sh stop "$tmp/nginx"
        rm -rf "$tmp"
    fi
}

# ---- arithmetic on the printed numbers (empty = missing) -------------------

# field NAME TEXT: the number after NAME= in TEXT.
field() {
    printf '%s\n' "$2" | sed -n "s/.*$1=\\([0-9.]*\\).*/\\1/p" | tail -n 1
}

# ratio A B: A/B with two decimals, or "-".
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "" || b == "" || b + 0 == 0) print "-"
        else printf "%.2f\n", a / b }'
}

# max A B: the larger of two numbers, either of which may be missing.
max() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "") print b; else if (b == "") print a
        else print (a + 0 >= b + 0) ? a : b }'
}

# verdict VALUE OP TARGET: "ok", "MISSED" or "-" when there is no value.
verdict() {
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
        if (v == "" || v == "-") { print "-"; exit }
        if (op == ">=") ok = v + 0 >= t + 0
        else if (op == "<=") ok = v + 0 <= t + 0
        else ok = v + 0 < t + 0
        print ok ? "ok" : "MISSED" }'
}

# ---- throughput ------------------------------------------------------------

build() {
    mkdir -p "$OUT" || exit 1
    libs=$(pkg-config --cflags --libs libcurl libevent) || exit 1
    for prog in plain startup; do
        # shellcheck disable=SC2086 # the flag lists are meant to split
        $CC -std=c11 -D_GNU_SOURCE -O2 -g $WARN -o "$OUT/$prog" \
            "tests/bench/$prog.c" $libs || exit 1
    done
}

# measure LABEL COMMAND...: runs one load loop and prints its line; sets
# $rps and $conns (empty if it broke).
measure() {
    label=$1
    shift
    rps='' conns=''
    if ! line=$("$@" 2> "$tmp/stderr"); then
        tail -n 5 "$tmp/stderr" >&2
        broken "$label failed: $*"
        return
    fi
    rps=$(field rps "$line")
    conns=$(field connections "$line")
    printf '  %-7s %s\n' "$label" "$line"
    [ -n "$rps" ] || broken "$label printed no rps= line: $line"
}

# A side that broke once is not run again.
run_plain() {
    [ -z "$p_dead" ] || return 0
    measure plain "$OUT/plain" "$base/bench.json" "$N" "$C" ${ca:+"$ca"}
    [ -n "$rps" ] || p_dead=1
    p_rps=$(max "$p_rps" "$rps") p_conns=${conns:-$p_conns}
}

run_stockx() {
    [ -z "$s_dead" ] || return 0
    measure stockx "$STOCKX" --rate off --base-url "$base" \
        ${ca:+--ca-file "$ca"} run tests/bench/get.lua "$N" "$C" /bench.json
    [ -n "$rps" ] || s_dead=1
    s_rps=$(max "$s_rps" "$rps") s_conns=${conns:-$s_conns}
}

# throughput PROTO BASE_URL [CA_FILE]: a warm-up, then ROUNDS rounds that
# alternate which side goes first; the best rps of each side counts.
throughput() {
    proto=$1 base=$2 ca=${3:-}
    p_rps='' p_conns='' p_dead='' s_rps='' s_conns='' s_dead=''
    echo "== $proto: $N GETs of $base/bench.json," \
        "concurrency $C, best of $ROUNDS"
    "$OUT/plain" "$base/bench.json" "$WARMUP" "$C" ${ca:+"$ca"} \
        > /dev/null || broken "$proto warm-up failed"
    round=1
    while [ $round -le "$ROUNDS" ]; do
        if [ $((round % 2)) -eq 1 ]; then
            run_plain
            run_stockx
        else
            run_stockx
            run_plain
        fi
        round=$((round + 1))
    done
    r=$(ratio "$s_rps" "$p_rps")
    row "$proto" "${p_rps:--} rps ${p_conns:-?} conn" \
        "${s_rps:--} rps ${s_conns:-?} conn" "$r" ">= 0.8" \
        "$(verdict "$r" ">=" 0.8)"
}

# ---- startup ---------------------------------------------------------------

# time_runs COUNT COMMAND...: mean wall time of one run, in ms.
time_runs() {
    count=$1
    shift
    t0=$(date +%s%N)
    i=0
    while [ $i -lt "$count" ]; do
        "$@" > /dev/null 2>&1 || return 1
        i=$((i + 1))
    done
    t1=$(date +%s%N)
    awk -v ns=$((t1 - t0)) -v n="$count" \
        'BEGIN { printf "%.3f\n", ns / n / 1e6 }'
}

startup() {
    echo "== startup: $STARTUP_RUNS runs each"
    time_runs 10 "$OUT/startup" > /dev/null # warm the page cache
    time_runs 10 "$STOCKX" -e '' > /dev/null
    ref=$(time_runs "$STARTUP_RUNS" "$OUT/startup") ||
        { broken "$OUT/startup failed"; ref=; }
    sx=$(time_runs "$STARTUP_RUNS" "$STOCKX" -e '') ||
        { broken "$STOCKX -e '' failed"; sx=; }
    r=$(ratio "$sx" "$ref")
    echo "  reference ${ref:--} ms/run, stockx ${sx:--} ms/run, ratio $r"
    row startup "${ref:--} ms" "${sx:--} ms" "$r" "<= 1.5" \
        "$(verdict "$r" "<=" 1.5)"
}

# ---- memory ----------------------------------------------------------------

# Starts `stockx sandbox --port 0`; sets $sandbox_pid and $sandbox_port.
start_sandbox() {
    "$STOCKX" sandbox --port 0 > "$tmp/sandbox.out" 2> "$tmp/sandbox.err" &
    sandbox_pid=$!
    pattern='s|^stockx sandbox listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p'
    i=0
    while [ $i -lt 100 ]; do
        sandbox_port=$(sed -n "$pattern" "$tmp/sandbox.out")
        [ -n "$sandbox_port" ] && return 0
        kill -0 "$sandbox_pid" 2> /dev/null || break
        sleep 0.05
        i=$((i + 1))
    done
    cat "$tmp/sandbox.out" "$tmp/sandbox.err" >&2
    return 1
}

stop_sandbox() {
    [ -n "$sandbox_pid" ] || return 0
    kill "$sandbox_pid" 2> /dev/null
    wait "$sandbox_pid" 2> /dev/null
    sandbox_pid=
}

memory() {
    echo "== memory: $TASKS tasks, each parked on GET $TASKS_PATH"
    mb=
    if ! start_sandbox; then
        broken "stockx sandbox did not print its port"
    elif line=$(timeout "$TASKS_TIMEOUT" "$STOCKX" --rate off \
            --base-url "http://127.0.0.1:$sandbox_port" \
            run tests/bench/tasks.lua "$TASKS" "$TASKS_PATH" 2> "$tmp/stderr")
    then
        echo "  $line"
        mb=$(field peak_rss_mb "$line")
        [ -n "$mb" ] || broken "tasks.lua printed no peak_rss_mb=: $line"
    else
        tail -n 5 "$tmp/stderr" >&2
        broken "tasks.lua failed or ran over $TASKS_TIMEOUT s"
    fi
    stop_sandbox
    row memory "-" "${mb:--} MB peak RSS" "-" "< 64 MB" \
        "$(verdict "$mb" "<" 64)"
}

# ---- quota: requests per repricing pass -----------------------------------

quota() {
    echo "== quota: a repricing pass over the sandbox account, at 1 request/s"
    if line=$(timeout 600 "$STOCKX" --rate off run --sandbox --rate-limit off \
            tests/bench/quota.lua paced 2> "$tmp/stderr"); then
        echo "  $line"
        fl=$(field floor "$line") ours=$(field toolkit "$line")
        naive=$(field naive "$line") wr=$(field wall_ratio "$line")
        r=$(ratio "$ours" "$fl")
        row quota "floor $fl req" "$ours req (naive $naive)" "$r" "<= 1.25" \
            "$(verdict "$r" "<=" 1.25)"
        row wall "-" "$(field wall "$line") s for $ours req" "$wr" "<= 1.1" \
            "$(verdict "$wr" "<=" 1.1)"
    else
        tail -n 5 "$tmp/stderr" >&2
        broken "quota.lua failed"
    fi
}

# ---- cache: requests the GET cache saves on repricing runs ----------------

cache() {
    echo "== cache: repricing runs with and without the GET cache"
    if line=$(timeout 900 "$STOCKX" --rate off --log-level error run \
            --sandbox --rate-limit off tests/bench/cache.lua 2> "$tmp/stderr"); then
        echo "  $line"
        same=MISSED
        case $line in *identical=yes*) same=ok ;; esac
        row cache "naive $(field naive_off "$line") req" \
            "$(field naive_on "$line") req cached" \
            "$(ratio "$(field naive_on "$line")" "$(field naive_off "$line")")" \
            "same plan" "$same"
        row cache2 "2nd pass $(field twice_off "$line") req" \
            "$(field twice_on "$line") req cached" \
            "$(ratio "$(field twice_on "$line")" "$(field twice_off "$line")")" \
            "same plan" "$same"
    else
        tail -n 5 "$tmp/stderr" >&2
        broken "cache.lua failed"
    fi
}

# ---- adaptive: 429s against a server slower than the client's rate --------

# start_limited NAME: `stockx sandbox` limited to 1/1s; URL in $tmp/NAME.url.
start_limited() {
    "$STOCKX" sandbox --port 0 --rate-limit 1/1s --quota off \
        > "$tmp/$1.sb" 2> "$tmp/$1.sberr" &
    pid=$!
    limited_pids="$limited_pids $pid"
    i=0
    while [ $i -lt 100 ]; do
        url=$(sed -n 's|^stockx sandbox listening on \(http://.*\)|\1|p' \
            "$tmp/$1.sb")
        if [ -n "$url" ]; then
            echo "$url" > "$tmp/$1.url"
            return 0
        fi
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.05
        i=$((i + 1))
    done
    cat "$tmp/$1.sb" "$tmp/$1.sberr" >&2
    return 1
}

stop_limited() {
    for p in $limited_pids; do
        kill "$p" 2> /dev/null
        wait "$p" 2> /dev/null
    done
    limited_pids=
}

# adaptive_run NAME true|false: adaptive.lua at --rate 5/1s against NAME's
# sandbox, with a limiter state file of its own, in the background.
adaptive_run() {
    mkdir -m 700 "$tmp/$1.state"
    STOCKX_BASE_URL=$(cat "$tmp/$1.url") STOCKX_API_KEY=sandbox-api-key \
    STOCKX_ACCESS_TOKEN=sandbox-access-token \
    STOCKX_RATE_STATE_DIR="$tmp/$1.state" STOCKX_RATE_ADAPTIVE=$2 \
        timeout 300 "$STOCKX" --rate 5/1s --log-level error \
        run tests/bench/adaptive.lua "$ADAPTIVE_N" seq \
        > "$tmp/$1.out" 2> "$tmp/$1.err" < /dev/null &
}

# adaptive_line NAME: prints the client's line and sets $line to it, or
# to nothing (BROKEN) if it failed.
adaptive_line() {
    line=$(cat "$tmp/$1.out")
    if [ -z "$(field sent "$line")" ] || [ "$(field failed "$line")" != 0 ]
    then
        tail -n 5 "$tmp/$1.err" >&2
        broken "adaptive.lua ($1) failed: $line"
        line=
    fi
    echo "  ${1#adapt_}: ${line:-failed}"
}

adaptive() {
    echo "== adaptive: $ADAPTIVE_N GETs in sequence, --rate 5/1s against a" \
        "sandbox at 1/1s, rate_adaptive off and on at once"
    if ! start_limited adapt_off || ! start_limited adapt_on; then
        broken "stockx sandbox --rate-limit 1/1s did not print its URL"
        stop_limited
        return
    fi
    adaptive_run adapt_off false
    p_off=$!
    adaptive_run adapt_on true
    p_on=$!
    wait "$p_off"
    wait "$p_on"
    stop_limited
    adaptive_line adapt_off
    off=$line
    adaptive_line adapt_on
    on=$line
    ideal=$(field ideal "$on")
    row adaptive "off $(field status_429 "$off") 429s/$(field sent "$off") req" \
        "on $(field status_429 "$on") 429s/$(field sent "$on") req" "-" \
        "<= 3" "$(verdict "$(field status_429 "$on")" "<=" 3)"
    wr=$(field wall_ratio "$on")
    row adaptive "off $(field wall "$off") s ($(field wall_ratio "$off"))" \
        "on $(field wall "$on") s, ideal ${ideal:-?}" "$wr" "<= 1.2" \
        "$(verdict "$wr" "<=" 1.2)"
}

# ---- main ------------------------------------------------------------------

trap cleanup EXIT
trap 'exit 130' INT TERM HUP

build
[ -x "$STOCKX" ] || broken "$STOCKX is missing (run make first)"
# 10,000 parked requests may mean as many sockets, in both processes.
# shellcheck disable=SC3045 # dash, bash and busybox sh all have ulimit -n
ulimit -n "$(ulimit -Hn)" 2> /dev/null

tmp=$(mktemp -d "${TMPDIR:-/tmp}/stockx-bench.XXXXXX") || exit 1
ngx=$(sh tests/nginx.sh start "$tmp/nginx") || exit 1
http_port='' https_port='' ca_file=''
eval "$ngx"
throughput http1 "http://127.0.0.1:$http_port"
throughput h2 "https://127.0.0.1:$https_port" "$ca_file"
sh tests/nginx.sh stop "$tmp/nginx"
startup
memory
quota
cache
adaptive

echo
echo "== summary ($(nproc) cores, $N GETs at concurrency $C)"
# shellcheck disable=SC2059 # ROW is the format
printf "$ROW" test plain stockx ratio target result
printf '%s' "$summary"
if [ $broke -ne 0 ]; then
    echo "bench: something broke (see BROKEN above)"
    exit 1
fi
echo "bench: all ran; targets are reported, not enforced"
