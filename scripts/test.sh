#!/usr/bin/env bash
# The test suite: formatting, lints, then every test of the workspace (unit, golden-file
# agreement with librosa, loaders, cache, end-to-end CLI). Sets itself up first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
export SER_PYTHON="$PWD/.venv/bin/python"
cargo fmt --all --check
python3 scripts/module_cycles.py
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
