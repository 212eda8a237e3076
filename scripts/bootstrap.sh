#!/usr/bin/env bash
# Set up everything Helhet needs on a fresh Debian machine: system packages, the virtualenv, translations.
# Idempotent and quiet when everything is in place already.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: Chromium for browser tests, gettext for translations, PostgreSQL server for the test
# suite, Pango and fonts for WeasyPrint's PDFs.
packages=(chromium gettext postgresql libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: missing Debian packages (${missing[*]}); run as root or install them" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${HELHET_PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.helhet-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing Python packages"
  log=$(mktemp)
  if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e ".[dev]"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "bootstrap: pip install failed" >&2
    exit 1
  fi
  rm -f "$log"
  touch "$stamp"
fi

# Compile the Norwegian translations of every app (the .mo files are build output, not in git).
for locale_dir in helhet/*/locale; do
  [ -d "$locale_dir" ] || continue
  (cd "$(dirname "$locale_dir")" && ../../.venv/bin/helhet compilemessages -v0)
done
