import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import {
    capacityPlan,
    nodeFacts,
    PhaseId,
    phasesUpTo,
    plannedNewMasters,
    Topology,
} from "../topology";
import type { ExternalConsumerOutput } from "../topology";
import { CapacityGate } from "./capacityGate";
import { ControlPlanePlacement } from "./controlPlanePlacement";
import { cutoverPhase, etcdMaintenancePhase, flagParityPhase, kuredGatePhase, upgradeChainPhase, verificationPhase } from "./clusterOps";
import { ControlPlaneJoin, Retrofit } from "./kubeadm";
import { addPoolMember, loadBalancerPhase } from "./loadBalancer";
import { MasterVm } from "./masterVm";
import { Phase } from "./phase";
import { StackSecrets } from "./stackConfig";
import type { StackContext } from "./stackContext";

// The phases import the context from its own module; the names stay exported here too.
export type { BeforeJoinStep, StackContext } from "./stackContext";

function newStackContext(topology: Topology, secrets: StackSecrets): StackContext {
    let provider: proxmoxve.Provider | undefined;
    return {
        topology,
        secrets,
        masterVms: new Map(),
        masterGates: new Map(),
        beforeJoin: [],
        proxmoxProvider() {
            provider ??= new proxmoxve.Provider("proxmox", {
                endpoint: topology.proxmox.endpoint,
                apiToken: secrets.proxmoxApiToken,
                insecure: topology.proxmox.insecure,
                // Snippet uploads go over SSH to the node.
                ssh: {
                    username: topology.proxmox.sshUser,
                    privateKey: secrets.sshPrivateKey,
                    nodes: topology.proxmox.nodes.map((n) => ({ name: n.name, address: n.address })),
                },
            });
            return provider;
        },
    };
}

/**
 * A master phase: for each new master of the phase, one at a time, the steps that bring it in.
 * Phase 2 first records where the control plane runs (facts for the spread policies) and checks
 * every Proxmox node the new masters land on (all of them, so a plan that cannot finish does not
 * start). Each master waits for the previous master's last step.
 */
function addNewMasters(ctx: StackContext, phase: Phase): void {
    const { topology } = ctx;
    let gates: CapacityGate[] = [];
    if (phase.id === "2") {
        new ControlPlanePlacement("control-plane-placement", { topology }, phase.childOptions());
        const allNew = topology.newMasters;
        gates = capacityPlan(topology, allNew)
            .filter((row) => row.planned.length > 0)
            .map((row) => {
                const node = topology.proxmox.nodes.find((n) => n.name === row.node)!;
                return new CapacityGate(
                    `capacity-${node.name}`,
                    {
                        node,
                        facts: nodeFacts(node),
                        planned: allNew.filter((m) => m.node === node.name).map((m) => ({ name: m.name, memoryGiB: m.memoryGiB, vmId: m.vmId })),
                        sshUser: topology.proxmox.sshUser,
                        sshPrivateKey: ctx.secrets.sshPrivateKey,
                    },
                    phase.childOptions(),
                );
            });
    }
    for (const placement of plannedNewMasters(topology).filter((p) => p.phase === phase.id)) {
        const previous = ctx.lastMasterStep;
        const vm = new MasterVm(
            placement.master.name,
            { topology, placement, provider: ctx.proxmoxProvider() },
            phase.childOptions([...gates, ...(previous ? [previous] : [])]),
        );
        ctx.masterVms.set(placement.master.name, vm);
        // The join waits for the retrofit, its VM and the previous master's gate (the phase
        // barrier already covers the LB phase); its gate is what the next master waits for.
        const join = new ControlPlaneJoin(
            placement.master.name,
            {
                topology,
                placement,
                sshPrivateKey: ctx.secrets.sshPrivateKey,
                beforeJoin: (ready) => ctx.beforeJoin.flatMap((step) => step(placement.master, phase, [vm, ready])),
            },
            phase.childOptions([...(ctx.retrofit ? [ctx.retrofit] : []), vm, ...(previous ? [previous] : [])]),
        );
        ctx.masterGates.set(placement.master.name, join.gate);
        ctx.lastMasterStep = join.gate;
        // Into the LB pool only once the gate passed; on rollback it leaves the pool first.
        addPoolMember(ctx, phase, placement.master, ctx.masterGates.get(placement.master.name) ?? vm);
    }
}

/**
 * What each phase registers. Phases whose work belongs to later issues are present and chained
 * but empty, so filling one in is a change to this table only.
 */
const PHASE_CONTENT: Record<PhaseId, (ctx: StackContext, phase: Phase) => void> = {
    "0": (ctx, phase) => {
        ctx.retrofit = new Retrofit("retrofit", { topology: ctx.topology, sshPrivateKey: ctx.secrets.sshPrivateKey }, phase.childOptions());
    },
    "1": loadBalancerPhase,
    "1.5": flagParityPhase,
    "2": addNewMasters,
    "3": addNewMasters,
    "4": cutoverPhase,
    "4.5": etcdMaintenancePhase,
    "5": kuredGatePhase,
    "6": verificationPhase,
    "7": upgradeChainPhase,
};

export interface StackOutputs {
    readonly targetPhase: PhaseId;
    readonly phases: string[];
    readonly vip: string;
    readonly controlPlaneEndpoint: string;
    readonly newMasters: Record<string, { ip: string; vmId: pulumi.Output<number | undefined> }>;
    /** From phase 4: what is left to point at the VIP by hand, with the URL to put in. */
    readonly externalConsumers?: ExternalConsumerOutput[];
}

/** Registers the phase chain up to the topology's target phase. */
export function defineStack(topology: Topology, secrets: StackSecrets): StackOutputs {
    const ctx = newStackContext(topology, secrets);
    let previous: Phase | undefined;
    for (const info of phasesUpTo(topology.targetPhase)) {
        const phase: Phase = new Phase(`phase-${info.id.replace(".", "-")}`, { id: info.id, title: info.title, previous });
        PHASE_CONTENT[info.id](ctx, phase);
        previous = phase;
    }
    return {
        targetPhase: topology.targetPhase,
        phases: phasesUpTo(topology.targetPhase).map((p) => p.id),
        vip: topology.cluster.vip,
        controlPlaneEndpoint: `${topology.cluster.vip}:${topology.cluster.apiserverPort}`,
        newMasters: Object.fromEntries(
            [...ctx.masterVms.entries()].map(([name, vm]) => [name, { ip: vm.ip, vmId: vm.vm.vmId }]),
        ),
        ...(ctx.externalConsumers ? { externalConsumers: ctx.externalConsumers } : {}),
    };
}
