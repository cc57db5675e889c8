#!/usr/bin/env bash
# The master phase of the Kubernetes upgrade chain, for any number of masters: discovers the
# control-plane nodes by label and walks them strictly one at a time. Before each master the
# quorum gate (quorum-gate.sh, shipped next to it) must allow it to go down; then it is
# drained, upgraded on the node (node-upgrade.sh over SSH: `kubeadm upgrade apply` on the first
# master, `kubeadm upgrade node` on the others, then kubelet), uncordoned, and waited for until
# Ready at the new version. A master that does not come back stops the chain: no other master
# is touched.
#
# Usage: upgrade-chain.sh --version X.Y.Z --members N --quorum Q [--first NAME] [--ssh-user USER]
#                         [--ssh-key FILE] [--drain-timeout S] [--ready-timeout S] [--dry-run]
#
# Order: --first (the stack passes its original master) then the others by name. A master whose
# kubelet already reports vX.Y.Z is skipped, so a re-run resumes where a failed one stopped; the
# first master runs `apply` only when it is not yet upgraded. SSH reaches each node at its
# InternalIP as --ssh-user (default: $SSH_USER, else the current user) with sudo, non-interactive.
# --dry-run prints the order and each gate's verdict and changes nothing (the seed's 7.4).
# Needs bash, kubectl (drain/uncordon rights), jq, ssh. Environment: POLL_SECONDS (5).
# Exit 0 = every master at X.Y.Z (or dry run done), 1 = stopped (the reason is the last line),
# 2 = usage.
set -euo pipefail

usage_error() { echo "upgrade-chain: $* (see the usage at the top of the script)" >&2; exit 2; }
log() { echo "upgrade-chain: $*"; }
stop() { echo "upgrade-chain: STOPPED: $*" >&2; exit 1; }

version="" members="" quorum="" first="" ssh_user=${SSH_USER:-$(id -un)} ssh_key=""
drain_timeout=600 ready_timeout=600 dry_run=false
while [[ $# -gt 0 ]]; do
    case $1 in
        --version) version=${2:-}; shift 2 ;;
        --members) members=${2:-}; shift 2 ;;
        --quorum) quorum=${2:-}; shift 2 ;;
        --first) first=${2:-}; shift 2 ;;
        --ssh-user) ssh_user=${2:-}; shift 2 ;;
        --ssh-key) ssh_key=${2:-}; shift 2 ;;
        --drain-timeout) drain_timeout=${2:-}; shift 2 ;;
        --ready-timeout) ready_timeout=${2:-}; shift 2 ;;
        --dry-run) dry_run=true; shift ;;
        *) usage_error "unknown argument '$1'" ;;
    esac
done
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || usage_error "--version must be X.Y.Z (got '$version')"
[[ $members =~ ^[1-9][0-9]*$ && $quorum =~ ^[1-9][0-9]*$ ]] || usage_error "--members and --quorum must be positive whole numbers"
[[ $drain_timeout =~ ^[0-9]+$ && $ready_timeout =~ ^[0-9]+$ ]] || usage_error "timeouts are seconds"
[[ -z $ssh_key || -r $ssh_key ]] || usage_error "--ssh-key $ssh_key is not readable"

here=$(dirname "${BASH_SOURCE[0]}")
gate=${QUORUM_GATE:-$here/quorum-gate.sh}
node_script=${NODE_UPGRADE_SCRIPT:-$here/node-upgrade.sh}
[[ -r $gate && -r $node_script ]] || usage_error "quorum-gate.sh and node-upgrade.sh must sit next to this script"
poll=${POLL_SECONDS:-5}
LABEL="node-role.kubernetes.io/control-plane"
kubectl_() { kubectl --request-timeout=30s "$@" </dev/null; }

# name <TAB> InternalIP <TAB> kubelet version, for every control-plane node.
masters_json=$(kubectl_ get nodes -l "$LABEL" -o json) || stop "cannot list the control-plane nodes"
mapfile -t rows < <(jq -r '.items[] | [.metadata.name,
        ([.status.addresses[]? | select(.type == "InternalIP") | .address][0] // ""),
        .status.nodeInfo.kubeletVersion] | @tsv' <<<"$masters_json" | sort)
((${#rows[@]} > 0)) || stop "no node carries the $LABEL label"
if [[ -n $first ]]; then
    ordered=()
    for row in "${rows[@]}"; do [[ ${row%%$'\t'*} == "$first" ]] && ordered+=("$row"); done
    ((${#ordered[@]} == 1)) || stop "--first $first is not a control-plane node"
    for row in "${rows[@]}"; do [[ ${row%%$'\t'*} != "$first" ]] && ordered+=("$row"); done
    rows=("${ordered[@]}")
fi
log "masters in order: $(printf '%s ' "${rows[@]%%$'\t'*}")-> v$version"

node_state() {
    kubectl_ get node "$1" -o json |
        jq -r '[([(.status.conditions // [])[] | select(.type == "Ready") | .status][0] // "Unknown"), .status.nodeInfo.kubeletVersion] | @tsv'
}
back_at_version() {
    local state
    state=$(node_state "$1" 2>/dev/null) || return 1
    [[ $state == "True"$'\t'"v$version" ]]
}
run_on_node() {
    local ip=$1 mode=$2
    local -a ssh_args=(-o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=15)
    [[ -n $ssh_key ]] && ssh_args+=(-i "$ssh_key")
    ssh "${ssh_args[@]}" "$ssh_user@$ip" sudo bash -s -- --version "$version" --mode "$mode" <"$node_script"
}

index=0
for row in "${rows[@]}"; do
    IFS=$'\t' read -r name ip kubelet <<<"$row"
    mode=node
    ((index == 0)) && mode=apply
    index=$((index + 1))
    if [[ $kubelet == "v$version" ]]; then
        log "$name: already at v$version, skipped"
        continue
    fi
    [[ -n $ip ]] || stop "$name has no InternalIP address"
    log "$name: quorum gate"
    if ! verdict=$(bash "$gate" --node "$name" --members "$members" --quorum "$quorum" 2>&1); then
        printf '%s\n' "$verdict"
        stop "$name may not go down now: ${verdict##*$'\n'}"
    fi
    log "$name: ${verdict##*$'\n'}"
    if $dry_run; then
        log "$name: dry run, would drain, run kubeadm upgrade $mode, uncordon and wait"
        continue
    fi
    kubectl --request-timeout=0 drain "$name" --ignore-daemonsets --delete-emptydir-data --timeout="${drain_timeout}s" </dev/null ||
        stop "could not drain $name within ${drain_timeout}s (it stays cordoned: uncordon it once fixed)"
    log "$name: drained; kubeadm upgrade $mode"
    run_on_node "$ip" "$mode" || stop "the upgrade failed on $name (it stays cordoned; see the output above)"
    kubectl_ uncordon "$name" >/dev/null || stop "could not uncordon $name"
    deadline=$((SECONDS + ready_timeout))
    until back_at_version "$name"; do
        ((SECONDS < deadline)) || stop "$name is not Ready at v$version after ${ready_timeout}s; no further master is touched"
        sleep "$poll"
    done
    log "$name: Ready at v$version"
done
if $dry_run; then log "dry run done"; else log "every master is at v$version"; fi
