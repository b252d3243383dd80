#!/usr/bin/env bash
# Per-clip frame reads in a seeded random order, as out-of-core training batches make them:
# HDF5 hyperslabs against ser_cache::RowReader (positioned reads of uncompressed chunks; HDF5
# again for a compressed cache), on the uncompressed (default) and `--compress` caches of a
# `ser synth --hours H` corpus. The figures behind the choice in crates/cache/src/rows.rs.
# Writes benches/results/row_reads.md.
#
#   benches/run_row_reads.sh            # HOURS=1
#   HOURS="1 10" benches/run_row_reads.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=benches/.work
mkdir -p "$work" benches/results
. benches/ser_bin.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ser-target}"
cargo build -q --release -p ser-cache --example row_reads
reads="$CARGO_TARGET_DIR/release/examples/row_reads"
{
  echo "# Per-clip frame reads of a cache (out-of-core training)"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores;" \
    "commit $commit; $(date +%F). Command: \`benches/run_row_reads.sh\`. Each cache read"
  echo "twice in the same shuffled clip order, the second pass timed (page cache warm)."
  for h in ${HOURS:-1}; do
    corpus="$work/synth_${h}h"
    "$SER" synth --hours "$h" --out "$corpus" >&2
    for kind in plain packed; do
      cache="$work/rows_${h}h_${kind}.h5"
      flag=""
      [ "$kind" = packed ] && flag="--compress"
      "$SER" extract --corpus "synth_large=$corpus/large/manifest.csv" \
        --features experiments/features/logmel_16k.toml --out "$cache" $flag >&2
      echo
      echo "## ${h} h, ${kind} (\`ser extract${flag:+ $flag}\`)"
      echo
      "$reads" "$cache"
      rm -f "$cache"
    done
  done
} > benches/results/row_reads.md
cat benches/results/row_reads.md
