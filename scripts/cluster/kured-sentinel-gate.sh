#!/usr/bin/env bash
# The kured sentinel gate with a control-plane quorum check. kured, started with
# --reboot-sentinel=<sentinel>, reboots a node only while that file exists; this loop creates it
# only while the node needs a reboot (the OS's reboot-required file) AND quorum-gate.sh
# (shipped next to it) says the node may go down, and removes it otherwise.
#
# Usage: kured-sentinel-gate.sh --node NAME --members N --quorum Q [--interval S] [--once]
#                               [--reboot-required FILE] [--sentinel FILE]
#
# Defaults: --reboot-required /host/var/run/reboot-required, --sentinel
# /host/var/run/gated-reboot-required (the host's /var/run mounted at /host/var/run), --interval
# 300. --once evaluates one time and exits (by hand, and in the tests). In the kured stack's
# gate DaemonSet: NODE from the downward API (spec.nodeName), N and Q from gate.env in the same
# ConfigMap as this script (written by the stack from its topology). Needs bash, kubectl, jq.
# Exit 0 after --once (the sentinel file is the result), 2 = usage.
set -euo pipefail

usage_error() { echo "kured-sentinel-gate: $* (see the usage at the top of the script)" >&2; exit 2; }
log() { echo "kured-sentinel-gate: $(date -u +%FT%TZ) $*"; }

node="" members="" quorum="" interval=300 once=false
reboot_required=/host/var/run/reboot-required sentinel=/host/var/run/gated-reboot-required
while [[ $# -gt 0 ]]; do
    case $1 in
        --node) node=${2:-}; shift 2 ;;
        --members) members=${2:-}; shift 2 ;;
        --quorum) quorum=${2:-}; shift 2 ;;
        --interval) interval=${2:-}; shift 2 ;;
        --reboot-required) reboot_required=${2:-}; shift 2 ;;
        --sentinel) sentinel=${2:-}; shift 2 ;;
        --once) once=true; shift ;;
        *) usage_error "unknown argument '$1'" ;;
    esac
done
[[ -n $node ]] || usage_error "--node is required"
[[ $members =~ ^[1-9][0-9]*$ && $quorum =~ ^[1-9][0-9]*$ ]] || usage_error "--members and --quorum must be positive whole numbers"
[[ $interval =~ ^[1-9][0-9]*$ ]] || usage_error "--interval must be seconds"

gate=${QUORUM_GATE:-$(dirname "${BASH_SOURCE[0]}")/quorum-gate.sh}
[[ -r $gate ]] || usage_error "quorum-gate.sh not found at $gate"

evaluate() {
    if [[ ! -e $reboot_required ]]; then
        rm -f "$sentinel"
        log "no reboot required"
        return
    fi
    local verdict
    if verdict=$(bash "$gate" --node "$node" --members "$members" --quorum "$quorum" 2>&1); then
        touch "$sentinel"
        log "reboot required and allowed: sentinel set. ${verdict##*$'\n'}"
    else
        # Remove it too: a verdict can turn while kured waits for its lock.
        rm -f "$sentinel"
        log "reboot required but held: ${verdict##*$'\n'}"
    fi
}

while true; do
    evaluate
    $once && exit 0
    sleep "$interval"
done
