#!/usr/bin/env bash
# The quorum guard: may this etcd member be removed without breaking quorum? Read-only.
#
# Usage:
#   quorum-guard.sh --member NAME [--peer-url URL] [--protect NAME]...
#       Live: lists the members through this master's etcd, probes each one's health, decides.
#       Exit 0 allowed, 1 refused (the reason names the unhealthy members and what to do),
#       3 not a member (nothing to remove), 2 usage.
#   quorum-guard.sh --decide NAME [--peer-url URL] [--protect NAME]... < MEMBERS
#       What-if, no etcd needed: MEMBERS is one line per member, "NAME healthy|unhealthy
#       [voter|learner [started|unstarted [PEER_URLS]]]" (the live guard logs its members in
#       this form). Prints the verdict line; exit 0 allowed, 1 refused.
#
# The rule is decideMemberRemoval's (topology/quorum.ts): the healthy voters left must reach the
# quorum of the voters left; never the last voter, never a protected member (the original
# master). Learners do not vote. A member added but never started (a failed join) has no name:
# find it with --peer-url. Run on a master as root, e.g.:
#   sudo ./quorum-guard.sh --member k8s-master-3 --peer-url https://10.0.20.111:2380 --protect k8s-master
# Connection settings: see scripts/etcd/lib.sh (ETCD_ENDPOINT, ETCD_CACERT, ...).
set -euo pipefail

SCRIPT_NAME="quorum-guard"
if ! declare -F etcd_lib_loaded >/dev/null; then
    # shellcheck source-path=SCRIPTDIR source=lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

main() {
    local member="" peer="" decide="" protected=""
    while [[ $# -gt 0 ]]; do
        case $1 in
            --member) member=$(need_value "$1" "${2-}"); shift 2 ;;
            --peer-url) peer=$(need_value "$1" "${2-}"); shift 2 ;;
            --protect) protected+="${protected:+,}$(need_value "$1" "${2-}")"; shift 2 ;;
            --decide) decide=$(need_value "$1" "${2-}"); shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    if [[ -n $decide ]]; then
        etcd_decide_removal "$decide" "$protected" "$peer"
        return
    fi
    [[ -n $member || -n $peer ]] || usage_error "--member or --peer-url is required"
    etcd_guard "$member" "$peer" "$protected"
}

main "$@"
