#!/usr/bin/env bash
# Set up (scripts/setup.sh), write the built-in synthetic demo corpus and describe it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out="${1:-sertune-demo}"
.venv/bin/sertune synth "$out/corpus" --layout emodb --speakers 4 --per-class 10
.venv/bin/sertune corpus info "$out/corpus"
