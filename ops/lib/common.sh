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

# Installs PostgreSQL's server binaries when missing.
ensure_postgres() {
  if [ -z "$(postgres_bindir)" ] || [ ! -x "$(postgres_bindir)/initdb" ]; then
    ensure_apt_packages postgresql postgresql-contrib
  fi
  # Debian's package starts a cluster of its own; we run our own instead.
  postgres_bindir >/dev/null
}

# Hex SHA-256 over every .proto under proto-schema/: for each file in path
# order, its relative path, a newline, then its bytes. Mirrored by the unit
# test that checks the generated code is current.
proto_schema_hash() {
  (cd proto-schema && find . -name '*.proto' | sed 's#^\./##' | LC_ALL=C sort | while read -r f; do
    printf '%s\n' "$f"; cat "$f"
  done) | sha256sum | cut -d' ' -f1
}
