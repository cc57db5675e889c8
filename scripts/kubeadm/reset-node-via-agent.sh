#!/usr/bin/env bash
# Best-effort clean-up on a master being rolled back, run on its Proxmox node: pipes
# reset-node.sh into the VM through the QEMU guest agent (`qm guest exec --pass-stdin`), so it
# works even when the VM's network does not. Tolerated, with a warning, when the VM is gone,
# stopped or its agent does not answer, and when the reset itself fails: the VM is deleted next.
#
# Usage:
#   reset-node-via-agent.sh --vmid VMID --node-name NAME [--timeout SECONDS]
#   reset-node-via-agent.sh --check --vmid VMID --node-name NAME
#       Only reports whether the VM runs and its agent answers (the program's create step).
# e.g.  ./reset-node-via-agent.sh --vmid 206 --node-name k8s-master-3
# Runs on the Proxmox node as root; reset-node.sh and lib.sh must sit next to it (the program
# ships both with it). Exit 0 (always, once the arguments are valid), 2 usage.
set -euo pipefail

SCRIPT_NAME="reset-node-via-agent"
if ! declare -F hacp_lib_loaded >/dev/null; then
    # shellcheck source-path=SCRIPTDIR source=lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

reset_script() {
    if declare -F hacp_embedded_reset_node_sh >/dev/null; then
        hacp_embedded_reset_node_sh
    else
        local dir
        dir=$(dirname "${BASH_SOURCE[0]}")
        cat "$dir/reset-node.sh"
    fi
}

main() {
    local vmid="" node="" timeout=300 check=0
    while [[ $# -gt 0 ]]; do
        case $1 in
            --vmid) vmid=$(need_value "$1" "${2-}"); shift 2 ;;
            --node-name) node=$(need_value "$1" "${2-}"); shift 2 ;;
            --timeout) timeout=$(need_value "$1" "${2-}"); shift 2 ;;
            --check) check=1; shift ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    [[ -n $vmid && -n $node ]] || usage_error "--vmid and --node-name are required"
    [[ $vmid =~ ^[0-9]+$ ]] || usage_error "--vmid must be a VMID (digits), not '${vmid}'"
    [[ $timeout =~ ^[0-9]+$ ]] || usage_error "--timeout must be whole seconds, not '${timeout}'"

    local status
    if ! status=$(timeout 30 qm status "$vmid" </dev/null 2>&1); then
        log "VM ${vmid} does not exist: nothing to reset on ${node}"
        return 0
    fi
    if [[ $status != *running* ]]; then
        log "VM ${vmid} is not running (${status}): nothing to reset on ${node}"
        return 0
    fi
    if ! timeout 30 qm agent "$vmid" ping </dev/null >/dev/null 2>&1; then
        if ((check)); then
            log "VM ${vmid} runs; its guest agent does not answer yet"
        else
            warn "the guest agent of VM ${vmid} does not answer: ${node} is unreachable, skipping the on-node clean-up"
        fi
        return 0
    fi
    if ((check)); then
        log "VM ${vmid} runs and its guest agent answers: a rollback resets ${node} through it"
        return 0
    fi
    local result
    GUEST_SCRIPT=$(mktemp)
    trap 'rm -f "$GUEST_SCRIPT"' EXIT
    reset_script >"$GUEST_SCRIPT"
    if ! result=$(qm guest exec "$vmid" --timeout "$timeout" --pass-stdin 1 -- bash -s -- --node-name "$node" <"$GUEST_SCRIPT" 2>&1); then
        warn "qm guest exec on VM ${vmid} failed (${result}); skipping the on-node clean-up"
        return 0
    fi
    # The agent answers JSON: exitcode, exited, out-data, err-data. JSON::PP is core Perl.
    local exitcode
    exitcode=$(perl -MJSON::PP -e '
        my $r = eval { decode_json(do { local $/; <STDIN> }) } or do { print "unparsable"; exit };
        print STDERR $r->{"out-data"} // "", $r->{"err-data"} // "";
        print $r->{exited} ? ($r->{exitcode} // "unknown") : "timeout";' <<<"$result")
    if [[ $exitcode == 0 ]]; then
        log "${node} reset through the guest agent"
    else
        warn "the reset on ${node} did not complete (${exitcode}); continuing, the VM is deleted next"
    fi
}

main "$@"
