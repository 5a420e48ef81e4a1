#!/usr/bin/env bash
# Autogenerate an Alembic migration from the models against a scratch SQLite database at head.
# Usage: scripts/new-migration.sh "what changed"
set -euo pipefail
cd "$(dirname "$0")/.."
msg=${1:?message}
tmp=$(mktemp -d)
url="sqlite:///$tmp/scratch.sqlite3"
.venv/bin/python -c "from cityops.migrate import upgrade, revision; upgrade('$url'); revision('$url', '''$msg''')"
rm -rf "$tmp"
.venv/bin/ruff format -q src/cityops/migrations/versions
.venv/bin/ruff check -q --fix src/cityops/migrations/versions || true
echo "Review the new file in src/cityops/migrations/versions before committing."
