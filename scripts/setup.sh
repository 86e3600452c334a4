#!/usr/bin/env bash
# Create .venv (once) and install sertune into it with its test tools.
# torch is pinned to the exact CPU release so pip takes the local wheel where
# one is provided instead of downloading a multi-GB CUDA build; on a GPU box,
# install the torch build you want first and this step keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check "torch==2.13.0"
fi
# SERTUNE_EXTRAS adds optional groups, e.g. "test,distributed" (Ray, PostgreSQL driver) as CI does.
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[${SERTUNE_EXTRAS:-test}]"
