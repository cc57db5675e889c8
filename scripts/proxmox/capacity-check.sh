#!/usr/bin/env bash
# Refuses to let the stack clone new masters onto a Proxmox node that cannot hold them.
# Runs on the Proxmox node (as the program's capacity gate, or by hand before an up):
#
#   capacity-check.sh --node NAME --physical-gib N --committed-gib N --reserve-gib N \
#                     --planned VMID:GIB[,VMID:GIB...]
#
# It reads the node's live figures (`pvesh` for the memory allocated to every VM, /proc/meminfo
# for the physical memory) and fails when:
#   - the stack's committedMemoryGiB is lower than what is allocated today (stale figures), or
#   - allocated + planned > physical - reserve (the host would over-commit and swap or OOM).
# VMs of the plan that already exist (a re-run after a partial up) are counted once, as planned.
# Read-only: it changes nothing on the node. Exit 0 = fits, 1 = refused, 2 = usage error.
set -euo pipefail

die_usage() { echo "capacity-check: $*" >&2; exit 2; }
refuse() { echo "capacity-check: REFUSED: $*" >&2; exit 1; }
# An option's value: a usage error when it is missing (a bare `shift 2` would end the script silently).
need_value() { [[ -n ${2:-} && ${2:0:2} != -- ]] || die_usage "$1 needs a value"; printf '%s' "$2"; }

node="" physical="" committed="" reserve="" planned=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --node) node=$(need_value "$1" "${2-}"); shift 2 ;;
        --physical-gib) physical=$(need_value "$1" "${2-}"); shift 2 ;;
        --committed-gib) committed=$(need_value "$1" "${2-}"); shift 2 ;;
        --reserve-gib) reserve=$(need_value "$1" "${2-}"); shift 2 ;;
        --planned) planned=$(need_value "$1" "${2-}"); shift 2 ;;
        *) die_usage "unknown argument '$1'" ;;
    esac
done
[[ -n $node ]] || die_usage "--node is required"
for pair in "physical-gib:$physical" "committed-gib:$committed" "reserve-gib:$reserve"; do
    [[ ${pair#*:} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die_usage "--${pair%%:*} must be a number of GiB (got '${pair#*:}')"
done
[[ -z $planned || $planned =~ ^[0-9]+:[0-9]+(\.[0-9]+)?(,[0-9]+:[0-9]+(\.[0-9]+)?)*$ ]] ||
    die_usage "--planned must be VMID:GIB[,VMID:GIB...] (got '$planned')"

meminfo=${CAPACITY_CHECK_MEMINFO:-/proc/meminfo}
vms_json=$(timeout 60 pvesh get "/nodes/${node}/qemu" --output-format json) ||
    refuse "could not list the VMs of node ${node} with pvesh (is this the Proxmox node '${node}'?)"

# All arithmetic in one place, in Perl (always on a Proxmox host; JSON::PP is core Perl). Figures
# it cannot read (pvesh output that is not JSON, no meminfo) refuse with exit 1: a bare Perl die
# would exit 255, or 2 (ENOENT) as if it were a usage error.
PLANNED="$planned" PHYSICAL="$physical" COMMITTED="$committed" RESERVE="$reserve" NODE="$node" \
    perl -MJSON::PP -e '
    use strict; use warnings;
    eval {
        my $vms = decode_json(do { local $/; <STDIN> });
        my %planned = map { split /:/ } grep { length } split /,/, $ENV{PLANNED};
        my ($live_other, $live_planned) = (0, 0);
        for my $vm (@$vms) {
            my $gib = ($vm->{maxmem} // 0) / 1024 ** 3;
            if (exists $planned{$vm->{vmid}}) { $live_planned += $gib } else { $live_other += $gib }
        }
        open my $fh, "<", $ARGV[0] or die "cannot read $ARGV[0]: $!\n";
        my ($mem_kib) = map { /^MemTotal:\s+(\d+)/ ? $1 : () } <$fh>;
        die "no MemTotal in $ARGV[0]\n" unless $mem_kib;
        my $live_physical = $mem_kib / 1024 ** 2;
        my $planned_gib = 0; $planned_gib += $_ for values %planned;
        my $usable = $ENV{PHYSICAL} - $ENV{RESERVE};
        my $total = $live_other + $planned_gib;
        printf "node %s: physical %.1f GiB live (config %s), committed to other VMs %.1f GiB live (config %s), planned %.1f GiB, usable %.1f GiB\n",
            $ENV{NODE}, $live_physical, $ENV{PHYSICAL}, $live_other, $ENV{COMMITTED}, $planned_gib, $usable;
        # Physical memory reads a little under the nominal size (kernel reservations): allow 3%.
        if ($live_physical < $ENV{PHYSICAL} * 0.97) {
            printf STDERR "capacity-check: REFUSED: proxmox node %s has %.1f GiB physical, the config says %s GiB: update physicalMemoryGiB\n", $ENV{NODE}, $live_physical, $ENV{PHYSICAL};
            exit 1;
        }
        if ($live_other > $ENV{COMMITTED} + 0.5) {
            printf STDERR "capacity-check: REFUSED: proxmox node %s has %.1f GiB allocated to other VMs, the config says %s GiB: update committedMemoryGiB and run preview again\n", $ENV{NODE}, $live_other, $ENV{COMMITTED};
            exit 1;
        }
        if ($total > $usable) {
            printf STDERR "capacity-check: REFUSED: proxmox node %s: %.1f GiB allocated + %.1f GiB planned = %.1f GiB > %.1f GiB usable (%s physical - %s reserve)\n", $ENV{NODE}, $live_other, $planned_gib, $total, $usable, $ENV{PHYSICAL}, $ENV{RESERVE};
            exit 1;
        }
        printf "node %s fits: %.1f GiB headroom after the planned VMs\n", $ENV{NODE}, $usable - $total;
        1;
    } or do {
        (my $why = $@) =~ s/\s+\z//;
        print STDERR "capacity-check: REFUSED: cannot read the live figures of node $ENV{NODE}: $why\n";
        exit 1;
    };
' "$meminfo" <<<"$vms_json"
