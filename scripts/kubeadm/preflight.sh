#!/usr/bin/env bash
# Phase 0 preflight on the existing master (seed plan 0.1), before anything changes. Refuses when:
#   - python3 is missing (the etcd steps read etcd's member list with it);
#   - a node is not Ready (pods not Running are listed as a warning);
#   - no etcd snapshot in DIR is younger than HOURS (with --take-snapshot it takes one instead);
#   - the VIP or a new master's address answers on the network (ping, or an ARP entry after it),
#     unless it is ours already: a cluster node's InternalIP, or the VIP serving this cluster's
#     apiserver (TLS verified against the cluster CA), so a re-run after later phases passes.
#
# Usage:
#   preflight.sh --vip IP --apiserver-port PORT [--new-master-ip IP]... --snapshot-dir DIR
#                --snapshot-max-age-hours HOURS [--take-snapshot] [--snapshot-timeout-minutes M]
# --snapshot-timeout-minutes bounds taking the snapshot (default 10): it streams the whole keyspace.
# Run as root on the existing master, e.g.:
#   sudo ./preflight.sh --vip 10.0.20.99 --apiserver-port 6443 --new-master-ip 10.0.20.110 \
#        --new-master-ip 10.0.20.111 --snapshot-dir /srv/nfs/etcd-backup --snapshot-max-age-hours 24
# Sources lib.sh and ../etcd/lib.sh (the program ships them with it). Exit 0 ready, 1 refused, 2 usage.
set -euo pipefail

SCRIPT_NAME="preflight"
if ! declare -F etcd_lib_loaded >/dev/null; then
    # shellcheck source-path=SCRIPTDIR source=../etcd/lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/../etcd/lib.sh"
fi

check_nodes() {
    local lines not_ready
    lines=$(kctl get nodes -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}') ||
        die "cannot list nodes (is the apiserver up? admin kubeconfig ${KUBERNETES_DIR}/admin.conf)"
    not_ready=$(awk '$2 != "True" { print $1 }' <<<"$lines" | paste -sd ' ' -)
    [[ -z $not_ready ]] || die "nodes not Ready: ${not_ready}. Fix them before phase 0 (kubectl describe node NAME)"
    log "all $(grep -c . <<<"$lines") nodes are Ready"
    local stuck
    stuck=$(kctl get pods -A --no-headers --field-selector=status.phase!=Running,status.phase!=Succeeded 2>/dev/null | head -n 10 || true)
    if [[ -n $stuck ]]; then warn "pods not Running (first 10):"$'\n'"${stuck}"; fi
}

check_snapshot() {
    local dir=$1 hours=$2 take=$3 timeout_minutes=$4 minutes newest
    minutes=$(awk -v h="$hours" 'BEGIN { printf "%d", h * 60 }')
    newest=$(find "$dir" -maxdepth 1 -type f -name '*.db' -size +0 -mmin "-${minutes}" -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -n1 | cut -d' ' -f2- || true)
    if [[ -n $newest ]]; then
        log "recent etcd snapshot: ${newest}"
        return 0
    fi
    if [[ $take != 1 ]]; then
        die "no etcd snapshot younger than ${hours}h in ${dir}. Take one: etcdctl snapshot save ${dir}/etcd-\$(date +%F).db (or set kubeadm.takeEtcdSnapshot)"
    fi
    install -d -m 0700 "$dir"
    local file
    file="${dir}/etcd-snapshot-$(date -u +%Y%m%dT%H%M%SZ).db"
    log "taking an etcd snapshot into ${file} (bounded by ${timeout_minutes} min)"
    etcd_snapshot_save "$file" "${timeout_minutes}m" ||
        die "taking an etcd snapshot into ${file} failed (a larger keyspace needs more time: kubeadm.etcdSnapshotTimeoutMinutes)"
    [[ -s $file ]] || die "the etcd snapshot ${file} is empty"
    log "took etcd snapshot ${file} ($(du -h "$file" | cut -f1))"
}

# 0 when something answers at IP: an ICMP reply, or a resolved ARP entry (hosts that drop ICMP).
address_answers() {
    local ip=$1
    if ping -c 1 -W 1 "$ip" >/dev/null 2>&1; then return 0; fi
    local neighbour
    neighbour=$(ip neigh show "$ip" 2>/dev/null || true)
    [[ $neighbour == *lladdr* ]]
}

check_addresses() {
    local vip=$1 port=$2
    shift 2
    local node_ips busy=() ip owner
    node_ips=$(kctl get nodes -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}')
    for ip in "$@"; do
        owner=$(awk -v ip="$ip" '$2 == ip { print $1 }' <<<"$node_ips")
        if [[ -n $owner ]]; then
            log "${ip} is cluster node ${owner} (joined earlier)"
        elif address_answers "$ip"; then
            busy+=("${ip} (a new master's address)")
        else
            log "${ip} is free"
        fi
    done
    if curl -fsS --max-time 5 --cacert "${KUBERNETES_DIR}/pki/ca.crt" "https://${vip}:${port}/livez" >/dev/null 2>&1; then
        log "${vip}:${port} already serves this cluster's apiserver (phase 1 done)"
    elif address_answers "$vip"; then
        busy+=("${vip} (the VIP)")
    else
        log "${vip} is free"
    fi
    ((${#busy[@]} == 0)) || die "addresses in use by something else: ${busy[*]}. Pick free ones in the stack config or free them"
}

main() {
    local vip="" port="" dir="" hours="" take=0 snapshot_timeout=10
    local -a new_ips=()
    while [[ $# -gt 0 ]]; do
        case $1 in
            --vip) vip=$(need_value "$1" "${2-}"); shift 2 ;;
            --apiserver-port) port=$(need_value "$1" "${2-}"); shift 2 ;;
            --new-master-ip) new_ips+=("$(need_value "$1" "${2-}")"); shift 2 ;;
            --snapshot-dir) dir=$(need_value "$1" "${2-}"); shift 2 ;;
            --snapshot-max-age-hours) hours=$(need_value "$1" "${2-}"); shift 2 ;;
            --take-snapshot) take=1; shift ;;
            --snapshot-timeout-minutes) snapshot_timeout=$(need_value "$1" "${2-}"); shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    is_ipv4 "$vip" || usage_error "--vip must be an IPv4 address"
    [[ $port =~ ^[0-9]+$ ]] || usage_error "--apiserver-port must be a port number"
    [[ $dir == /* ]] || usage_error "--snapshot-dir must be an absolute path"
    [[ $hours =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "--snapshot-max-age-hours must be a number"
    [[ $snapshot_timeout =~ ^[1-9][0-9]*$ ]] || usage_error "--snapshot-timeout-minutes must be whole minutes"
    local ip
    for ip in "${new_ips[@]}"; do is_ipv4 "$ip" || usage_error "--new-master-ip ${ip} is not an IPv4 address"; done
    require_root
    # The etcd scripts of every later phase read etcd's member list (JSON) with python3.
    etcd_require_python3
    check_nodes
    check_snapshot "$dir" "$hours" "$take" "$snapshot_timeout"
    check_addresses "$vip" "$port" "${new_ips[@]}"
    echo "preflight: ready for phase 0"
}

main "$@"
