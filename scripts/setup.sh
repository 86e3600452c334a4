#!/usr/bin/env bash
# Create .venv (once) and install sertune into it with its test tools.
# torch is pinned to the exact CPU release so pip takes the local wheel where
# one is provided instead of downloading a multi-GB CUDA build; on a GPU box,
# install the torch build you want first and this step keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
# Done already with this pyproject.toml and these extras (.ci/run sets up, lints, then runs
# scripts/test.sh, which sets up again): skip pip, which re-resolved every requirement and
# rebuilt the editable wheel (12 s). Source changes need no reinstall (editable install).
stamp=.venv/sertune-setup.txt
want="$(sha256sum pyproject.toml | cut -d' ' -f1) extras=${SERTUNE_EXTRAS:-test}"
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python3 -m venv .venv
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check "torch==2.13.0"
fi
# SERTUNE_EXTRAS adds optional groups, e.g. "test,distributed" (Ray, PostgreSQL driver) as CI does.
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[${SERTUNE_EXTRAS:-test}]"
echo "$want" > "$stamp"
