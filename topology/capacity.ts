/**
 * Proxmox RAM capacity: a node can take the VMs this stack plans when
 *   committed + planned <= physical - host reserve.
 * The seed deferred the migration on exactly this arithmetic (262 GiB committed of 267 GiB).
 */
import type { MasterSpec, NodeCapacityFacts, ProxmoxNode, Topology } from "./types";

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

/**
 * The first of `planned` (in join order) that the node can no longer hold once the ones before it
 * are there: the VM whose phase's `up` the capacity gate refuses first, so the plan names the
 * verdict there. Undefined when they all fit; the first VM when the node is already inside its
 * host reserve. None for no VMs.
 */
export function firstOverflowing<T extends PlannedVm>(facts: NodeCapacityFacts, planned: readonly T[]): T | undefined {
    return planned.find((_, i) => !capacityRow(facts, planned.slice(0, i + 1)).fits);
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

/** RAM beyond this multiple of the working set is idle memory taken from a host that has little. */
export const DEFAULT_MAX_WORKING_SET_RATIO = 4;

export interface SizingBasis {
    /** What a master actually uses, measured (free -g, the kubelet's working set). */
    readonly observedWorkingSetGiB: number;
    readonly maxRatio: number;
}

/**
 * The basis from control-plane-sizing's config. The working set is a measurement of one cluster
 * (the lab's is in policies/lab.json): no other cluster's figure stands in for it.
 */
export function sizingBasis(config: Partial<SizingBasis> & Pick<SizingBasis, "observedWorkingSetGiB">): SizingBasis {
    return {
        observedWorkingSetGiB: config.observedWorkingSetGiB,
        maxRatio: config.maxRatio ?? DEFAULT_MAX_WORKING_SET_RATIO,
    };
}

/** The largest master the basis calls right-sized: maxRatio times the working set, in whole GiB (19 GiB for the lab's 4 x 4.6). */
export function suggestedMasterSizeGiB(basis: SizingBasis): number {
    return Math.ceil(basis.maxRatio * basis.observedWorkingSetGiB);
}

/**
 * Advice on a master's RAM against the observed working set: above maxRatio times it, the VM
 * holds memory the Proxmox host needs elsewhere (the seed's deferral was about exactly that);
 * below the working set itself, it would swap or be OOM-killed. kubeadm's minimum is the config
 * validation's business (it refuses the config).
 */
export function sizingAdvice(name: string, memoryGiB: number, basis: SizingBasis): string | undefined {
    const ratio = Math.round((memoryGiB / basis.observedWorkingSetGiB) * 10) / 10;
    if (memoryGiB > basis.maxRatio * basis.observedWorkingSetGiB) {
        const suggested = suggestedMasterSizeGiB(basis);
        return (
            `${name} gets ${memoryGiB} GiB, ${ratio}x the observed working set of ${basis.observedWorkingSetGiB} GiB ` +
            `(more than ${basis.maxRatio}x): that memory sits idle on a host that is short of it; ${suggested} GiB or less would do`
        );
    }
    if (memoryGiB < basis.observedWorkingSetGiB) {
        return `${name} gets ${memoryGiB} GiB, less than the observed working set of ${basis.observedWorkingSetGiB} GiB: it would swap or be OOM-killed under the load the existing master carries`;
    }
    return undefined;
}
