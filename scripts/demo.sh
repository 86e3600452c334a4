#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run `sertune demo`: synthesize a corpus, search a small LMS
# grid over 3 repetitions, write the report, export the best model to ONNX and predict a file.
# Usage: bash scripts/demo.sh [OUT]   (default OUT: sertune-demo)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/sertune demo --out "${1:-sertune-demo}"
