#!/usr/bin/env bash
# Waits until a node's kubelet is back: it renewed its node lease after this script started
# (proof that the restarted kubelet reaches the apiserver through its new endpoint; the Ready
# condition alone can stay True for ~40 s on a kubelet that cannot talk) and Ready is True.
# Phase 4 runs it on the existing master after each node's kubelet cut-over; the next node's
# cut-over waits for it.
#
# Usage: node-ready-wait.sh --node NAME [--timeout S] [--settle S]
#
# --settle pauses after the node is back, before returning (the seed's sleep 15 between nodes).
# Environment: KUBECONFIG (default /etc/kubernetes/admin.conf), POLL_SECONDS (5).
# Read-only. Exit 0 = back, 1 = not back within --timeout, 2 = usage.
set -euo pipefail

# Everything runs from main, so bash has read the whole script before the first command (it
# arrives on stdin).
main() {
    usage_error() { echo "node-ready-wait: $* (see the usage at the top of the script)" >&2; exit 2; }
    die() { echo "node-ready-wait: FAILED: $*" >&2; exit 1; }

    node="" timeout=300 settle=0
    while [[ $# -gt 0 ]]; do
        case $1 in
            --node) node=${2:-}; shift 2 ;;
            --timeout) timeout=${2:-}; shift 2 ;;
            --settle) settle=${2:-}; shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    [[ $node =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] || usage_error "--node must be a node name (got '$node')"
    [[ $timeout =~ ^[0-9]+$ && $settle =~ ^[0-9]+$ ]] || usage_error "--timeout and --settle are seconds"

    export KUBECONFIG=${KUBECONFIG:-/etc/kubernetes/admin.conf}
    poll=${POLL_SECONDS:-5}
    kubectl_() { kubectl --request-timeout=20s "$@" </dev/null; }

    renewed() { kubectl_ -n kube-node-lease get lease "$node" -o 'jsonpath={.spec.renewTime}' 2>/dev/null || true; }
    ready() { kubectl_ get node "$node" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true; }

    start_lease=$(renewed)
    deadline=$((SECONDS + timeout))
    lease=$start_lease status=""
    while true; do
        lease=$(renewed)
        status=$(ready)
        if [[ -n $lease && $lease != "$start_lease" && $status == True ]]; then break; fi
        ((SECONDS < deadline)) || die "node $node not back within ${timeout}s (Ready=${status:-unknown}, lease renewed since start: $([[ $lease != "$start_lease" ]] && echo yes || echo no))"
        sleep "$poll"
    done
    echo "node-ready-wait: node $node is Ready and renewing its lease (last renewal $lease)"
    if ((settle > 0)); then sleep "$settle"; fi
}

main "$@"
