#!/usr/bin/env bash
# Install headless Chromium from Debian's packages (for the dashboard's browser test). Idempotent.
# Prints the browser's path on its last line.
set -euo pipefail
find_chromium() {
    command -v chromium || command -v chromium-browser || command -v google-chrome || true
}
bin="$(find_chromium)"
if [ -z "$bin" ]; then
    echo "installing Chromium from Debian's packages..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    bin="$(find_chromium)"
fi
[ -n "$bin" ] || { echo "no chromium after installing it" >&2; exit 1; }
"$bin" --version >&2
echo "$bin"
