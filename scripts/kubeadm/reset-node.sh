#!/usr/bin/env bash
# Cleans kubeadm's state off a control-plane node being rolled back (seed plan: "on failed master
# sudo kubeadm reset --force"), after its etcd member was removed under the quorum guard:
#   kubeadm reset -f, skipping its remove-etcd-member phase (the guard decides removals, not
#   kubeadm); CNI configuration and state; CNI interfaces; iptables/ip6tables rules; IPVS.
# Idempotent: a node with nothing of kubeadm left only gets the network clean-up again.
# Self-contained (no lib.sh): it is piped into the guest through the Proxmox guest agent.
#
# Usage:
#   reset-node.sh --node-name NAME
# e.g.  sudo ./reset-node.sh --node-name k8s-master-3
# Environment: KUBERNETES_DIR (/etc/kubernetes), CNI_CONF_DIR (/etc/cni/net.d),
# CNI_STATE_DIR (/var/lib/cni). Exit 0 done, 1 failed, 2 usage.
set -euo pipefail

: "${KUBERNETES_DIR:=/etc/kubernetes}"
: "${CNI_CONF_DIR:=/etc/cni/net.d}"
: "${CNI_STATE_DIR:=/var/lib/cni}"

log() { echo "reset-node: $*" >&2; }
die() { echo "reset-node: ERROR: $*" >&2; exit 1; }
usage_error() { echo "reset-node: $* (see the usage at the top of the script)" >&2; exit 2; }

main() {
    local node=""
    while [[ $# -gt 0 ]]; do
        case $1 in
            --node-name) [[ -n ${2:-} && ${2:0:2} != -- ]] || usage_error "$1 needs a value"; node=$2; shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    [[ -n $node ]] || usage_error "--node-name is required"
    [[ $EUID -eq 0 || ${HACP_ALLOW_NON_ROOT:-} == 1 ]] || die "must run as root"

    local k=$KUBERNETES_DIR
    if [[ -e $k/kubelet.conf || -e $k/admin.conf || -d $k/pki || -n $(compgen -G "$k/manifests/*.yaml" || true) ]]; then
        log "kubeadm reset on ${node}"
        timeout 300 kubeadm reset -f --skip-phases=remove-etcd-member </dev/null >&2 || die "kubeadm reset failed"
    else
        log "no kubeadm state on ${node}: already reset"
    fi

    if [[ -d $CNI_CONF_DIR ]]; then find "$CNI_CONF_DIR" -mindepth 1 -delete; fi
    if [[ -d $CNI_STATE_DIR ]]; then find "$CNI_STATE_DIR" -mindepth 1 -delete; fi
    local link
    for link in cni0 flannel.1 vxlan.calico tunl0 cilium_host cilium_net cilium_vxlan kube-ipvs0; do
        if ip link show "$link" >/dev/null 2>&1; then
            ip link delete "$link" >/dev/null 2>&1 || log "could not delete interface ${link} (left as is)"
        fi
    done

    # Policies back to ACCEPT before flushing, so the flush cannot lock out SSH.
    local tool table chain
    for tool in iptables ip6tables; do
        command -v "$tool" >/dev/null || continue
        for chain in INPUT FORWARD OUTPUT; do "$tool" -P "$chain" ACCEPT || true; done
        for table in filter nat mangle raw; do
            "$tool" -t "$table" -F || true
            "$tool" -t "$table" -X || true
        done
    done
    if command -v ipvsadm >/dev/null; then ipvsadm --clear || true; fi
    echo "reset-node: ${node} reset (kubeadm state, CNI, iptables)"
}

main "$@"
