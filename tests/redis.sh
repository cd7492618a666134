#!/bin/sh
# A throwaway redis-server for the tests: loopback only, no persistence,
# its log and PID file in DIR.
#
#   tests/redis.sh start DIR [PORT [redis-server args...]]
#       prints redis_port= and redis_pid= (eval-able) once it accepts
#       connections; PORT 0 or none: a random free one
#   tests/redis.sh stop DIR
set -eu

REDIS=${REDIS_SERVER:-redis-server}
PORT_LO=20000  # below Linux's ephemeral range (32768-60999)
PORT_SPAN=12000

die() {
    echo "redis.sh: $*" >&2
    exit 1
}

rand_port() {
    r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' \n')
    echo $((PORT_LO + r % PORT_SPAN))
}

# start_on DIR PORT ARGS...: 0 once it accepts connections, 1 if it exits.
start_on() {
    dir=$1 port=$2
    shift 2
    : > "$dir/redis.log"
    rm -f "$dir/redis.pid"
    "$REDIS" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$dir/redis.pid" --dir "$dir" \
        --logfile "$dir/redis.log" "$@" || return 1
    i=0
    while [ $i -lt 100 ]; do
        grep -q 'Ready to accept connections' "$dir/redis.log" && return 0
        grep -q -e 'aborting' -e 'Fatal' "$dir/redis.log" && return 1
        i=$((i + 1))
        sleep 0.05
    done
    return 1
}

start() {
    [ $# -ge 1 ] || die "usage: $0 start DIR [PORT [args...]]"
    dir=$1
    port=${2:-0}
    [ $# -ge 2 ] && shift 2 || shift 1
    command -v "$REDIS" > /dev/null || die "redis-server is not installed"
    mkdir -p "$dir"
    if [ "$port" != 0 ]; then
        start_on "$dir" "$port" "$@" || die "redis-server did not start on $port"
    else
        tries=0
        while :; do
            port=$(rand_port)
            start_on "$dir" "$port" "$@" && break
            tries=$((tries + 1))
            [ $tries -lt 20 ] || die "no free port for redis-server"
        done
    fi
    echo "redis_port=$port"
    echo "redis_pid=$(cat "$dir/redis.pid")"
}

stop() {
    [ $# -eq 1 ] || die "usage: $0 stop DIR"
    [ -f "$1/redis.pid" ] || return 0
    pid=$(cat "$1/redis.pid")
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
        i=$((i + 1)); sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$1/redis.pid"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
start) start "$@" ;;
stop) stop "$@" ;;
*) die "usage: $0 start DIR [PORT [args...]] | stop DIR" ;;
esac
