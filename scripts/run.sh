#!/usr/bin/env bash
# Run the whole system (bot + worker + web) on its embedded defaults: SQLite and an
# embedded Redis under DATA_DIR. Extra arguments go to `forwarder up`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
ensure_venv
cd "$ROOT"
if [ ! -f .env ]; then
  install -m 600 .env.example .env
  echo "Created .env from .env.example: put your TELEGRAM_BOT_TOKEN and ADMIN_IDS in it." >&2
fi
exec "$VENV/bin/forwarder" up "$@"
