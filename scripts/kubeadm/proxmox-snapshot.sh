#!/usr/bin/env bash
# The Proxmox snapshot of the existing master's VM that phase 0 takes before changing anything
# (seed plan 0.1: `qm snapshot 200 pre-ha-retrofit`). Runs on the Proxmox node, as root.
#
# Usage:
#   proxmox-snapshot.sh create --vmid VMID --name SNAPSHOT [--description TEXT]
#   proxmox-snapshot.sh delete --vmid VMID --name SNAPSHOT [--keep]
# e.g.  ./proxmox-snapshot.sh create --vmid 200 --name pre-ha-retrofit
# create takes the snapshot unless one of that name exists (a re-run keeps the first). delete
# removes it, unless --keep (the default of the stack: kubeadm.keepProxmoxSnapshot), which only
# says where it is: the snapshot is the way back when everything else fails (seed rollback).
# A disk snapshot without RAM state: the VM keeps running. Exit 0 done, 1 failed, 2 usage.
set -euo pipefail

log() { echo "proxmox-snapshot: $*" >&2; }
die() { echo "proxmox-snapshot: ERROR: $*" >&2; exit 1; }
usage_error() { echo "proxmox-snapshot: $* (see the usage at the top of the script)" >&2; exit 2; }
# An option's value: a usage error when it is missing (a bare `shift 2` would end the script silently).
need_value() { [[ -n ${2:-} && ${2:0:2} != -- ]] || usage_error "$1 needs a value"; printf '%s' "$2"; }

has_snapshot() {
    local vmid=$1 name=$2 names
    names=$(qm listsnapshot "$vmid" </dev/null | sed -e 's/^[[:space:]`>-]*//' | awk '{ print $1 }') ||
        die "qm listsnapshot ${vmid} failed"
    grep -qxF "$name" <<<"$names"
}

main() {
    [[ $# -gt 0 ]] || usage_error "create or delete?"
    local command=$1 vmid="" name="" description="taken by ha-control-plane before phase 0" keep=0
    shift
    while [[ $# -gt 0 ]]; do
        case $1 in
            --vmid) vmid=$(need_value "$1" "${2-}"); shift 2 ;;
            --name) name=$(need_value "$1" "${2-}"); shift 2 ;;
            --description) description=$(need_value "$1" "${2-}"); shift 2 ;;
            --keep) keep=1; shift ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    [[ $vmid =~ ^[0-9]+$ ]] || usage_error "--vmid must be a VMID"
    [[ $name =~ ^[A-Za-z][A-Za-z0-9_-]{1,39}$ ]] || usage_error "--name must be a Proxmox snapshot name"
    [[ $command == create || $command == delete ]] || usage_error "unknown command '${command}' (create or delete)"
    timeout 30 qm status "$vmid" </dev/null >/dev/null || die "VM ${vmid} does not exist on this node"
    case $command in
        create)
            if has_snapshot "$vmid" "$name"; then
                log "VM ${vmid} already has snapshot ${name}; keeping it"
            else
                log "taking snapshot ${name} of VM ${vmid}"
                timeout 1800 qm snapshot "$vmid" "$name" --description "$description" </dev/null >&2 ||
                    die "qm snapshot ${vmid} ${name} failed (does the VM's storage support snapshots?)"
                has_snapshot "$vmid" "$name" || die "snapshot ${name} of VM ${vmid} is not listed after qm snapshot"
            fi
            echo "snapshot ${name} of VM ${vmid}" ;;
        delete)
            if ! has_snapshot "$vmid" "$name"; then
                log "VM ${vmid} has no snapshot ${name}: nothing to delete"
            elif ((keep)); then
                log "keeping snapshot ${name} of VM ${vmid} (roll back with: qm rollback ${vmid} ${name}; delete with: qm delsnapshot ${vmid} ${name})"
            else
                timeout 1800 qm delsnapshot "$vmid" "$name" </dev/null >&2 || die "qm delsnapshot ${vmid} ${name} failed"
                log "deleted snapshot ${name} of VM ${vmid}"
            fi ;;
    esac
}

main "$@"
