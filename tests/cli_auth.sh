#!/bin/sh
# OAuth against the sandbox's pages (the suite's sandbox, STOCKX_BASE_URL):
# `stockx login` end to end with the test playing the browser (curl
# follows the authorize redirect to the loopback callback), the token file
# (0600 in a 0700 directory), requests using it, the refresh before expiry
# and once after a 401, one refresh for many concurrent requests and for
# two processes, invalid_grant's advice, logout.
set -u
STOCKX=${STOCKX:-./stockx}
t=$(mktemp -d /tmp/stockx-auth.XXXXXX)
trap 'rm -rf "$t"' EXIT
passed=0
failed=0

. tests/clihelp.sh

export XDG_STATE_HOME="$t/state"
export STOCKX_AUTH_URL="$STOCKX_BASE_URL"
export STOCKX_CLIENT_ID=sandbox-client-id
export STOCKX_CLIENT_SECRET=sandbox-client-secret
unset STOCKX_ACCESS_TOKEN # the token file is the one in use
tokens="$XDG_STATE_HOME/stockx/token.json"

# login: the URL is printed; curl plays the browser
"$STOCKX" login --port 0 > "$t/login.out" 2> "$t/login.err" < /dev/null &
pid=$!
i=0
while ! grep -q 'authorize?' "$t/login.out" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1; i=$((i + 1))
done
url=$(grep -o 'http://[^ ]*/authorize?[^ ]*' "$t/login.out")
echo "$url" | grep -q 'code_challenge_method=S256' && echo "$url" | grep -q 'state=' &&
    echo "$url" | grep -q 'scope=offline_access%20openid' &&
    echo "$url" | grep -q 'audience=gateway.stockx.com'
ok $? "the authorize URL has PKCE S256, state, scope and audience"
back=$(curl -s -o /dev/null -w '%{redirect_url}' "$url")
forged=$(echo "$back" | sed 's/state=[^&]*/state=forged/')
curl -s "$forged" > "$t/page" 2>&1
grep -q 'state does not match' "$t/page"; ok $? "a redirect with another state is refused"
curl -s "$back" > "$t/page" 2>&1
grep -q 'Logged in' "$t/page"; ok $? "the callback page says logged in"
wait $pid
st=$?
[ $st = 0 ]; ok $? "stockx login exits 0 (got $st)"
grep -q "Logged in: tokens saved to $tokens" "$t/login.out"; ok $? "and says where the tokens are"
[ "$(stat -c %a "$tokens")" = 600 ]; ok $? "the token file is 0600"
[ "$(stat -c %a "$XDG_STATE_HOME/stockx")" = 700 ]; ok $? "in a 0700 directory"

cat > "$t/get.lua" <<'LUA'
local n = tonumber(arg[1]) or 1
local before = stockx.stats().requests
local out = stockx.map((function() local l = {} for i = 1, n do l[i] = i end return l end)(),
  function() return stockx.get("/selling/listings", { pageSize = 1 }).count end)
print("count", out[1], "requests", stockx.stats().requests - before)
LUA
run 0 "a script uses the token file when no access token is set" run "$t/get.lua"
has out "^count	250	requests	1$" "one request, no refresh"

# a token the server no longer knows: a 401, one refresh, the request again
lua_edit() { # lua_edit EXPR: rewrites the token file's JSON through stockx
    "$STOCKX" -e "local f = io.open('$tokens'); local t = stockx.json.decode(f:read('a'))
      f:close(); $1; require('stockx.core').save_private('$tokens', stockx.json.encode(t))"
}
lua_edit 't.access_token = "revoked-token"'
run 0 "a 401 refreshes the token and sends the request again" run "$t/get.lua"
has out "^count	250	requests	3$" "401, token, the request again: three requests"
has err "event=auth.refreshed" "the refresh is logged"
grep -q revoked-token "$tokens"; [ $? != 0 ]; ok $? "the token file holds the new token"

# about to expire: refreshed before the request, no 401
lua_edit 't.expires_at = os.time() - 10'
run 0 "an expired token is refreshed before the request" run "$t/get.lua"
has out "^count	250	requests	2$" "token, then the request: two requests"

# many tasks at once: one refresh
lua_edit 't.expires_at = os.time() - 10'
run 0 "eight concurrent requests with an expired token" run "$t/get.lua" 8
has out "^count	250	requests	9$" "share one refresh (nine requests)"
[ "$(grep -c 'event=auth.refreshed' "$t/err")" = 1 ]; ok $? "logged once"

# two processes at once: the lock, and the second adopts the first's token
lua_edit 't.expires_at = os.time() - 10'
"$STOCKX" run "$t/get.lua" > "$t/p1.out" 2> "$t/p1.err" &
p1=$!
"$STOCKX" run "$t/get.lua" > "$t/p2.out" 2> "$t/p2.err" &
p2=$!
wait $p1; s1=$?
wait $p2; s2=$?
[ $s1 = 0 ] && [ $s2 = 0 ]; ok $? "two processes with an expired token both succeed"
n=$(cat "$t/p1.err" "$t/p2.err" | grep -c 'event=auth.refreshed')
[ "$n" = 1 ]; ok $? "only one of them refreshed ($n refreshes)"

# a refresh token the server refuses: one clear error
lua_edit 't.expires_at = os.time() - 10; t.refresh_token = "v1.unknown"'
run 1 "a refused refresh token fails" run "$t/get.lua"
has err "invalid_grant" "naming invalid_grant"
has err "run .stockx login." "and telling the user what to do"

unset STOCKX_CLIENT_ID
run 1 "login without client credentials" login --port 0
export STOCKX_CLIENT_ID=sandbox-client-id
has err "client_id and client_secret are needed" "says what is missing"
run 2 "login with a bad port" login --port 70000

run 0 "logout" logout
has out "Logged out: $tokens removed" "removes the token file"
[ ! -e "$tokens" ]; ok $? "which is gone"
run 0 "logout again" logout
has out "Not logged in" "says there was nothing to remove"
mkdir -p "$t/cfg/stockx"
printf 'return { profiles = { work = {} } }\n' > "$t/cfg/stockx/config.lua"
XDG_CONFIG_HOME="$t/cfg" "$STOCKX" --profile work logout > "$t/out" 2>&1
grep -q "token-work.json" "$t/out"; ok $? "a profile has its own token file"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
