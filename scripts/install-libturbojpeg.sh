#!/usr/bin/env bash
# Makes sure libjpeg-turbo is installed for the load stage, which decodes JPEGs with it, bit-identical to
# PIL: its TurboJPEG library (Debian: libturbojpeg0-dev), and libjpeg's own API with its header (Debian:
# libjpeg62-turbo-dev, the library PIL links), through which only the part of an image that resize and
# crop read is decoded. Without TurboJPEG vistudy falls back to Go's image/jpeg, whose IDCT differs from
# PIL's by up to ±3 levels; without libjpeg's header at build time it decodes whole images (same pixels,
# slower). Installs with apt-get on Debian/Ubuntu when run as root (or with password-less sudo);
# otherwise prints the one command to run and fails.
set -euo pipefail
libs=$(/sbin/ldconfig -p 2>/dev/null || true) # read whole: grep -q closing the pipe early fails it under pipefail
have_turbo() { grep -q 'libturbojpeg\.so\.0 ' <<<"$libs"; }
have_libjpeg() { [ -f /usr/include/jpeglib.h ] && grep -q 'libjpeg\.so\.62 ' <<<"$libs"; }
if have_turbo && have_libjpeg; then
  exit 0
fi
pkgs="libturbojpeg0-dev libjpeg62-turbo-dev"
cmd="apt-get install -y --no-install-recommends $pkgs"
if command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    $cmd || { apt-get update && $cmd; }
    exit 0
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n $cmd || { sudo -n apt-get update && sudo -n $cmd; }
    exit 0
  fi
  echo "install-libturbojpeg: libturbojpeg.so.0 or libjpeg's header is missing; run: sudo $cmd" >&2
else
  echo "install-libturbojpeg: libjpeg-turbo 2.0 or later is missing (TurboJPEG's libturbojpeg.so.0, and libjpeg.so.62 with jpeglib.h): install it with your package manager, or build with -tags nolibjpeg to use Go's decoder (not bit-exact to PIL)" >&2
fi
exit 1
