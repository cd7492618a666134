#!/bin/sh
# A throwaway nginx for the tests and the benchmark: its own test CA and
# server certificate, /bench.json over HTTP/1.1 and over HTTPS+HTTP/2, and
# optionally `location /` proxied to a loopback upstream.  Everything lives in
# DIR, so it runs as root or not without touching /var/lib/nginx.
#
#   tests/nginx.sh start DIR [UPSTREAM_PORT]   prints http_port=, https_port=,
#                                             ca_file= (eval-able), returns
#                                             once nginx accepts connections
#   tests/nginx.sh stop DIR
set -eu

NGINX=${NGINX:-/usr/sbin/nginx}
# Ports are picked in [PORT_LO, PORT_LO + PORT_SPAN), below the default
# ephemeral range of Linux (32768-60999).
PORT_LO=${NGINX_PORT_LO:-20000}
PORT_SPAN=${NGINX_PORT_SPAN:-12000}
MAX_TRIES=30

die() {
    echo "nginx.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 start DIR [UPSTREAM_PORT] | stop DIR" >&2
    exit 2
}

# ---- ports ------------------------------------------------------------------

rand_port() {
    r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' \n')
    echo $((PORT_LO + r % PORT_SPAN))
}

# True if some TCP socket (any state, v4 or v6) already uses local port $1.
# A cheap pre-check only: a race with another process is caught when nginx
# fails to bind and start() retries with new ports.
port_busy() {
    hex=$(printf '%04X' "$1")
    awk -v p="$hex" '{ n = split($2, a, ":"); if (a[n] == p) f = 1 }
                     END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

free_port() {
    while :; do
        p=$(rand_port)
        if ! port_busy "$p" && [ "$p" != "${1:-}" ]; then
            echo "$p"
            return
        fi
    done
}

# ---- files ------------------------------------------------------------------

write_openssl_cnf() {
    cat > "$1/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = stockx test
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

# A fresh CA and a server certificate for 127.0.0.1 and localhost, P-256.
make_certs() {
    d=$1
    write_openssl_cnf "$d"
    serial=0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    {
        openssl req -x509 -config "$d/openssl.cnf" -extensions ca_ext \
            -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 \
            -subj "/CN=stockx throwaway test CA" \
            -keyout "$d/ca.key" -out "$d/ca.pem" &&
        openssl req -new -config "$d/openssl.cnf" \
            -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -subj "/CN=localhost" \
            -keyout "$d/server.key" -out "$d/server.csr" &&
        openssl x509 -req -in "$d/server.csr" -days 7 -set_serial "$serial" \
            -CA "$d/ca.pem" -CAkey "$d/ca.key" \
            -extfile "$d/openssl.cnf" -extensions server_ext \
            -out "$d/server.pem"
    } > "$d/openssl.log" 2>&1 || {
        cat "$d/openssl.log" >&2
        die "openssl failed"
    }
}

# StockX market data (reference section 4.3 shape), ~600 bytes.
write_body() {
    cat > "$1/www/bench.json" <<'EOF'
{"productId":"5e6a1e57-1c7d-435a-82bd-5666a13560fe","variantId":"55da4110-5983-439f-9ae4-d7d054f67723","currencyCode":"USD","highestBidAmount":"127","lowestAskAmount":"141","flexLowestAskAmount":"139","earnMoreAmount":"150","sellFasterAmount":"133","standardMarketData":{"lowestAsk":"141","highestBidAmount":"127","sellFaster":"133","earnMore":"150","beatUS":"140"},"flexMarketData":{"lowestAsk":"139","highestBidAmount":"127","sellFaster":"131","earnMore":"148","beatUS":"138"},"directMarketData":{"lowestAsk":null,"highestBidAmount":"127","sellFaster":null,"earnMore":null,"beatUS":null}}
EOF
}

# write_conf DIR HTTP_PORT HTTPS_PORT [UPSTREAM_PORT]
write_conf() {
    d=$1 hp=$2 sp=$3 up=${4:-}
    user=
    if [ "$(id -u)" = 0 ]; then
        user="user root;"   # workers must read DIR (mktemp -d is 0700)
    fi
    upstream='' proxy=''
    if [ -n "$up" ]; then
        upstream="upstream backend { server 127.0.0.1:$up; keepalive 32; }"
        proxy="location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host \$host:\$server_port;
            proxy_read_timeout 300s;
        }"
    fi
    cat > "$d/nginx.conf" <<EOF
$user
worker_processes 1;
daemon on;
pid $d/nginx.pid;
lock_file $d/nginx.lock;
error_log $d/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path $d/tmp/client_body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;

    types { application/json json; }
    default_type application/octet-stream;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 100000;
    keepalive_timeout 120s;
    http2_max_concurrent_streams 128;

    $upstream

    server {
        listen 127.0.0.1:$hp;
        root $d/www;
        location = /bench.json { }
        $proxy
    }

    server {
        listen 127.0.0.1:$sp ssl http2;
        ssl_certificate $d/server.pem;
        ssl_certificate_key $d/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        root $d/www;
        location = /bench.json { }
        $proxy
    }
}
EOF
}

# ---- process ----------------------------------------------------------------

# True if pid $1 exists and is not a zombie (PID 1 may not reap here).
alive() {
    st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

ready() {
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$2/bench.json" &&
    curl -fsS -o /dev/null --max-time 2 --cacert "$1/ca.pem" \
        "https://127.0.0.1:$3/bench.json"
}

wait_ready() {
    i=0
    while [ $i -lt 100 ]; do
        if [ -s "$1/nginx.pid" ] && ready "$@" 2>/dev/null; then
            return 0
        fi
        sleep 0.05
        i=$((i + 1))
    done
    ready "$@" || true     # show curl's error
    return 1
}

# Starts nginx on fresh ports; retries when a port turns out to be taken.
launch() {
    d=$1 up=${2:-}
    tries=0
    while :; do
        hp=$(free_port)
        sp=$(free_port "$hp")
        write_conf "$d" "$hp" "$sp" "$up"
        : > "$d/error.log"
        if "$NGINX" -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" \
                < /dev/null > "$d/nginx.out" 2>&1; then
            return 0
        fi
        tries=$((tries + 1))
        if ! grep -q 'Address already in use' "$d/error.log" "$d/nginx.out" ||
                [ $tries -ge $MAX_TRIES ]; then
            cat "$d/nginx.out" "$d/error.log" >&2
            die "nginx did not start"
        fi
    done
}

start() {
    if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
    up=${2:-}
    case $up in
        *[!0-9]*) die "bad upstream port: $up" ;;
    esac
    mkdir -p "$1"
    d=$(cd "$1" && pwd)
    if [ -s "$d/nginx.pid" ] && alive "$(cat "$d/nginx.pid")"; then
        die "nginx already running in $d"
    fi
    mkdir -p "$d/www" "$d/tmp"
    make_certs "$d"
    write_body "$d"
    launch "$d" "$up"
    if ! wait_ready "$d" "$hp" "$sp"; then
        cat "$d/error.log" >&2
        stop "$d"
        die "nginx is not answering on ports $hp/$sp"
    fi
    echo "http_port=$hp"
    echo "https_port=$sp"
    echo "ca_file=$d/ca.pem"
}

stop() {
    [ $# -eq 1 ] || usage
    pidf=$1/nginx.pid
    [ -s "$pidf" ] || return 0          # not running: nothing to do
    pid=$(cat "$pidf")
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while alive "$pid"; do
        if [ $i -ge 100 ]; then
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.05
        i=$((i + 1))
    done
    rm -f "$pidf"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
    start) start "$@" ;;
    stop) stop "$@" ;;
    *) usage ;;
esac
