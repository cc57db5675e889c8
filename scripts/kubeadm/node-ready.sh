#!/usr/bin/env bash
# Before a new master joins (seed plan 2.2): cloud-init has finished, kubeadm and kubelet are
# exactly the cluster's version, containerd is recent enough and running, swap is off.
# Read-only. Runs on the new master as root.
#
# Usage:
#   node-ready.sh --kubernetes-version X.Y.Z [--min-containerd X.Y[.Z]] [--cloud-init-timeout SECONDS]
# e.g.  sudo ./node-ready.sh --kubernetes-version 1.34.8 --min-containerd 2.2
# Sources lib.sh (shipped with it by the program). Exit 0 ready, 1 not ready (the message says
# what), 2 usage.
set -euo pipefail

SCRIPT_NAME="node-ready"
if ! declare -F hacp_lib_loaded >/dev/null; then
    # shellcheck source-path=SCRIPTDIR source=lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

version_ge() { [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1) == "$2" ]]; }

main() {
    local version="" min_containerd="2.2" cloud_init_timeout=1800
    while [[ $# -gt 0 ]]; do
        case $1 in
            --kubernetes-version) version=$(need_value "$1" "${2-}"); shift 2 ;;
            --min-containerd) min_containerd=$(need_value "$1" "${2-}"); shift 2 ;;
            --cloud-init-timeout) cloud_init_timeout=$(need_value "$1" "${2-}"); shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || usage_error "--kubernetes-version must be X.Y.Z"
    [[ $min_containerd =~ ^[0-9]+\.[0-9]+(\.[0-9]+)?$ ]] || usage_error "--min-containerd must be X.Y or X.Y.Z"
    [[ $cloud_init_timeout =~ ^[0-9]+$ ]] || usage_error "--cloud-init-timeout must be whole seconds"
    require_root

    local rc=0
    timeout "$cloud_init_timeout" cloud-init status --wait </dev/null >/dev/null 2>&1 || rc=$?
    case $rc in
        0) log "cloud-init finished" ;;
        2) warn "cloud-init finished with recoverable errors: cloud-init status --long" ;;
        124) die "cloud-init still running after ${cloud_init_timeout}s (see /var/log/cloud-init-output.log)" ;;
        *) die "cloud-init failed (exit ${rc}): $(cloud-init status --long </dev/null 2>&1 | tr '\n' ' ')" ;;
    esac

    local kubeadm_version kubelet_version containerd_version
    kubeadm_version=$(kubeadm version -o short </dev/null 2>/dev/null) || die "kubeadm is not installed (the node-prepare step of cloud-init failed?)"
    [[ $kubeadm_version == "v${version}" ]] || die "kubeadm is ${kubeadm_version}, the cluster runs v${version}: install kubeadm=${version}-*"
    kubelet_version=$(kubelet --version </dev/null 2>/dev/null | awk '{ print $2 }') || true
    [[ $kubelet_version == "v${version}" ]] || die "kubelet is ${kubelet_version:-missing}, the cluster runs v${version}: install kubelet=${version}-*"
    containerd_version=$(containerd --version </dev/null 2>/dev/null | grep -oE '[0-9]+\.[0-9]+(\.[0-9]+)?' | head -n1) || true
    [[ -n $containerd_version ]] || die "containerd is not installed"
    version_ge "$containerd_version" "$min_containerd" || die "containerd is ${containerd_version}, at least ${min_containerd} is required"
    systemctl is-active --quiet containerd </dev/null || die "containerd is not running: systemctl status containerd"
    [[ -z $(swapon --noheadings --show 2>/dev/null) ]] || die "swap is on; kubelet refuses to start with swap (swapoff -a, and /etc/fstab)"
    echo "node-ready: cloud-init done, kubeadm ${kubeadm_version}, kubelet ${kubelet_version}, containerd ${containerd_version}"
}

main "$@"
