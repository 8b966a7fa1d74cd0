#!/usr/bin/env bash
# Create the peers' own virtualenv for the side-by-side benchmarks (never the app's venv):
# cleanvision, imagededup and fastdup, which the benchmarks run as subprocesses through the
# runner scripts in this folder, so the app never imports them.
#
#   bash benchmarks/peers/setup.sh            # idempotent: does nothing when already built
#   PEERS_VENV=/some/dir bash benchmarks/peers/setup.sh
#
# Notes: imagededup 0.3.3 (not .post2) downloads its CNN's weights when `imagededup.methods` is
# imported, so offline even its PHash cannot be imported (upstream idealo/imagededup#200,
# fixed in 0.3.3.post2 with the same hashing code). imagededup imports torch; the torch/torchvision pins go in the same pip command or pip
# drags a newer CUDA torch. fastdup is under a non-commercial licence; it runs offline (its
# ONNX model ships in the wheel) with SENTRY_OPT_OUT=1, which the runners set.
set -euo pipefail

PYTHON="${PYTHON:-python3.11}"
PEERS_VENV="${PEERS_VENV:-$HOME/.cache/winnow/venv-peers}"
PINS=(cleanvision==0.3.7 imagededup==0.3.3.post2 fastdup==2.54 torch==2.14.1 torchvision==0.29.1)
STAMP="$PEERS_VENV/.complete-$(printf '%s\n' "${PINS[@]}" | sha256sum | cut -c1-12)"

if [[ -f "$STAMP" ]]; then
  echo "peers venv ready: $PEERS_VENV"
  exit 0
fi
rm -rf "$PEERS_VENV"
"$PYTHON" -m venv "$PEERS_VENV"
"$PEERS_VENV/bin/pip" install -q --upgrade pip
"$PEERS_VENV/bin/pip" install -q "${PINS[@]}"
"$PEERS_VENV/bin/pip" check || echo "warning: pip check reports conflicts (see above)" >&2
SENTRY_OPT_OUT=1 "$PEERS_VENV/bin/python" -c "import cleanvision, imagededup, fastdup"
touch "$STAMP"
echo "peers venv ready: $PEERS_VENV"
