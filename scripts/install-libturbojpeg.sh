#!/usr/bin/env bash
# Makes sure libjpeg-turbo's TurboJPEG library (Debian: libturbojpeg0-dev) is installed: the load stage
# decodes JPEGs with it, bit-identical to PIL; without it vistudy falls back to Go's image/jpeg, whose
# IDCT differs from PIL's by up to ±3 levels. Installs with apt-get on Debian/Ubuntu when run as root
# (or with password-less sudo); otherwise prints the one command to run and fails.
set -euo pipefail
if /sbin/ldconfig -p 2>/dev/null | grep -q 'libturbojpeg\.so\.0 '; then
  exit 0
fi
cmd="apt-get install -y --no-install-recommends libturbojpeg0-dev"
if command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y --no-install-recommends libturbojpeg0-dev || { apt-get update && $cmd; }
    exit 0
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n $cmd || { sudo -n apt-get update && sudo -n $cmd; }
    exit 0
  fi
  echo "install-libturbojpeg: libturbojpeg.so.0 is missing; run: sudo $cmd" >&2
else
  echo "install-libturbojpeg: libturbojpeg.so.0 (libjpeg-turbo's TurboJPEG, 2.0 or later) is missing: install it with your package manager, or build with -tags nolibjpeg to use Go's decoder (not bit-exact to PIL)" >&2
fi
exit 1
