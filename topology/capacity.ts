/**
 * Proxmox RAM capacity: a node can take the VMs this stack plans when
 *   committed + planned <= physical - host reserve.
 * The seed deferred the migration on exactly this arithmetic (262 GiB committed of 267 GiB).
 */
import type { MasterSpec, ProxmoxNode, Topology } from "./config";

/** What the capacity rule needs to know about one Proxmox node. */
export interface NodeCapacityFacts {
    readonly node: string;
    readonly physicalGiB: number;
    readonly committedGiB: number;
    readonly hostReserveGiB: number;
}

export interface PlannedVm {
    readonly name: string;
    readonly memoryGiB: number;
}

export interface CapacityRow extends NodeCapacityFacts {
    readonly plannedGiB: number;
    readonly planned: readonly PlannedVm[];
    /** physical - reserve: what VMs may use in total. */
    readonly usableGiB: number;
    /** usable - committed - planned; negative means the node cannot take the plan. */
    readonly headroomGiB: number;
    readonly fits: boolean;
}

export function nodeFacts(node: ProxmoxNode): NodeCapacityFacts {
    return {
        node: node.name,
        physicalGiB: node.physicalMemoryGiB,
        committedGiB: node.committedMemoryGiB,
        hostReserveGiB: node.hostReserveGiB,
    };
}

const round = (n: number): number => Math.round(n * 100) / 100;

export function capacityRow(facts: NodeCapacityFacts, planned: readonly PlannedVm[]): CapacityRow {
    const plannedGiB = round(planned.reduce((sum, vm) => sum + vm.memoryGiB, 0));
    const usableGiB = round(facts.physicalGiB - facts.hostReserveGiB);
    const headroomGiB = round(usableGiB - facts.committedGiB - plannedGiB);
    return { ...facts, planned, plannedGiB, usableGiB, headroomGiB, fits: headroomGiB >= 0 };
}

/** The verdict in words, with every figure that decides it. */
export function describeCapacity(row: CapacityRow): string {
    const vms = row.planned.map((vm) => `${vm.name} ${vm.memoryGiB} GiB`).join(", ") || "no new VMs";
    const sum =
        `${row.committedGiB} GiB committed + ${row.plannedGiB} GiB planned (${vms}) = ` +
        `${round(row.committedGiB + row.plannedGiB)} GiB against ${row.usableGiB} GiB usable ` +
        `(${row.physicalGiB} GiB physical - ${row.hostReserveGiB} GiB host reserve)`;
    return row.fits
        ? `Proxmox node ${row.node}: ${sum}; ${row.headroomGiB} GiB headroom left`
        : `Proxmox node ${row.node} cannot take the new masters: ${sum}; over by ${-row.headroomGiB} GiB. ` +
              `Free memory on the node, lower masters[].memoryGiB, or add a node before this phase.`;
}

/** Capacity per Proxmox node for the masters a stack at `upTo` creates. */
export function capacityPlan(topology: Topology, masters: readonly MasterSpec[]): CapacityRow[] {
    return topology.proxmox.nodes.map((node) =>
        capacityRow(
            nodeFacts(node),
            masters.filter((m) => !m.existing && m.node === node.name).map((m) => ({ name: m.name, memoryGiB: m.memoryGiB })),
        ),
    );
}

export const GIB_IN_MIB = 1024;
export const gibToMib = (gib: number): number => Math.round(gib * GIB_IN_MIB);
export const mibToGib = (mib: number): number => round(mib / GIB_IN_MIB);
