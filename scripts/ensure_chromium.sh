#!/usr/bin/env bash
# Debian's chromium for the browser tests: Playwright for Python drives it by its path
# (`playwright install` and its downloaded browsers are never used). Installed once, here.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
packages=(chromium chromium-driver)
$sudo apt-get install -y --no-install-recommends "${packages[@]}" \
  || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${packages[@]}"; }
