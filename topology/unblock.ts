/**
 * The way out of a capacity deferral: for a Proxmox node that cannot take its new masters, the
 * smallest changes that would let it, each one computed by the capacity rule (capacityRow) on
 * changed figures, never by arithmetic of its own:
 *   free-memory                 the exact shortfall to free on the node;
 *   smaller-new-masters         the largest new-master size that fits, or why none does;
 *   right-size-existing-master  what control-plane-sizing's basis suggests for the existing master,
 *                               what that frees and whether it is enough (the stack never resizes
 *                               the existing master; the operator can);
 *   move-new-masters            new masters moved to nodes with room, and what the failure
 *                               domains look like then.
 */
import { capacityPlan, capacityRow, CapacityRow, nodeFacts, PlannedVm, SizingBasis, suggestedMasterSizeGiB } from "./capacity";
import { FailureDomain, failureDomains, lossWords } from "./failureDomains";
import { KUBEADM_MIN_CONTROL_PLANE_MEMORY_GIB } from "./kubeadm";
import type { MasterSpec, NodeCapacityFacts, Topology } from "./types";

interface OptionBase {
    readonly node: string;
    /** The option in words, with every figure that decides it. */
    readonly summary: string;
}

export interface FreeMemoryOption extends OptionBase {
    readonly kind: "free-memory";
    readonly freesGiB: number;
    /** The committed memory at which the node takes its new masters. */
    readonly committedAtMostGiB: number;
}

export interface SmallerNewMastersOption extends OptionBase {
    readonly kind: "smaller-new-masters";
    readonly masters: readonly string[];
    /** The largest size (whole GiB, each) that fits; null when none usable does. */
    readonly fitsGiB: number | null;
    /** How far the node is into its host reserve before any new VM, when it is. */
    readonly intoReserveGiB?: number;
}

export interface RightSizeExistingMasterOption extends OptionBase {
    readonly kind: "right-size-existing-master";
    readonly master: string;
    readonly fromGiB: number;
    readonly toGiB: number;
    readonly freesGiB: number;
    readonly unblocksAlone: boolean;
    /** What is still missing after the right-sizing alone (0 when it is enough). */
    readonly stillShortGiB: number;
    /** With the right-sizing done, the largest new-master size that fits (null: none usable). */
    readonly newMastersFitGiB: number | null;
}

export interface MoveNewMastersOption extends OptionBase {
    readonly kind: "move-new-masters";
    /** Empty when no other node has room. */
    readonly moves: readonly { readonly master: string; readonly to: string }[];
    /** Planned memory the moves take off the node. */
    readonly freesGiB: number;
    /** The failure domains after the moves (every member, every node). */
    readonly failureDomains: readonly FailureDomain[];
}

export type UnblockOption = FreeMemoryOption | SmallerNewMastersOption | RightSizeExistingMasterOption | MoveNewMastersOption;

const round = (n: number): number => Math.round(n * 100) / 100;
const vmsOf = (masters: readonly MasterSpec[]): PlannedVm[] => masters.map((m) => ({ name: m.name, memoryGiB: m.memoryGiB }));

interface LargestFit {
    readonly fitsGiB: number | null;
    readonly intoReserveGiB?: number;
    /** The size that fits but is below kubeadm's minimum. */
    readonly belowMinimumGiB?: number;
}

/** The largest whole-GiB size each of `planned` could have on the node, by the capacity rule. */
function largestFit(facts: NodeCapacityFacts, planned: readonly PlannedVm[]): LargestFit {
    const empty = capacityRow(facts, planned.map((vm) => ({ ...vm, memoryGiB: 0 })));
    if (!empty.fits) return { fitsGiB: null, intoReserveGiB: -empty.headroomGiB };
    let each = Math.floor(empty.headroomGiB / planned.length);
    // The capacity rule has the last word (its rounding), not the division above.
    while (each > 0 && !capacityRow(facts, planned.map((vm) => ({ ...vm, memoryGiB: each }))).fits) each--;
    return each < KUBEADM_MIN_CONTROL_PLANE_MEMORY_GIB ? { fitsGiB: null, belowMinimumGiB: each } : { fitsGiB: each };
}

function usableWords(row: CapacityRow): string {
    return `${row.committedGiB} GiB committed against ${row.usableGiB} GiB usable`;
}

function freeMemory(row: CapacityRow): FreeMemoryOption {
    const freesGiB = -row.headroomGiB;
    const after = capacityRow({ ...row, committedGiB: round(row.committedGiB - freesGiB) }, row.planned);
    return {
        node: row.node,
        kind: "free-memory",
        freesGiB,
        committedAtMostGiB: after.committedGiB,
        summary:
            `free at least ${freesGiB} GiB on ${row.node} (the shortfall): ${row.committedGiB} -> ${after.committedGiB} GiB committed, ` +
            `and ${after.committedGiB} + ${after.plannedGiB} GiB planned fits the ${after.usableGiB} GiB usable`,
    };
}

function smallerNewMasters(row: CapacityRow, sizing: SizingBasis): SmallerNewMastersOption {
    const fit = largestFit(row, row.planned);
    const masters = row.planned.map((vm) => vm.name);
    const base = { node: row.node, kind: "smaller-new-masters" as const, masters, fitsGiB: fit.fitsGiB };
    if (fit.intoReserveGiB !== undefined) {
        return {
            ...base,
            intoReserveGiB: fit.intoReserveGiB,
            summary:
                `smaller new masters cannot help: ${row.node} is already ${fit.intoReserveGiB} GiB into its host reserve before any new VM ` +
                `(${usableWords(row)}), so even zero-size masters would not fit`,
        };
    }
    if (fit.fitsGiB === null) {
        return { ...base, summary: `smaller new masters cannot help: only ${fit.belowMinimumGiB} GiB each would fit on ${row.node}, below kubeadm's minimum of ${KUBEADM_MIN_CONTROL_PLANE_MEMORY_GIB} GiB` };
    }
    return {
        ...base,
        summary:
            `new masters of at most ${fit.fitsGiB} GiB each (${masters.join(", ")}) fit on ${row.node}` +
            (fit.fitsGiB < sizing.observedWorkingSetGiB ? `, but that is below the observed working set of ${sizing.observedWorkingSetGiB} GiB (control-plane-sizing advises against it)` : ""),
    };
}

function rightSizeExisting(row: CapacityRow, existing: MasterSpec, sizing: SizingBasis): RightSizeExistingMasterOption | undefined {
    const toGiB = suggestedMasterSizeGiB(sizing);
    if (existing.memoryGiB <= toGiB) return undefined;
    const freesGiB = round(existing.memoryGiB - toGiB);
    const after = capacityRow({ ...row, committedGiB: round(row.committedGiB - freesGiB) }, row.planned);
    const fit = largestFit(after, after.planned);
    const basis = `control-plane-sizing's basis (${sizing.observedWorkingSetGiB} GiB observed working set x ${sizing.maxRatio}) suggests ${toGiB} GiB instead of ${existing.memoryGiB} GiB, freeing ${freesGiB} GiB`;
    const outcome = after.fits
        ? `Alone that unblocks ${row.node}: ${after.headroomGiB} GiB headroom left.`
        : `Alone that does not unblock ${row.node}: ${-after.headroomGiB} GiB still short. ` +
          (fit.intoReserveGiB !== undefined
              ? `${row.node} stays ${fit.intoReserveGiB} GiB into its reserve (${usableWords(after)}).`
              : `It takes ${row.node} out of its reserve (${usableWords(after)}): ` +
                (fit.fitsGiB === null ? `yet what is left is below kubeadm's minimum per new master.` : `new masters of at most ${fit.fitsGiB} GiB each would then fit.`));
    return {
        node: row.node,
        kind: "right-size-existing-master",
        master: existing.name,
        fromGiB: existing.memoryGiB,
        toGiB,
        freesGiB,
        unblocksAlone: after.fits,
        stillShortGiB: after.fits ? 0 : -after.headroomGiB,
        newMastersFitGiB: after.fits ? null : fit.fitsGiB,
        summary: `right-size ${existing.name} (the stack never changes it; the operator can): ${basis}. ${outcome}`,
    };
}

function moveNewMasters(topology: Topology, masters: readonly MasterSpec[], row: CapacityRow): MoveNewMastersOption {
    const placement = new Map(masters.map((m) => [m.name, m.node]));
    const others = topology.proxmox.nodes.filter((n) => n.name !== row.node);
    const rowOf = (node: string): CapacityRow =>
        capacityRow(nodeFacts(topology.proxmox.nodes.find((n) => n.name === node)!), vmsOf(masters.filter((m) => !m.existing && placement.get(m.name) === node)));
    const moves: { master: string; to: string }[] = [];
    // Latest joiners first: they are the last to be created, so moving them changes the least.
    for (const candidate of masters.filter((m) => !m.existing && m.node === row.node).reverse()) {
        const here = rowOf(row.node);
        if (here.fits || here.planned.length === 0) break;
        const destinations = others
            .map((n, order) => {
                placement.set(candidate.name, n.name);
                const dest = rowOf(n.name);
                placement.set(candidate.name, row.node);
                const members = masters.filter((m) => placement.get(m.name) === n.name).length;
                return { node: n.name, order, fits: dest.fits, members, headroom: dest.headroomGiB };
            })
            .filter((d) => d.fits)
            .sort((a, b) => a.members - b.members || b.headroom - a.headroom || a.order - b.order);
        if (destinations.length === 0) continue;
        placement.set(candidate.name, destinations[0].node);
        moves.push({ master: candidate.name, to: destinations[0].node });
    }
    const here = rowOf(row.node);
    const done = here.fits || here.planned.length === 0;
    const members = masters.map((m) => ({ name: m.name, node: placement.get(m.name)! }));
    const domains = failureDomains(topology.proxmox.nodes.map((n) => n.name), members);
    if (!done) {
        const why = others.length === 0
            ? `proxmox.nodes lists no other node (a second host is the seed's revisit trigger 1)`
            : `no other node has room for them (${others.map((n) => `${n.name} ${rowOf(n.name).headroomGiB} GiB headroom`).join(", ")})`;
        return { node: row.node, kind: "move-new-masters", moves: [], freesGiB: 0, failureDomains: failureDomains(topology.proxmox.nodes.map((n) => n.name), masters), summary: `moving new masters off ${row.node} is not possible: ${why}` };
    }
    const freesGiB = round(row.plannedGiB - here.plannedGiB);
    const index = (name: string) => topology.masters.findIndex((m) => m.name === name);
    const what = moves.map((mv) => `${mv.master} to ${mv.to} (masters[${index(mv.master)}].node)`).join(", ");
    const bare = capacityRow(here, []);
    const left =
        here.planned.length > 0
            ? `${row.node} then fits (${here.headroomGiB} GiB headroom)`
            : `${row.node} then takes no new VM` + (bare.fits ? "" : ` (it stays ${-bare.headroomGiB} GiB into its reserve: over-committed before this stack)`);
    return {
        node: row.node,
        kind: "move-new-masters",
        moves,
        freesGiB,
        failureDomains: domains,
        summary: `move ${what}: ${left}. Failure domains then: ${domains.map((d) => lossWords(d, members.length)).join("; ")}`,
    };
}

/**
 * The unblock options for every node that cannot take the new masters among `masters` (the
 * existing master and the new ones of the phase looked at), with the control-plane-sizing basis.
 */
export function unblockOptions(topology: Topology, masters: readonly MasterSpec[], sizing: SizingBasis): UnblockOption[] {
    return capacityPlan(topology, masters)
        .filter((row) => row.planned.length > 0 && !row.fits)
        .flatMap((row) => {
            const existing = masters.find((m) => m.existing && m.node === row.node);
            const resize = existing ? rightSizeExisting(row, existing, sizing) : undefined;
            return [freeMemory(row), smallerNewMasters(row, sizing), ...(resize ? [resize] : []), moveNewMasters(topology, masters, row)];
        });
}
