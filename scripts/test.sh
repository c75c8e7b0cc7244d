#!/usr/bin/env bash
# Create or update .venv and run the whole test suite.
#   bash scripts/test.sh            SQLite + embedded broker (and PostgreSQL too if DATABASE_URL is set)
#   CI=true bash scripts/test.sh    also starts PostgreSQL and Redis if they are down and runs the
#                                   suite on them, then again on the embedded default
# Extra arguments go to pytest (e.g. -k assignment, -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
source scripts/_services.sh

ensure_chromium
export PAIRWISE_DATA_DIR=${PAIRWISE_DATA_DIR:-$PWD/var/test}
mkdir -p "$PAIRWISE_DATA_DIR"

status=0
if [ "${CI:-}" = "true" ] || [ -n "${DATABASE_URL:-}" ]; then
  if [ -z "${DATABASE_URL:-}" ]; then
    ensure_postgres
    ensure_redis
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/pairwise
    export CELERY_BROKER_URL=redis://127.0.0.1:6379/0
    export CELERY_RESULT_BACKEND=redis://127.0.0.1:6379/1
  fi
  echo "==> tests on $DATABASE_URL with broker ${CELERY_BROKER_URL:-embedded}"
  python -m pytest "$@" || status=$?
  unset DATABASE_URL CELERY_BROKER_URL CELERY_RESULT_BACKEND
  if [ "${CI:-}" = "true" ]; then
    echo "==> tests on the embedded default (SQLite, SQLite broker)"
    # Training paths were exercised above; here the database-facing suite runs again. The
    # trainers' own tests (tests/rewardmodel/training: Django-free code, tests/test_layout.py)
    # would only repeat themselves, two minutes of CI.
    python -m pytest -m "not slow" --ignore=tests/rewardmodel/training "$@" || status=$?
  fi
else
  echo "==> tests on the embedded default (SQLite, SQLite broker)"
  python -m pytest "$@" || status=$?
fi
exit $status
