import type { AssertNone, PhaseId } from "./types";

/**
 * The phase table. Ids follow the seed plan so an operator can read the plan and the stack side
 * by side; order is the table's order, and each phase depends on the one before it.
 */
export const PHASES = [
    { id: "0", title: "Retrofit the existing master: controlPlaneEndpoint and certificate SANs" },
    { id: "1", title: "Apiserver VIP on the load balancer, HTTPS /readyz checks, DNS record" },
    { id: "1.5", title: "Control-plane flag parity (OIDC, audit policy, etcd tuning)" },
    { id: "2", title: "Second master: VM from the cloud-init template, join, gate, into the pool" },
    { id: "3", title: "Further masters, one at a time" },
    { id: "4", title: "Cut-over: kube-proxy and every kubelet to the VIP, one node at a time" },
    { id: "4.5", title: "etcd backup and defrag jobs schedulable on any control-plane node" },
    { id: "5", title: "kured reboot gate requires a control-plane quorum" },
    { id: "6", title: "End-to-end verification gates" },
    { id: "7", title: "Upgrade chain walks every master, one at a time, with quorum gates" },
] as const satisfies readonly { readonly id: PhaseId; readonly title: string }[];

/** Compiles only while the table has a row for every PhaseId (the error names the one missing). */
export type EveryPhaseHasARow = AssertNone<Exclude<PhaseId, (typeof PHASES)[number]["id"]>>;
export type PhaseInfo = (typeof PHASES)[number];

export const PHASE_IDS: readonly PhaseId[] = PHASES.map((p) => p.id);

export function isPhaseId(value: string): value is PhaseId {
    return (PHASE_IDS as readonly string[]).includes(value);
}

/** Position of a phase in the table; the single source of "comes before". */
export function phaseIndex(id: PhaseId): number {
    return PHASE_IDS.indexOf(id);
}

/** The phases a stack at `target` registers, in order. */
export function phasesUpTo(target: PhaseId): readonly PhaseInfo[] {
    return PHASES.slice(0, phaseIndex(target) + 1);
}

export function phaseInfo(id: PhaseId): PhaseInfo {
    return PHASES[phaseIndex(id)];
}

/**
 * Which phase brings the k-th new master (0-based). The second master is phase 2's; every
 * further master belongs to phase 3, joined one at a time, as the seed plan's phase 3 says
 * "same pattern as phase 2".
 */
export function phaseOfNewMaster(newMasterIndex: number): PhaseId {
    return newMasterIndex === 0 ? "2" : "3";
}
