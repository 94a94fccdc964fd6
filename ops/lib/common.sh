# Shared helpers for the ops/ scripts. Source it; do not run it.

log() { printf '==> %s\n' "$*" >&2; }

# Installs Debian packages that are missing, idempotently (no apt-get update
# when everything is present already).
ensure_apt_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The directory holding PostgreSQL's server binaries (initdb, postgres, pg_ctl).
postgres_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] && echo "$d"
}

# Installs PostgreSQL's server binaries when missing. segmentd and the tests run
# clusters of their own, so Debian's default cluster is not created.
ensure_postgres() {
  if [ -z "$(postgres_bindir)" ] || [ ! -x "$(postgres_bindir)/initdb" ]; then
    if [ ! -e /etc/postgresql-common/createcluster.conf ] && [ "$(id -u)" -eq 0 ]; then
      mkdir -p /etc/postgresql-common
      echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
    fi
    ensure_apt_packages postgresql
  fi
  [ -x "$(postgres_bindir)/initdb" ] || { log "PostgreSQL's initdb is missing after install"; exit 1; }
}

# Runs a command as the user PostgreSQL must run as: `postgres` when we are
# root (PostgreSQL refuses to run as root), ourselves otherwise.
as_postgres_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Checks that the Swift toolchain is there (it comes with the machine image).
ensure_swift() {
  command -v swift >/dev/null || { log "swift is not on PATH: install Swift 6.2 or newer"; exit 1; }
}

# Hex SHA-256 over every .proto under proto-schema/: for each file in path
# order, its relative path, a newline, then its bytes. Mirrored by the unit
# test that checks the generated code is current.
proto_schema_hash() {
  (cd proto-schema && find . -name '*.proto' | sed 's#^\./##' | LC_ALL=C sort | while read -r f; do
    printf '%s\n' "$f"; cat "$f"
  done) | sha256sum | cut -d' ' -f1
}
