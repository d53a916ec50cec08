#!/usr/bin/env bash
# Builds the Debian package: securechat-server and securechat in /usr/bin,
# the hardened systemd unit, /etc/securechat/securechat.toml (a conffile),
# and the docs. Usage:
#   scripts/build-deb.sh                 # release build, into target/deb/
#   scripts/build-deb.sh --bin-dir DIR   # package the binaries in DIR as they are
#   scripts/build-deb.sh --out DIR       # write the .deb into DIR
#   scripts/build-deb.sh --fast          # gzip -1 instead of xz (the tests)
# Prints the path of the .deb it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir="" out="target/deb" compress=(-Zxz)
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin_dir="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --fast) compress=(-Zgzip -z1); shift ;;
    *) echo "build-deb: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$bin_dir" ]; then
  cargo build --release --locked --bin securechat-server --bin securechat >&2
  bin_dir=target/release
fi
for b in securechat-server securechat; do
  [ -x "$bin_dir/$b" ] || { echo "build-deb: no $bin_dir/$b" >&2; exit 1; }
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"

# Stripped (-s): symbols and debug info stay out of the package.
install -D -s -m 0755 "$bin_dir/securechat-server" "$root/usr/bin/securechat-server"
install -D -s -m 0755 "$bin_dir/securechat" "$root/usr/bin/securechat"
install -D -m 0644 packaging/securechat-server.service "$root/lib/systemd/system/securechat-server.service"
install -D -m 0640 packaging/securechat.toml "$root/etc/securechat/securechat.toml"
doc="$root/usr/share/doc/securechat"
install -D -m 0644 README.md "$doc/README.md"
for f in CHANGELOG.md SECURITY.md docs/deployment.md docs/config.example.toml docs/protocol.md; do
  install -m 0644 "$f" "$doc/$(basename "$f")"
done
install -d "$root/DEBIAN"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
echo /etc/securechat/securechat.toml > "$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  packaging/debian/control.in > "$root/DEBIAN/control"

mkdir -p "$out"
deb="$out/securechat_${version}_${arch}.deb"
dpkg-deb --root-owner-group "${compress[@]}" --build "$root" "$deb" >&2
echo "$deb"
