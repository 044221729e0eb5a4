# Shared set-up for scripts/run, scripts/test and scripts/cluster: a Python 3.12+ virtualenv with the
# requirements, the Debian packages they need, and whether Redis answers.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# SECUREAI_VENV points at another virtualenv to use (e.g. one shared by several clones).
VENV="${SECUREAI_VENV:-$ROOT/.venv}"
cd "$ROOT"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[1;31mError: %s\033[0m\n' "$*" >&2; exit 1; }

is_python_312_plus() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.14 python3.13 python3.12 python3 \
      "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3 /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9]; do
    [ -n "$candidate" ] || continue
    if is_python_312_plus "$candidate"; then
      command -v "$candidate" 2>/dev/null || echo "$candidate"
      return 0
    fi
  done
  return 1
}

# ensure_venv REQUIREMENTS_FILE: create .venv if needed and install the file when it changed.
ensure_venv() {
  local requirements="$1" python stamp wanted
  if [ ! -x "$VENV/bin/python" ] || ! is_python_312_plus "$VENV/bin/python"; then
    python="$(find_python)" || die "Python 3.12 or newer is required (Django 6.1 needs it) and none was found.
Install one (e.g. apt-get install python3.12, or pyenv install 3.12) or point PYTHON at it: PYTHON=/path/to/python3.12 $0"
    say "Creating the virtualenv with $python"
    rm -rf "$VENV"
    "$python" -m venv "$VENV" || die "could not create a virtualenv with $python"
  fi
  stamp="$VENV/.installed-$(basename "$requirements")"
  wanted="$(cat "$requirements" requirements.txt | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    say "Installing $requirements"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" \
      || die "pip could not install $requirements"
    echo "$wanted" > "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

# Whether the service's Redis answers: the primary named by REDIS_SENTINELS and
# REDIS_SENTINEL_MASTER when they are set, else REDIS_URL.
redis_reachable() {
  "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
import os
from secureai.redis_clients import connect, parse_sentinels
sentinels = parse_sentinels([s for s in os.environ.get("REDIS_SENTINELS", "").split(",") if s.strip()])
connect(
    redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    sentinels=sentinels,
    master=os.environ.get("REDIS_SENTINEL_MASTER", ""),
).ping()
PY
}

# ensure_debian_packages PACKAGE...: install those not installed yet (needs root and apt-get).
ensure_debian_packages() {
  local package missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
  done
  [ "${#missing[@]}" = 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "Missing Debian packages: ${missing[*]}. Install them as root: apt-get install ${missing[*]}"
  fi
  say "Installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt-get may hold the lock for a while (an unattended upgrade); wait for it.
  apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get could not install ${missing[*]}"
}
