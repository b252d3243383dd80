# Sourced by the benchmark scripts: makes benches/.venv (librosa, torch, torchaudio) on first
# use (needs pip access) and the work folder; sets $venv and $work.
venv=benches/.venv
work=benches/.work
mkdir -p "$work" benches/results
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r benches/peers/requirements.txt
fi
