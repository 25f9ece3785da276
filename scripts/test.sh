#!/usr/bin/env bash
# The README's test command: installs what the tests need on a fresh Debian machine (the real
# delivery agents procmail, maildrop and Dovecot, when .ci/install-deps.sh exists), then runs
# every test. Needs root or sudo for the package install; without either, the delivery-agent
# tests are skipped with a message (and fail when CI is set).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .ci/install-deps.sh ]; then
  if [ "$(id -u)" = 0 ]; then
    bash .ci/install-deps.sh
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo bash .ci/install-deps.sh
  else
    echo "test.sh: not root and no sudo: delivery-agent packages not installed; those tests will be skipped" >&2
  fi
fi
cargo test --locked --all-targets
# The metric functions of the generalisation benchmark (doctests; no corpus or build needed).
if command -v python3 >/dev/null; then python3 scripts/generalise.py --self-test; fi
