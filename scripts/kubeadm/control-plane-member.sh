#!/usr/bin/env bash
# A new master's etcd membership, seen from the existing master: the check before it joins, and
# its guarded removal when it is rolled back (seed plan, rollback of phases 2/3).
#
# Usage:
#   control-plane-member.sh pre-join --node NAME --peer-url URL
#       Before a join: every current etcd member is healthy (growing a degraded cluster risks
#       quorum), and NAME is either no member yet or already a healthy one (a re-run). A stale
#       member left by a failed join is refused, with the way out.
#   control-plane-member.sh remove --node NAME --peer-url URL --protect NAME [--protect NAME]...
#                               [--drain-timeout SECONDS] [--timeout SECONDS]
#       The rollback, in order: the quorum guard (refusal changes nothing); kubectl drain; the
#       guarded etcd removal (leadership moved away first if NAME leads; member removed by id);
#       kubectl delete node. Every step is a no-op when already done, so a re-run is safe.
# e.g.  sudo ./control-plane-member.sh remove --node k8s-master-3 --peer-url https://10.0.20.111:2380 --protect k8s-master
# Runs on the existing master as root. Sources lib.sh and ../etcd/lib.sh.
# Exit 0 done, 1 refused or failed, 2 usage.
set -euo pipefail

SCRIPT_NAME="control-plane-member"
if ! declare -F etcd_lib_loaded >/dev/null; then
    # shellcheck source-path=SCRIPTDIR source=../etcd/lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/../etcd/lib.sh"
fi

cmd_pre_join() {
    local node=$1 peer=$2 i index unhealthy=()
    etcd_load_members || die "cannot list etcd members through ${ETCD_ENDPOINT}: is etcd running on this master?"
    index=$(etcd_find_member "$node" "$peer")
    for i in "${!M_ID[@]}"; do
        if ((i == index)) || [[ ${M_HEALTHY[i]} == healthy ]]; then continue; fi
        if [[ ${M_STATUS[i]} == unstarted ]]; then
            # etcd admits one learner at a time: a stale one blocks every later join.
            unhealthy+=("${M_KEY[i]} (added but never started$([[ ${M_LEARNER[i]} == true ]] && echo ' learner'), peer ${M_PEERS[i]}: left by a failed join; remove it with remove-member.sh --peer-url ${M_PEERS[i]%%,*})")
        else
            unhealthy+=("${M_KEY[i]} (${M_CLIENTS[i]:-no client URL})")
        fi
    done
    ((${#unhealthy[@]} == 0)) ||
        die "etcd members not healthy: ${unhealthy[*]}. Adding ${node} to a degraded cluster risks quorum: bring them back first (etcdctl endpoint health --cluster)"
    if ((index >= 0)); then
        if [[ ${M_HEALTHY[index]} == healthy && ${M_NAME[index]} == "$node" ]]; then
            log "${node} already is a healthy etcd member"
        else
            die "etcd holds a stale member for ${node} (id ${M_ID[index]}, ${M_STATUS[index]}$([[ ${M_LEARNER[index]} == true ]] && echo ' learner'), ${M_HEALTHY[index]}): a previous join failed half-way. Roll the master back (pulumi destroy --target <urn of ${node}> --target-dependents) or remove it: remove-member.sh --peer-url ${peer}"
        fi
    fi
    echo "pre-join: $(etcd_health_lines | paste -sd ';' - | sed 's/;/; /g')"
}

node_exists() { kctl get node "$1" -o name >/dev/null 2>&1; }

cmd_remove() {
    local node=$1 peer=$2 protected=$3 drain_timeout=$4 timeout=$5 rc=0
    # The guard first, read-only: when it refuses, nothing has been touched.
    etcd_guard "$node" "$peer" "$protected" || rc=$?
    ((rc == 0 || rc == 3)) || die "not removing ${node}: see the refusal above; nothing was changed"
    if node_exists "$node"; then
        log "draining ${node}"
        kctl drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout="${drain_timeout}s" >&2 ||
            die "kubectl drain ${node} failed (a PodDisruptionBudget?); etcd is untouched. To abort: kubectl uncordon ${node}"
    else
        log "node ${node} is not registered: nothing to drain"
    fi
    etcd_remove_member "$node" "$peer" "$protected" "$timeout"
    if node_exists "$node"; then
        kctl delete node "$node" --ignore-not-found --timeout=60s >&2 || die "kubectl delete node ${node} failed"
        log "deleted node ${node}"
    fi
    echo "removed: ${node} is out of etcd and the cluster"
}

main() {
    [[ $# -gt 0 ]] || usage_error "pre-join or remove?"
    local command=$1 node="" peer="" protected="" drain_timeout=600 timeout=300
    shift
    while [[ $# -gt 0 ]]; do
        case $1 in
            --node) node=$(need_value "$1" "${2-}"); shift 2 ;;
            --peer-url) peer=$(need_value "$1" "${2-}"); shift 2 ;;
            --protect) protected+="${protected:+,}$(need_value "$1" "${2-}")"; shift 2 ;;
            --drain-timeout) drain_timeout=$(need_value "$1" "${2-}"); shift 2 ;;
            --timeout) timeout=$(need_value "$1" "${2-}"); shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    [[ -n $node && -n $peer ]] || usage_error "--node and --peer-url are required"
    [[ $drain_timeout =~ ^[0-9]+$ && $timeout =~ ^[0-9]+$ ]] || usage_error "timeouts are whole seconds"
    require_root
    case $command in
        pre-join) cmd_pre_join "$node" "$peer" ;;
        remove)
            [[ -n $protected ]] || usage_error "remove needs --protect (the original master)"
            cmd_remove "$node" "$peer" "$protected" "$drain_timeout" "$timeout" ;;
        *) usage_error "unknown command '${command}' (pre-join or remove)" ;;
    esac
}

main "$@"
