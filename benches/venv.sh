# Sourced by the benchmark scripts: sets $py (the Python that runs the peers) and $work (the
# work folder). With PYTHON set (a Python that already has torch etc., e.g. on a GPU machine
# with no network) that one is used; otherwise benches/.venv (librosa, torch, torchaudio) is
# made on first use (needs pip access).
work=benches/.work
mkdir -p "$work" benches/results
if [ -n "${PYTHON:-}" ]; then
  py="$PYTHON"
else
  venv=benches/.venv
  if ! "$venv/bin/python" -c "import librosa, torch, torchaudio, onnxruntime" >/dev/null 2>&1; then
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q -r benches/peers/requirements.txt
  fi
  py="$venv/bin/python"
fi
# The commit the figures come from, read before a results file is rewritten (rewriting it
# would otherwise make every run look "-dirty"); a caller that knows better (a prebuilt
# binary on a machine without the repository's history) sets it.
export BENCH_COMMIT="${BENCH_COMMIT:-$(git describe --always --dirty 2>/dev/null || echo '?')}"
