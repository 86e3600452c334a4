#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# pytest exits 5 when it collected no tests; set -e turns that into a failure.
.venv/bin/python -m pytest "$@"
