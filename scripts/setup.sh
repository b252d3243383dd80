#!/usr/bin/env bash
# Installs what ser needs on a fresh Debian (or Ubuntu) machine, then returns. Idempotent:
#   - apt: a C toolchain (linking), pkg-config, libhdf5-dev (the HDF5 cache), and the Vulkan
#     loader + Mesa's Vulkan drivers (libvulkan1, mesa-vulkan-drivers: the GPU kernels run on
#     a real GPU's driver, or on lavapipe, Mesa's software Vulkan, where there is none);
#   - Rust (via rustup) when cargo is missing;
#   - .venv/ with h5py + numpy (the tests read caches as a Python user would), tensorboard
#     (the tests load ser's event files with TensorBoard's own reader), and onnx + onnxruntime
#     (the tests check and run ser's exported models).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
need=()
for pkg in gcc libc6-dev pkg-config libhdf5-dev libvulkan1 mesa-vulkan-drivers ca-certificates curl; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-venv)
if ((${#need[@]})); then
  echo "setup: installing ${need[*]} with apt" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: installing Rust with rustup" >&2
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
  . "$HOME/.cargo/env"
fi

if ! .venv/bin/python -c "import h5py, numpy, tensorboard, onnx, onnxruntime" >/dev/null 2>&1; then
  echo "setup: creating .venv with h5py, numpy, tensorboard, onnx and onnxruntime" >&2
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements.txt
fi
