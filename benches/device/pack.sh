#!/usr/bin/env bash
# Builds here, for a lent GPU machine, everything benches/device/run.sh runs there (that
# machine has the NVIDIA driver, Python with torch / torchaudio, and no Rust toolchain and no
# network): the kernel tests and the device benchmarks, each in the default WGSL build and
# in the SPIR-V (`vulkan`) build, stripped and xz-compressed into .devbin/, plus the Vulkan
# loader's Debian package in .gl/. Both folders are git-ignored; the device tool carries
# them (`carry: [".devbin", ".gl"]`).
#
#   benches/device/pack.sh      # kernel tests (WGSL) + log-mel benchmarks (WGSL and SPIR-V)
#   ONLY="stages_spirv train_cnn_lstm" benches/device/pack.sh   # others, for a second call
#
# A cold release build takes ~40 min on 2 cores. Each binary is 15-17 MB compressed and the
# device tool carries at most 64 MiB with the repository (~4 MB), so the default set is the
# three the GPU-kernels issue needs; the rest go in another call.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
only="${ONLY:-stages gpu_logmel}"
mkdir -p .devbin .gl
rm -f .devbin/*

# The executable cargo built for one target, from its JSON messages.
executable() {
  python3 -c 'import json, sys
exe = [m["executable"] for m in map(json.loads, sys.stdin)
       if m.get("reason") == "compiler-artifact" and m.get("executable")]
print(exe[-1])'
}

pack() { # pack NAME CARGO_ARGS...
  local name="$1"; shift
  echo "pack: building $name: cargo $*" >&2
  local exe
  exe=$(cargo "$@" --locked --message-format=json | executable)
  cp "$exe" ".devbin/$name"
  strip ".devbin/$name"
  xz -T0 -6 -f ".devbin/$name"
}

for what in $only; do
  case "$what" in
    # Release, like the benchmarks (shares their build; the test profile's binary is 84 MB).
    stages)
      pack stages_wgsl test --release -p ser-kernels --test stages --no-run ;;
    stages_spirv)
      pack stages_spirv test --release -p ser-kernels --features vulkan --test stages --no-run ;;
    gpu_logmel)
      pack gpu_logmel_wgsl bench -p ser-benches --bench gpu_logmel --no-run
      pack gpu_logmel_spirv bench -p ser-benches --features vulkan --bench gpu_logmel --no-run ;;
    train_cnn_lstm)
      pack train_cnn_lstm_wgsl bench -p ser-benches --bench train_cnn_lstm --no-run ;;
    *) echo "pack: unknown target $what (stages, stages_spirv, gpu_logmel, train_cnn_lstm)" >&2
       exit 2 ;;
  esac
done

# The Vulkan loader (the device machine has NVIDIA's Vulkan driver but no libvulkan.so.1).
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64-lists)
  mkdir -p /tmp/amd64-lists/partial
  apt-get "${o[@]}" update -qq
  (cd .gl && apt-get "${o[@]}" download libvulkan1)
fi
git rev-parse HEAD > .devbin/COMMIT
git diff --quiet HEAD || echo "(with uncommitted changes)" >> .devbin/COMMIT
ls -l .devbin .gl
total=$(du -cb .devbin .gl | tail -1 | cut -f1)
echo "pack: $((total / 1048576)) MiB to carry (the device tool takes 64 MiB with the repository)"
[ "$total" -lt $((58 * 1048576)) ] || echo "pack: too much for one call: pack fewer (ONLY=...)" >&2
