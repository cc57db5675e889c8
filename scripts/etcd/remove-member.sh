#!/usr/bin/env bash
# Removes one etcd member safely: the quorum guard first (nothing changes when it refuses), then,
# if the member leads, leadership moves to a healthy voter, then `etcdctl member remove` by the
# member's id (looked up by name or peer URL), then a bounded wait until the rest are healthy.
# Removing a member that is not in the list is a no-op, so a re-run after success does nothing.
#
# Usage:
#   remove-member.sh --member NAME [--peer-url URL] [--protect NAME]... [--timeout SECONDS]
# Exit 0 removed (or not a member), 1 refused or failed, 2 usage. Run on a surviving master as
# root, e.g.:
#   sudo ./remove-member.sh --member k8s-master-3 --peer-url https://10.0.20.111:2380 --protect k8s-master
# Connection settings: see scripts/etcd/lib.sh (ETCD_ENDPOINT, ETCD_CACERT, ...).
set -euo pipefail

SCRIPT_NAME="remove-member"
if ! declare -F etcd_lib_loaded >/dev/null; then
    # shellcheck source-path=SCRIPTDIR source=lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

main() {
    local member="" peer="" protected="" timeout=120
    while [[ $# -gt 0 ]]; do
        case $1 in
            --member) member=$(need_value "$1" "${2-}"); shift 2 ;;
            --peer-url) peer=$(need_value "$1" "${2-}"); shift 2 ;;
            --protect) protected+="${protected:+,}$(need_value "$1" "${2-}")"; shift 2 ;;
            --timeout) timeout=$(need_value "$1" "${2-}"); shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    [[ -n $member || -n $peer ]] || usage_error "--member or --peer-url is required"
    [[ $timeout =~ ^[0-9]+$ ]] || usage_error "--timeout must be whole seconds"
    etcd_remove_member "$member" "$peer" "$protected" "$timeout"
}

main "$@"
