# Shared shell functions for the guest builds that take packages from Debian's riscv64 registry.
# Source it from a build script (bash, set -euo pipefail) after defining die() and note().
#
#   debian_apt_setup CACHE_DIR SUITE   a private apt configuration under CACHE_DIR/apt (riscv64, SUITE main, the
#                                      system's own mirror URI read at run time, an empty private dpkg status);
#                                      sets APT_OPTS (an array) and APT_DIR, and runs apt-get update
#   newc_node NAME MODE MAJOR MINOR INO   one cpio newc entry for a device node (cpio cannot make one without root)
#   resolve_module_order MODDIR MODULE... sets MODULE_ORDER (files relative to MODDIR, dependencies first) from
#                                      MODDIR/modules.dep; a module built in is skipped, one that is neither fails
#   unpack_module MODDIR FILE DEST_DIR  decompresses one .ko(.xz|.zst|.gz) into DEST_DIR; prints the .ko name

debian_apt_setup() {
    local cache="$1" suite="$2" keyring=/usr/share/keyrings/debian-archive-keyring.gpg mirror
    [[ -f "$keyring" ]] || die "$keyring missing (package debian-archive-keyring)"
    # The mirror is the one the system already uses for its main Debian suite (not -security/-updates).
    mirror="$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' 2>/dev/null \
        | awk '$3 == "deb" && $2 !~ /-/ { print $1; exit }')"
    [[ -n "$mirror" ]] || die "no Debian mirror found in the system's apt sources (apt-get indextargets lists none)"
    APT_DIR="$cache/apt"
    mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/archives/partial" "$APT_DIR/etc/preferences.d" "$APT_DIR/etc/apt.conf.d"
    echo "deb [arch=riscv64 signed-by=$keyring] $mirror $suite main" > "$APT_DIR/etc/sources.list"
    : > "$APT_DIR/status"
    APT_OPTS=(
        -o "Dir::Etc::sourcelist=$APT_DIR/etc/sources.list" -o "Dir::Etc::sourceparts=-"
        -o "Dir::Etc::preferencesparts=$APT_DIR/etc/preferences.d" -o "Dir::Etc::parts=$APT_DIR/etc/apt.conf.d"
        -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::State::status=$APT_DIR/status"
        -o "Dir::Cache=$APT_DIR" -o "Dir::Cache::archives=$APT_DIR/archives"
        -o "APT::Architecture=riscv64" -o "APT::Architectures=riscv64"
        -o "Debug::NoLocking=1" -o "Acquire::Languages=none"
        -o "APT::Install-Recommends=false" -o "APT::Install-Suggests=false"
    )
    # apt drops to its _apt user to download, which cannot write into root's home: download as the caller instead.
    [[ $EUID -eq 0 ]] && APT_OPTS+=(-o "APT::Sandbox::User=root")
    note "registry: $mirror $suite (riscv64)"
    apt-get "${APT_OPTS[@]}" -qq update || die "apt-get update of $mirror $suite (riscv64) failed"
}

newc_node() { # name mode major minor ino
    local name="$1" namesize=$((${#1} + 1))
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
        "$5" "$2" 0 0 1 0 0 0 0 "$3" "$4" "$namesize" 0 "$name"
    local pad=$(( (4 - (110 + namesize) % 4) % 4 ))
    head -c "$pad" /dev/zero
}

resolve_module_order() {
    local moddir="$1"; shift
    local line file name m
    declare -gA _PATH_OF=() _DEPS_OF=() _SEEN=()
    MODULE_ORDER=()
    while IFS= read -r line; do
        file="${line%%:*}"
        name="${file##*/}"; name="${name%%.ko*}"; name="${name//-/_}"
        _PATH_OF[$name]="$file"
        _DEPS_OF[$file]="${line#*:}"
    done < "$moddir/modules.dep"
    for m in "$@"; do
        if [[ -n "${_PATH_OF[$m]:-}" ]]; then
            _visit_module "${_PATH_OF[$m]}"
        elif grep -qE "/${m//_/[-_]}\.ko" "$moddir/modules.builtin"; then
            note "module $m is built into the kernel"
        else
            die "module $m is neither a module nor built into the kernel"
        fi
    done
}

_visit_module() {
    local file="$1" dep
    [[ -n "${_SEEN[$file]:-}" ]] && return 0
    _SEEN[$file]=1
    for dep in ${_DEPS_OF[$file]}; do
        _visit_module "$dep"
    done
    MODULE_ORDER+=("$file")
}

unpack_module() {
    local moddir="$1" file="$2" dest="$3" base="${2##*/}"
    case "$base" in
        *.ko.xz) xz -dc "$moddir/$file" > "$dest/${base%.xz}"; base="${base%.xz}" ;;
        *.ko.zst) command -v zstd >/dev/null || die "$base is zstd-compressed and zstd is not installed"
                  zstd -qdc "$moddir/$file" > "$dest/${base%.zst}"; base="${base%.zst}" ;;
        *.ko.gz) gzip -dc "$moddir/$file" > "$dest/${base%.gz}"; base="${base%.gz}" ;;
        *.ko) cp "$moddir/$file" "$dest/$base" ;;
        *) die "unexpected module file $file" ;;
    esac
    echo "$base"
}
