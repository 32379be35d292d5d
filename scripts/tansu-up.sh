#!/usr/bin/env bash
# Install (once, into a cached root) and start a Kafka-protocol broker for Aurum's tests: tansu
# 0.6.0 from crates.io with SQLite storage, on 127.0.0.1. Idempotent: a broker already answering on
# the port is left alone. Prints the bootstrap address (host:port) on its last line.
#
#   AURUM_TANSU_ROOT   where the binary is installed (default: /var/cache/aurum/tansu; the first
#                      install builds it from source, about 10 minutes on 2 cores)
#   AURUM_KAFKA_PORT   port to listen on (default: 19092)
#   AURUM_KAFKA_DIR    working directory of the broker: its SQLite file and log (default:
#                      /var/cache/aurum/kafka)
set -euo pipefail
root="${AURUM_TANSU_ROOT:-/var/cache/aurum/tansu}"
port="${AURUM_KAFKA_PORT:-19092}"
dir="${AURUM_KAFKA_DIR:-/var/cache/aurum/kafka}"
want="0.6.0"
bin="$root/bin/tansu"

if ! [ -x "$bin" ] || ! grep -qx "$want" "$root/VERSION" 2>/dev/null; then
    echo "building tansu $want into $root (about 10 minutes, once)..." >&2
    mkdir -p "$root"
    # Its own target dir: .ci/run exports the project's, which must not hold tansu's build.
    CARGO_TARGET_DIR="$root/build" cargo install --quiet --root "$root" --locked --features libsql "tansu@$want" >&2
    rm -rf "$root/build"
    echo "$want" >"$root/VERSION"
fi

if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    mkdir -p "$dir"
    # tansu resolves the sqlite path against its working directory. The broker outlives this
    # script, so it must hold none of its caller's descriptors: an inherited pipe (a command
    # substitution's, or the CI runner's) would keep the caller waiting for an EOF that never comes.
    # Hence every descriptor above 2 is closed before exec, and a new session detaches it.
    (
        cd "$dir"
        for fd in $(ls /proc/$BASHPID/fd); do
            if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
        done
        exec setsid "$bin" broker \
            --listener-url "tcp://127.0.0.1:$port" \
            --advertised-listener-url "tcp://127.0.0.1:$port" \
            --storage-engine "sqlite://tansu.db" </dev/null >"$dir/broker.log" 2>&1
    ) &
    for _ in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "tansu did not start listening on 127.0.0.1:$port within 30 s; its log:" >&2
        tail -20 "$dir/broker.log" >&2 || true
        exit 1
    fi
fi
echo "127.0.0.1:$port"
