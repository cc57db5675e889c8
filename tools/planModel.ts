/**
 * The offline plan: load a stack's config, validate it, run the program under the recording
 * monitor, apply the pack's policies, and describe the result per phase. No CLI, no credentials,
 * no network.
 */
import { existsSync, readFileSync } from "fs";
import * as path from "path";
import { policies as packPolicies } from "../policies/pack";
import { SPREAD_POLICY_BY_CASE } from "../policies/spread";
import { policyConfigDrift, policyConfigFromTopology } from "../policies/topologyConfig";
import { defineStack } from "../components/stack";
import { readStackConfig } from "../components/stackConfig";
import {
    capacityPlan,
    CapacityRow,
    COMPONENT_TYPES,
    describeCapacity,
    FailureDomain,
    failureDomains,
    judgeSpread,
    loadTopology,
    MasterSpec,
    PhaseId,
    phaseInfo,
    phasesUpTo,
    plannedNewMasters,
    quorumPlan,
    QuorumPlanStep,
    SizingBasis,
    sizingBasis,
    spreadInputOf,
    Topology,
    unblockOptions,
    UnblockOption,
} from "@ha-control-plane/topology";
import { recordProgram, RecordedResource, RecordedValue } from "./recorder";
import { PolicyConfig, PolicyConfigError, resolvePolicyConfig, runPolicies, unknownPolicyNames, Violation } from "./policyRunner";
import { loadStackConfig } from "./stackFile";
import { readProjectFile } from "../components/projectFiles";

export const PHASE_TYPE = COMPONENT_TYPES.phase;
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

/** What the spread rule says about a placement, and which pack entry says it (at its level). */
export interface SpreadVerdict {
    readonly policy: string;
    readonly enforcementLevel: string;
    readonly message: string;
}

/** An unblock option for the capacity of one view of the plan (the target phase or the outlook). */
export type PlannedUnblock = UnblockOption & { readonly throughPhase: PhaseId };

/** A verdict with the phase of the resource it names; none for a stack-wide one. */
export interface PlannedViolation extends Violation {
    readonly phase?: PhaseId;
}

export interface PlanResult {
    readonly stack: string;
    readonly targetPhase: PhaseId;
    readonly kubernetesVersion: string;
    readonly phases: readonly PlannedPhase[];
    readonly capacity: readonly CapacityEntry[];
    readonly quorum: readonly QuorumPlanStep[];
    /** Per Proxmox node at the target phase: its etcd members, who is left if it fails, quorum kept or not. */
    readonly failureDomains: readonly FailureDomain[];
    readonly violations: readonly PlannedViolation[];
    /** Where the policy config came from (a file, or the stack's topology alone). */
    readonly policyConfigSource: string;
    /** The policies applied (the whole pack). */
    readonly policyNames: readonly string[];
    /** Capacity once every master phase has run, at today's figures (the go/no-go outlook). */
    readonly outlook:
        | {
              readonly throughPhase: PhaseId;
              readonly capacity: readonly CapacityEntry[];
              readonly failureDomains: readonly FailureDomain[];
              /** What the spread rule would say once every master joined (none: nothing to say). */
              readonly spread: SpreadVerdict | null;
          }
        | undefined;
    /** For each node that cannot take its new masters (target phase, then outlook): the ways out. */
    readonly unblock: readonly PlannedUnblock[];
    readonly notes: readonly string[];
    readonly blocked: boolean;
}

export interface PlanOptions {
    readonly stack?: string;
    readonly configFile?: string;
    readonly targetPhase?: string;
    /** A policy config file (as for pulumi --policy-pack-config); default policies/<stack>.json when it exists. */
    readonly policyConfigFile?: string;
    /** Applied last, over the file (tests). */
    readonly policyConfig?: PolicyConfig;
    readonly projectDir?: string;
}

/** Reads a policy config file as the CLI does: a JSON object of policy name to level or settings. */
export function readPolicyConfigFile(file: string): PolicyConfig {
    if (!existsSync(file)) throw new PolicyConfigError(`policy config file not found: ${file}`);
    let doc: unknown;
    try {
        doc = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
        throw new PolicyConfigError(`policy config file ${file} is not JSON: ${(err as Error).message}`);
    }
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new PolicyConfigError(`policy config file ${file} must hold a JSON object`);
    const config: PolicyConfig = {};
    for (const [name, value] of Object.entries(doc as Record<string, unknown>)) {
        if (typeof value === "string") config[name] = { enforcementLevel: value as PolicyConfig[string]["enforcementLevel"] };
        else if (value && typeof value === "object" && !Array.isArray(value)) config[name] = { ...(value as Record<string, unknown>) };
        else throw new PolicyConfigError(`policy config file ${file}: ${name} must be an enforcement level or an object`);
    }
    return config;
}

/** Layers of policy config, later ones winning key by key within each policy. */
function mergePolicyConfig(...layers: (PolicyConfig | undefined)[]): PolicyConfig {
    const out: PolicyConfig = {};
    for (const layer of layers) {
        for (const [name, entry] of Object.entries(layer ?? {})) out[name] = { ...(out[name] ?? {}), ...entry };
    }
    return out;
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

function spreadVerdict(topology: Topology, masters: readonly MasterSpec[], levels: Map<string, { level: string }>): SpreadVerdict | null {
    const finding = judgeSpread(spreadInputOf(topology, masters));
    if (!finding) return null;
    const policy = SPREAD_POLICY_BY_CASE[finding.case].name;
    return { policy, enforcementLevel: levels.get(policy)?.level ?? "advisory", message: finding.message };
}

/** Unblock options for the nodes blocked among `masters`, each tagged with the phase it is for. */
function unblockFor(topology: Topology, masters: readonly MasterSpec[], sizing: SizingBasis, throughPhase: PhaseId): PlannedUnblock[] {
    return unblockOptions(topology, masters, sizing).map((o) => ({ ...o, throughPhase }));
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
    const topology = loadTopology(stackConfig.raw, { project: stackConfig.project, stack: stackConfig.stack, readProjectFile });
    // The CLI reads only the file; the plan also fills in what the topology implies, so a stack
    // without a policies/<stack>.json (a --config-file variant) is checked all the same.
    const projectDir = options.projectDir ?? PROJECT_DIR;
    const defaultFile = path.join(projectDir, "policies", `${stackConfig.stack}.json`);
    const file = options.policyConfigFile ?? (existsSync(defaultFile) ? defaultFile : undefined);
    const fileConfig = file ? readPolicyConfigFile(file) : undefined;
    const derived = policyConfigFromTopology(topology);
    const notes = [...stackConfig.notes];
    // A file inside the project by its project path (policies/lab.json), any other by its full path.
    const shownFile = file && (path.relative(projectDir, file).startsWith("..") ? path.resolve(file) : path.relative(projectDir, file));
    if (shownFile && fileConfig) {
        for (const drift of policyConfigDrift(derived, fileConfig)) {
            notes.push(`${shownFile}: ${drift}; pulumi preview with this file would use the file's value, and so does this plan`);
        }
        for (const name of unknownPolicyNames(packPolicies, fileConfig)) notes.push(`${shownFile}: ${name} is no policy of the pack (ignored)`);
    }
    const policyConfig = mergePolicyConfig(derived, fileConfig, options.policyConfig);
    // A bad policy config is refused before the program runs (exit 2), as the CLI refuses it.
    const resolved = resolvePolicyConfig(packPolicies, policyConfig);
    // The unblock options right-size with the sizing policy's own figures.
    // resolvePolicyConfig has refused a config without the (required) working set.
    const sizing = sizingBasis(resolved.get("control-plane-sizing")!.properties as Partial<SizingBasis> & Pick<SizingBasis, "observedWorkingSetGiB">);
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
    const violations = await runPolicies(packPolicies, recording.resources, policyConfig);
    const phases = groupByPhase(topology, recording.resources);
    const phaseOfUrn = new Map<string, PhaseId>();
    for (const phase of phases) for (const r of phase.resources) phaseOfUrn.set(r.urn, phase.id);
    const masters = [topology.existingMaster, ...plannedNewMasters(topology).map((p) => p.master)];
    const lastMasterPhase = plannedNewMasters(topology, "7").at(-1)?.phase;
    const outlookNeeded = lastMasterPhase !== undefined && plannedNewMasters(topology).length < topology.newMasters.length;
    const unblock = [
        ...unblockFor(topology, masters, sizing, topology.targetPhase),
        ...(outlookNeeded ? unblockFor(topology, topology.masters, sizing, lastMasterPhase) : []),
    ];
    return {
        stack: stackConfig.stack,
        targetPhase: topology.targetPhase,
        kubernetesVersion: topology.kubernetesVersion,
        phases,
        capacity: capacityEntries(capacityPlan(topology, masters)),
        quorum: quorumPlan(topology),
        failureDomains: failureDomains(topology.proxmox.nodes.map((n) => n.name), masters),
        violations: violations.map((v) => {
            const phase = v.urn ? phaseOfUrn.get(v.urn) : undefined;
            return phase ? { ...v, phase } : v;
        }),
        policyNames: packPolicies.map((p) => p.name),
        policyConfigSource: shownFile || "derived from the stack's topology (no policy config file)",
        outlook: outlookNeeded
            ? {
                  throughPhase: lastMasterPhase,
                  capacity: capacityEntries(capacityPlan(topology, topology.masters)),
                  failureDomains: failureDomains(topology.proxmox.nodes.map((n) => n.name), topology.masters),
                  spread: spreadVerdict(topology, topology.masters, resolved),
              }
            : undefined,
        unblock,
        notes,
        blocked: violations.some((v) => v.enforcementLevel === "mandatory"),
    };
}

export { phaseInfo };
