#!/bin/sh
# Layer lint (`make lint`): the include rules of ARCHITECTURE.md on src/
# and the sandbox's requires under lua/stockx/sandbox*.  Prints each
# violation as file:line and exits 1 if there is any.
# Usage: sh tests/lint.sh [ROOT] | sh tests/lint.sh --self-test
set -u

LUA_HDRS="lua.h lauxlib.h lualib.h luaconf.h"

# make_list NAME: the words of the Makefile's `NAME := ...` line.
make_list() {
    sed -n "s/^$1[[:space:]]*:=[[:space:]]*//p" Makefile
}

# includes FILE: "LINE NAME" for each #include, NAME without <> or "".
includes() {
    grep -n '^[[:space:]]*#[[:space:]]*include' "$1" |
        sed 's/^\([0-9]*\):.*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1 \2/'
}

# is_in WORD LIST...: 0 if WORD is one of LIST.
is_in() {
    w=$1
    shift
    for x in "$@"; do [ "$x" = "$w" ] && return 0; done
    return 1
}

# Layer 1: the Makefile's PURE modules, and header-only src/sx_*.h (a
# module's private header, src/sx_M_priv.h, belongs to module M).
layer1_files() {
    for m in $(make_list PURE); do
        for f in "src/sx_$m.c" "src/sx_$m.h"; do [ -f "$f" ] && echo "$f"; done
    done
    for h in src/sx_*.h; do
        case $h in *_priv.h) continue ;; esac
        [ -f "$h" ] && [ ! -f "${h%.h}.c" ] && echo "$h"
    done
}

# Headers of layers 2 and 3 (basenames).
upper_headers() {
    for m in $(make_list CORE); do echo "sx_$m.h"; done
    for m in $(make_list BIND); do [ -f "src/$m.h" ] && echo "$m.h"; done
    echo embed.h
}

check_layer1() {
    upper=$(upper_headers)
    for f in $(layer1_files); do
        includes "$f" | while read -r line inc; do
            case $inc in
            curl/*|event2/*|hiredis/*) echo "$f:$line: layer 1 includes <$inc>" ;;
            esac
            # shellcheck disable=SC2086
            if is_in "$inc" $LUA_HDRS; then
                echo "$f:$line: layer 1 includes the Lua header <$inc>"
            elif is_in "${inc##*/}" $upper; then
                echo "$f:$line: layer 1 includes the layer-2/3 header \"$inc\""
            fi
        done
    done
}

# Only the bindings (l*.c, l*.h) and main.c may include lauxlib.h.
check_lauxlib() {
    for f in src/*.c src/*.h; do
        case ${f##*/} in l*|main.c) continue ;; esac
        includes "$f" | while read -r line inc; do
            [ "$inc" = lauxlib.h ] &&
                echo "$f:$line: includes <lauxlib.h> outside the bindings (l*.c)"
        done
    done
}

check_layer2() {
    bind=""
    for m in $(make_list BIND); do [ -f "src/$m.h" ] && bind="$bind $m.h"; done
    for m in $(make_list CORE); do
        for f in "src/sx_$m.c" "src/sx_$m.h" "src/sx_${m}_priv.h"; do
            [ -f "$f" ] || continue
            includes "$f" | while read -r line inc; do
                # shellcheck disable=SC2086
                if is_in "$inc" $LUA_HDRS; then
                    echo "$f:$line: layer 2 includes the Lua header <$inc>"
                elif is_in "${inc##*/}" $bind; then
                    echo "$f:$line: layer 2 includes the binding header \"$inc\""
                fi
            done
        done
    done
}

# requires FILE: "LINE MODULE" for each require "x" / require("x") / 'x'.
requires() {
    grep -n -o -E "require[[:space:]]*\(?[[:space:]]*[\"'][^\"']+[\"']" "$1" |
        sed -E "s/^([0-9]+):require[[:space:]]*\(?[[:space:]]*[\"']([^\"']+)[\"']$/\1 \2/"
}

# The sandbox is a server: it may not reach the client's modules.
check_sandbox() {
    find lua/stockx -path 'lua/stockx/sandbox*' -name '*.lua' 2>/dev/null |
        sort | while read -r f; do
        requires "$f" | while read -r line mod; do
            sed -n "${line}p" "$f" | grep -q '^[[:space:]]*--' && continue
            case $mod in
            stockx.server|stockx.money|stockx.digest|stockx.sandbox|stockx.sandbox.*) ;;
            stockx|stockx.*)
                echo "$f:$line: the sandbox requires the client module \"$mod\"" ;;
            esac
        done
    done
}

run_lint() {
    cd "$1" || exit 2
    out=$( (check_layer1; check_lauxlib; check_layer2; check_sandbox) )
    if [ -n "$out" ]; then
        echo "$out" | sed 's/^/lint: /'
        echo "lint: $(echo "$out" | wc -l | tr -d ' ') problem(s)"
        exit 1
    fi
    echo "lint: layers ok"
}

# plant TREE SCRATCH FILE LINE EXPECT: appends LINE to FILE in a copy of
# TREE made at SCRATCH; the lint must then fail and name FILE and EXPECT.
plant() {
    rm -rf "$2.try" && cp -R "$1" "$2.try"
    printf '%s\n' "$4" >> "$2.try/$3"
    if ! out=$(sh "$self" "$2.try" 2>&1) &&
        echo "$out" | grep -q "$3:.*$5"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAILED: planting '$4' in $3 was not caught: $out"
    fi
}

# The lint must pass on a copy of the tree and fail on each planted fault.
self_test() {
    self=$(cd "$(dirname "$0")" && pwd)/lint.sh
    tmp=$(mktemp -d /tmp/stockx-lint.XXXXXX) || exit 2
    trap 'rm -rf "$tmp"' EXIT
    mkdir "$tmp/tree" && cp -R Makefile src lua "$tmp/tree/"
    passed=0
    failed=0
    if sh "$self" "$tmp/tree" >/dev/null; then passed=1; else
        failed=1; echo "FAILED: the clean tree does not pass"; fi
    t=$tmp/tree
    plant "$t" "$tmp/p" src/sx_time.c '#include <event2/event.h>' '<event2/event.h>'
    plant "$t" "$tmp/p" src/sx_json.h '#include <curl/curl.h>' '<curl/curl.h>'
    plant "$t" "$tmp/p" src/sx_retry.c '#include "lua.h"' '<lua.h>'
    plant "$t" "$tmp/p" src/sx_list.h '#include <lualib.h>' '<lualib.h>'
    plant "$t" "$tmp/p" src/sx_log.c '#include "sx_client.h"' 'sx_client.h'
    plant "$t" "$tmp/p" src/sx_buf.c '  #  include "ltask.h"' 'ltask.h'
    plant "$t" "$tmp/p" src/sx_multi.c '#include <lauxlib.h>' 'lauxlib.h'
    plant "$t" "$tmp/p" src/sx_server.h '#include <lua.h>' 'Lua header <lua.h>'
    plant "$t" "$tmp/p" src/sx_client.c '#include "lstockx.h"' 'lstockx.h'
    plant "$t" "$tmp/p" lua/stockx/sandbox.lua 'local s = require "stockx"' '"stockx"'
    plant "$t" "$tmp/p" lua/stockx/sandbox/http.lua \
        'local c = require("stockx.core")' '"stockx.core"'
    plant "$t" "$tmp/p" lua/stockx/sandbox/util.lua \
        "local c = require 'stockx.paginate'" 'stockx.paginate'
    plant "$t" "$tmp/p" lua/stockx/sandbox/json.lua \
        'local c = require"stockx"' '"stockx"'
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

if [ "${1:-}" = --self-test ]; then
    cd "$(dirname "$0")/.." || exit 2
    self_test
    exit $?
fi
run_lint "${1:-$(dirname "$0")/..}"
