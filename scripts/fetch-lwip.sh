#!/usr/bin/env bash
# Fetch lwIP 2.2.1 from Debian 13's source package with apt's ordinary client,
# apply Debian's patches, and check the orig tarball against its pinned SHA-256.
# The machine's apt configuration is left untouched: a private sources list,
# lists directory and cache are built under a temporary directory, from the
# Debian mirror the machine is already configured with.
#
# usage: scripts/fetch-lwip.sh DEST    (DEST becomes the unpacked, patched tree)
set -euo pipefail

VERSION="2.2.1+dfsg1-1+deb13u1"
ORIG="lwip_2.2.1+dfsg1.orig.tar.xz"
SHA256="83729c274c499d3348e9fbbe043a3113f3fa8953e7efddc7c21c7fcbb1f2b7b1"

dest=${1:?usage: fetch-lwip.sh DEST}
if [ -f "$dest/.vole-fetched" ]; then
  exit 0
fi

mirror_from_apt() {
  # deb822 sources first, then the one-line format; the first plain Debian
  # archive wins (not -security, not a third-party repository).
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file|ftp):/ && $i !~ /security/) { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
}

mirror=$(mirror_from_apt)
if [ -z "$mirror" ]; then
  echo "fetch-lwip: no Debian mirror found in /etc/apt/sources.list*" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$work/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$work/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache"
  -o "APT::Sandbox::User=root"
  -q
)
echo "fetch-lwip: lwip $VERSION from $mirror (trixie)" >&2
apt-get "${apt_opts[@]}" update >&2
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only "lwip=$VERSION" >&2)

echo "$SHA256  $work/$ORIG" | sha256sum -c --quiet - || {
  echo "fetch-lwip: SHA-256 mismatch for $ORIG" >&2
  exit 1
}
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.tmp"
dpkg-source -x "$work/lwip_${VERSION}.dsc" "$dest.tmp" >&2
touch "$dest.tmp/.vole-fetched"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "fetch-lwip: unpacked into $dest" >&2
