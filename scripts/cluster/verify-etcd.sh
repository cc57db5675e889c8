#!/usr/bin/env bash
# Verification gate (phase 6): etcd has exactly the expected members, every one started and a
# voter (no learner left over from a join), and `endpoint health --cluster` finds all healthy.
# Runs on a control-plane node with kubectl and the admin kubeconfig; etcdctl runs inside the
# etcd static pod named with --pod, with that pod's certificates.
#
# Usage: verify-etcd.sh --members NAME[,NAME...] --pod etcd-NODE
#
# Environment: KUBECONFIG (default /etc/kubernetes/admin.conf). Read-only.
# Exit 0 = as expected, 1 = not (each difference printed), 2 = usage.
set -euo pipefail

# The member list parser (ETCD_MEMBERS_PY) is etcd/lib.sh's; the program ships both in one bundle.
if ! declare -F etcd_lib_loaded >/dev/null; then
    # shellcheck source-path=SCRIPTDIR source=../etcd/lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/../etcd/lib.sh"
fi

# Everything runs from main, so bash has read the whole script before the first command (it
# arrives on stdin).
main() {
    usage_error() { echo "verify-etcd: $* (see the usage at the top of the script)" >&2; exit 2; }

    members="" pod=""
    while [[ $# -gt 0 ]]; do
        case $1 in
            --members) members=${2:-}; shift 2 ;;
            --pod) pod=${2:-}; shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    [[ $members =~ ^[a-z0-9.-]+(,[a-z0-9.-]+)*$ ]] || usage_error "--members must be NAME[,NAME...] (got '$members')"
    [[ $pod =~ ^etcd-[a-z0-9.-]+$ ]] || usage_error "--pod must be an etcd static pod name, etcd-<node>"
    export KUBECONFIG=${KUBECONFIG:-/etc/kubernetes/admin.conf}

    etcdctl_() {
        kubectl --request-timeout=30s -n kube-system exec "$pod" -- etcdctl --endpoints=https://127.0.0.1:2379 \
            --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt \
            --key=/etc/kubernetes/pki/etcd/healthcheck-client.key --command-timeout=10s "$@" </dev/null
    }

    problems=0
    problem() { echo "verify-etcd: $*"; problems=$((problems + 1)); }

    IFS=, read -r -a expected <<<"$members"
    # JSON, not the text formats: an unstarted member's empty name would collapse there.
    json=$(etcdctl_ member list -w json) || { echo "verify-etcd: FAILED: etcdctl member list through $pod failed" >&2; exit 1; }
    records=$(python3 -c "$ETCD_MEMBERS_PY" <<<"$json") || { echo "verify-etcd: FAILED: $records" >&2; exit 1; }
    declare -A seen=()
    while IFS=$'\x1f' read -r id status name peers _clients learner; do
        [[ -n $id ]] || continue
        key=${name:-unstarted-$id}
        seen[$key]=1
        echo "verify-etcd: member $key ($id): $status${learner:+, learner=$learner}"
        [[ $status == started ]] || problem "member $key (peer $peers) was added but never started: a failed join; remove it with remove-member.sh --peer-url ${peers%%,*}"
        [[ $learner != true ]] || problem "member $key is still a learner"
    done <<<"$records"
    for name in "${expected[@]}"; do
        [[ -n ${seen[$name]:-} ]] || problem "expected member $name is missing"
    done
    for name in "${!seen[@]}"; do
        [[ " ${expected[*]} " == *" $name "* ]] || problem "unexpected member $name"
    done

    # endpoint health prints one line per member: "<url> is healthy: ..." or "<url> is unhealthy: ...".
    health_out=$(etcdctl_ endpoint health --cluster 2>&1) || true
    healthy=$(grep -c ' is healthy' <<<"$health_out" || true)
    printf '%s\n' "$health_out" | sed 's/^/verify-etcd: /'
    ((healthy == ${#expected[@]})) || problem "$healthy of ${#expected[@]} members healthy"

    if ((problems > 0)); then
        echo "verify-etcd: FAILED: $problems problem(s)" >&2
        exit 1
    fi
    echo "verify-etcd: etcd has ${#expected[@]} started, healthy voting members: $members"
}

main "$@"
