#!/bin/sh
# Copies the third-party files the page and its tests use into the tree, from npm, pinned.
# The page loads nothing from elsewhere at run time (a strict CSP and offline laptops), so
# these files are committed; run this only to move to another version.
#   src/tokenwire/static/vendor/katex/   KaTeX: its script, stylesheet and woff2 fonts
#   tests/browser/vendor/axe.min.js      axe-core, injected by the browser tests only
set -eu
KATEX=0.19.1
AXE=4.14.1
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "katex@$KATEX" "axe-core@$AXE" >/dev/null
mkdir katex axe
tar xzf "katex-$KATEX.tgz" -C katex
tar xzf "axe-core-$AXE.tgz" -C axe

static="$root/src/tokenwire/static/vendor/katex"
rm -rf "$static"
mkdir -p "$static/fonts"
cp katex/package/dist/katex.min.js katex/package/dist/katex.min.css katex/package/LICENSE "$static/"
cp katex/package/dist/fonts/*.woff2 "$static/fonts/"
echo "KaTeX $KATEX (npm katex), MIT; copied by scripts/vendor.sh" > "$static/VERSION"

tests="$root/tests/browser/vendor"
mkdir -p "$tests"
cp axe/package/axe.min.js "$tests/axe.min.js"
cp axe/package/LICENSE "$tests/axe-LICENSE"
echo "axe-core $AXE (npm axe-core), MPL-2.0; copied by scripts/vendor.sh" > "$tests/VERSION"
