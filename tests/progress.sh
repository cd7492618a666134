#!/bin/sh
# Progress lines through a real terminal: each check runs stockx under
# `script` (util-linux's, in Debian's essential bsdutils), which gives it
# a pty, against the in-process sandbox.  A slow paginate shows pages,
# items and the total, and says when it waits for the rate limit (the
# client's limiter, or the server's 429); nothing reaches stderr when it
# is not a terminal; stdout is the same with and without one; a quick
# loop prints nothing; STOCKX_PROGRESS=0 and opts.progress = false turn
# it off; log lines erase the line first; a bar never finished neither
# hangs the process nor hides a deadlock.  Run by tests/run.sh.
set -u
STOCKX=${STOCKX:-./stockx}
t=$(mktemp -d /tmp/stockx-progress.XXXXXX)
trap 'rm -rf "$t"' EXIT
passed=0
failed=0

CLI_ERR_FILTER='level='
. tests/clihelp.sh

# pty DESC CMD: runs the shell command CMD on a pty; what the terminal
# received (stdout and stderr, as bytes) goes to $t/pty, and the time
# taken in seconds to $t/secs.
pty() {
    start=$(date +%s)
    timeout 120 script -qfec "$2" /dev/null < /dev/null > "$t/pty" 2> "$t/err"
    st=$?
    echo $(($(date +%s) - start)) > "$t/secs"
    [ "$st" = 0 ]
    ok $? "$1 (exit $st)"
}

# seen PATTERN DESC: the pty's output, with \r as line breaks and ESC as
# "<ESC>", matches the extended regexp.
seen() {
    tr '\r' '\n' < "$t/pty" | sed 's/\x1b/<ESC>/g' | grep -q -E -e "$1"
    ok $? "$2"
}
unseen() {
    tr '\r' '\n' < "$t/pty" | sed 's/\x1b/<ESC>/g' | grep -q -E -e "$1"
    [ $? != 0 ]
    ok $? "$2"
}

# ---- a paginate slow enough to show its line --------------------------------
cat > "$t/pages.lua" <<'LUA'
local n, ids = 0, {}
for l in stockx.paginate("/selling/listings", { pageSize = 50 }, { max_pages = tonumber(arg[1]) }) do
  n = n + 1
  ids[#ids + 1] = l.listingId
end
print(n, #table.concat(ids))
LUA
SLOW="$STOCKX --rate 1/2s --log-level warn run --sandbox --rate-limit off $t/pages.lua"

# the same run with stderr to a file, meanwhile (it mostly sleeps)
"$STOCKX" --rate 1/2s --log-level warn run --sandbox --rate-limit off "$t/pages.lua" \
    > "$t/file.out" 2> "$t/file.err" &
file_pid=$!
pty "paginate on a terminal, 5 pages at 1 request per 2 s" \
    "COLUMNS=120 $SLOW > $t/tty.out"
seen '<ESC>\[K/selling/listings: page 2/5 [0-9]+/250 items [0-9]+%' \
    "the line names the path, the page of how many, the items of the total, a percent"
seen ' [0-9.]+ items/s [0-9]+s left' "it shows the rate and the time left"
seen 'waiting for the rate limit$' "a request held over a second by the limiter says so"
seen '<ESC>\[K/selling/listings: page 5/5 250/250 items 100% \[#+\] .* done in [0-9]+s$' \
    "the final line: every item of the total, how long it took"
tr '\r' '\n' < "$t/pty" | sed 's/\x1b\[K//' | grep -v '^ts=' |
    awk 'length > 119 { bad = 1 } END { exit bad }'
ok $? "no progress line is wider than COLUMNS - 1"
grep -q "done in [0-9]*s$(printf '\r')\$" "$t/pty"
ok $? "the final line ends with a newline"

wait $file_pid
ok $? "the same run with stderr to a file"
cmp -s "$t/tty.out" "$t/file.out" && [ -s "$t/file.out" ]
ok $? "stdout is the same with and without a terminal"
[ ! -s "$t/file.err" ]
ok $? "not a terminal: nothing at all on stderr"

pty "paginate on a terminal, stdout on the terminal too" "COLUMNS=120 $SLOW 2"
seen '^100	[0-9]+$' "stdout reaches the terminal on a line of its own"

# ---- quick loops, and the switches --------------------------------------------
pty "a paginate under a second" \
    "$STOCKX --rate off --log-level warn run --sandbox --rate-limit off $t/pages.lua > /dev/null"
[ ! -s "$t/pty" ]
ok $? "prints nothing at all"

pty "STOCKX_PROGRESS=0" "STOCKX_PROGRESS=0 $SLOW 2 > /dev/null"
[ ! -s "$t/pty" ]
ok $? "turns the line off"

cat > "$t/off.lua" <<'LUA'
for _ in stockx.paginate("/selling/listings", { pageSize = 50 }, { max_pages = 2, progress = false }) do end
LUA
pty "opts.progress = false" \
    "$STOCKX --rate 1/2s --log-level warn run --sandbox --rate-limit off $t/off.lua"
[ ! -s "$t/pty" ]
ok $? "turns it off for one loop"

# ---- the server's 429, and log lines -----------------------------------------
pty "a paginate the sandbox answers 429 (1 request per 3 s)" \
    "COLUMNS=120 $STOCKX --log-level warn run --sandbox --rate-limit 1/3s $t/pages.lua 3 > /dev/null"
seen 'waiting: rate limited by the server, retry in [0-9]+ s$' \
    "the line says the server asked to wait, and how long is left"
seen '^<ESC>\[Kts=[^ ]+ level=warn event=retry.429 ' \
    "the retry.429 log line erases the progress line first"

# ---- stockx.progress in a script ------------------------------------------------
cat > "$t/bar.lua" <<'LUA'
local bar <close> = stockx.progress { total = 4, label = "sleepy" }
for _ = 1, 4 do
  stockx.sleep(0.4)
  bar:advance()
end
stockx.progress.print("printed", 1)
LUA
pty "stockx.progress{total=4, label=} at 50 columns" "COLUMNS=50 $STOCKX $t/bar.lua"
seen '^<ESC>\[Ksleepy: 3/4 75% \[#+-+\] [0-9.]+/s [0-9]+s left$' \
    "label, count, percent, a bar, rate and time left"
seen '^<ESC>\[Ksleepy: 4/4 100% .*done in 2s$' "<close> prints the final line"
tr '\r' '\n' < "$t/pty" | sed 's/\x1b\[K//' | awk 'length > 49 { bad = 1 } END { exit bad }'
ok $? "every line fits 50 columns"
seen '^(<ESC>\[K)?printed	1$' "stockx.progress.print erases the line and writes on a line of its own"

cat > "$t/open.lua" <<'LUA'
local bar = stockx.progress { total = 2, label = "left open" }
stockx.sleep(1.2)
bar:advance()
stockx.spawn(function() stockx.get("/selling/listings") end)
LUA
pty "a bar never finished" "$STOCKX run --sandbox --rate-limit off $t/open.lua"
[ "$(cat "$t/secs")" -le 3 ]
ok $? "does not keep the process alive ($(cat "$t/secs")s)"
seen '^<ESC>\[Kleft open: 1/2 50% .*done in [0-9]+s$' "its refresher finished the line"

cat > "$t/deadlock.lua" <<'LUA'
local bar = stockx.progress { label = "stuck" }
local a, b
a = stockx.spawn(function() stockx.sleep(0.01); b:wait() end)
b = stockx.spawn(function() stockx.sleep(0.01); a:wait() end)
a:wait()
bar:done()
LUA
start=$(date +%s)
timeout 20 script -qfec "$STOCKX $t/deadlock.lua" /dev/null < /dev/null > "$t/pty" 2>&1
st=$?
[ "$st" = 1 ] && [ $(($(date +%s) - start)) -le 3 ]
ok $? "a deadlock with a bar showing is still reported (exit $st)"
seen 'deadlock' "naming it"

# ---- the repricer's bars -------------------------------------------------------
pty "scripts/reprice.lua --dry-run on a terminal" \
    "COLUMNS=100 $STOCKX --dry-run --rate 10/1s run --sandbox --rate-limit off scripts/reprice.lua scripts/rules.csv $t/audit.jsonl > /dev/null"
seen '^<ESC>\[Kmarket data: 24/24 100% .*done in [0-9]+s$' "market data: one bar, finished"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
