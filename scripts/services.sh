# Throwaway services for the tests, on loopback, removed when the calling
# script exits. Source it, then call the functions:
#   start_postgres   installs Debian's postgresql when missing, starts a new
#                    cluster in a temp dir on a free port, and exports
#                    SC_TEST_POSTGRES (a URL whose user may create databases)
#                    and SC_TEST_POSTGRES_PID (its postmaster).
#   need_nats        installs Debian's nats-server when missing (the
#                    several-node tests start and stop their own).
# Each sets an EXIT trap (chained) that stops what it started.

_services_cleanup=()
_services_trap() {
  local i
  for ((i = ${#_services_cleanup[@]} - 1; i >= 0; i--)); do
    eval "${_services_cleanup[$i]}" || true
  done
}
trap _services_trap EXIT

_as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

_apt_install() {
  echo "installing $* (needed by the tests)…" >&2
  _as_root apt-get update -qq
  _as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

start_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    _apt_install postgresql
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  local dir port run=()
  dir=$(mktemp -d /tmp/securechat-pg.XXXXXX)
  # initdb refuses to run as root: the cluster belongs to `postgres` then.
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    return 1
  }
  port=$(_free_port)
  "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
  _services_cleanup+=("${run[*]} '$bin/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1; rm -rf '$dir'")
  export SC_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
  SC_TEST_POSTGRES_PID=$(head -1 "$dir/data/postmaster.pid")
  export SC_TEST_POSTGRES_PID
  echo "PostgreSQL for the tests at 127.0.0.1:$port (log: $dir/server.log)" >&2
}

need_nats() {
  command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || _apt_install nats-server
  case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin" ;; esac
}
