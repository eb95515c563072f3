# Shared by deploy/install-kiosk and deploy/install-gateway (sourced, not run).
# Every step first checks whether the machine is already as wanted and changes only what
# differs, counting each change: a second run prints "0 changes".
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)    # the checkout being installed
FILES="$SRC/deploy/files"
PREFIX=${PLACECODE_PREFIX:-/opt/placecode}              # code: releases/<name>, current, venv
ETC=${PLACECODE_ETC:-/etc/placecode}                    # config
DATA=${PLACECODE_DATA:-/var/lib/placecode}              # data (outbox, gateway db, releases)
SERVICE_USER=placecode
CHANGES=0

say() { echo "install: $*"; }
changed() { CHANGES=$((CHANGES + 1)); echo "  changed: $*"; }

# Is systemd the running init? In a chroot or container build it is not: units are still
# installed and enabled (symlinks), but nothing is started.
booted_with_systemd() { [ -d /run/systemd/system ]; }

# put_file SRC DST MODE [OWNER:GROUP] — install when content, mode or owner differ.
put_file() {
    local src=$1 dst=$2 mode=$3 owner=${4:-root:root}
    if [ -f "$dst" ] && cmp -s "$src" "$dst" && [ "$(stat -c %a "$dst")" = "${mode#0}" ] \
        && [ "$(stat -c %U:%G "$dst")" = "$owner" ]; then
        return 0
    fi
    install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dst"
    changed "$dst"
}

# put_text DST MODE [OWNER:GROUP] <<<content
put_text() {
    local tmp; tmp=$(mktemp)
    cat >"$tmp"
    put_file "$tmp" "$@"
    rm -f "$tmp"
}

# put_config SRC DST — a config file the site edits: installed once, never overwritten.
put_config() {
    local src=$1 dst=$2
    if [ ! -e "$dst" ]; then
        install -D -m 0640 -o root -g "$SERVICE_USER" "$src" "$dst"
        changed "$dst (new; edit it)"
    fi
}

ensure_mode() {  # PATH MODE OWNER:GROUP — an existing file or folder's mode and owner
    local path=$1 mode=$2 owner=$3
    if [ "$(stat -c %a "$path")" = "${mode#0}" ] && [ "$(stat -c %U:%G "$path")" = "$owner" ]; then
        return 0
    fi
    chmod "$mode" "$path"
    chown "$owner" "$path"
    changed "$path (mode $mode, $owner)"
}

ensure_dir() {  # PATH MODE OWNER:GROUP
    local path=$1 mode=$2 owner=$3
    if [ -d "$path" ] && [ "$(stat -c %a "$path")" = "${mode#0}" ] \
        && [ "$(stat -c %U:%G "$path")" = "$owner" ]; then
        return 0
    fi
    install -d -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$path"
    changed "$path/"
}

ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    say "installing system packages: ${missing[*]}"
    apt-get update -qq
    # policy-rc.d in a chroot keeps the packages' own services from starting there
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    changed "packages: ${missing[*]}"
}

is_raspberry_pi() { grep -qs "Raspberry Pi" /proc/device-tree/model; }

ensure_user() {
    if ! getent group "$SERVICE_USER" >/dev/null; then
        groupadd --system "$SERVICE_USER"; changed "group $SERVICE_USER"
    fi
    if ! getent passwd "$SERVICE_USER" >/dev/null; then
        useradd --system --gid "$SERVICE_USER" --home-dir "$DATA" --no-create-home \
            --shell /usr/sbin/nologin "$SERVICE_USER"
        changed "user $SERVICE_USER"
    fi
    local group
    for group in "$@"; do  # supplementary groups: dialout (serial), video (camera)
        getent group "$group" >/dev/null || continue
        if ! id -nG "$SERVICE_USER" | tr ' ' '\n' | grep -qx "$group"; then
            usermod -a -G "$group" "$SERVICE_USER"; changed "user $SERVICE_USER in $group"
        fi
    done
}

# The Python environment: a venv that also sees Debian's packages (python3-picamera2 on a
# Pi), with the project's locked runtime dependencies, re-done only when the lock changes.
ensure_venv() {
    local venv=$PREFIX/venv lock stamp want
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv --system-site-packages "$venv"; changed "$venv"
    fi
    lock=$(mktemp)
    runtime_lock "$SRC/requirements.lock" >"$lock"
    want=$(sha256sum "$lock" | cut -d' ' -f1)
    stamp=$venv/.runtime-lock-sha256
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing locked Python dependencies (runtime only)"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-cache-dir \
            ${PIP_FIND_LINKS:+--find-links "$PIP_FIND_LINKS"} --require-hashes -r "$lock"
        echo "$want" >"$stamp"
        changed "python dependencies"
    fi
    rm -f "$lock"
}

# requirements.lock without the development-only tools (tests, browser, linters).
runtime_lock() {
    awk -v skip="$(tr '\n' ' ' <"$FILES/dev-only-packages")" '
        BEGIN { n = split(skip, s, " "); for (i = 1; i <= n; i++) drop[s[i]] = 1 }
        /^[A-Za-z0-9]/ { split($1, a, "=="); keep = !(tolower(a[1]) in drop) }
        /^#/ { next }
        keep { print }
    ' "$1"
}

# The code: a reproducible release bundle made from this checkout, unpacked side by side
# under $PREFIX/releases/<name> with $PREFIX/current pointing at it — the same layout and
# code path as an update from the gateway (firmware/kiosk/update.py).
install_code() {
    local out result
    out=$(mktemp -d)
    PYTHONPATH=$SRC "$PREFIX/venv/bin/python" -m firmware.kiosk.update build --source "$SRC" \
        --out "$out" >"$out/path"
    BUNDLE=$(cat "$out/path")
    result=$(PYTHONPATH=$SRC "$PREFIX/venv/bin/python" -m firmware.kiosk.update install \
        "$BUNDLE" --root "$PREFIX")
    RELEASE=$(echo "$result" | sed -E 's/.*"release": "([^"]+)".*/\1/')
    if echo "$result" | grep -q '"changed": true'; then changed "$PREFIX/current -> $RELEASE"; fi
    BUNDLE_DIR=$out
}

enable_unit() {  # UNIT — enabled for boot; started/restarted only on a booted system
    local unit=$1
    if ! systemctl is-enabled --quiet "$unit" 2>/dev/null; then
        systemctl enable --quiet "$unit" 2>/dev/null || systemctl --root=/ enable --quiet "$unit"
        changed "enabled $unit"
    fi
}

restart_if_booted() {  # UNIT...
    if booted_with_systemd; then
        systemctl daemon-reload
        systemctl restart "$@"
    else
        say "not booted with systemd (chroot/image build): $* will start at boot"
    fi
}

reload_udev() {
    if booted_with_systemd && command -v udevadm >/dev/null; then
        udevadm control --reload && udevadm trigger --subsystem-match=tty
    fi
}

finish() {
    say "done: $CHANGES changes"
}
