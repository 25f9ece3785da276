#!/usr/bin/env bash
# Installs the delivery agents the integration tests run for real (tests/delivery.rs):
# procmail, maildrop, Dovecot with Pigeonhole Sieve; Postfix (tests/policy.rs); valgrind, whose
# instruction counts prove the filter linear in the message (tests/linear.rs); GNU time
# (tests/memory.rs); redis-server (tests/redis.rs starts its own on a loopback port). Idempotent;
# needs root and apt-get.
set -euo pipefail
pkgs=(procmail maildrop dovecot-imapd dovecot-sieve postfix valgrind time redis-server)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-deps: please install ${missing[*]} (Debian packages); the delivery tests skip without them" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix asks what kind of mail system this is: none (the tests write their own config).
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packaged service is not needed (the tests start their own Dovecot on a loopback port).
# The same for Postfix (tests/policy.rs starts its own with its own config and queue directories).
# And for Redis (tests/redis.rs starts its own servers, each on a free loopback port).
if command -v systemctl >/dev/null; then systemctl stop dovecot postfix redis-server >/dev/null 2>&1 || true; fi
