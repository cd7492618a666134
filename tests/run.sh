#!/bin/sh
# `make test`: C unit tests, then every tests/lua/test_*.lua run by the
# real binary against a sandbox (`stockx sandbox`, a separate process on
# an ephemeral loopback port) with nginx (HTTPS + HTTP/2) in front of it,
# then the CLI checks: tests/cli.sh, tests/cli_config.sh (the config
# file), tests/cli_hardening.sh, tests/cli_sandbox.sh, the scheduler's with
# real signals (tests/cli_schedule.sh), OAuth (tests/cli_auth.sh), one quota
# for several processes (tests/cli_quota.sh) and for several hosts
# through a real redis-server (tests/cli_redis.sh), the adaptive limiter
# (tests/cli_adaptive.sh), the progress lines through a
# pty (tests/progress.sh), the REPL's through tmux (tests/repl.sh), and
# tests/install.sh (make install into a temporary DESTDIR, the man page,
# the completion, the drift check).  Ends with "N passed, N failed".
#
# STOCKX=path runs another build (make test-asan sets ./stockx-asan) for
# the sandbox and the tests alike;
# STOCKX_VALGRIND=1 runs the sandbox and every Lua test under valgrind (the
# sandbox must stop cleanly on SIGTERM at the end); TESTS="pool retry"
# runs only those Lua tests.
set -u
cd "$(dirname "$0")/.." || exit 1
STOCKX=${STOCKX:-./stockx}
tmp=$(mktemp -d /tmp/stockx-test.XXXXXX)
passed=0
failed=0
sandbox_pid=
# No test may read the user's own config file (~/.config/stockx/config.lua).
mkdir -p "$tmp/xdg-config"
export XDG_CONFIG_HOME="$tmp/xdg-config"
unset STOCKX_CONFIG STOCKX_PROFILE

cleanup() {
    [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null
    sh tests/nginx.sh stop "$tmp/nginx" >/dev/null 2>&1
    sh tests/redis.sh stop "$tmp/redis" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# count OUTPUT_FILE STATUS NAME: adds the file's "N passed, N failed" line
# to the totals; a missing line or a non-zero status is one more failure.
count() {
    line=$(grep -E '^(# )?[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
    p=$(echo "$line" | sed -n 's/^[# ]*\([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    if [ "$2" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
        failed=$((failed + 1))
        echo "FAIL $3: exit status $2"
    fi
    if [ -z "$line" ]; then
        echo "FAIL $3: no result line"
        [ "$2" -eq 0 ] && failed=$((failed + 1))
    fi
}

echo "== unit tests"
for t in build/unit/test_*; do
    case $t in *.d) continue ;; esac
    "$t" > "$tmp/unit.out" 2>&1
    st=$?
    grep -E 'FAIL|failed' "$tmp/unit.out" | grep -v ' 0 failed' || true
    echo "$(basename "$t"): $(tail -n 1 "$tmp/unit.out")"
    count "$tmp/unit.out" $st "$t"
done

# The tool every stockx process of the suite runs under (a simple command
# prefix, so that $! of a background job is the process itself).
vg=
if [ -n "${STOCKX_VALGRIND:-}" ]; then
    vg="valgrind -q --error-exitcode=99 --leak-check=full"
    vg="$vg --errors-for-leak-kinds=definite,indirect"
    vg="$vg --show-leak-kinds=definite,indirect"
fi

# The sandbox runs under the same build and tool as the client, so that
# ASan or valgrind watch the server side too; stop_sandbox judges it.
echo "== sandbox ($STOCKX${STOCKX_VALGRIND:+ under valgrind})"
$vg "$STOCKX" sandbox --port 0 --rate-limit off --quota off > "$tmp/sandbox.out" 2> "$tmp/sandbox.err" &
sandbox_pid=$!
i=0
limit=100                                  # tenths of a second
[ -n "${STOCKX_VALGRIND:-}" ] && limit=900 # valgrind starts slowly
while ! grep -q 'listening on' "$tmp/sandbox.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt $limit ] || ! kill -0 "$sandbox_pid" 2>/dev/null; then
        echo "FAIL: the sandbox did not start"; cat "$tmp/sandbox.err"
        echo "$passed passed, $((failed + 1)) failed"
        exit 1
    fi
    sleep 0.1
done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$tmp/sandbox.out")
port=${url##*:}
echo "sandbox at $url"
if sh tests/nginx.sh start "$tmp/nginx" "$port" > "$tmp/nginx.env"; then
    . "$tmp/nginx.env"
    export TEST_H2_URL="https://127.0.0.1:$https_port"
    export TEST_CA_FILE="$ca_file"
else
    echo "nginx did not start: HTTP/2 tests will fail"
fi
# A redis-server for tests/lua/test_redis.lua (the limiter's Redis backend)
if sh tests/redis.sh start "$tmp/redis" > "$tmp/redis.env"; then
    export TEST_REDIS_URL="redis://127.0.0.1:$(sed -n 's/^redis_port=//p' "$tmp/redis.env")"
else
    echo "redis-server did not start: the Redis tests will fail"
fi
export STOCKX_BASE_URL="$url"
export STOCKX_API_KEY=sandbox-api-key
# the shared limiter's state files of this run (not the user's)
export STOCKX_RATE_STATE_DIR="$tmp/rate-state"
export STOCKX_ACCESS_TOKEN=sandbox-access-token
export LUA_PATH="tests/lua/?.lua;;"
export TEST_TMP="$tmp"

run_lua() {
    $vg "$STOCKX" run "$@"
}

echo "== lua tests ($STOCKX${STOCKX_VALGRIND:+ under valgrind})"
for f in tests/lua/test_*.lua; do
    name=$(basename "$f" .lua)
    if [ -n "${TESTS:-}" ] && ! echo " $TESTS " | grep -q " ${name#test_} "; then
        continue
    fi
    run_lua "$f" > "$tmp/$name.out" 2> "$tmp/$name.err"
    st=$?
    grep -E '^not ok' "$tmp/$name.out"
    if [ $st -ne 0 ]; then sed 's/^/    /' "$tmp/$name.err" | tail -n 30; fi
    echo "$name: $(grep -E 'passed, [0-9]+ failed' "$tmp/$name.out" | tail -n 1)"
    count "$tmp/$name.out" $st "$name"
    cat "$tmp/$name.out" "$tmp/$name.err" >> "$tmp/all-output"
done

# run_cli NAME: runs tests/NAME.sh, counts its result line, keeps its output
# for the secret check.
run_cli() {
    echo "== $1"
    STOCKX="$STOCKX" sh "tests/$1.sh" > "$tmp/$1.out" 2>&1
    st=$?
    grep -E '^not ok' "$tmp/$1.out"
    echo "$1: $(tail -n 1 "$tmp/$1.out")"
    count "$tmp/$1.out" $st "$1"
    cat "$tmp/$1.out" >> "$tmp/all-output"
}

for c in cli cli_config cli_hardening cli_sandbox cli_schedule cli_auth cli_quota cli_redis cli_adaptive cli_breaker cli_metrics progress repl install; do
    run_cli $c
done

# Stops the sandbox with SIGTERM: it must exit 0 ("stopped") with no
# sanitizer or valgrind report on its stderr.
stop_sandbox() {
    kill -TERM "$sandbox_pid" 2>/dev/null
    wait "$sandbox_pid"
    st=$?
    sandbox_pid=
    if [ $st -eq 0 ] && ! grep -q -E \
        'ERROR: (Address|Leak)Sanitizer|runtime error:|^==[0-9]+== ' \
        "$tmp/sandbox.err"; then
        echo "ok - the sandbox stopped cleanly"
        passed=$((passed + 1))
    else
        echo "not ok - the sandbox stopped with status $st or a report:"
        tail -n 40 "$tmp/sandbox.err" | sed 's/^/    /'
        failed=$((failed + 1))
    fi
    cat "$tmp/sandbox.out" "$tmp/sandbox.err" >> "$tmp/all-output"
}

echo "== sandbox shutdown"
stop_sandbox

# Secrets must never reach logs, errors or test output.
if grep -q -e "$STOCKX_API_KEY" -e "$STOCKX_ACCESS_TOKEN" -e cfgtest-key-7f3a91 \
    -e cfgtest-client-secret-52bd0e -e s3cr3t-p -e wrong-pass-123 \
    "$tmp/all-output"; then
    echo "not ok - a secret appeared in the output of the tests"
    failed=$((failed + 1))
else
    echo "ok - no secret appeared in the output of the tests"
    passed=$((passed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
