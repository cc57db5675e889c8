#!/usr/bin/env bash
# Joins this node to the cluster as a control-plane member (stacked etcd) through the VIP
# (seed plan 2.5, 3.5). A node that already is a control-plane member is left alone, so a re-run
# does nothing; a node with half a join on it is refused (roll the master back, then up again).
# Runs on the new master as root. The secrets come from the environment, never from arguments,
# and are never printed:
#   KUBEADM_TOKEN            the bootstrap token, [a-z0-9]{6}.[a-z0-9]{16}
#   KUBEADM_CERTIFICATE_KEY  the key kubeadm-certs was encrypted with, 64 hex digits
#   JOIN_MATERIAL            join-material.sh's output: {"caCertHash":"sha256:...",
#                            "tokenExpires":"RFC 3339","tokenId":"..."}
#   JOIN_MATERIAL_REFRESH    optional: the command that mints fresh material, for the message
#                            shown when it has expired
#
# Usage:
#   join-control-plane.sh --endpoint HOST:PORT --advertise-address IP --node-name NAME
#                         [--taint KEY:EFFECT ...] [--timeout SECONDS]
# Each --taint is put on the node right after the join (kubeadm sets the control-plane taint by
# default; naming it makes sure of it whatever kubeadm's defaults, and the plan shows it).
# e.g.  sudo KUBEADM_TOKEN=... KUBEADM_CERTIFICATE_KEY=... JOIN_MATERIAL='{...}' \
#         ./join-control-plane.sh --endpoint 10.0.20.99:6443 --advertise-address 10.0.20.110 --node-name k8s-master-2
# Sources lib.sh. Exit 0 joined (or already a member), 1 failed, 2 usage.
set -euo pipefail

SCRIPT_NAME="join-control-plane"
if ! declare -F hacp_lib_loaded >/dev/null; then
    # shellcheck source-path=SCRIPTDIR source=lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

json_field() { sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p" <<<"$2"; }

redact() {
    local text=$1
    text=${text//${KUBEADM_TOKEN}/[token]}
    text=${text//${KUBEADM_CERTIFICATE_KEY}/[certificate-key]}
    printf '%s\n' "$text"
}

main() {
    local endpoint="" address="" node="" timeout=900 taints=()
    while [[ $# -gt 0 ]]; do
        case $1 in
            --endpoint) endpoint=$(need_value "$1" "${2-}"); shift 2 ;;
            --advertise-address) address=$(need_value "$1" "${2-}"); shift 2 ;;
            --node-name) node=$(need_value "$1" "${2-}"); shift 2 ;;
            --taint) taints+=("$(need_value "$1" "${2-}")"); shift 2 ;;
            --timeout) timeout=$(need_value "$1" "${2-}"); shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    [[ $endpoint =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]] || usage_error "--endpoint must be HOST:PORT"
    is_ipv4 "$address" || usage_error "--advertise-address must be an IPv4 address"
    [[ -n $node ]] || usage_error "--node-name is required"
    [[ $timeout =~ ^[0-9]+$ ]] || usage_error "--timeout must be whole seconds"
    local taint
    for taint in "${taints[@]}"; do
        [[ $taint =~ ^[A-Za-z0-9./_-]+:(NoSchedule|PreferNoSchedule|NoExecute)$ ]] || usage_error "--taint must be KEY:EFFECT (NoSchedule, PreferNoSchedule or NoExecute), not '${taint}'"
    done
    [[ ${KUBEADM_TOKEN:-} =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]] || usage_error "KUBEADM_TOKEN must be [a-z0-9]{6}.[a-z0-9]{16}"
    [[ ${KUBEADM_CERTIFICATE_KEY:-} =~ ^[0-9a-f]{64}$ ]] || usage_error "KUBEADM_CERTIFICATE_KEY must be 64 hex digits"
    require_root

    local k=$KUBERNETES_DIR
    if [[ -f $k/kubelet.conf && -f $k/manifests/kube-apiserver.yaml && -f $k/manifests/etcd.yaml ]]; then
        log "${node} already is a control-plane member (kubelet.conf and static pod manifests present): nothing to do"
        echo "join: ${node} is a control-plane member"
        return 0
    fi
    local leftovers=()
    local f
    for f in "$k/kubelet.conf" "$k/admin.conf" "$k/pki/ca.crt" "$k"/manifests/*.yaml; do
        if [[ -e $f ]]; then leftovers+=("$f"); fi
    done
    if ((${#leftovers[@]} > 0)); then
        die "this node holds part of an earlier kubeadm run (${leftovers[*]}) but is not a complete control-plane member. Roll the master back (pulumi destroy --target <urn of ${node}> --target-dependents, which removes its etcd member under the quorum guard and resets it), then pulumi up again"
    fi

    local material=${JOIN_MATERIAL:-} hash expires id
    hash=$(json_field caCertHash "$material")
    expires=$(json_field tokenExpires "$material")
    id=$(json_field tokenId "$material")
    [[ $hash =~ ^sha256:[0-9a-f]{64}$ && -n $expires ]] || usage_error "JOIN_MATERIAL must be join-material.sh's JSON line"
    [[ $id == "${KUBEADM_TOKEN%%.*}" ]] || die "JOIN_MATERIAL was made for bootstrap token ${id}, not this one"
    local now deadline
    now=$(date -u +%s)
    deadline=$(date -u -d "$expires" +%s) || usage_error "tokenExpires ${expires} is not a time"
    if ((deadline <= now + 60)); then
        die "the join material expired at ${expires} (bootstrap token ${id}; kubeadm.joinTokenTtl). Mint fresh material${JOIN_MATERIAL_REFRESH:+: ${JOIN_MATERIAL_REFRESH}}, then pulumi up again"
    fi

    log "joining ${endpoint} as control-plane member ${node} (${address}), bootstrap token ${id}"
    local out rc=0
    out=$(timeout "$timeout" kubeadm join "$endpoint" --control-plane \
        --token "$KUBEADM_TOKEN" \
        --discovery-token-ca-cert-hash "$hash" \
        --certificate-key "$KUBEADM_CERTIFICATE_KEY" \
        --apiserver-advertise-address "$address" \
        --node-name "$node" </dev/null 2>&1) || rc=$?
    redact "$out" | tail -n 40 >&2
    if ((rc == 124)); then die "kubeadm join did not finish within ${timeout}s"; fi
    ((rc == 0)) || die "kubeadm join failed (exit ${rc}). Roll the master back (pulumi destroy --target <urn of ${node}> --target-dependents), fix the cause, then pulumi up again"
    [[ -f $k/manifests/etcd.yaml && -f $k/manifests/kube-apiserver.yaml ]] ||
        die "kubeadm join returned but the control-plane manifests are missing under ${k}/manifests"
    for taint in "${taints[@]}"; do
        kctl taint node "$node" "$taint" --overwrite >/dev/null ||
            die "joined, but could not put the taint ${taint} on ${node}; put it there by hand (kubectl taint node ${node} ${taint}), the gate checks it"
        log "${node} carries the taint ${taint}"
    done
    echo "join: ${node} joined ${endpoint} as a control-plane member"
}

main "$@"
