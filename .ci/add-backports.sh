#!/usr/bin/env bash
# Adds Debian's bookworm-backports suite as an apt source, from the same
# mirror this machine already uses for bookworm (its deb822 entry in
# /etc/apt/sources.list.d/*.sources, else a one-line "deb" entry in
# /etc/apt/sources.list): no package host is written here, so the machine's
# own configuration (a local mirror, a proxy, a snapshot) decides.
set -euo pipefail
target=/etc/apt/sources.list.d/bookworm-backports.sources
if grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  exit 0
fi
# deb822: the stanza whose Suites include plain "bookworm"; its URIs and Signed-By.
stanza=$(awk -v RS= '/(^|\n)Suites:[^\n]*[[:space:]]bookworm([[:space:]]|$)/ { print; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
uris=$(printf '%s\n' "$stanza" | sed -n 's/^URIs:[[:space:]]*//p' | head -n 1)
signed=$(printf '%s\n' "$stanza" | sed -n 's/^Signed-By:[[:space:]]*//p' | head -n 1)
if [ -z "$uris" ] && [ -f /etc/apt/sources.list ]; then
  # one-line format: deb [options] URI bookworm components...
  uris=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { if ($(i+1) == "bookworm") { print $i; exit } break } }' /etc/apt/sources.list)
fi
if [ -z "$uris" ]; then
  echo "add-backports: found no apt source for Debian bookworm to take the mirror from" >&2
  exit 1
fi
{
  echo 'Types: deb'
  echo "URIs: $uris"
  echo 'Suites: bookworm-backports'
  echo 'Components: main'
  echo "Signed-By: ${signed:-/usr/share/keyrings/debian-archive-keyring.gpg}"
} > "$target"
echo "add-backports: wrote $target (URIs: $uris)"
