#!/usr/bin/env bash
# Refreshes the browser files Pulse vendors from npm into frontend/static/vendor/<name>/,
# each with its licence. Versions are pinned here so a refresh is reproducible; npm is
# needed only to run this script, never to build or run Pulse.
#
# Test-only files go elsewhere: axe-core (the accessibility engine of the browser tests) is
# vendored into cmd/pulse/e2e/testdata/axe/, outside frontend/, so Pulse never serves it.
#
# Usage: scripts/refresh-vendor.sh
# To add a package, add a vendor_pkg line at the bottom and list it in
# frontend/static/vendor/README.md. Files that must be bundled rather than copied have their own
# build script, called at the bottom (blindrsa: scripts/build-blindrsa.sh; hpke: scripts/build-hpke.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor_dir="$root/frontend/static/vendor"

for tool in npm node tar; do
	command -v "$tool" >/dev/null || { echo "refresh-vendor: $tool is required" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# vendor_pkg NAME VERSION FILE...
#   Fetches NAME@VERSION with `npm pack` (which checks the tarball against the registry's
#   integrity hash) and replaces frontend/static/vendor/<dir>/ with the listed FILEs plus the
#   package's LICENSE, NOTICE and any subcomponent licences from its licenses/ folder.
#   <dir> is NAME without its npm scope. A FILE is a path inside the package, copied under
#   its base name, or "path:dest" to choose the destination name.
vendor_pkg() {
	local name="$1"
	vendor_pkg_into "$vendor_dir/${name##*/}" "$@"
}

# vendor_pkg_into DEST NAME VERSION FILE...
#   Like vendor_pkg, into the directory DEST (replaced whole).
vendor_pkg_into() {
	local dest="$1" name="$2" version="$3"
	shift 3
	[[ $# -gt 0 ]] || { echo "vendor_pkg $name: no files listed" >&2; return 1; }

	local dir="${name##*/}"
	local pkg_work="$work/$dir"
	mkdir -p "$pkg_work"

	local tarball
	tarball="$(cd "$pkg_work" && npm pack --silent "$name@$version" | tail -n 1)"
	tar -xzf "$pkg_work/$tarball" -C "$pkg_work"
	local src="$pkg_work/package"

	local got
	got="$(node -p 'require(process.argv[1]).version' "$src/package.json")"
	[[ "$got" == "$version" ]] || { echo "vendor_pkg $name: got version $got, want $version" >&2; return 1; }

	rm -rf "$dest"
	mkdir -p "$dest"

	local spec from to
	for spec in "$@"; do
		from="${spec%%:*}"
		to="$(basename "$from")"
		[[ "$spec" == *:* ]] && to="${spec#*:}"
		[[ -f "$src/$from" ]] || { echo "vendor_pkg $name: $from not in package" >&2; return 1; }
		cp "$src/$from" "$dest/$to"
	done

	# A vendored file without its licence is not redistributable; fail rather than ship one.
	local f licence=""
	for f in LICENSE LICENSE.md LICENSE.txt LICENCE LICENCE.md license license.md; do
		if [[ -f "$src/$f" ]]; then licence="$src/$f"; break; fi
	done
	[[ -n "$licence" ]] || { echo "vendor_pkg $name: no LICENSE file in package" >&2; return 1; }
	cp "$licence" "$dest/LICENSE"
	for f in NOTICE NOTICE.md NOTICE.txt; do
		if [[ -f "$src/$f" ]]; then cp "$src/$f" "$dest/NOTICE"; break; fi
	done
	# Licences of bundled subcomponents (echarts: licenses/LICENSE-d3, referenced from LICENSE).
	if [[ -d "$src/licenses" ]]; then
		for f in "$src"/licenses/*; do
			[[ -f "$f" ]] && cp "$f" "$dest/$(basename "$f")"
		done
	fi

	echo "vendored $name@$version -> ${dest#"$root"/}"
}

# Pinned packages. echarts must match what go-echarts (see go.mod) expects.
vendor_pkg echarts 5.4.3 dist/echarts.min.js

# Tests only, never served: the browser tests (cmd/pulse/e2e) inject axe-core through
# DevTools to check pages for accessibility problems.
vendor_pkg_into "$root/cmd/pulse/e2e/testdata/axe" axe-core 4.14.1 axe.min.js LICENSE-3RD-PARTY.txt

# Bundled, not copied: the blind-RSA client and the HPKE sealing client are each built into one
# ES module by their own script.
"$root/scripts/build-blindrsa.sh"
"$root/scripts/build-hpke.sh"
