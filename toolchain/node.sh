# shellcheck shell=bash
# Sourced, not run: puts a Node.js >= 22 first on PATH for the rest of the calling shell.
# @pulumi/pulumi declares node >= 22 (package.json's engines says the same). When the
# machine's own node is older or missing, the pinned Node 22 binary is taken from the npm
# registry package node-linux-<arch> (its bin/node) into a cache outside the repository,
# once; later calls find it there.
#
#   source toolchain/node.sh      # then: node --version  ->  v22.x (or the machine's newer one)
#
# Environment: HA_TOOLCHAIN_CACHE (default ~/.cache/ha-control-plane/toolchain).
#
# The version is toolchain/pins.json's "node" (read with sed: no node, jq or python3 is
# assumed yet); any Node of its major or later is accepted (package.json's engines says
# >= that major, tests/nodeVersion.test.ts holds the three together).

ha_node_pinned() { # ha_node_pinned PINS_JSON -> the "node" version pinned there
    sed -n 's/^[[:space:]]*"node"[[:space:]]*:[[:space:]]*"\([0-9]*\.[0-9]*\.[0-9]*\)".*/\1/p' "$1"
}

HA_NODE_VERSION=$(ha_node_pinned "$(dirname "${BASH_SOURCE[0]}")/pins.json")
HA_NODE_MIN_MAJOR=${HA_NODE_VERSION%%.*}

ha_node_major() { # ha_node_major [NODE] -> the major version of that node, or nothing
    local v
    v=$("${1:-node}" --version 2>/dev/null) || return 0
    v=${v#v}
    printf '%s' "${v%%.*}"
}

ha_node_fetch() { # ha_node_fetch ARCH CACHE DIR: the pinned binary into DIR
    local arch=$1 cache=$2 dir=$3 tmp
    command -v npm >/dev/null || {
        echo "toolchain/node.sh: npm is missing to fetch node-linux-$arch@$HA_NODE_VERSION; install Node >= $HA_NODE_MIN_MAJOR" >&2
        return 1
    }
    tmp=$(mktemp -d "$cache/node-download.XXXXXX") || return 1
    echo "toolchain/node.sh: fetching node-linux-$arch@$HA_NODE_VERSION from the npm registry into $dir" >&2
    # npm pack checks the tarball against the registry's integrity hash; nothing is installed or run.
    if (cd "$tmp" && npm pack --loglevel=error "node-linux-$arch@$HA_NODE_VERSION" >/dev/null &&
        tar -xzf "node-linux-$arch-$HA_NODE_VERSION.tgz" package/bin/node package/LICENSE &&
        [[ $(ha_node_major package/bin/node) == "$HA_NODE_MIN_MAJOR" ]]); then
        # Renamed into place whole: an interrupted fetch leaves no half binary behind.
        rm -rf "$dir"
        mv "$tmp/package" "$dir"
    else
        echo "toolchain/node.sh: could not fetch node-linux-$arch@$HA_NODE_VERSION" >&2
        false
    fi
    local status=$?
    rm -rf "$tmp"
    return "$status"
}

ha_node_setup() {
    local major arch
    if [[ -z $HA_NODE_VERSION ]]; then
        echo "toolchain/node.sh: no \"node\": \"X.Y.Z\" pin in $(dirname "${BASH_SOURCE[0]}")/pins.json" >&2
        return 1
    fi
    major=$(ha_node_major)
    if [[ -n $major && $major -ge $HA_NODE_MIN_MAJOR ]]; then
        return 0
    fi
    case $(uname -m) in
        x86_64) arch=x64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) echo "toolchain/node.sh: node ${major:-(none)} is older than $HA_NODE_MIN_MAJOR and the registry has no Node package for $(uname -m)" >&2; return 1 ;;
    esac
    local cache="${HA_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ha-control-plane/toolchain}"
    local dir="$cache/node-$HA_NODE_VERSION" lock status=0
    mkdir -p "$cache" || return 1
    # Two runs at once (CI beside a developer's shell) fetch it once.
    exec {lock}>"$cache/.node.lock" || return 1
    flock "$lock"
    if [[ $(ha_node_major "$dir/bin/node") != "$HA_NODE_MIN_MAJOR" ]]; then
        echo "toolchain/node.sh: node ${major:-(none)} on PATH is older than $HA_NODE_MIN_MAJOR" >&2
        ha_node_fetch "$arch" "$cache" "$dir" || status=1
    fi
    exec {lock}>&-
    ((status == 0)) || return 1
    PATH="$dir/bin:$PATH"
    export PATH
    hash -r
}

ha_node_setup
