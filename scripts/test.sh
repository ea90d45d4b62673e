#!/usr/bin/env bash
# Installs everything the test suite needs and runs it: lint, format check and every test.
# Safe to run again: each step does nothing when its work is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
# Ray too: the engine tests run every training-job test on a local Ray as well.
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt \
  -r requirements-ray.txt

# Debian packages: the browser tests drive the system's Chromium (Playwright cannot download
# browsers here), and Korean labels in the pictures drawn with Pillow need a font with Hangul.
PACKAGES=()
if ! command -v chromium >/dev/null 2>&1; then PACKAGES+=(chromium chromium-driver); fi
if ! fc-list :lang=ko 2>/dev/null | grep -q .; then PACKAGES+=(fonts-nanum fontconfig); fi
if [ ${#PACKAGES[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
