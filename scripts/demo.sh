#!/usr/bin/env bash
# The demo loop on the embedded default (SQLite + a SQLite-backed Celery broker, no servers):
# install, migrate, load the demo project, print the demo logins, start a worker and serve
# the app on http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
python manage.py migrate --no-input
python manage.py demo_setup
celery -A pairwise worker --pool solo -Q default,training --loglevel WARNING &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT
python manage.py runserver 127.0.0.1:8000
