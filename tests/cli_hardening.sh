#!/bin/sh
# Command-line hardening checks: logs without fields, many global flags,
# absurd --rate values, busy loops in coroutines and pcall stopped by the
# first SIGTERM, no .part file left by SIGTERM or os.exit during a
# download, a leak check for refused requests, and package.path (the
# script's directory, $XDG_CONFIG_HOME/stockx/lua).
# Run by tests/run.sh (which exports the sandbox URL and credentials).
set -u
STOCKX=${STOCKX:-./stockx}
case $STOCKX in /*) ;; *) STOCKX=$(pwd)/$STOCKX ;; esac
t=$(mktemp -d /tmp/stockx-clih.XXXXXX)
trap 'chmod -R u+w "$t" 2>/dev/null; rm -rf "$t"' EXIT
passed=0
failed=0

. tests/clihelp.sh

# alive PID: the process exists and is not a zombie.
alive() {
    [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# interrupt SIGNAL CODE: runs stockx -e CODE in the background, sends it
# SIGNAL once after half a second, waits up to 5 s for it to stop (then
# kills it: stopped=no) and leaves its exit status in $st.
interrupt() {
    "$STOCKX" -e "$2" > "$t/out" 2> "$t/err" < /dev/null &
    pid=$!
    sleep 0.5
    kill -"$1" $pid
    i=0
    while alive $pid && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    stopped=yes
    if alive $pid; then stopped=no; kill -KILL $pid; fi
    wait $pid
    st=$?
}

# no_part DIR: no temporary download file is left in DIR.
no_part() { ! ls -A "$1" | grep -q part; }

# ---- stockx.log without fields ------------------------------------------
run 0 "stockx.log.* without fields, at --log-level debug" --log-level debug -e '
stockx.log.debug("m-debug"); stockx.log.info("m-info")
stockx.log.warn("m-warn"); stockx.log.error("m-error")'
for l in debug info warn error; do
    has err "level=$l event=script msg=m-$l" "stockx.log.$l(msg) is logged"
done

# ---- many global flags ---------------------------------------------------
run 0 "more than 8 global flags" --log-level info --log-level info \
    --log-level info --log-level info --log-level info --log-level info \
    --log-level info --log-level info --log-level info --log-level info \
    -e 'print("flags ok")'
has out "flags ok" "the script ran after 10 flags"
run 0 "12 mixed global flags" --rate off --log-level warn --log-format text \
    --rate 5/1s --log-level info --log-format json --rate off --log-level info \
    --log-format text --rate 2/1s --log-level info --log-format text \
    -e 'local r = stockx.settings().rate; print("rate", r and r.rate)'
has out "rate	2" "the last --rate wins"

# ---- absurd --rate values ------------------------------------------------
for r in 1/1e300s 2/1e400s 1e400/1s; do
    "$STOCKX" --rate "$r" -e 'print("started")' > "$t/out" 2> "$t/err" < /dev/null
    st=$?
    [ "$st" != 0 ] && ! grep -q started "$t/out"
    ok $? "--rate $r is refused (exit $st)"
    has err "rate" "--rate $r: the message names the rate"
done

# ---- signals: the first SIGTERM stops a busy loop anywhere ---------------
interrupt TERM 'coroutine.wrap(function() while true do end end)()'
[ "$stopped" = yes ]; ok $? "a busy loop in coroutine.wrap stops on the first SIGTERM"
[ "$st" = 143 ]; ok $? "with status 143 (got $st)"
has err "stack traceback" "and a traceback"

interrupt TERM 'pcall(function() while true do end end)'
[ "$stopped" = yes ]; ok $? "a busy loop in pcall stops on the first SIGTERM"
[ "$st" = 143 ]; ok $? "with status 143 (got $st)"
has err "stack traceback" "and a traceback"

interrupt TERM 'local co = coroutine.create(function() while true do end end)
coroutine.resume(co)'
[ "$stopped" = yes ] && [ "$st" = 143 ]
ok $? "a busy loop in coroutine.resume stops on the first SIGTERM (status $st)"

# ---- no .part file after SIGTERM or os.exit during a download ------------
mkdir -p "$t/dl1" "$t/dl2"
"$STOCKX" -e 'stockx.configure{rate=false}
stockx.download("/_test/slow", arg[1] .. "/f.bin",
  {query = {n = 100000, chunk = 1000, delay = 0.1}})' "$t/dl1" \
    > "$t/out" 2> "$t/err" < /dev/null &
pid=$!
sleep 0.6
ls -A "$t/dl1" | grep -q part; ok $? "a download in progress has a temporary file"
kill -TERM $pid
i=0
while alive $pid && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
alive $pid && kill -KILL $pid
wait $pid
st=$?
[ "$st" = 143 ]; ok $? "SIGTERM stops the download with status 143 (got $st)"
no_part "$t/dl1"; ok $? "SIGTERM during a download leaves no .part file"
[ ! -e "$t/dl1/f.bin" ]; ok $? "nor the target file"

run 0 "os.exit during a download" -e 'stockx.configure{rate=false}
stockx.spawn(function() stockx.sleep(0.5); os.exit(0) end)
stockx.download("/_test/slow", arg[1] .. "/f.bin",
  {query = {n = 100000, chunk = 1000, delay = 0.1}})' "$t/dl2"
no_part "$t/dl2"; ok $? "os.exit during a download leaves no .part file"

# ---- refused requests do not leak -----------------------------------------
cat > "$t/leak.lua" <<'LUA'
local function rss()
  for l in io.lines("/proc/self/status") do
    local v = l:match("^VmRSS:%s*(%d+)")
    if v then return tonumber(v) end
  end
end
stockx.configure { rate = false }
local function refused()
  for _ = 1, 2000 do pcall(stockx.request, { path = "/x", headers = { X = "a\r\nb" } }) end
end
refused() -- warm up (pools, interned strings)
collectgarbage(); collectgarbage()
local before = rss()
for _ = 1, 20 do refused() end -- 40,000 refused requests
collectgarbage(); collectgarbage()
print("growth_kb", rss() - before)
LUA
# ASan's quarantine would count freed memory as growth
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" \
    "$STOCKX" run "$t/leak.lua" > "$t/out" 2> "$t/err" < /dev/null
st=$?
growth=$(sed -n 's/^growth_kb	\([0-9-]*\).*/\1/p' "$t/out")
[ "$st" = 0 ] && [ -n "$growth" ] && [ "$growth" -lt 8192 ]
ok $? "40,000 requests refused for a CR/LF header grow RSS by < 8 MB (grew ${growth:-?} kB)"

# ---- package.path ----------------------------------------------------------
mkdir -p "$t/proj" "$t/xdg/stockx/lua"
echo 'return { answer = 42 }' > "$t/proj/helpers.lua"
echo 'print("helpers", require("helpers").answer)' > "$t/proj/main.lua"
(cd / && env -u LUA_PATH -u LUA_PATH_5_4 "$STOCKX" run "$t/proj/main.lua") \
    > "$t/out" 2> "$t/err" < /dev/null
st=$?
[ "$st" = 0 ] && grep -q "helpers	42" "$t/out"
ok $? "require finds a module next to the script run from another directory (exit $st)"

echo 'return { where = "xdg" }' > "$t/xdg/stockx/lua/xdgmod.lua"
(cd / && env -u LUA_PATH -u LUA_PATH_5_4 XDG_CONFIG_HOME="$t/xdg" \
    "$STOCKX" -e 'print("xdgmod", require("xdgmod").where)') \
    > "$t/out" 2> "$t/err" < /dev/null
st=$?
[ "$st" = 0 ] && grep -q "xdgmod	xdg" "$t/out"
ok $? "\$XDG_CONFIG_HOME/stockx/lua/?.lua is on package.path (exit $st)"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
