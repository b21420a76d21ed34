#!/usr/bin/env bash
# Runs a command on the project's Node: the `node` on PATH when it is at least the `engines` major, else the
# pinned one (.node-version) that scripts/install-node.sh fetches from the npm registry into .cache/node. So
# `npm ci && npm start` and `npm ci && npm test` work as written on a machine whose own Node is older.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
want="$(sed -nE 's/.*"node": *">=([0-9]+).*/\1/p' "$root/package.json" | head -1)"
have="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "${have:-0}" -lt "${want:-0}" ]; then
  bin="$(bash "$root/scripts/install-node.sh")"
  echo "on-node: node $(node -v 2>/dev/null || echo none) is older than engines (>=$want): using $("$bin/node" -v) from ${bin#"$root"/}" >&2
  export PATH="$bin:$PATH"
fi
exec "$@"
