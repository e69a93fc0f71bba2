#!/usr/bin/env bash
# Create or refresh the project-local environment in .venv from the pinned lock file.
#   CPU (default): torch==2.13.0 as pinned in requirements/lock.txt.
#   GPU: TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 bash scripts/setup.sh   (see README)
# Re-running is cheap: nothing is installed when the lock file has not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
LOCK=requirements/lock.txt
stamp="$VENV/.mfon-lock.sha256"
want=$( (sha256sum "$LOCK" pyproject.toml; echo "${TORCH_INDEX_URL:-}") | sha256sum | cut -d' ' -f1)

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    # Take torch (and only torch) from the given index first, e.g. a CUDA build.
    "$VENV/bin/python" -m pip install --quiet "$(grep '^torch==' "$LOCK")" --index-url "$TORCH_INDEX_URL"
  fi
  "$VENV/bin/python" -m pip install --quiet -r "$LOCK"
  "$VENV/bin/python" -m pip install --quiet --no-deps -e .
  "$VENV/bin/python" -m pip check
  echo "$want" > "$stamp"
fi
echo "environment ready: $VENV ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "cpu")'))"
