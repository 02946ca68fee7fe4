#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (real services: PostgreSQL, Redis, Chromium) when missing.
# One package per line in .ci/debian-packages.txt; a line's first word is the package, the rest a command that
# proves it is there (defaults to the package name). Needs root or sudo; without either it says what is missing.
set -euo pipefail
cd "$(dirname "$0")"
missing=()
while read -r pkg probe; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  probe="${probe:-$pkg}"
  if ! command -v "$probe" >/dev/null 2>&1 && ! dpkg -s "$pkg" >/dev/null 2>&1; then
    missing+=("$pkg")
  fi
done < debian-packages.txt
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "missing Debian packages (${missing[*]}) and no root: the tests that need them will be skipped" >&2; exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
