#!/bin/sh
# The REPL through a real terminal: tmux (a private socket, no config, a
# fixed 100x30 window, TERM=xterm, INPUTRC=/dev/null, a temporary HOME and
# XDG_STATE_HOME) runs `stockx repl --sandbox`; send-keys types and
# capture-pane reads the screen, polled against a deadline.  Then piped
# input, without a terminal.  Run by tests/run.sh; skipped (with a
# message) only when tmux is missing.  Prints "N passed, N failed".
set -u
STOCKX=${STOCKX:-./stockx}
case $STOCKX in /*) ;; *) STOCKX=$(pwd)/$STOCKX ;; esac
if ! command -v tmux >/dev/null 2>&1; then
    echo "skipped: tmux is not installed (apt-get install tmux)"
    echo "0 passed, 0 failed"
    exit 0
fi
t=$(mktemp -d /tmp/stockx-repl.XXXXXX)
T="tmux -S $t/sock -f /dev/null"
trap '$T kill-server 2>/dev/null; rm -rf "$t"' EXIT
passed=0
failed=0
DEADLINE=${REPL_DEADLINE:-15} # seconds for each wait (ASan is slow)
STALL='^/selling/orders/active$:stall'

# The screen, scrollback included, wrapped lines joined; secrets masked
# (tests/run.sh checks that none reaches any output).
screen() {
    $T capture-pane -p -J -S - -t repl 2>/dev/null |
        sed -e 's/[[:space:]]*$//' -e 's/sandbox-api-key/<api key>/g' \
            -e 's/sandbox-access-token/<token>/g'
}

# The last non-empty line of the visible screen.
last_line() {
    $T capture-pane -p -J -t repl 2>/dev/null |
        sed -e 's/[[:space:]]*$//' -e '/^$/d' | tail -n 1
}

ok() {
    if [ "$1" = 0 ]; then
        passed=$((passed + 1)); echo "ok - $2"
    else
        failed=$((failed + 1)); echo "not ok - $2"
        screen | tail -n 25 | sed 's/^/#   /'
    fi
}

# sanitized DESC: no sanitizer report on the screen of the session.
sanitized() {
    ! screen | grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:'
    ok $? "$1"
}

# wait_for PATTERN: polls the screen until grep -E finds PATTERN.
wait_for() {
    end=$(($(date +%s) + DEADLINE))
    while ! screen | grep -q -E -e "$1"; do
        [ "$(date +%s)" -ge "$end" ] && return 1
        sleep 0.05
    done
    return 0
}

# expect PATTERN DESC
expect() { wait_for "$1"; ok $? "$2"; }

# wait_last TEXT: the last line of the screen is TEXT.
wait_last() {
    end=$(($(date +%s) + DEADLINE))
    while [ "$(last_line)" != "$1" ]; do
        [ "$(date +%s)" -ge "$end" ] && return 1
        sleep 0.05
    done
    return 0
}

# wait_prompt: the last line is an empty primary prompt.
wait_prompt() { wait_last ">"; }

# type TEXT: types TEXT (literally) and Enter.
type() {
    $T send-keys -t repl -l -- "$1"
    $T send-keys -t repl Enter
}

# keys TEXT: types TEXT, no Enter.
keys() { $T send-keys -t repl -l -- "$1"; }

# start ARGS...: a new session running stockx ARGS; EXITED=N when it ends.
start() {
    $T kill-session -t repl 2>/dev/null
    $T new-session -d -x 100 -y 30 -s repl \
        "env -u STOCKX_HISTFILE TERM=xterm INPUTRC=/dev/null HOME='$t/home' \
         XDG_STATE_HOME='$t/state' '$STOCKX' $*; echo EXITED=\$?; sleep 600"
    wait_prompt
}

mkdir -p "$t/home"
# a session that outlives the others, so the server never exits between
# two of them (and a new one never races the old one's shutdown)
$T new-session -d -s keep "sleep 3600"

# ---- Lua's rules -------------------------------------------------------------
start repl --sandbox --rate-limit off --fault "'$STALL'"
ok $? "stockx repl --sandbox shows a prompt"
screen | grep -q -E '^stockx [0-9].*\(Lua 5\.4\); Ctrl-D exits'
ok $? "after a first line (the version; no shared quota with --sandbox)"
type '=1+1'
expect '^2$' "a leading = means return"
type '1, "a"'
expect '^1 +"a"$' "a line is tried as return first: every value is printed"
type 'for i = 1, 3 do'
wait_last ">>"; ok $? "an incomplete statement gets the second prompt"
type '  print(i * 10)'
type 'end'
expect '^30$' "the whole chunk runs once complete"
screen | grep -q -E '^10$' && screen | grep -q -E '^20$'; ok $? "every line of it ran"
type 'x = = 1'
expect "^stockx: stdin:1: unexpected symbol near '='$" \
    "a syntax error that is not at <eof> is reported at once"
wait_prompt; ok $? "and the prompt is back to '> '"
type '=40 + 2'
type '=_ + 1'
expect '^43$' "_ holds the last result"

# ---- the printer ---------------------------------------------------------------
type '=setmetatable({b = 1, a = 2, [1] = "one", ["two words"] = true}, nil)'
expect '^\{ "one", a = 2, b = 1, \["two words"\] = true \}$' \
    "tables print with sorted keys"
type 'cyc = {name = "loop"}; cyc.self = cyc; shared = {1}'
type '=cyc'
expect '^<1>\{ name = "loop", self = <table 1> \}$' "a cycle is labelled"
type '={shared, shared}'
expect '^\{ <1>\{ 1 \}, <table 1> \}$' "a shared table is labelled"
type 'big = {}; for i = 1, 340 do big[i] = i end'
type '=big'
expect '^  \.\.\. 240 more$' "a long table stops with '... N more'"
type '={stockx.json.null, stockx.money.parse("76", "USD")}'
expect '^\{ null, 76\.00 USD \}$' "null and amounts print as such"

# ---- tasks at the prompt ---------------------------------------------------------
type 'data, res = stockx.get("/selling/listings", {pageSize = 2})'
type '=#data.listings + 500'
expect '^502$' "stockx.get works at the prompt"
type '=res'
expect '^<response 200 OK GET http://127\.0\.0\.1:[0-9]+/selling/listings\?pageSize=2, [0-9.]+ s, [0-9]+ bytes>$' \
    "a response prints its status, URL and time"
wait_prompt
type 'stockx.spawn(function() stockx.sleep(1) print("from the background") end)'
wait_prompt
keys 'half typed'
expect '^from the background$' "a background task's print reaches the screen"
[ "$(last_line)" = "> half typed" ]
ok $? "above the prompt, with the half-typed line restored"
$T send-keys -t repl C-u
type 'stockx.spawn(function() stockx.sleep(1) stockx.log.warn("logged meanwhile") end)'
wait_prompt
keys 'also typed'
expect 'level=warn event=script msg="logged meanwhile"$' "so does a log line"
[ "$(last_line)" = "> also typed" ]; ok $? "with the line restored below it"
$T send-keys -t repl C-u

# ---- completion ------------------------------------------------------------------
keys 'stockx.pag'
$T send-keys -t repl Tab
expect '^> stockx\.paginate\($' "stockx.pag<TAB> completes the field"
$T send-keys -t repl C-u
keys 'stockx.pa'
$T send-keys -t repl Tab
expect '^stockx\.paginate\( +stockx\.patch\($' "stockx.pa<TAB> lists the candidates"
$T send-keys -t repl C-u
keys 'res.hea'
$T send-keys -t repl Tab
expect '^> res\.headers$' "res.hea<TAB>: a field made on first read"
$T send-keys -t repl C-u
type 'tk = stockx.spawn(function() end)'
wait_prompt
keys 'tk:ca'
$T send-keys -t repl Tab
expect '^> tk:cancel\($' "a method after ':'"
$T send-keys -t repl C-u
keys 'stockx.cat'
$T send-keys -t repl Tab
expect '^> stockx\.catalog$' "a module loaded on first use, without loading it"
$T send-keys -t repl C-u
type '=rawget(stockx, "catalog")'
expect '^nil$' "completion required nothing"

# ---- Ctrl-C ------------------------------------------------------------------------
type 'for i = 1, 2 do'
wait_last ">>"
$T send-keys -t repl C-c
wait_prompt; ok $? "Ctrl-C at the second prompt gives a new first prompt"
type '=7 * 6 + 1000'
expect '^1042$' "and the multi-line chunk was dropped"

type 'bg = stockx.spawn(function() while true do stockx.sleep(0.1) end end)'
wait_prompt
closer='setmetatable({}, {__close = function() print("closed " .. WHAT) end})'
type "WHAT = 'sleep'; do local c <close> = $closer; print('sleeping'); stockx.sleep(60) end"
wait_for '^sleeping$'
$T send-keys -t repl C-c
expect '^stockx: interrupted$' "Ctrl-C stops a chunk in stockx.sleep(60)"
expect '^closed sleep$' "its <close> variables ran"
wait_prompt; ok $? "and the prompt is back"
type '=(bg:status() == "waiting" or bg:status() == "ready") and "alive!"'
expect '^"alive!"$' "a background task lives on"

type "WHAT = 'stall'; do local c <close> = $closer; print('requesting'); stockx.get('/selling/orders/active') end"
wait_for '^requesting$'
sleep 0.3 # the request reaches the sandbox, which never answers
$T send-keys -t repl C-c
expect '^closed stall$' "Ctrl-C stops a chunk waiting on a stalled request"
wait_prompt; ok $? "and the prompt is back"
type '=stockx.stats().in_flight + 2000'
expect '^2000$' "the request was abandoned"
type '=(bg:status() == "waiting" or bg:status() == "ready") and "alive?"'
expect '^"alive\?"$' "the background task still lives"

type "WHAT = 'busy'; do local c <close> = $closer; print('spinning'); pcall(function() coroutine.wrap(function() while true do end end)() end) end"
wait_for '^spinning$'
sleep 0.2
$T send-keys -t repl C-c
expect '^closed busy$' "Ctrl-C stops a busy loop in a coroutine inside pcall"
wait_prompt; ok $? "and the prompt is back"
type '=(bg:status() == "waiting" or bg:status() == "ready") and "alive#"'
expect '^"alive#"$' "the background task still lives after that"

# ---- history -----------------------------------------------------------------------
type 'stockx.configure{access_token = "tok-typed-here"}'
type 'key = "sandbox-api-key"'
type '=3000 + 3'
expect '^3003$' "lines after the secret ones run"
hist=$t/state/stockx/history
[ "$(stat -c %a "$hist" 2>/dev/null)" = 600 ]; ok $? "the history file is mode 0600"
[ "$(stat -c %a "$t/state/stockx" 2>/dev/null)" = 700 ]; ok $? "its directory is mode 0700"
grep -q -x '=1+1' "$hist"; ok $? "it is saved after every chunk"
grep -A 2 -x 'for i = 1, 3 do' "$hist" | tr '\n' '|' | grep -q -F 'for i = 1, 3 do|  print(i * 10)|end|'
ok $? "a multi-line chunk is one entry"
! grep -q -e 'tok-typed-here' -e 'sandbox-api-key' "$hist"
ok $? "a line with a secret is not written"
$T send-keys -t repl C-p C-p
expect '^> key = "<api key>"$' "but it is kept in memory (up arrow)"
$T send-keys -t repl C-u C-d
expect '^stockx: waiting for 1 task' "Ctrl-D with a task alive says the loop waits for it"
$T send-keys -t repl C-c
expect '^EXITED=130$' "as a script does: Ctrl-C then stops it (exit 130)"
sanitized "no sanitizer report in the first session"

start repl
ok $? "a second session starts"
$T send-keys -t repl C-p
expect '^> =3000 \+ 3$' "it reads the saved history"
$T send-keys -t repl C-u C-d
expect '^EXITED=0$' "Ctrl-D exits 0"
sanitized "no sanitizer report in the second session"

$T kill-session -t repl 2>/dev/null
$T new-session -d -x 100 -y 30 -s repl \
    "env TERM=xterm INPUTRC=/dev/null STOCKX_HISTFILE='$t/elsewhere' \
     '$STOCKX' repl; echo EXITED=\$?; sleep 600"
wait_prompt
type '=5000 + 5'
expect '^5005$' "STOCKX_HISTFILE names another history file"
$T send-keys -t repl C-d
wait_for '^EXITED=0$'
grep -q -x '=5000 + 5' "$t/elsewhere"; ok $? "which gets the entries"
[ "$(stat -c %a "$t/elsewhere" 2>/dev/null)" = 600 ]; ok $? "with mode 0600"
! grep -q -x '=5000 + 5' "$hist"; ok $? "and the default file does not"
$T kill-session -t repl 2>/dev/null
$T new-session -d -x 100 -y 30 -s repl \
    "env TERM=xterm INPUTRC=/dev/null STOCKX_HISTFILE=/dev/null HOME='$t/h3' \
     '$STOCKX' repl; echo EXITED=\$?; sleep 600"
wait_prompt
type '=6000 + 6'
expect '^6006$' "STOCKX_HISTFILE=/dev/null"
$T send-keys -t repl C-d
wait_for '^EXITED=0$'
[ ! -e "$t/h3" ] && [ -c /dev/null ]; ok $? "keeps no history file"

$T kill-session -t repl 2>/dev/null
$T new-session -d -x 100 -y 30 -s repl \
    "env TERM=xterm INPUTRC=/dev/null HOME='$t/home' XDG_STATE_HOME='$t/state' \
     '$STOCKX'; echo EXITED=\$?; sleep 600"
wait_prompt; ok $? "stockx with no arguments on a terminal starts the REPL"
screen | grep -q -E '^stockx .*, [0-9]+ of [0-9]+ requests left today \(UTC\)'
ok $? "its first line shows the daily quota left (shared on this key)"
$T send-keys -t repl C-d
expect '^EXITED=0$' "which exits on Ctrl-D"

# ---- without a terminal ------------------------------------------------------------------
printf '=1+1\n1, "a"\nfor i = 1, 2 do\nprint(i)\nend\n' |
    "$STOCKX" repl > "$t/out" 2> "$t/err"
st=$?
printf '2\n1\t"a"\n1\n2\n' > "$t/want"
[ $st = 0 ] && cmp -s "$t/out" "$t/want"
ok $? "piped input: the same rules, only what the code prints (exit $st)"
[ ! -s "$t/err" ]; ok $? "and no prompt on stderr"
printf 'error("piped")\nprint("goes on")\n' | "$STOCKX" repl > "$t/out" 2> "$t/err"
st=$?
[ $st = 0 ] && grep -q '^goes on$' "$t/out" && grep -q 'stdin:1: piped' "$t/err"
ok $? "an error is reported and the next line runs (exit $st)"
echo 'for i = 1, 2 do' | "$STOCKX" repl > "$t/out" 2> "$t/err"
grep -q "'end' expected near <eof>" "$t/err"
ok $? "a chunk cut by the end of input is reported"
echo 'stockx.spawn(function() stockx.sleep(0.2) print("after the end") end); print("x")' |
    "$STOCKX" repl > "$t/out" 2> "$t/err"
[ "$(cat "$t/out")" = "$(printf 'x\nafter the end')" ]
ok $? "at the end of input the loop runs until the last task ends"
"$STOCKX" repl < /dev/null > "$t/out" 2> "$t/err"
[ $? = 0 ] && [ ! -s "$t/out" ]; ok $? "stdin /dev/null: nothing, exit 0"
[ ! -e "$t/home/.local/state/stockx/history" ]
ok $? "no terminal, no history file"

timeout 10 "$STOCKX" repl extra.lua < /dev/null > "$t/out" 2> "$t/err"
[ $? = 2 ] && grep -q 'repl takes no FILE' "$t/err"
ok $? "repl FILE is a usage error"
"$STOCKX" --help | grep -q 'stockx \[options\] repl \[--sandbox'
ok $? "--help shows the repl command"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
