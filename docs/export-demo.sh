#!/usr/bin/env bash
# Export the published bundle as a patch series and as a wheel, and prove both, in one command:
#   1. `git am` of the series onto the base gives the bundle head's tree (compared by tree SHA);
#   2. `patch -p1` applies the series to a plain export of the base (`git archive`, like a release
#      tarball), and the result is the bundle head's tree too (binary changes excepted: patch
#      cannot apply them, git am can);
#   3. the wheel is built twice from the same head and the two files are byte-identical;
#   4. the wheel installs into a fresh virtual environment (no dependencies) and `pip show` reports
#      its PEP 440 local version.
#
# Usage: docs/export-demo.sh [STACK_YAML] [OUT_DIR]      (after `stacker build` has published)
#   STACKER="python -m stacker" docs/export-demo.sh ...   to run stacker from a checkout
#   EXPORT_WHEEL_ARGS=--no-build-isolation                to build with the installed backend (offline)
set -euo pipefail

stack=${1:-stack.yaml}
out=${2:-$(mktemp -d "${TMPDIR:-/tmp}/stacker-export-demo.XXXXXX")}
stacker=${STACKER:-stacker}
mkdir -p "$out"
json() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }

echo "== series"
rm -rf "$out/series"
$stacker export series --stack "$stack" --out "$out/series" --json >"$out/series.json"
repo=$(json "$out/series.json" "['repo']")
base=$(json "$out/series.json" "['base']")
head=$(json "$out/series.json" "['head']")
tree=$(json "$out/series.json" "['tree']")
mapfile -t patches < <(grep -v '^#' "$out/series/series")
echo "base $base  head $head  tree $tree  (${#patches[@]} patches)"
sed -n '1,3p' "$out/series/series"

echo "== git am onto the base"
rm -rf "$out/am"
git clone -q --no-checkout "$repo" "$out/am"
git -C "$out/am" checkout -q --detach "$base"
for p in "${patches[@]}"; do echo "$out/series/$p"; done |
    GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@localhost xargs -r git -C "$out/am" am -q
am_tree=$(git -C "$out/am" rev-parse 'HEAD^{tree}')
[ "$am_tree" = "$tree" ] && echo "git am: tree $am_tree == bundle tree" || { echo "git am: tree $am_tree != $tree"; exit 1; }

echo "== patch -p1 onto a plain export of the base"
rm -rf "$out/plain" && mkdir -p "$out/plain"
git -C "$repo" archive "$base" | tar -x -C "$out/plain"
for p in "${patches[@]}"; do patch -p1 -s --batch --no-backup-if-mismatch -d "$out/plain" -i "$out/series/$p"; done
git -C "$out/plain" init -q && git -C "$out/plain" add -A -f
# every file with its mode and blob id; submodules (gitlinks) have no files in an export, so not them
git -C "$out/plain" ls-files -s | awk '{print $1, $2, $4}' >"$out/plain.files"
git -C "$repo" ls-tree -r "$tree" | awk '$1 != "160000" {print $1, $3, $4}' >"$out/bundle.files"
binary=$(json "$out/series.json" "['binary_files']")
if cmp -s "$out/plain.files" "$out/bundle.files"; then
    echo "patch -p1: all $(wc -l <"$out/bundle.files") files (mode and content) == the bundle tree's"
else
    diff "$out/plain.files" "$out/bundle.files" | head -20
    echo "patch -p1: files differ from the bundle tree (binary changes patch cannot apply: $binary)"; exit 1
fi

echo "== wheel, built twice"
rm -rf "$out/dist" "$out/dist-again"
# shellcheck disable=SC2086
$stacker export wheel --stack "$stack" --out "$out/dist" --json ${EXPORT_WHEEL_ARGS:-} >"$out/wheel.json"
# shellcheck disable=SC2086
$stacker export wheel --stack "$stack" --out "$out/dist-again" --json ${EXPORT_WHEEL_ARGS:-} >"$out/wheel-again.json"
wheel=$(json "$out/wheel.json" "['wheel']")
version=$(json "$out/wheel.json" "['version']")
sha_1=$(sha256sum "$wheel" | cut -d' ' -f1)
sha_2=$(sha256sum "$(json "$out/wheel-again.json" "['wheel']")" | cut -d' ' -f1)
echo "$(basename "$wheel")"
echo "version $version  ($(json "$out/wheel.json" "['base_version']"))"
[ "$sha_1" = "$sha_2" ] && echo "same head, same bytes: sha256 $sha_1" || { echo "wheels differ: $sha_1 $sha_2"; exit 1; }

echo "== pip install into a fresh venv"
rm -rf "$out/venv"
python3 -m venv "$out/venv"
"$out/venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "$wheel"
dist=$(basename "$wheel" | cut -d- -f1)
"$out/venv/bin/python" -m pip show "$dist"
installed=$("$out/venv/bin/python" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$dist")
[ "$installed" = "$version" ] && echo "installed version $installed" || { echo "installed $installed != $version"; exit 1; }
echo "== all checks passed; outputs in $out"
