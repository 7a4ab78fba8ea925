#!/usr/bin/env bash
# Installs Chromium and its driver from Debian's packages when either is missing: the demo's browser test drives
# them (a browser download by Playwright or Selenium Manager cannot reach its servers here). Needs root and apt-get.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "cannot install Chromium: this needs root and apt-get (Debian's chromium and chromium-driver packages)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
command -v chromium >/dev/null && command -v chromedriver >/dev/null
