#!/bin/sh
# The config file ($XDG_CONFIG_HOME/stockx/config.lua) and its profiles:
# precedence (file < profile < environment < flag), errors naming the file
# and the key, the empty environment, the instruction and memory caps, the
# permission checks, `stockx config` and its masking.  Every run has a
# temporary HOME and XDG_CONFIG_HOME, so no real config file is read.
set -u
STOCKX=${STOCKX:-./stockx}
t=$(mktemp -d /tmp/stockx-cfg.XXXXXX)
trap 'rm -rf "$t"' EXIT
passed=0
failed=0
umask 022

. tests/clihelp.sh

# The secrets of this test; none may appear in any output.
key=cfgtest-key-7f3a91
secret=cfgtest-client-secret-52bd0e
unset STOCKX_CONFIG STOCKX_PROFILE STOCKX_API_KEY STOCKX_ACCESS_TOKEN \
    STOCKX_CLIENT_ID STOCKX_CLIENT_SECRET STOCKX_LOG_LEVEL STOCKX_BASE_URL
export HOME="$t/home" XDG_CONFIG_HOME="$t/xdg"
mkdir -p "$HOME/.config/stockx" "$XDG_CONFIG_HOME/stockx"
cfg=$XDG_CONFIG_HOME/stockx/config.lua

# conf TEXT: writes the default config file, mode 0600.
conf() { printf '%s\n' "$1" > "$cfg"; chmod 600 "$cfg"; }
# line SETTING: the line of `stockx config` for SETTING, in $t/line.
line() { grep "^$1 " "$t/out" > "$t/line"; }
# row SETTING VALUE FROM DESC: that line has this value and source.
row() {
    line "$1"
    grep -q "^$1  *$2  *$3\$" "$t/line"
    ok $? "$4"
    [ -s "$t/line" ] || echo "#   no line for $1"
}

conf "local base = 10
return {
  timeout = base * 2,
  connect_timeout = 4,
  max_idle = 7,
  log_level = 'warn',
  client_id = 'my-client',
  client_secret = '$secret',
  retry = { max_attempts = 9 },
  profiles = {
    work = { timeout = 5, connect_timeout = 3, api_key = '$key', rate = '5/1s' },
    lab = { base_url = 'http://127.0.0.1:9/v2', dry_run = true },
  },
}"

# ---- precedence ------------------------------------------------------------
run 0 "stockx config with a config file" config
has out "^config file: $cfg\$" "it names the file"
has out "^profiles: lab, work\$" "and lists the profiles"
row timeout 20 "config $cfg" "a top-level key comes from the file"
row retry.max_attempts 9 "config $cfg" "retry = {...} as stockx.configure takes it"
row max_connections 100 default "an unset key keeps its default"
row client_id my-client "config $cfg" "client_id from the file"
row client_secret "(set)" "config $cfg" "client_secret is only '(set)'"
row api_key "(not set)" default "api_key is '(not set)'"
! grep -q -e "$secret" -e "$key" "$t/out" "$t/err"; ok $? "no secret is printed"

run 0 "stockx config --profile work" config --profile work
has out "^profiles: lab, work (selected: work)\$" "it names the selected profile"
row timeout 5 "profile work" "the profile overrides the top level"
row connect_timeout 3 "profile work" "for every key it sets"
row max_idle 7 "config $cfg" "the top level fills in the rest"
row api_key "(set)" "profile work" "a secret from the profile is only '(set)'"
row rate "5/1s burst 5" "profile work" "a rate"

STOCKX_PROFILE=work STOCKX_LOG_LEVEL=error run 0 "STOCKX_PROFILE and the environment" \
    --max-idle 2 --connect-timeout 1.5 config
row timeout 5 "profile work" "STOCKX_PROFILE selects the profile"
row log_level error "env STOCKX_LOG_LEVEL" "the environment overrides the file"
row max_idle 2 "flag --max-idle" "a flag overrides the file"
row connect_timeout 1.5 "flag --connect-timeout" "a flag overrides the profile"
STOCKX_LOG_LEVEL=error run 0 "a flag overrides the environment" --log-level debug config
row log_level debug "flag --log-level" "flag > environment"
STOCKX_PROFILE=lab run 0 "--profile wins over STOCKX_PROFILE" --profile work config
row timeout 5 "profile work" "the flag's profile is used"
STOCKX_CLIENT_ID=env-client STOCKX_CLIENT_SECRET=$secret run 0 \
    "STOCKX_CLIENT_ID and STOCKX_CLIENT_SECRET" config
row client_id env-client "env STOCKX_CLIENT_ID" "client_id from the environment"
row client_secret "(set)" "env STOCKX_CLIENT_SECRET" "client_secret from the environment"

# A script sees the merged settings (and stockx.configure still wins).
run 0 "a script uses the settings of the file and the profile" --profile work -e '
local s = stockx.settings()
print(s.timeout, s.max_idle, s.retry.max_attempts, s.client_id,
      s.has_client_secret, s.has_api_key, s.client_secret, s.api_key)
stockx.configure{timeout = 9}
print(stockx.settings().timeout)'
has out "^5.0	7	9	my-client	true	true	nil	nil\$" "settings() has them, secrets only as has_*"
has out "^9.0\$" "stockx.configure overrides the file at run time"
run 0 "the lab profile's dry_run and base_url" --profile lab -e '
local s = stockx.settings(); print(s.dry_run, s.base_url)'
has out "^true	http://127.0.0.1:9/v2\$" "reach the script"

# ---- the files -------------------------------------------------------------
mv "$cfg" "$t/other.lua"
run 0 "no config file is fine" config
has out "^config file: $cfg (not found)\$" "stockx config says it was not found"
row timeout 30 default "and everything is a default"
row on_quota fail default "on_quota shows its word (fail), not a boolean"
row rate_margin 0.9 default "a number setting shows its number"
STOCKX_ON_QUOTA=wait run 0 "STOCKX_ON_QUOTA=wait" config
row on_quota wait "env STOCKX_ON_QUOTA" "stockx config shows wait, from the environment"
run 0 "--config FILE" --config "$t/other.lua" --profile work config
row timeout 5 "profile work" "reads that file"
STOCKX_CONFIG=$t/other.lua run 0 "STOCKX_CONFIG=FILE" config
row timeout 20 "config $t/other.lua" "reads that file"
run 2 "--config naming a missing file" --config "$t/none.lua" -e ''
has err "$t/none.lua: No such file" "is an error naming the file"
run 2 "an unknown profile without a config file" --profile work -e ''
has err "unknown profile 'work' (there is no config file $cfg)" "is a usage error"
mv "$t/other.lua" "$cfg"
run 2 "an unknown profile" --profile home -e ''
has err "$cfg: unknown profile 'home' (profiles: lab, work)" "lists the profiles there are"

unset XDG_CONFIG_HOME
printf 'return { timeout = 11 }\n' > "$HOME/.config/stockx/config.lua"
run 0 "without XDG_CONFIG_HOME, ~/.config/stockx/config.lua" config
row timeout 11 "config $HOME/.config/stockx/config.lua" "is read"
XDG_CONFIG_HOME= run 0 "an empty XDG_CONFIG_HOME is unset" config
row timeout 11 "config $HOME/.config/stockx/config.lua" "~/.config is read"
export XDG_CONFIG_HOME="$t/xdg"

# ---- errors ----------------------------------------------------------------
# bad TEXT PATTERN [ARGS]: a config file TEXT is a usage error (of the
# check $desc) whose message matches PATTERN.
bad() {
    conf "$1"
    shift
    pat=$1
    shift
    run 2 "$desc" "$@" -e 'print("ran")'
    has err "$pat" "$desc: the message names it"
    ! grep -q ran "$t/out"; ok $? "$desc: the script did not run"
}
desc="a number out of range in a profile"
bad 'return { profiles = { work = { timeout = 0 } } }' \
    "^stockx: $cfg: profiles.work.timeout: must be a number between 0.001 and 86400" \
    --profile work
desc="a wrong type"
bad 'return { max_idle = "lots" }' "$cfg: max_idle: must be a number (got string)"
desc="an unknown key"
bad 'return { timout = 3 }' "$cfg: timout: unknown setting (did you mean timeout?)"
desc="an unknown retry key"
bad 'return { retry = { max_atempts = 3 } }' \
    "$cfg: retry.max_atempts: unknown setting (did you mean retry.max_attempts?)"
desc="an unknown key in a profile"
bad 'return { profiles = { w = { colour = 1 } } }' "$cfg: profiles.w.colour: unknown setting" \
    --profile w
desc="a bad rate"
bad 'return { rate = "fast" }' "$cfg: rate: bad rate 'fast'"
desc="a syntax error"
bad 'return { timeout = }' "$cfg:1: unexpected symbol\$"
desc="a file that returns no table"
bad 'timeout = 5' "$cfg: must return a table of settings"
for lib in io os require load dofile debug package print pcall setmetatable; do
    desc="the config file has no $lib"
    bad "local x = $lib.x; return {}" "$cfg:1: attempt to index a nil value (global '$lib') (a config file has no io"
done
desc="string.find (a C loop no hook stops) is left out"
bad 'return { client_id = ("a"):rep(10):find("b") }' "$cfg:1: attempt to call a nil value (method 'find')"
desc="an endless loop"
conf 'while true do end'
run 2 "$desc is stopped" -e ''
has err "$cfg: ran more than 10 million instructions" "$desc: with a clear error"
desc="a huge string"
bad 'local s = string.rep("x", 1e9) return {}' "$cfg: needs more than 16 MB of memory"
desc="a huge table"
bad 'local t = {} for i = 1, 1e8 do t[i] = i end return {}' "$cfg: needs more than 16 MB of memory"
desc="an unfinished string"
bad "return { api_key = '$key" "$cfg:1: unfinished string\$"
desc="a secret in a runtime error"
bad "return { api_key = #nil .. '$key' }" "$cfg:1: attempt to get length"
desc="a secret with a control character"
bad 'return { api_key = "a\nb" }' "$cfg: api_key: contains a control character"
! grep -q -e "$key" "$t/err"; ok $? "no error message quotes a secret"

# ---- permissions -------------------------------------------------------------
conf "return { api_key = '$key', timeout = 12 }"
run 0 "a 0600 file with a secret" config
! grep -q warning "$t/err"; ok $? "gives no warning"
chmod 640 "$cfg"
run 0 "a 0640 file with a secret" config
has err "^stockx: warning: $cfg holds a secret and can be read by group or others (mode 0640); fix it with: chmod 600 $cfg\$" \
    "warns, naming the file and the fix"
[ "$(grep -c warning "$t/err")" = 1 ]; ok $? "once"
row timeout 12 "config $cfg" "and reads the file"
printf 'return { timeout = 12 }\n' > "$cfg"
chmod 644 "$cfg"
run 0 "a 0644 file without a secret" config
! grep -q warning "$t/err"; ok $? "gives no warning"
chmod 664 "$cfg"
run 2 "a group-writable config file" config
has err "$cfg: writable by group or others; fix it with: chmod go-w $cfg" "is refused"
chmod 600 "$cfg"

# ---- stockx config ------------------------------------------------------------
run 2 "config takes no argument" config extra
has err "config takes no argument: extra" "naming it"
conf "return { api_key = '$key', client_secret = '$secret', access_token = '$key-tok' }"
STOCKX_API_KEY=$key run 0 "stockx config with every secret set" config
for s in api_key access_token client_secret; do
    row $s "(set)" "[a-z ].*" "$s is masked"
done
! grep -q -e "$key" -e "$secret" -e "${key#cfgtest-}" -e "${secret%-*}" "$t/out" "$t/err"
ok $? "no part of a secret appears"
[ "$(grep -c . "$t/out")" -gt 20 ]; ok $? "every setting is listed"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
