/**
 * The context the phase builders share, in a module of its own: stack.ts builds it and calls the
 * phases, the phases take it as a parameter; with the type here neither imports the other back.
 */
import type * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import type * as pulumi from "@pulumi/pulumi";
import type { ExternalConsumerOutput, MasterSpec, Topology } from "../topology";
import type { MasterVm } from "./masterVm";
import type { Phase } from "./phase";
import type { StackSecrets } from "./stackConfig";

/** What the phases build on: the validated topology, the secrets and shared providers. */
export interface StackContext {
    readonly topology: Topology;
    readonly secrets: StackSecrets;
    /** Created on first use, so phases without Proxmox resources register no provider. */
    proxmoxProvider(): proxmoxve.Provider;
    readonly masterVms: Map<string, MasterVm>;
    /** The last step of the most recent master; the next master starts after it. */
    lastMasterStep?: pulumi.Resource;
    /** Phase 0's retrofit of the existing master; every join waits for it. */
    retrofit?: pulumi.Resource;
    /** Each new master's post-join gate, by master name; its LB pool entry waits for it. */
    readonly masterGates: Map<string, pulumi.Resource>;
    /**
     * Steps a new master needs after its VM is up and before its join: call each with the master,
     * its phase and the VM, and make the join wait for what they return. Phase 1.5 adds the audit
     * policy copy (with audit flags in the ClusterConfiguration, a joining apiserver does not
     * start without the file).
     */
    readonly beforeJoin: BeforeJoinStep[];
    /** Set by phase 4: kubeconfigs and CI files outside the stack, still to be flipped by hand. */
    externalConsumers?: ExternalConsumerOutput[];
}

export type BeforeJoinStep = (master: MasterSpec, phase: Phase, dependsOn: readonly pulumi.Resource[]) => pulumi.Resource[];
