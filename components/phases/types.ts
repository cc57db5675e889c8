/**
 * What a phase builder gets and gives. The orchestrator (components/stack.ts) runs the builders
 * of components/phases/registry.ts in table order; each receives a read-only view of what the
 * phases before it returned and returns only its own results, which the orchestrator merges for
 * the next phase (mergeResults). No builder writes into another phase's state.
 */
import type * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ExternalConsumerOutput, MasterSpec, Topology } from "@ha-control-plane/topology";
import type { ApiserverLoadBalancer } from "../loadBalancer/apiserverLoadBalancer";
import type { MasterVm } from "../masterVm";
import type { Phase } from "../phase";
import type { StackSecrets } from "../stackConfig";

/**
 * A step a new master needs after its VM is up and before its join, handed in by an earlier
 * phase (1.5's audit policy copy: with audit flags in the ClusterConfiguration, a joining
 * apiserver does not start without the file). Called with the master, the master's phase and
 * what the step must wait for; the join waits for what it returns.
 */
export type BeforeJoinStep = (master: MasterSpec, phase: Phase, dependsOn: readonly pulumi.Resource[]) => pulumi.Resource[];

/** A new master brought in by phase 2 or 3. */
export interface NewMasterResult {
    readonly name: string;
    readonly vm: MasterVm;
    /** Its post-join gate: its pool entry and the next master wait for it. */
    readonly gate: pulumi.Resource;
}

/** What phases hand to later phases (and to the stack outputs). Each field names its phase. */
export interface PhaseResults {
    /** Phase 0: the retrofit of the existing master; every join waits for it. */
    readonly retrofit?: pulumi.Resource;
    /** Phase 1: the apiserver load balancer. */
    readonly loadBalancer?: ApiserverLoadBalancer;
    /** Phase 1.5: steps every later master runs before its join (merged: earlier ones first). */
    readonly beforeJoin?: readonly BeforeJoinStep[];
    /** Phases 2 and 3: the new masters in join order (merged: earlier phases' first). */
    readonly newMasters?: readonly NewMasterResult[];
    /** Phase 4: kubeconfigs and CI files outside the stack, still to be flipped by hand. */
    readonly externalConsumers?: readonly ExternalConsumerOutput[];
}

/** The lists phases add to rather than replace. */
const APPENDED = ["beforeJoin", "newMasters"] as const;

/** The view the next phase gets: `own` over `earlier`, the lists appended. */
export function mergeResults(earlier: PhaseResults, own: PhaseResults): PhaseResults {
    const merged: Record<string, unknown> = { ...earlier, ...own };
    for (const key of APPENDED) {
        if (earlier[key] && own[key]) merged[key] = [...earlier[key], ...own[key]];
    }
    return merged as PhaseResults;
}

export interface PhaseInput {
    readonly topology: Topology;
    readonly secrets: StackSecrets;
    /** This phase's component: every resource of the phase is its child (phase.childOptions). */
    readonly phase: Phase;
    /** What the phases before this one returned, merged. */
    readonly earlier: PhaseResults;
    /** The stack's Proxmox provider, created on first use (phases without VMs register none). */
    proxmoxProvider(): proxmoxve.Provider;
    /** The stack's Kubernetes provider, created on first use (phases 4.5 to 7). */
    kubernetesProvider(): k8s.Provider;
}

export type PhaseBuilder = (input: PhaseInput) => PhaseResults;
