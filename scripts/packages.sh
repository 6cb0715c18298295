# Debian packages: source this file, then "missing_packages pkg ..." prints
# those of the arguments that are not installed (nothing when all are).
missing_packages() {
	local p missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
	done
	echo "$missing"
}
