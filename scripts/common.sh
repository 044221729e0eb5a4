# Shared set-up for scripts/run and scripts/test: a Python 3.12+ virtualenv with the requirements.
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

redis_reachable() {
  "$VENV/bin/python" - "${REDIS_URL:-redis://127.0.0.1:6379/0}" <<'PY' >/dev/null 2>&1
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()
PY
}
