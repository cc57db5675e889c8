/**
 * The offline plan: load a stack's config, validate it, run the program under the recording
 * monitor, apply the pack's policies, and describe the result per phase. No CLI, no credentials,
 * no network.
 */
import * as path from "path";
import { policies as packPolicies } from "../policies/pack";
import { defineStack } from "../components/stack";
import { readStackConfig } from "../components/stackConfig";
import {
    capacityPlan,
    CapacityRow,
    describeCapacity,
    loadTopology,
    PhaseId,
    phaseInfo,
    phasesUpTo,
    plannedNewMasters,
    quorumPlan,
    QuorumPlanStep,
    Topology,
} from "../topology";
import { recordProgram, RecordedResource, RecordedValue } from "./recorder";
import { PolicyConfig, runPolicies, Violation } from "./policyRunner";
import { loadStackConfig } from "./stackFile";

export const PHASE_TYPE = "ha-control-plane:index:Phase";
export const PROJECT_DIR = path.resolve(__dirname, "..");

export interface PlannedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly parent?: string;
    readonly dependencies: readonly string[];
    readonly inputs: Readonly<Record<string, RecordedValue>>;
}

export interface PlannedPhase {
    readonly id: PhaseId;
    readonly title: string;
    readonly resources: readonly PlannedResource[];
}

export interface CapacityEntry {
    readonly node: string;
    readonly physicalGiB: number;
    readonly committedGiB: number;
    readonly hostReserveGiB: number;
    readonly plannedGiB: number;
    readonly headroomGiB: number;
    readonly fits: boolean;
    readonly verdict: string;
}

export interface PlanResult {
    readonly stack: string;
    readonly targetPhase: PhaseId;
    readonly kubernetesVersion: string;
    readonly phases: readonly PlannedPhase[];
    readonly capacity: readonly CapacityEntry[];
    readonly quorum: readonly QuorumPlanStep[];
    readonly violations: readonly Violation[];
    /** Capacity once every master phase has run, at today's figures (the go/no-go outlook). */
    readonly outlook: { readonly throughPhase: PhaseId; readonly capacity: readonly CapacityEntry[] } | undefined;
    readonly notes: readonly string[];
    readonly blocked: boolean;
}

export interface PlanOptions {
    readonly stack?: string;
    readonly configFile?: string;
    readonly targetPhase?: string;
    readonly policyConfig?: PolicyConfig;
    readonly projectDir?: string;
}

function capacityEntries(rows: readonly CapacityRow[]): CapacityEntry[] {
    return rows.map((row) => ({
        node: row.node,
        physicalGiB: row.physicalGiB,
        committedGiB: row.committedGiB,
        hostReserveGiB: row.hostReserveGiB,
        plannedGiB: row.plannedGiB,
        headroomGiB: row.headroomGiB,
        fits: row.fits,
        verdict: describeCapacity(row),
    }));
}

/** The phase a resource belongs to: its nearest Phase ancestor. */
function phaseOf(resource: RecordedResource, byUrn: Map<string, RecordedResource>): string | undefined {
    let current: RecordedResource | undefined = resource;
    while (current) {
        if (current.type === PHASE_TYPE) return current.urn;
        current = current.parent ? byUrn.get(current.parent) : undefined;
    }
    return undefined;
}

export function groupByPhase(topology: Topology, resources: readonly RecordedResource[]): PlannedPhase[] {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const phaseUrns = new Map<string, PhaseId>();
    const phaseResources = new Map<PhaseId, RecordedResource[]>();
    for (const info of phasesUpTo(topology.targetPhase)) phaseResources.set(info.id, []);
    for (const r of resources) {
        if (r.type === PHASE_TYPE) {
            const id = phasesUpTo(topology.targetPhase).find((p) => r.name === `phase-${p.id.replace(".", "-")}`)?.id;
            if (id) phaseUrns.set(r.urn, id);
        }
    }
    // Providers belong to the first phase that uses them.
    const providerPhase = new Map<string, PhaseId>();
    for (const r of resources) {
        const phaseUrn = phaseOf(r, byUrn);
        const id = phaseUrn ? phaseUrns.get(phaseUrn) : undefined;
        if (!id) continue;
        phaseResources.get(id)!.push(r);
        if (r.provider && !providerPhase.has(r.provider)) providerPhase.set(r.provider, id);
    }
    for (const r of resources) {
        const id = providerPhase.get(r.urn);
        if (id) phaseResources.get(id)!.unshift(r);
    }
    return phasesUpTo(topology.targetPhase).map((info) => ({
        id: info.id,
        title: info.title,
        resources: phaseResources.get(info.id)!.map((r) => ({
            urn: r.urn,
            type: r.type,
            name: r.name,
            ...(r.parent ? { parent: r.parent } : {}),
            dependencies: r.dependencies,
            inputs: r.inputs,
        })),
    }));
}

export async function computePlan(options: PlanOptions = {}): Promise<PlanResult> {
    const stackConfig = loadStackConfig({
        projectDir: options.projectDir ?? PROJECT_DIR,
        ...(options.stack ? { stack: options.stack } : {}),
        ...(options.configFile ? { configFile: options.configFile } : {}),
        ...(options.targetPhase !== undefined ? { targetPhase: options.targetPhase } : {}),
    });
    // Throws ConfigError (exit 2) before anything is registered.
    const topology = loadTopology(stackConfig.raw, { project: stackConfig.project, stack: stackConfig.stack });
    const recording = await recordProgram({
        project: stackConfig.project,
        stack: stackConfig.stack,
        config: stackConfig.config,
        secretKeys: stackConfig.secretKeys,
        program: () => {
            const { topology: t, secrets } = readStackConfig();
            return defineStack(t, secrets);
        },
    });
    const violations = await runPolicies(packPolicies, recording.resources, options.policyConfig);
    const masters = [topology.existingMaster, ...plannedNewMasters(topology).map((p) => p.master)];
    const lastMasterPhase = plannedNewMasters(topology, "7").at(-1)?.phase;
    const outlookNeeded = lastMasterPhase !== undefined && plannedNewMasters(topology).length < topology.newMasters.length;
    return {
        stack: stackConfig.stack,
        targetPhase: topology.targetPhase,
        kubernetesVersion: topology.kubernetesVersion,
        phases: groupByPhase(topology, recording.resources),
        capacity: capacityEntries(capacityPlan(topology, masters)),
        quorum: quorumPlan(topology),
        violations,
        outlook: outlookNeeded
            ? { throughPhase: lastMasterPhase, capacity: capacityEntries(capacityPlan(topology, topology.masters)) }
            : undefined,
        notes: stackConfig.notes,
        blocked: violations.some((v) => v.enforcementLevel === "mandatory"),
    };
}

export { phaseInfo };
