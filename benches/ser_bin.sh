# Sourced by the end-to-end benchmark scripts: sets $SER (the release `ser` binary, built
# here unless SER names one) and $commit (the commit the figures come from, or BENCH_COMMIT).
commit="${BENCH_COMMIT:-$(git describe --always --dirty 2>/dev/null || echo '?')}"
if [ -z "${SER:-}" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ser-target}"
  cargo build -q --release --bin ser
  SER="$CARGO_TARGET_DIR/release/ser"
fi
