#!/usr/bin/env bash
# The demo loop on the embedded default (SQLite + a SQLite-backed Celery broker, no servers):
# install, migrate, load the demo project, print the demo logins, start a worker, queue the whole
# loop once (SmolLM2 answers, simulated labelers, reward model, SFT → PPO, cold-start SFT → GRPO,
# arena, report; a second run of this script queues nothing new) and serve the app at once on
# http://127.0.0.1:8000, where the manager's home page shows the loop's steps live.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
python manage.py migrate --no-input
python manage.py demo_setup
# -B: the same process runs celery beat, which sends the reaper of lost jobs (rewardmodel/jobs/lifecycle.py).
celery -A pairwise worker -B --pool solo -Q default,training --loglevel WARNING &
worker=$!
# SIGQUIT: Celery's cold shutdown (a warm one would wait for the loop's current step to finish).
trap 'kill -QUIT $worker 2>/dev/null || true' EXIT
python manage.py demo_loop "$@"
echo "Watch the loop on http://127.0.0.1:8000/ (log in as manager); judge meanwhile as labeler."
# gunicorn, not runserver (for development only): two processes (both cores; their SQLite writers
# queue on a file lock, pairwise/sqlite) of 4 threads each, the best of the setups
# bench/annotation_load.py --sqlite measured. Its threads keep their SQLite connections
# (SQLITE_CONN_MAX_AGE, see settings).
SQLITE_CONN_MAX_AGE=600 gunicorn pairwise.wsgi:application -b 127.0.0.1:8000 -k gthread -w 2 --threads 4 \
  --log-level warning
