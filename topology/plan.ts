/**
 * What a stack at a given target phase plans: which new masters, in which phase, as which etcd
 * member; and the quorum after each step. Used by the program, the plan and the policies' specs.
 */
import { phaseIndex, phaseOfNewMaster } from "./phases";
import { quorumStep, QuorumStep } from "./quorum";
import type { NewMasterPlacement, PhaseId, Topology } from "./types";

export function newMasterPlacements(topology: Topology): NewMasterPlacement[] {
    return topology.newMasters.map((master, i) => ({
        master,
        phase: phaseOfNewMaster(i),
        member: i + 2,
        of: topology.masters.length,
    }));
}

export function isRegisteredAt(phase: PhaseId, target: PhaseId): boolean {
    return phaseIndex(phase) <= phaseIndex(target);
}

/** New masters a stack at `target` creates. */
export function plannedNewMasters(topology: Topology, target: PhaseId = topology.targetPhase): NewMasterPlacement[] {
    return newMasterPlacements(topology).filter((p) => isRegisteredAt(p.phase, target));
}

export interface QuorumPlanStep extends QuorumStep {
    readonly master: string;
}

/** etcd membership after phase 0 (the existing master alone) and after each join up to `target`. */
export function quorumPlan(topology: Topology, target: PhaseId = topology.targetPhase): QuorumPlanStep[] {
    return [
        { ...quorumStep("0", 1), master: topology.existingMaster.name },
        ...plannedNewMasters(topology, target).map((p) => ({ ...quorumStep(p.phase, p.member), master: p.master.name })),
    ];
}
