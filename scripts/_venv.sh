# Sourced by run.sh and test.sh: create or update the project's virtualenv at .venv.
# Usage: ensure_venv [extras]   (e.g. ensure_venv dev)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

find_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  echo "Python 3.11 or newer is needed (sudo apt-get install python3)." >&2
  return 1
}

make_venv() {
  local py; py="$(find_python)"
  if ! "$py" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    # Debian and Ubuntu ship venv's pip bootstrap separately.
    local pkg; pkg="python$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')-venv"
    if command -v apt-get >/dev/null 2>&1; then
      echo "Installing $pkg (needed to create .venv)..." >&2
      if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
      $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "$pkg" python3-venv >/dev/null
      "$py" -m venv "$VENV"
    else
      echo "Cannot create a virtualenv with $py: install its venv module." >&2
      return 1
    fi
  fi
}

ensure_venv() {
  local extras="${1:-}"
  local spec="." stamp
  [ -n "$extras" ] && spec=".[$extras]"
  [ -x "$VENV/bin/python" ] || make_venv
  local hash; hash="$(sha256sum < "$ROOT/pyproject.toml" | cut -c1-16)"
  stamp="$VENV/.installed-$hash${extras:+-$extras}"
  # An install with extras also satisfies a plain one.
  if [ -z "$extras" ] && compgen -G "$VENV/.installed-$hash*" >/dev/null; then
    stamp="$(compgen -G "$VENV/.installed-$hash*" | head -n1)"
  fi
  if [ ! -f "$stamp" ] || [ ! -x "$VENV/bin/forwarder" ]; then
    echo "Installing the project into .venv (first run takes about a minute)..." >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
    (cd "$ROOT" && "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec") >&2
    find "$VENV" -maxdepth 1 -name '.installed-*' ! -name ".installed-$hash*" -delete
    touch "$stamp"
  fi
}
