#!/usr/bin/env bash
# Upgrades Kubernetes on one control-plane node, as root; upgrade-chain.sh ships it over SSH to
# each master in turn after draining it.
#
# Usage: node-upgrade.sh --version X.Y.Z --mode apply|node
#
# kubeadm to X.Y.Z from the node's pkgs.k8s.io channel, then `kubeadm upgrade apply -y vX.Y.Z`
# (mode apply: the first master, which upgrades the cluster's configuration and its own control
# plane) or `kubeadm upgrade node` (mode node: every other master follows that configuration),
# then kubelet and kubectl to X.Y.Z and a kubelet restart. Packages are held again afterwards.
# Idempotent: a package already at X.Y.Z is left alone, and kubeadm upgrade at the version the
# node already runs re-applies the same manifests. A minor upgrade needs the node's apt source on
# the new minor's channel first; the script says so when the version is not offered.
# Exit 0 = done, 1 = failed, 2 = usage.
set -euo pipefail

usage_error() { echo "node-upgrade: $* (see the usage at the top of the script)" >&2; exit 2; }
die() { echo "node-upgrade: FAILED: $*" >&2; exit 1; }
log() { echo "node-upgrade: $*"; }

version="" mode=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --version) version=${2:-}; shift 2 ;;
        --mode) mode=${2:-}; shift 2 ;;
        *) usage_error "unknown argument '$1'" ;;
    esac
done
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || usage_error "--version must be X.Y.Z (got '$version')"
[[ $mode == apply || $mode == node ]] || usage_error "--mode must be apply or node"
export DEBIAN_FRONTEND=noninteractive

timeout 300 apt-get update -q >/dev/null || die "apt-get update failed"
# The package revision of X.Y.Z on the configured channel (1.34.9-1.1 for 1.34.9).
pkg_version=$(apt-cache madison kubeadm | awk -v v="$version" '$3 ~ ("^" v "-") { print $3; exit }')
[[ -n $pkg_version ]] ||
    die "kubeadm $version is not offered by the node's apt sources: for a new minor, point /etc/apt/sources.list.d/kubernetes.list at its pkgs.k8s.io channel first"

install_held() {
    local pkg=$1 current
    current=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
    if [[ $current == "$pkg_version" ]]; then
        log "$pkg already $pkg_version"
        return
    fi
    apt-mark unhold "$pkg" >/dev/null
    timeout 600 apt-get install -y -q --allow-change-held-packages "$pkg=$pkg_version" >/dev/null || die "could not install $pkg $pkg_version"
    apt-mark hold "$pkg" >/dev/null
    log "$pkg $current -> $pkg_version"
}

install_held kubeadm
[[ $(kubeadm version -o short) == "v$version" ]] || die "kubeadm reports $(kubeadm version -o short), not v$version"
if [[ $mode == apply ]]; then
    timeout 1800 kubeadm upgrade apply -y "v$version" || die "kubeadm upgrade apply v$version failed (kubeadm rolls its own manifests back)"
else
    timeout 1800 kubeadm upgrade node || die "kubeadm upgrade node failed (kubeadm rolls its own manifests back)"
fi
install_held kubelet
install_held kubectl
systemctl daemon-reload
systemctl restart kubelet
log "kubeadm upgrade $mode to v$version done; kubelet restarted"
