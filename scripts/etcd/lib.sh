#!/usr/bin/env bash
# etcd helpers for the quorum guard, member removal, the join gate and the phase 0 snapshot:
# member listing, per-member health, the removal decision, leadership transfer, snapshots.
#
# Usage: source lib.sh (after scripts/kubeadm/lib.sh, which it sources itself when run by hand).
#
# Environment (defaults are a kubeadm master's stacked etcd):
#   ETCD_ENDPOINT   https://127.0.0.1:2379, this master's own member
#   ETCD_CACERT     $KUBERNETES_DIR/pki/etcd/ca.crt; set it empty for a plain-http cluster (tests)
#   ETCD_CERT, ETCD_KEY  kubeadm's etcd healthcheck-client pair (etcd has no RBAC under kubeadm,
#                   so any client certificate of the etcd CA may manage members)
#   ETCD_DATA_DIR   /var/lib/etcd: where a snapshot is staged when etcdctl runs inside the etcd pod
#   ETCD_HEALTH_TIMEOUT  5s: how long one member's health probe may take (a stopped member
#                   always takes all of it)
#   ETCD_COMMAND_TIMEOUT 15s: etcdctl's bound on one request (a snapshot has its own, below)
#   ETCDCTL_BIN     etcdctl; when it is not installed on the host, the etcdctl inside the running
#                   etcd container is used through crictl (same certificate paths: kubeadm mounts
#                   pki/etcd into the pod)
set -euo pipefail

if ! declare -F hacp_lib_loaded >/dev/null; then
    # shellcheck source-path=SCRIPTDIR source=../kubeadm/lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/../kubeadm/lib.sh"
fi

etcd_lib_loaded() { :; }

: "${ETCD_ENDPOINT:=https://127.0.0.1:2379}"
: "${ETCD_CACERT=${KUBERNETES_DIR}/pki/etcd/ca.crt}"
: "${ETCD_CERT:=${KUBERNETES_DIR}/pki/etcd/healthcheck-client.crt}"
: "${ETCD_KEY:=${KUBERNETES_DIR}/pki/etcd/healthcheck-client.key}"
: "${ETCD_DATA_DIR:=/var/lib/etcd}"
: "${ETCDCTL_BIN:=etcdctl}"
: "${ETCD_HEALTH_TIMEOUT:=5s}"

etcd_container_id() {
    local id
    id=$(crictl ps --name '^etcd$' --state running -q </dev/null | head -n1) || true
    [[ -n $id ]] || die "no etcdctl on this host and no running etcd container found with crictl"
    printf '%s' "$id"
}

etcd_using_container() { ! command -v "$ETCDCTL_BIN" >/dev/null 2>&1; }

# etcd_ctl ENDPOINTS ARGS...: etcdctl (API v3) against ENDPOINTS (comma-separated), bounded.
etcd_ctl() {
    local endpoints=$1
    shift
    local -a flags=(--endpoints "$endpoints" --dial-timeout 3s --command-timeout "${ETCD_COMMAND_TIMEOUT:-15s}")
    if [[ -n $ETCD_CACERT ]]; then flags+=(--cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY"); fi
    if etcd_using_container; then
        local id
        id=$(etcd_container_id)
        crictl exec "$id" etcdctl "${flags[@]}" "$@" </dev/null
    else
        # etcdctl 3.4 refuses an ETCDCTL_* variable next to the same flag: drop the variables.
        env -u ETCDCTL_ENDPOINTS -u ETCDCTL_CACERT -u ETCDCTL_CERT -u ETCDCTL_KEY ETCDCTL_API=3 \
            "$ETCDCTL_BIN" "${flags[@]}" "$@" </dev/null
    fi
}

# Members, filled by etcd_load_members (indexed alike):
#   M_ID (hex) M_NAME M_KEY (name, or unstarted-<id>) M_STATUS (started|unstarted) M_PEERS
#   M_CLIENTS (URLs comma-separated) M_LEARNER (true|false) M_HEALTHY (healthy|unhealthy)
declare -a M_ID=() M_NAME=() M_KEY=() M_STATUS=() M_PEERS=() M_CLIENTS=() M_LEARNER=() M_HEALTHY=()

# `member list -w json` as one record per member, fields separated by \x1f:
#   ID(hex) STATUS NAME PEER_URLS CLIENT_URLS LEARNER
# A member added but never started has no name and no client URLs: the text formats print empty
# columns there, which whitespace splitting collapses (the peer URL then reads as the name). JSON
# cannot collapse, \x1f is not whitespace to `read`, and python3 is on every Ubuntu server (jq
# is not). Ids are uint64 in decimal in the JSON: python's integers keep them exact. The status
# follows etcdctl's own rule: a member without a name has not started.
ETCD_MEMBERS_PY='
import json, sys
try:
    members = json.load(sys.stdin)["members"]
    rows = []
    for m in members:
        name = m.get("name") or ""
        fields = ["%x" % int(m["ID"]), "started" if name else "unstarted", name,
                  ",".join(m.get("peerURLs") or []), ",".join(m.get("clientURLs") or []),
                  "true" if m.get("isLearner") else "false"]
        if any(c in f for f in fields for c in "\x1f\n"):
            raise ValueError("a field holds a separator")
        rows.append("\x1f".join(fields))
except (ValueError, KeyError, TypeError) as e:
    sys.exit("not the output of etcdctl member list -w json: %s" % e)
print("\n".join(rows))
'

# Without python3 no etcd step can read the member list, and waiting does not bring it: the
# scripts refuse at once, saying what to install (the preflight checks it before phase 0).
ETCD_PYTHON3_MISSING="python3 is not installed on this master; the etcd steps (pre-join check, quorum guard, member removal, join gate) read etcd's member list with it. Install it: apt-get install python3"
etcd_require_python3() { command -v python3 >/dev/null 2>&1 || die "$ETCD_PYTHON3_MISSING"; }

# etcd_member_records [ENDPOINTS]: the member list as those records (see ETCD_MEMBERS_PY).
etcd_member_records() {
    local endpoints=${1:-$ETCD_ENDPOINT} json errors rc=0
    command -v python3 >/dev/null 2>&1 || { echo "$ETCD_PYTHON3_MISSING"; return 1; }
    # etcdctl's warnings must not end up in the JSON: stderr is read apart.
    errors=$(mktemp)
    json=$(etcd_ctl "$endpoints" member list -w json 2>"$errors") || rc=$?
    if ((rc != 0)); then
        tail -n1 "$errors"
        rm -f "$errors"
        return 1
    fi
    rm -f "$errors"
    python3 -c "$ETCD_MEMBERS_PY" <<<"$json" 2>&1
}

# etcd_load_members [ENDPOINTS]: the member list and each member's health, probed on its own.
# Returns 1 (with a warning) when the list cannot be read.
etcd_load_members() {
    local endpoints=${1:-$ETCD_ENDPOINT} out
    etcd_require_python3
    if ! out=$(etcd_member_records "$endpoints"); then
        warn "cannot list etcd members through ${endpoints}: ${out##*$'\n'}"
        return 1
    fi
    M_ID=() M_NAME=() M_KEY=() M_STATUS=() M_PEERS=() M_CLIENTS=() M_LEARNER=() M_HEALTHY=()
    local id status name peers clients learner
    while IFS=$'\x1f' read -r id status name peers clients learner; do
        [[ -n $id ]] || continue
        M_ID+=("$id")
        M_NAME+=("$name")
        M_KEY+=("${name:-unstarted-$id}")
        M_STATUS+=("$status")
        M_PEERS+=("$peers")
        M_CLIENTS+=("$clients")
        M_LEARNER+=("$learner")
        # A stopped member makes etcdctl wait for the whole command timeout: keep it short here.
        if [[ $status == started && -n $clients ]] && etcd_ctl "$clients" endpoint health --command-timeout "$ETCD_HEALTH_TIMEOUT" >/dev/null 2>&1; then
            M_HEALTHY+=(healthy)
        else
            M_HEALTHY+=(unhealthy)
        fi
    done <<<"$out"
}

# The index of the member named NAME or owning PEER_URL, or -1.
etcd_find_member() {
    local name=$1 peer=${2:-} i
    for i in "${!M_ID[@]}"; do
        if [[ -n $name && ${M_NAME[i]} == "$name" ]]; then echo "$i" && return 0; fi
        if [[ -n $peer && ,${M_PEERS[i]}, == *",$peer,"* ]]; then echo "$i" && return 0; fi
    done
    echo -1
}

# One line per member for etcd_decide_removal:
#   "KEY healthy|unhealthy voter|learner started|unstarted PEER_URLS"
etcd_health_lines() {
    local i
    for i in "${!M_ID[@]}"; do
        printf '%s %s %s %s %s\n' "${M_KEY[i]}" "${M_HEALTHY[i]}" "$([[ ${M_LEARNER[i]} == true ]] && echo learner || echo voter)" \
            "${M_STATUS[i]}" "${M_PEERS[i]:--}"
    done
}

# etcd_decide_removal REMOVING [PROTECTED,...] [PEER_URL]
#     < lines "NAME healthy|unhealthy [voter|learner [started|unstarted [PEER_URLS]]]"
# The removal rule, the same as decideMemberRemoval in topology/quorum.ts, check for check
# (tests/etcd/quorumGuard.test.ts compares the two on many cases): the member is the first
# named REMOVING or owning PEER_URL; learners do not vote; an unstarted member is never healthy;
# the healthy voters left must reach the quorum of the voters left; never the last voter, never
# a protected member. Prints one line and returns 0 when allowed, 1 when refused:
#   allowed remaining=R quorum=Q
#   refused rule=not-a-member|protected|last-member|below-quorum unhealthy=a,b healthy_remaining=H remaining=R quorum=Q
etcd_decide_removal() {
    local removing=$1 protected=${2:-} peer=${3:-}
    local -a names=() health=() role=() state=() peers=()
    local n h r s p
    while read -r n h r s p; do
        [[ -n $n ]] || continue
        names+=("$n")
        health+=("$h")
        role+=("${r:-voter}")
        state+=("${s:-started}")
        peers+=("${p:--}")
    done
    local found=-1 voters=0 i
    local -a unhealthy=()
    for i in "${!names[@]}"; do
        if ((found < 0)) && { [[ -n $removing && ${names[i]} == "$removing" ]] || [[ -n $peer && ,${peers[i]}, == *",$peer,"* ]]; }; then found=$i; fi
    done
    for i in "${!names[@]}"; do
        if [[ ${role[i]} != learner ]]; then
            voters=$((voters + 1))
            if ((i != found)) && [[ ${health[i]} != healthy || ${state[i]} == unstarted ]]; then unhealthy+=("${names[i]}"); fi
        fi
    done
    local list
    list=$(IFS=,; printf '%s' "${unhealthy[*]}")
    if ((found < 0)); then
        echo "refused rule=not-a-member unhealthy=${list}"
        return 1
    fi
    if [[ ,$protected, == *",${names[found]},"* ]]; then
        echo "refused rule=protected unhealthy=${list}"
        return 1
    fi
    local remaining=$((voters - 1))
    if [[ ${role[found]} == learner ]]; then remaining=$voters; fi
    if ((remaining < 1)); then
        echo "refused rule=last-member unhealthy=${list}"
        return 1
    fi
    local healthy_remaining=$((remaining - ${#unhealthy[@]}))
    local quorum=$((remaining / 2 + 1))
    if ((healthy_remaining < quorum)); then
        echo "refused rule=below-quorum unhealthy=${list} healthy_remaining=${healthy_remaining} remaining=${remaining} quorum=${quorum}"
        return 1
    fi
    echo "allowed remaining=${remaining} quorum=${quorum}"
}

# A refusal in words: which members are unhealthy and what to do about it.
etcd_explain_refusal() {
    local target=$1 verdict=$2 rule list i
    rule=$(sed -n 's/.*rule=\([a-z-]*\).*/\1/p' <<<"$verdict")
    list=$(sed -n 's/.*unhealthy=\([^ ]*\).*/\1/p' <<<"$verdict")
    case $rule in
        protected)
            echo "REFUSED: ${target} is the original master; this stack never removes it from etcd." ;;
        last-member)
            echo "REFUSED: ${target} is the last etcd voting member; removing it would destroy the cluster." ;;
        below-quorum)
            local detail=""
            for i in "${!M_ID[@]}"; do
                if [[ ,$list, == *",${M_KEY[i]},"* ]]; then
                    detail+=" ${M_KEY[i]} (id ${M_ID[i]}, ${M_STATUS[i]}, client ${M_CLIENTS[i]:-none}, peer ${M_PEERS[i]});"
                fi
            done
            echo "REFUSED: removing ${target} would leave $(sed -n 's/.*healthy_remaining=\([0-9]*\).*/\1/p' <<<"$verdict") healthy of" \
                "$(sed -n 's/.* remaining=\([0-9]*\).*/\1/p' <<<"$verdict") voting members, below quorum" \
                "$(sed -n 's/.*quorum=\([0-9]*\).*/\1/p' <<<"$verdict"). Unhealthy:${detail}" \
                "Bring those members back first (check: etcdctl endpoint health --cluster), or remove an" \
                "unhealthy member first (this guard allows that when the rest keep quorum); then retry." ;;
        *)
            echo "REFUSED: ${target} is not an etcd member." ;;
    esac
}

# etcd_guard NAME PEER_URL PROTECTED: loads the members and decides. Returns 0 allowed, 1 refused
# (with the reason on stderr), 3 when NAME/PEER_URL is not a member (nothing to remove).
etcd_guard() {
    local name=$1 peer=$2 protected=$3 index verdict
    etcd_load_members || die "cannot list etcd members through ${ETCD_ENDPOINT}: is etcd running on this master?"
    index=$(etcd_find_member "$name" "$peer")
    if ((index < 0)); then
        log "${name} (peer ${peer:-?}) is not an etcd member"
        return 3
    fi
    log "etcd members: $(etcd_health_lines | paste -sd ';' - | sed 's/;/; /g')"
    if verdict=$(etcd_health_lines | etcd_decide_removal "${M_KEY[index]}" "$protected"); then
        log "quorum guard: removing ${M_KEY[index]} is safe (${verdict#allowed })"
        return 0
    fi
    printf '%s: %s\n' "$SCRIPT_NAME" "$(etcd_explain_refusal "${M_KEY[index]}" "$verdict")" >&2
    return 1
}

# The hex id of the current leader, asked of ENDPOINTS.
etcd_leader_id() {
    local endpoints=$1 json leader
    json=$(etcd_ctl "$endpoints" endpoint status -w json) || return 1
    # Ids are uint64 in decimal in the JSON (too large for jq's floats): read them as text.
    leader=$(grep -o '"leader":[0-9]*' <<<"$json" | head -n1 | cut -d: -f2 || true)
    [[ -n $leader ]] || return 1
    printf '%x' "$leader"
}

# Client URLs of the healthy members other than index SKIP, comma-separated.
etcd_healthy_endpoints() {
    local skip=${1:--1} i urls=()
    for i in "${!M_ID[@]}"; do
        if ((i != skip)) && [[ ${M_HEALTHY[i]} == healthy ]]; then urls+=("${M_CLIENTS[i]}"); fi
    done
    (IFS=,; printf '%s' "${urls[*]}")
}

etcd_leader_is_not() {
    local endpoints=$1 id=$2 leader
    leader=$(etcd_leader_id "$endpoints") || return 1
    [[ $leader != "$id" ]]
}

# 0 when the list (read successfully) no longer has ID; a failed read is not "gone".
etcd_member_gone() {
    local endpoints=$1 id=$2 list
    list=$(etcd_member_records "$endpoints") || return 1
    [[ $'\n'$list != *$'\n'"${id}"$'\x1f'* ]]
}

# etcd refuses a reconfiguration while it counts fewer than a quorum of members as connected for
# a few seconds ("unhealthy cluster", e.g. just after a leader change): retried, bounded.
etcd_try_remove() {
    local endpoints=$1 id=$2 out
    if etcd_member_gone "$endpoints" "$id"; then return 0; fi
    if out=$(etcd_ctl "$endpoints" member remove "$id" 2>&1); then
        log "$out"
        return 0
    fi
    log "etcd refused the removal for now ($(grep -o 'Error: .*' <<<"$out" | tail -n1)); retrying"
    return 1
}

etcd_all_healthy() {
    local endpoints=$1 i
    etcd_load_members "$endpoints" || return 1
    for i in "${!M_ID[@]}"; do [[ ${M_HEALTHY[i]} == healthy ]] || return 1; done
}

# etcd_remove_member NAME PEER_URL PROTECTED TIMEOUT: the guarded removal. Not a member: nothing
# to do. Refused: nothing changed. Otherwise leadership moves away first if NAME leads, the
# member is removed by id, and the rest must be healthy again within TIMEOUT seconds.
etcd_remove_member() {
    local name=$1 peer=$2 protected=$3 timeout=$4 rc=0
    etcd_guard "$name" "$peer" "$protected" || rc=$?
    if ((rc == 3)); then
        log "nothing to remove from etcd"
        return 0
    fi
    ((rc == 0)) || return 1
    local index id key survivors leader i
    index=$(etcd_find_member "$name" "$peer")
    id=${M_ID[index]}
    key=${M_KEY[index]}
    survivors=$(etcd_healthy_endpoints "$index")
    [[ -n $survivors ]] || die "no healthy etcd member other than ${key} to talk to"

    if [[ ${M_HEALTHY[index]} == healthy ]] && leader=$(etcd_leader_id "$survivors") && [[ $leader == "$id" ]]; then
        local transferee=""
        for i in "${!M_ID[@]}"; do
            if ((i != index)) && [[ ${M_HEALTHY[i]} == healthy && ${M_LEARNER[i]} != true ]]; then
                transferee=${M_ID[i]}
                break
            fi
        done
        [[ -n $transferee ]] || die "${key} leads etcd and no healthy voter can take over"
        log "${key} leads etcd: moving leadership to ${transferee} first"
        etcd_ctl "$survivors,${M_CLIENTS[index]}" move-leader "$transferee" >&2 ||
            die "etcdctl move-leader ${transferee} failed; nothing was removed"
        wait_until "$timeout" "leadership to leave ${key}" etcd_leader_is_not "$survivors" "$id" ||
            die "leadership did not leave ${key}; nothing was removed"
    fi

    log "removing etcd member ${key} (id ${id})"
    wait_until "$timeout" "etcd to accept the removal of ${id}" etcd_try_remove "$survivors" "$id" ||
        die "etcdctl member remove ${id} did not succeed; check etcdctl member list and endpoint health --cluster"
    wait_until "$timeout" "the remaining members to be healthy" etcd_all_healthy "$survivors" ||
        die "the remaining etcd members are not all healthy after removing ${key}: check etcdctl endpoint health --cluster"
    for i in "${!M_ID[@]}"; do
        [[ ${M_ID[i]} != "$id" ]] || die "${key} (id ${id}) is still an etcd member after its removal"
    done
    log "removed ${key}; remaining: $(etcd_health_lines | paste -sd ';' - | sed 's/;/; /g')"
}

# etcd_snapshot_save DEST [TIMEOUT]: a snapshot of the keyspace through this master's member.
# etcdctl bounds `snapshot save` by its command timeout, and the snapshot streams the whole
# keyspace: it gets TIMEOUT (etcdctl duration, default 10m) instead of the 15 s of a request.
etcd_snapshot_save() {
    local dest=$1
    local ETCD_COMMAND_TIMEOUT=${2:-10m}
    if etcd_using_container; then
        # etcdctl runs in the pod: stage the file in the data dir, which kubeadm mounts from the
        # host at the same path.
        local staged
        staged="ha-control-plane-snapshot-$$.db"
        etcd_ctl "$ETCD_ENDPOINT" snapshot save "${ETCD_DATA_DIR}/${staged}" >&2
        mv "${ETCD_DATA_DIR}/${staged}" "$dest"
    else
        etcd_ctl "$ETCD_ENDPOINT" snapshot save "$dest" >&2
    fi
}
