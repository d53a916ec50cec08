#!/usr/bin/env bash
# Starts the InspIRCd peer on a free loopback port with the given TLS
# certificate and key, prints "listening on PORT" once it accepts, and runs
# until stopped.   bench/peers/inspircd/run.sh CERT.pem KEY.pem
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -e "s|@PORT@|$port|; s|@CERT@|$1|; s|@KEY@|$2|; s|@DIR@|$dir|g" "$here/inspircd.conf.in" >"$dir/inspircd.conf"
# It runs as root only when told to; the data it touches is this temp dir.
inspircd --config="$dir/inspircd.conf" --nofork --nopid --runasroot >"$dir/stdout.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
trap 'exit 143' TERM INT
for _ in $(seq 100); do
  python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && break
  kill -0 $pid 2>/dev/null || { cat "$dir/stdout.log" >&2; exit 1; }
  sleep 0.1
done
echo "listening on $port"
wait $pid
