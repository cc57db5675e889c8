#!/usr/bin/env bash
# Installs the apiserver load balancer (a frontend on the VIP and the apiserver pool, rendered by
# topology/loadBalancer.ts) into a plain HAProxy's config as one marked block, checks the whole
# file with `haproxy -c` before anything is replaced, and reloads seamlessly (master-worker
# reload: the new workers take over the listening sockets, open connections finish on the old).
# Only the block between our BEGIN/END lines is ever touched; nothing is reloaded when nothing
# changed. For hosts without pfSense (loadBalancer.kind: haproxy).
#
#   apiserver-lb.sh apply         [--fragment FILE] [--keep NAME[,NAME...]]   frontend + pool + base servers
#   apiserver-lb.sh add-server    --name NAME [--server-line FILE]            one more server line
#   apiserver-lb.sh remove-server --name NAME                                 that server out again
#   apiserver-lb.sh delete                                                    the whole block out
#
# The fragment / server line is read from FILE, else from $HA_PAYLOAD (the program sends it in
# front of this script on stdin). `apply` keeps the member servers named in --keep (those added
# one by one with add-server) and drops any other member.
#
# Options (defaults for Debian's haproxy package):
#   --config FILE          haproxy.cfg holding the block          (/etc/haproxy/haproxy.cfg)
#   --state-dir DIR        the block's parts, one file per member (/etc/haproxy/ha-control-plane)
#   --owner NAME           marker in the BEGIN/END lines          (ha-control-plane)
#   --reload MODE          auto | master-socket | systemd | none  (auto)
#   --master-socket PATH   HAProxy's master CLI                   (/run/haproxy-master.sock)
#   --timeout SECONDS      bound on the reload wait               (30)
#   --wait-up SECONDS      after apply/add-server, wait for the servers to be UP (0 = no wait)
#   --backend NAME         the pool's backend name                (apiserver_nodes)
# Exit: 0 done (changed or not), 1 refused or failed (config restored), 2 usage,
#       4 servers not UP in time (the change is live).
set -euo pipefail

die() { echo "apiserver-lb: $*" >&2; exit 1; }
usage() { echo "apiserver-lb: $*" >&2; exit 2; }

[[ $# -ge 1 ]] || usage "an action is required: apply | add-server | remove-server | delete"
action=$1; shift
case $action in apply | add-server | remove-server | delete) ;; *) usage "unknown action '$action'" ;; esac

config=/etc/haproxy/haproxy.cfg state_dir=/etc/haproxy/ha-control-plane owner=ha-control-plane
reload_mode=auto master_socket=/run/haproxy-master.sock timeout=30 wait_up=0 backend=apiserver_nodes
payload_file="" name="" keep=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --config) config=${2:-}; shift 2 ;;
        --state-dir) state_dir=${2:-}; shift 2 ;;
        --owner) owner=${2:-}; shift 2 ;;
        --reload) reload_mode=${2:-}; shift 2 ;;
        --master-socket) master_socket=${2:-}; shift 2 ;;
        --timeout) timeout=${2:-}; shift 2 ;;
        --fragment | --server-line) payload_file=${2:-}; shift 2 ;;
        --name) name=${2:-}; shift 2 ;;
        --keep) keep=${2:-}; shift 2 ;;
        --wait-up) wait_up=${2:-}; shift 2 ;;
        --backend) backend=${2:-}; shift 2 ;;
        *) usage "unknown argument '$1'" ;;
    esac
done
[[ $timeout =~ ^[0-9]+$ && $timeout -gt 0 ]] || usage "--timeout must be a whole number of seconds"
[[ $wait_up =~ ^[0-9]+$ ]] || usage "--wait-up must be a whole number of seconds"
[[ $backend =~ ^[A-Za-z0-9._-]+$ ]] || usage "--backend must be a backend name"
[[ $reload_mode =~ ^(auto|master-socket|systemd|none)$ ]] || usage "--reload must be auto, master-socket, systemd or none"
[[ $owner =~ ^[A-Za-z0-9._/-]+$ ]] || usage "--owner may hold letters, digits, . _ / -"
[[ -f $config ]] || die "no HAProxy config at $config (install haproxy, or pass --config)"
if [[ $action == add-server || $action == remove-server ]]; then
    [[ $name =~ ^[A-Za-z0-9._-]+$ ]] || usage "--name must be a server name (letters, digits, . _ -)"
fi
[[ -z $keep || $keep =~ ^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$ ]] || usage "--keep must be NAME[,NAME...]"

payload() {
    if [[ -n $payload_file ]]; then
        [[ -r $payload_file ]] || usage "cannot read $payload_file"
        cat -- "$payload_file"
    elif [[ -n ${HA_PAYLOAD:-} ]]; then
        printf '%s\n' "$HA_PAYLOAD"
    else
        usage "$action needs its content: --fragment/--server-line FILE (or HA_PAYLOAD)"
    fi
}

begin_line="# BEGIN ${owner} apiserver load balancer (managed: edits here are overwritten)"
end_line="# END ${owner} apiserver load balancer"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The new state is built in a copy and only committed once the whole config passed haproxy -c.
mkdir -p "$work/state/members"
if [[ -d $state_dir ]]; then cp -a "$state_dir/." "$work/state/"; fi

case $action in
    apply)
        payload > "$work/state/base.cfg"
        grep -q '^backend ' "$work/state/base.cfg" || die "the fragment has no backend section"
        for member in "$work/state/members/"*.cfg; do
            [[ -e $member ]] || continue
            member_name=$(basename "$member" .cfg)
            [[ ",$keep," == *",$member_name,"* ]] || { rm -f "$member"; echo "- server $member_name"; }
        done
        ;;
    add-server)
        [[ -f $work/state/base.cfg ]] || die "the load balancer is not installed yet: run apply first"
        line=$(payload)
        # One server line of that name and nothing else: the block is not a place for free text.
        [[ $(printf '%s\n' "$line" | grep -c .) -eq 1 && $line =~ ^[[:space:]]*server[[:space:]]+${name//./\\.}[[:space:]] ]] ||
            die "the server line must be a single 'server $name ...' line"
        printf '%s\n' "$line" > "$work/state/members/$name.cfg"
        ;;
    remove-server) rm -f "$work/state/members/$name.cfg" ;;
    delete) rm -rf "$work/state" ;;
esac

# The config without our block, then (unless deleting) the block at the end, so the backend it
# ends with is the last section and member server lines can follow it.
awk -v b="$begin_line" -v e="$end_line" '$0 == b { skip = 1; next } $0 == e { skip = 0; next } !skip' "$config" > "$work/rest.cfg"
{
    cat "$work/rest.cfg"
    if [[ -f $work/state/base.cfg ]]; then
        echo "$begin_line"
        cat "$work/state/base.cfg"
        for member in "$work/state/members/"*.cfg; do [[ -e $member ]] && cat "$member"; done
        echo "$end_line"
    fi
} > "$work/candidate.cfg"

master_cli() { printf '%s\n' "$1" | socat -t 5 - "UNIX-CONNECT:$master_socket"; }

# Bounded wait until the named servers pass their checks, asked of the first worker through the
# master CLI; the failure names each server's last check result.
wait_servers_up() {
    [[ $wait_up -gt 0 && $# -gt 0 ]] || return 0
    if [[ ! -S $master_socket ]] || ! command -v socat > /dev/null; then
        echo "not waiting for the servers to be UP: no master socket at $master_socket (or no socat)"
        return 0
    fi
    local deadline=$((SECONDS + wait_up)) states down server status
    while :; do
        states=$(master_cli "@1 show stat" 2> /dev/null | awk -F, -v b="$backend" '
            NR == 1 { for (i = 1; i <= NF; i++) { h = $i; sub(/^# /, "", h); col[h] = i }; next }
            $1 == b { print $2, $col["status"], $col["check_status"] "/" $col["check_code"] }') || states=""
        down=()
        for server in "$@"; do
            status=$(awk -v s="$server" '$1 == s { print $2 " (check " $3 ")" }' <<< "$states")
            [[ $status == UP* ]] || down+=("$server ${status:-absent}")
        done
        if [[ ${#down[@]} -eq 0 ]]; then
            echo "UP in $backend: $*"
            return 0
        fi
        if [[ $SECONDS -ge $deadline ]]; then
            echo "apiserver-lb: not UP after ${wait_up}s in $backend: ${down[*]}. The change is live; check the apiserver (curl -k https://<ip>:6443/readyz) and run again." >&2
            exit 4
        fi
        sleep 0.5
    done
}

# The servers this action expects UP afterwards.
up_names=()
case $action in
    apply) mapfile -t up_names < <(awk '$1 == "server" { print $2 }' "$work/state/base.cfg") ;;
    add-server) up_names=("$name") ;;
esac

if cmp -s "$work/candidate.cfg" "$config"; then
    echo "no change: $config already holds the declared load balancer (haproxy not reloaded)"
    wait_servers_up "${up_names[@]}"
    exit 0
fi
diff -u "$config" "$work/candidate.cfg" | sed -n '3,$p' | grep -E '^[-+][^-+]' || true

if ! check_output=$(haproxy -c -f "$work/candidate.cfg" 2>&1); then
    printf '%s\n' "$check_output" >&2
    die "haproxy -c refused the new configuration; $config is unchanged"
fi

# Commit: the previous file is kept until the reload succeeded.
cp -p "$config" "$work/previous.cfg"
next="$config.ha-control-plane.new"
cp -p "$config" "$next"
cat "$work/candidate.cfg" > "$next"
mv -f "$next" "$config"
previous_state=""
if [[ -d $state_dir ]]; then previous_state="$work/previous-state"; cp -a "$state_dir" "$previous_state"; fi
rm -rf "$state_dir"
if [[ -d $work/state ]]; then mkdir -p "$(dirname "$state_dir")"; cp -a "$work/state" "$state_dir"; fi
echo "installed: $config"

restore() {
    cat "$work/previous.cfg" > "$config"
    rm -rf "$state_dir"
    if [[ -n $previous_state ]]; then cp -a "$previous_state" "$state_dir"; fi
    die "$1; $config restored to the previous version"
}

# "<pid> master <reloads> [failed: <n>] ..." from `show proc`.
master_counts() { master_cli "show proc" | awk '$2 == "master" { gsub(/]/, "", $5); print $3, $5; exit }'; }

if [[ $reload_mode == auto ]]; then
    if [[ -S $master_socket ]] && command -v socat > /dev/null; then
        reload_mode=master-socket
    elif command -v systemctl > /dev/null && systemctl is-active --quiet haproxy; then
        reload_mode=systemd
    else
        echo "haproxy is not running (no master socket at $master_socket, no active haproxy unit): start it to serve the VIP"
        reload_mode=none
    fi
fi

case $reload_mode in
    master-socket)
        [[ -S $master_socket ]] || restore "no master socket at $master_socket"
        read -r reloads failed < <(master_counts) || restore "cannot read the master's state from $master_socket"
        master_cli "reload" > /dev/null
        deadline=$((SECONDS + timeout))
        while :; do
            if read -r now_reloads now_failed < <(master_counts 2> /dev/null); then
                [[ $now_failed -gt $failed ]] && restore "HAProxy could not load the new configuration (its old workers keep serving)"
                if [[ $now_reloads -gt $reloads ]]; then
                    echo "haproxy reloaded (reload $now_reloads, seamless: master-worker)"
                    break
                fi
            fi
            [[ $SECONDS -lt $deadline ]] || restore "HAProxy did not confirm the reload within ${timeout}s"
            sleep 0.2
        done
        ;;
    systemd)
        # Debian's unit checks the config again and sends the master SIGUSR2 (a seamless reload).
        timeout "$timeout" systemctl reload haproxy || restore "systemctl reload haproxy failed"
        echo "haproxy reloaded (systemctl reload)"
        ;;
    none) ;;
esac

[[ $reload_mode == none ]] || wait_servers_up "${up_names[@]}"
