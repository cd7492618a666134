#!/bin/sh
# Scheduled jobs on the real clock, with real signals: a job keeps the
# process alive, the graceful shutdown (runs finish within --grace: exit
# 0; past it they are cancelled, <close> runs: 128+N), a second signal
# stops at once, busy code is stopped after the grace period, SIGHUP is
# ignored; and `stockx cron`'s next runs through DST changes.  The
# scheduler's logic on a simulated clock is tests/lua/test_schedule.lua.
set -u
STOCKX=${STOCKX:-./stockx}
t=$(mktemp -d /tmp/stockx-sched.XXXXXX)
trap 'rm -rf "$t"' EXIT
passed=0
failed=0

. tests/clihelp.sh

# start ARGS...: runs stockx in the background (out/err in $t), pid in $pid.
start() {
    "$STOCKX" "$@" > "$t/out" 2> "$t/err" < /dev/null &
    pid=$!
}

# wait_for FILE PATTERN: polls (up to 10 s) until FILE (out or err) matches.
wait_for() {
    i=0
    while ! grep -q -e "$2" "$t/$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 100 ] && return 1
        sleep 0.1
    done
}

# finish DESC WANT: waits for $pid (at most 15 s), checks its exit status.
finish() {
    i=0
    while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 150 ]; then kill -KILL "$pid"; break; fi
        sleep 0.1
    done
    wait "$pid"
    st=$?
    [ "$st" = "$2" ]
    ok $? "$1 (exit $st, want $2)"
}

cat > "$t/job.lua" <<'LUA'
-- a run of arg[1] seconds every second; <close> and the end are printed
local dur = tonumber(arg[1])
stockx.every(1, function(ctx)
  local _ <close> = setmetatable({}, { __close = function()
    print("closed run " .. ctx.run); io.stdout:flush() end })
  print("run " .. ctx.run); io.stdout:flush()
  if dur < 0 then local n = 0; while true do pcall(function() n = n + 1 end) end end
  stockx.sleep(dur)
  print("finished run " .. ctx.run .. " shutting_down=" .. tostring(ctx.shutting_down))
end, { name = "work", run_now = true })
LUA

# a job keeps the process alive until it is cancelled
cat > "$t/three.lua" <<'LUA'
local job
job = stockx.every(0.2, function(ctx)
  print("run", ctx.run)
  if ctx.run == 3 then job:cancel() end
end, { name = "three" })
print("main chunk done")
LUA
run 0 "a job keeps the process running until it is cancelled" run "$t/three.lua"
[ "$(grep -c '^run' "$t/out")" = 3 ]; ok $? "it ran three times, then the process ended"
has out "^main chunk done" "after the main chunk had returned"
has err "event=job.scheduled every=0.2s" "scheduling is logged"
has err "event=job.run duration=[0-9.]* name=three outcome=ok run=3" "each run is logged"

# graceful: the run in progress finishes, no new one starts, exit 0
start --grace 5 run "$t/job.lua" 1.5
wait_for out "^run 1"
kill -TERM "$pid"
finish "SIGTERM during a run that ends within the grace period" 0
has out "^finished run 1 shutting_down=true" "the run finished, and saw ctx.shutting_down"
has out "^closed run 1" "its <close> ran"
[ "$(grep -c '^run' "$t/out")" = 1 ]; ok $? "no run started after the signal"
has err "event=shutdown.started signal=SIGTERM grace=5.000" "the shutdown is logged with the grace"
has err "event=shutdown.done" "and its clean end"

# past the grace period the run is cancelled, its <close> runs: 143
start --grace 1 run "$t/job.lua" 30
wait_for out "^run 1"
kill -TERM "$pid"
finish "SIGTERM with a run longer than --grace 1" 143
has out "^closed run 1" "the cancelled run's <close> ran"
has err "event=shutdown.grace_over" "the end of the grace period is logged"
has err "outcome=cancelled" "the run is logged as cancelled"
has err "stockx: interrupted" "and the process says it was interrupted"

# SIGINT: 130; --grace 0 cancels at once
start --grace 0 run "$t/job.lua" 30
wait_for out "^run 1"
kill -INT "$pid"
finish "SIGINT with --grace 0" 130
has out "^closed run 1" "the run is cancelled at once, <close> run"

# a second signal stops at once
start --grace 30 run "$t/job.lua" 30
wait_for out "^run 1"
kill -TERM "$pid"
wait_for err "shutdown.started"
kill -INT "$pid"
finish "a second signal during the grace period stops at once" 143

# code busy in Lua (in pcall) is stopped when the grace period is over
start --grace 1 run "$t/job.lua" -1
wait_for out "^run 1"
kill -TERM "$pid"
finish "a run busy in a pcall loop is stopped after --grace 1" 143
has err "interrupted!" "with the interrupt's error"

# SIGHUP is ignored by a process with jobs
start --grace 5 run "$t/job.lua" 0.1
wait_for out "^run 2"
kill -HUP "$pid"
sleep 0.3
kill -0 "$pid" 2>/dev/null; ok $? "SIGHUP leaves a scheduled process running"
kill -TERM "$pid"
finish "which still stops on SIGTERM" 0

# --grace's value is checked
run 2 "--grace without a number is a usage error" --grace soon -e ''
has err "'soon' is not a number of seconds from 0 to 3600" "naming the value and range"
run 2 "--grace out of range" --grace 4000 -e ''
run 2 "--grace without a value" --grace

# ---- the flagship on a schedule -----------------------------------------
start --rate off --grace 10 run --sandbox --rate-limit off scripts/reprice.lua --every 1s \
    scripts/rules.csv "$t/every.jsonl"
wait_for err "outcome=ok run=2"
kill -TERM "$pid"
finish "reprice.lua --every 1s, stopped by SIGTERM between runs" 0
has err "event=job.scheduled every=1s .*name=reprice" "it schedules itself"
has err "done: [1-9][0-9]* changed, 0 failed" "the first run applied its plan"
has err "nothing to change" "the next found the prices already set"
[ -s "$t/every.jsonl" ]; ok $? "and wrote the audit log"
run 1 "reprice.lua --cron with a bad expression fails before anything runs" run \
    --sandbox scripts/reprice.lua --cron 'every day'
has err "bad argument #1 'expr' to 'stockx.cron'" "naming the expression"
run 1 "reprice.lua with a bad CSV fails before scheduling" run --sandbox \
    scripts/reprice.lua --every 15m "$t/none.csv"
has err "none.csv" "naming the file"

# the systemd units: the timer's keys, its calendar, and the service's
# command line, which must run (pointed at the sandbox)
unit=scripts/systemd/stockx-reprice
grep -q '^RandomizedDelaySec=' $unit.timer && grep -q '^Persistent=true' $unit.timer
ok $? "the timer has RandomizedDelaySec and Persistent=true"
cal=$(sed -n 's/^OnCalendar=//p' $unit.timer)
if command -v systemd-analyze > /dev/null 2>&1; then
    systemd-analyze calendar --iterations=2 "$cal" > "$t/cal" 2>&1
    ok $? "systemd accepts OnCalendar=$cal"
    grep -q ':15:00\|:00:00\|:30:00\|:45:00' "$t/cal"; ok $? "every quarter hour"
fi
mkdir -p "$t/home/.config/stockx"
cp scripts/reprice.lua scripts/rules.csv "$t/home/.config/stockx/"
cmd=$(sed -n 's/^ExecStart=//p' $unit.service | sed "s#%h#$t/home#g; \
    s#^/usr/local/bin/stockx #--rate off #; s# run # run --sandbox --rate-limit off #")
# shellcheck disable=SC2086
run 0 "the service's ExecStart runs a pass" $cmd
has err '"event":"job\|"event":"pool.closed"' "logging JSON lines"
[ -s "$t/home/.config/stockx/reprice-audit.jsonl" ]; ok $? "into the audit log next to the rules"

# ---- stockx cron ---------------------------------------------------------
run 0 "stockx cron through Berlin's spring change" cron '30 2 * * *' --tz Europe/Berlin \
    --from 2026-03-28 --count 3
has out "^2026-03-28T02:30:00+01:00  Sat  01:30Z" "02:30 CET the day before"
has out "^2026-03-29T03:00:00+02:00  Sun  01:00Z" "at the jump (03:00 CEST) when 02:30 is skipped"
has out "^2026-03-30T02:30:00+02:00  Mon  00:30Z" "02:30 CEST after it"
run 0 "stockx cron through New York's fall change" cron '30 1 * * *' --tz America/New_York \
    --from 2026-11-01 --count 2
has out "^2026-11-01T01:30:00-04:00" "a fixed-time job runs at the first 01:30"
has out "^2026-11-02T01:30:00-05:00" "and not again at the second"
run 0 "an hourly job in the repeated hour" cron '0 * * * *' --tz America/New_York \
    --from 2026-11-01T04:30Z --count 3
[ "$(grep -c '^2026-11-01T01:00:00' "$t/out")" = 2 ]; ok $? "runs in both 01:00 hours"
run 0 "a Feb 29 job from 2025" cron '0 0 29 2 *' --tz UTC --from 2025-01-01 --count 1
has out "^2028-02-29T00:00:00+00:00" "waits for the leap year"
run 2 "a bad expression" cron 'x * * * *'
has err "minute: bad value 'x'" "names the field and value"
run 2 "an impossible date" cron '0 0 30 2 *'
has err "never occurs" "says so"
run 2 "an unknown zone" cron '@daily' --tz Mars/Base
has err "unknown time zone 'Mars/Base'" "names it"
run 2 "a bad --count" cron '@daily' --count 0

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
