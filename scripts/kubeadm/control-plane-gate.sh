#!/usr/bin/env bash
# The gate after a control-plane join (seed plan 2.7, 3.7), run on the existing master. Fails the
# up unless, within the timeout:
#   - the node is Ready;
#   - its four static pods (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) run
#     and are Ready;
#   - etcd has exactly the expected voting members, all started and healthy (masters that join
#     later in the plan are tolerated, so a re-run after them passes; anything else is a stray);
#   - the node carries the node-role.kubernetes.io/control-plane:NoSchedule taint.
# Read-only.
#
# Usage:
#   control-plane-gate.sh --node NAME --members A,B[,...] [--later C,...] [--timeout SECONDS]
# e.g.  sudo ./control-plane-gate.sh --node k8s-master-2 --members k8s-master,k8s-master-2 --later k8s-master-3
# Sources lib.sh and ../etcd/lib.sh. Exit 0 passed, 1 failed (the message says which check), 2 usage.
set -euo pipefail

SCRIPT_NAME="control-plane-gate"
if ! declare -F etcd_lib_loaded >/dev/null; then
    # shellcheck source-path=SCRIPTDIR source=../etcd/lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/../etcd/lib.sh"
fi

STATIC_PODS=(etcd kube-apiserver kube-controller-manager kube-scheduler)
TAINT="node-role.kubernetes.io/control-plane=NoSchedule"
PROBLEM=""

node_ready() {
    [[ $(kctl get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

static_pods_ready() {
    local pod status
    for pod in "${STATIC_PODS[@]}"; do
        status=$(kctl -n kube-system get pod "${pod}-${NODE}" -o jsonpath='{.status.phase} {.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
        [[ $status == "Running True" ]] || { PROBLEM="static pod ${pod}-${NODE} is '${status:-missing}'"; return 1; }
    done
}

etcd_as_expected() {
    etcd_load_members || { PROBLEM="cannot list etcd members"; return 1; }
    local i name expected
    for name in ${MEMBERS//,/ }; do
        i=$(etcd_find_member "$name" "")
        ((i >= 0)) || { PROBLEM="etcd has no member ${name}"; return 1; }
        [[ ${M_LEARNER[i]} != true ]] || { PROBLEM="etcd member ${name} is still a learner"; return 1; }
    done
    expected=0
    for i in "${!M_ID[@]}"; do
        [[ ,$MEMBERS,$LATER, == *",${M_KEY[i]},"* ]] ||
            { PROBLEM="unexpected etcd member ${M_KEY[i]} (id ${M_ID[i]}, ${M_STATUS[i]}): a stray from a failed join? remove it with remove-member.sh"; return 1; }
        [[ ${M_HEALTHY[i]} == healthy ]] || { PROBLEM="etcd member ${M_KEY[i]} is not healthy"; return 1; }
        if [[ ,$MEMBERS, == *",${M_KEY[i]},"* ]]; then expected=$((expected + 1)); fi
    done
    local want
    want=$(tr ',' '\n' <<<"$MEMBERS" | grep -c .)
    ((expected == want)) || { PROBLEM="etcd lists ${expected} of the ${want} expected members"; return 1; }
}

# Output captured first: grep -q in a pipeline may end it early, and pipefail would read that as a failure.
has_taint() {
    local taints
    taints=$(kctl get node "$NODE" -o jsonpath='{range .spec.taints[*]}{.key}={.effect}{"\n"}{end}' 2>/dev/null) || return 1
    grep -qxF "$TAINT" <<<"$taints"
}

# check DESCRIPTION FUNCTION: waits for FUNCTION within what is left of the overall timeout.
check() {
    local what=$1 fn=$2 left
    left=$((DEADLINE - SECONDS))
    ((left > 0)) || left=1
    PROBLEM=""
    if wait_until "$left" "$what" "$fn"; then
        log "ok: ${what}"
    else
        die "gate failed for ${NODE}: ${what}${PROBLEM:+ (${PROBLEM})}"
    fi
}

main() {
    NODE="" MEMBERS="" LATER=""
    local timeout=600
    while [[ $# -gt 0 ]]; do
        case $1 in
            --node) NODE=$(need_value "$1" "${2-}"); shift 2 ;;
            --members) MEMBERS=$(need_value "$1" "${2-}"); shift 2 ;;
            --later) LATER=$(need_value "$1" "${2-}"); shift 2 ;;
            --timeout) timeout=$(need_value "$1" "${2-}"); shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    [[ -n $NODE && -n $MEMBERS ]] || usage_error "--node and --members are required"
    [[ ,$MEMBERS, == *",$NODE,"* ]] || usage_error "--members must include --node"
    [[ $timeout =~ ^[0-9]+$ ]] || usage_error "--timeout must be whole seconds"
    require_root
    DEADLINE=$((SECONDS + timeout))
    check "node ${NODE} Ready" node_ready
    check "static pods of ${NODE} running and Ready" static_pods_ready
    check "etcd members ${MEMBERS} started, voting and healthy" etcd_as_expected
    check "taint ${TAINT} on ${NODE}" has_taint
    echo "gate: ${NODE} is a healthy control-plane member; etcd: $(etcd_health_lines | paste -sd ';' - | sed 's/;/; /g')"
}

main "$@"
