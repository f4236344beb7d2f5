#!/bin/sh
# Vendors axe-core for the browser tests (TestPageAccessibility): the
# minified script and its licence, from the npm package, pinned. Run it
# from this directory to update: sh vendor.sh [VERSION]. Needs npm and tar;
# the tests read the files committed here and need no network.
set -eu
version=${1:-4.14.1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "axe-core@$version" >/dev/null)
tar -xzf "$tmp"/axe-core-"$version".tgz -C "$tmp" package/axe.min.js package/LICENSE
cp "$tmp"/package/axe.min.js axe.min.js
cp "$tmp"/package/LICENSE LICENSE
echo "$version" > VERSION
