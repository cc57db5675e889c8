#!/usr/bin/env bash
# Helpers shared by the scripts under scripts/kubeadm and scripts/etcd: messages, bounded waits,
# kubectl with the node's admin kubeconfig, the files shipped along with a script.
#
# Usage: source lib.sh (defines functions and defaults, runs nothing). The program ships it on
# stdin ahead of the script that needs it; run by hand, each script sources it from its own
# directory.
#
# Environment (defaults are a kubeadm node's; the tests point them at temporary directories):
#   KUBERNETES_DIR       /etc/kubernetes: pki/, manifests/, admin.conf, kubelet.conf
#   HACP_POLL_SECONDS    5: pause between two probes of a bounded wait
#   HACP_ALLOW_NON_ROOT  1 skips the root check (tests)
#   CONTAINER_RUNTIME_ENDPOINT  unix:///run/containerd/containerd.sock, for crictl
set -euo pipefail

hacp_lib_loaded() { :; }

: "${KUBERNETES_DIR:=/etc/kubernetes}"
: "${HACP_POLL_SECONDS:=5}"
: "${SCRIPT_NAME:=ha-control-plane}"

# crictl finds containerd without /etc/crictl.yaml (kubeadm does not write one).
: "${CONTAINER_RUNTIME_ENDPOINT:=unix:///run/containerd/containerd.sock}"
export CONTAINER_RUNTIME_ENDPOINT

# Messages go to stderr: some scripts print a result on stdout for the program to read.
log() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; }
warn() { printf '%s: WARNING: %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() {
    printf '%s: ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2
    exit 1
}
usage_error() {
    printf '%s: %s (see the usage at the top of the script)\n' "$SCRIPT_NAME" "$*" >&2
    exit 2
}

require_root() {
    [[ $EUID -eq 0 || ${HACP_ALLOW_NON_ROOT:-} == 1 ]] || die "must run as root (sudo)"
}

# Takes the value of an option: `need_value --flag "${2-}"` fails with a usage error when absent.
need_value() {
    [[ -n ${2:-} && ${2:0:2} != -- ]] || usage_error "$1 needs a value"
    printf '%s' "$2"
}

is_ipv4() {
    [[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
    local octet
    for octet in "${BASH_REMATCH[@]:1}"; do ((10#$octet <= 255)) || return 1; done
}

# wait_until SECONDS WHAT COMMAND [ARGS...]: runs COMMAND until it succeeds; fails after SECONDS.
wait_until() {
    local timeout=$1 what=$2
    shift 2
    local deadline=$((SECONDS + timeout))
    while true; do
        if "$@"; then return 0; fi
        if ((SECONDS >= deadline)); then
            warn "gave up after ${timeout}s waiting for ${what}"
            return 1
        fi
        sleep "$HACP_POLL_SECONDS"
    done
}

# kubectl as the cluster admin of this master; every call bounded.
kctl() {
    kubectl --kubeconfig "${KUBERNETES_DIR}/admin.conf" --request-timeout=20s "$@" </dev/null
}

# A file shipped with the script. By hand it sits next to the script; on stdin the program
# bundles it as a function `hacp_embedded_<name>` that prints it (see components/kubeadm/bundle.ts).
# shipped_file NAME SCRIPT_DIR COPY_DIR prints the path of a readable copy.
shipped_file() {
    local name=$1 dir=$2 copy_dir=$3 fn
    fn="hacp_embedded_${name//[^A-Za-z0-9]/_}"
    if declare -F "$fn" >/dev/null; then
        "$fn" >"${copy_dir}/${name}"
        printf '%s' "${copy_dir}/${name}"
    elif [[ -n $dir && -r $dir/$name ]]; then
        printf '%s' "$dir/$name"
    else
        die "cannot find ${name}: run the script from its directory in the repository, or through the program"
    fi
}

# The directory of the script being run by hand; empty when it came on stdin.
script_dir() {
    local source=${BASH_SOURCE[-1]:-}
    if [[ -n $source && -f $source ]]; then cd "$(dirname "$source")" && pwd; fi
}

# The ClusterConfiguration patch tool (patch-cluster-config.py), once the caller has set
# PATCH_TOOL to where it was shipped.
patch_tool() { python3 "${PATCH_TOOL:?PATCH_TOOL is not set}" "$@"; }

# A kubeadm config file for one master: an InitConfiguration pinning the node's identity (its
# name and address end up in the apiserver's flags and certificate SANs), then the
# ClusterConfiguration given, in the same API version.
#   write_kubeadm_config CLUSTER_CONFIG OUT NODE_NAME ADVERTISE_ADDRESS BIND_PORT
write_kubeadm_config() {
    local cluster_config=$1 out=$2 node=$3 address=$4 port=$5 version
    version=$(patch_tool --get apiVersion --in "$cluster_config" | tr -d '"')
    {
        printf 'apiVersion: %s\nkind: InitConfiguration\n' "$version"
        printf 'localAPIEndpoint:\n  advertiseAddress: %s\n  bindPort: %s\n' "$address" "$port"
        printf 'nodeRegistration:\n  name: %s\n---\n' "$node"
        cat "$cluster_config"
    } >"$out"
}
