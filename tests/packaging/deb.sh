#!/usr/bin/env bash
# The Debian package, built from the binaries in BIN_DIR (default
# target/debug) and checked: its fields and files (dpkg-deb); the systemd
# unit (`systemd-analyze verify` must say nothing at all, and
# `systemd-analyze security` must rate it "OK"); then, as root (CI is),
# installed for real with dpkg: the service user, a private state
# directory, the config readable by the service only; the server started
# as that user from the installed config, answering /healthz over TLS with
# the CA it made; an admin added the way the install message says; and the
# package purged again. A machine where a package named securechat is
# installed already is left alone (the install half is skipped).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin_dir=${1:-target/debug}

fail() { echo "deb: FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && { pkill -P "$server_pid" 2>/dev/null; kill "$server_pid" 2>/dev/null; } || true
  rm -rf "$work"
}
trap cleanup EXIT

deb=$(scripts/build-deb.sh --bin-dir "$bin_dir" --out "$work" --fast)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
[ "$(dpkg-deb --field "$deb" Package)" = securechat ] || fail "Package"
[ "$(dpkg-deb --field "$deb" Version)" = "$version" ] || fail "Version is not $version"
dpkg-deb --field "$deb" Depends | grep -q adduser || fail "Depends lacks adduser"
contents=$(dpkg-deb --contents "$deb")
for f in ./usr/bin/securechat-server ./usr/bin/securechat \
  ./lib/systemd/system/securechat-server.service ./etc/securechat/securechat.toml \
  ./usr/share/doc/securechat/README.md ./usr/share/doc/securechat/deployment.md; do
  grep -q " $f\$" <<<"$contents" || fail "$f is not in the package"
done
grep -q '^drwxr-xr-x root/root .* \./$' <<<"$contents" || fail "the package's / is not 0755 root"
dpkg-deb -e "$deb" "$work/control"
[ "$(cat "$work/control/conffiles")" = /etc/securechat/securechat.toml ] || fail "conffiles"

# The unit, against the packaged binary.
dpkg-deb -x "$deb" "$work/root"
mkdir "$work/unit"
sed "s#/usr/bin/securechat-server#$work/root/usr/bin/securechat-server#" \
  "$work/root/lib/systemd/system/securechat-server.service" >"$work/unit/securechat-server.service"
said=$(systemd-analyze verify "$work/unit/securechat-server.service" 2>&1) || fail "systemd-analyze verify: $said"
[ -z "$said" ] || fail "systemd-analyze verify has something to say: $said"
rating=$(systemd-analyze security --offline=yes "$work/unit/securechat-server.service" 2>&1 | tail -1)
grep -q ' OK ' <<<"$rating" || fail "the unit's exposure is not OK: $rating"
echo "deb: $(basename "$deb") built and checked; unit: ${rating#→ }" >&2

if [ "$(id -u)" -ne 0 ]; then
  echo "deb: not root: install test skipped (CI runs it)" >&2
  exit 0
fi
if dpkg -s securechat >/dev/null 2>&1; then
  echo "deb: a securechat package is installed on this machine: install test skipped" >&2
  exit 0
fi
purge() { dpkg --purge securechat >/dev/null 2>&1 || true; rm -rf /var/lib/securechat; userdel securechat 2>/dev/null || true; }
trap 'purge; cleanup' EXIT
dpkg -i "$deb" >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "dpkg -i"; }
grep -q "user add NAME --admin" "$work/install.log" || fail "no first-admin advice: $(cat "$work/install.log")"
getent passwd securechat | grep -q ':/usr/sbin/nologin$' || fail "securechat user: $(getent passwd securechat)"
[ "$(stat -c '%U %a' /var/lib/securechat)" = "securechat 700" ] || fail "state dir: $(stat -c '%U %a' /var/lib/securechat)"
[ "$(stat -c '%U:%G %a' /etc/securechat/securechat.toml)" = "root:securechat 640" ] || fail "config file mode"
as_service() { runuser -u securechat -- /usr/bin/securechat-server --config /etc/securechat/securechat.toml "$@"; }
as_service config check | grep -qx 'data_dir = "/var/lib/securechat"' || fail "config check"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
runuser -u securechat -- /usr/bin/securechat-server --config /etc/securechat/securechat.toml \
  --bind "127.0.0.1:$port" --log warn serve >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
grep -q "listening on" "$work/serve.log" || fail "the server did not start: $(cat "$work/serve.log")"
health=$(curl -sS --cacert /var/lib/securechat/tls/ca.pem "https://localhost:$port/healthz")
[ "$health" = '{"status":"ok"}' ] || fail "healthz: $health"
echo "correct horse battery" | as_service user add boss --admin --password-stdin | grep -q "created boss (admin)" || fail "user add"
[ "$(stat -c %U /var/lib/securechat/securechat.db)" = securechat ] || fail "the database is not the service's"
# SIGTERM to the server itself (runuser would pass its own on, then
# report the signal): it must exit 0.
pkill -TERM -P "$server_pid" securechat-serv
wait "$server_pid" || fail "the server did not stop cleanly on SIGTERM"
server_pid=""

dpkg --purge securechat >"$work/purge.log" 2>&1 || fail "dpkg --purge: $(cat "$work/purge.log")"
[ ! -e /usr/bin/securechat-server ] && [ ! -e /etc/securechat/securechat.toml ] || fail "files left after purge"
[ -e /var/lib/securechat/securechat.db ] || fail "purge deleted the data"
echo "deb: installed, served /healthz as the securechat user, purged (data kept)" >&2
