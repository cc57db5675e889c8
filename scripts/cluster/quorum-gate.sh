#!/usr/bin/env bash
# Decides whether a node may go down now (a kured reboot, an upgrade's drain) without costing the
# control plane its etcd quorum. The kured sentinel gate (phase 5) and the upgrade chain
# (phase 7) both call it, so the rule lives here once.
#
# Usage: quorum-gate.sh --node NAME --members N --quorum Q [--etcd exec|local]
#
# Allowed only when all of these hold:
#   - the cluster shows exactly N control-plane nodes (label node-role.kubernetes.io/control-plane);
#     any other count blocks, as the figures no longer describe the cluster;
#   - at least Q control-plane nodes other than NAME are Ready, so Q remain while NAME is down
#     (for a worker that is "at least Q Ready"; for a master, Q besides itself);
#   - no control-plane node other than NAME is cordoned (the early sign that another master is
#     about to go down);
#   - `etcdctl endpoint health --cluster` reports N members, all healthy.
# N and Q come from the stack (topology/quorum.ts quorumOf), never from this file.
#
# --etcd exec (default): `kubectl exec` into a Ready master's etcd static pod (etcd-<node>) and
# run etcdctl there with that pod's certificates. --etcd local: etcdctl on PATH, configured by
# the ETCDCTL_* environment (ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY).
# Needs bash, kubectl (in-cluster service account or KUBECONFIG) and jq.
# Prints the evidence and ALLOWED or BLOCKED: <reason>. Exit 0 = allowed, 1 = blocked (including
# "could not tell"), 2 = usage.
set -euo pipefail

usage_error() { echo "quorum-gate: $* (see the usage at the top of the script)" >&2; exit 2; }
block() { echo "BLOCKED: $*"; exit 1; }

node="" members="" quorum="" etcd_mode=exec
while [[ $# -gt 0 ]]; do
    case $1 in
        --node) node=${2:-}; shift 2 ;;
        --members) members=${2:-}; shift 2 ;;
        --quorum) quorum=${2:-}; shift 2 ;;
        --etcd) etcd_mode=${2:-}; shift 2 ;;
        *) usage_error "unknown argument '$1'" ;;
    esac
done
[[ -n $node ]] || usage_error "--node is required"
[[ $members =~ ^[1-9][0-9]*$ ]] || usage_error "--members must be a positive whole number (got '$members')"
[[ $quorum =~ ^[1-9][0-9]*$ ]] || usage_error "--quorum must be a positive whole number (got '$quorum')"
((quorum <= members)) || usage_error "--quorum $quorum exceeds --members $members"
[[ $etcd_mode == exec || $etcd_mode == local ]] || usage_error "--etcd must be exec or local"

LABEL="node-role.kubernetes.io/control-plane"
kubectl_() { kubectl --request-timeout=30s "$@" </dev/null; }

nodes_json=$(kubectl_ get nodes -l "$LABEL" -o json) || block "cannot list the control-plane nodes"
# name <TAB> cordoned|schedulable <TAB> Ready status (True/False/Unknown)
table=$(jq -r '.items[] | [.metadata.name,
        (if .spec.unschedulable then "cordoned" else "schedulable" end),
        ([(.status.conditions // [])[] | select(.type == "Ready") | .status][0] // "Unknown")] | @tsv' <<<"$nodes_json") ||
    block "cannot read the node list"

observed=0 ready_others=0 first_ready=""
cordoned_others=()
while IFS=$'\t' read -r name sched status; do
    [[ -n $name ]] || continue
    observed=$((observed + 1))
    echo "control-plane node $name: Ready=$status, $sched"
    if [[ $status == True && -z $first_ready ]]; then first_ready=$name; fi
    [[ $name == "$node" ]] && continue
    if [[ $status == True ]]; then ready_others=$((ready_others + 1)); fi
    if [[ $sched == cordoned ]]; then cordoned_others+=("$name"); fi
done <<<"$table"

((observed == members)) ||
    block "the cluster has $observed control-plane node(s), the stack expects $members: the quorum figures do not describe it"
((ready_others >= quorum)) ||
    block "only $ready_others control-plane node(s) besides $node are Ready; $quorum must stay up for etcd quorum (of $members)"
((${#cordoned_others[@]} == 0)) ||
    block "control-plane node(s) ${cordoned_others[*]} cordoned: another master is going down"

etcd_args=(endpoint health --cluster -w json --command-timeout=10s)
if [[ $etcd_mode == exec ]]; then
    # Any Ready master's etcd pod will do; --cluster asks every member.
    health=$(kubectl_ -n kube-system exec "etcd-$first_ready" -- etcdctl --endpoints=https://127.0.0.1:2379 \
        --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt \
        --key=/etc/kubernetes/pki/etcd/healthcheck-client.key "${etcd_args[@]}" 2>/dev/null) || true
else
    health=$(etcdctl "${etcd_args[@]}" 2>/dev/null </dev/null) || true
fi
# etcdctl exits non-zero when a member is unhealthy but still prints every endpoint.
endpoints=$(jq -r '.[] | [.endpoint, (.health | tostring), (.error // "")] | @tsv' <<<"$health" 2>/dev/null) ||
    block "cannot read etcd's health (no JSON from etcdctl endpoint health --cluster)"
total=0 healthy=0
while IFS=$'\t' read -r endpoint ok error; do
    [[ -n $endpoint ]] || continue
    total=$((total + 1))
    echo "etcd member $endpoint: healthy=$ok${error:+ ($error)}"
    if [[ $ok == true ]]; then healthy=$((healthy + 1)); fi
done <<<"$endpoints"
((total == members)) || block "etcd reports $total member(s), the stack expects $members"
((healthy == total)) || block "$((total - healthy)) of $total etcd member(s) unhealthy"

echo "ALLOWED: $node may go down: $ready_others other control-plane node(s) Ready (quorum $quorum of $members), none cordoned, etcd $healthy/$total healthy"
