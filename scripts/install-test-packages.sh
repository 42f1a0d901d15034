#!/usr/bin/env bash
# The Debian packages the tests use as references: PIL, NumPy and pandas for Debian's /usr/bin/python3
# (the golden decodes and crops of stages/load, the corruption references). Installed with apt-get
# when missing and possible (root or password-less sudo); tests that need them skip with a
# message otherwise, so a failure here only warns.
set -uo pipefail
packages=(python3-pil python3-numpy python3-pandas)
/usr/bin/python3 -c "import PIL, numpy, pandas" 2>/dev/null && exit 0
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif sudo -n true 2>/dev/null; then sudo -n "$@"; else return 1; fi; }
if command -v apt-get >/dev/null &&
  { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" ||
    { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"; }; }; then
  exit 0
fi
echo "install-test-packages: ${packages[*]} are missing and could not be installed; the PIL reference tests will skip" >&2
exit 0
