import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { capacityTrigger, COMPONENT_TYPES, NodeCapacityFacts, PlannedVm, ProxmoxNode } from "@ha-control-plane/topology";
import { childOf } from "./childOptions";
import { RemoteStep, shipStep, StepSpec } from "./remoteStep";
import type { ShippedCommand } from "./shipped";

type PlannedOnNode = readonly (PlannedVm & { readonly vmId: number })[];

/** The capacity check on a Proxmox node (see scripts/proxmox/capacity-check.sh), as the SSH user. */
export function capacityCheckStep(facts: NodeCapacityFacts, planned: PlannedOnNode): StepSpec {
    return {
        script: "proxmox/capacity-check.sh",
        args: capacityCheckArgs(facts, planned.map((vm) => `${vm.vmId}:${vm.memoryGiB}`).join(",")),
        runAs: "user",
    };
}

/**
 * What CapacityGate ships (the script tests run exactly this). It runs as the SSH user, without
 * sudo, so the command line is the same whoever that is.
 */
export function capacityCheckCommand(facts: NodeCapacityFacts, planned: PlannedOnNode): ShippedCommand {
    return shipStep("", capacityCheckStep(facts, planned));
}

export interface CapacityGateArgs {
    /** The Proxmox node checked: its name and the address SSH dials. */
    readonly node: Pick<ProxmoxNode, "name" | "address">;
    /** The node's memory figures from the config (physical, committed today, host reserve). */
    readonly facts: NodeCapacityFacts;
    /** The VMs this stack creates on the node, with their VMIDs. */
    readonly planned: PlannedOnNode;
    /** The SSH user on the Proxmox nodes (the check runs without sudo). */
    readonly sshUser: string;
    /** A Pulumi secret, never shown. */
    readonly sshPrivateKey: pulumi.Output<string>;
}

/** capacity-check.sh's arguments for a node's facts and the VMs planned on it ("vmid:GiB,..."). */
export function capacityCheckArgs(facts: NodeCapacityFacts, planned: string): string[] {
    return [
        "--node", facts.node,
        "--physical-gib", String(facts.physicalGiB),
        "--committed-gib", String(facts.committedGiB),
        "--reserve-gib", String(facts.hostReserveGiB),
        "--planned", planned,
    ];
}

/**
 * Before any VM is cloned onto a Proxmox node, checks the node's live memory against the stack's
 * figures: refuses when the config's committedMemoryGiB is stale, or when committed + planned
 * exceeds physical - reserve. The facts ride in `triggers`, where the ram-headroom policy reads
 * them, and a change of figures re-runs the check.
 */
export class CapacityGate extends pulumi.ComponentResource {
    readonly check: command.remote.Command;

    constructor(name: string, args: CapacityGateArgs, opts?: pulumi.ComponentResourceOptions) {
        const { node, facts, planned } = args;
        super(
            COMPONENT_TYPES.capacityGate,
            name,
            {
                proxmoxNode: `${node.name} ${node.address}`,
                physicalGiB: facts.physicalGiB,
                committedGiB: facts.committedGiB,
                hostReserveGiB: facts.hostReserveGiB,
                planned: planned.map((vm) => `${vm.name} VMID ${vm.vmId} ${vm.memoryGiB} GiB`),
            },
            opts,
        );
        this.check = new RemoteStep(
            `${name}-check`,
            {
                host: { name: args.node.name, address: args.node.address },
                user: args.sshUser,
                privateKey: args.sshPrivateKey,
                ...capacityCheckStep(args.facts, args.planned),
                // A check: an update re-runs it; new figures replace it (triggers).
                triggers: [capacityTrigger(args.facts)],
                formerParent: this,
            },
            childOf(this, opts),
        ).command;
        this.registerOutputs({ result: this.check.stdout });
    }
}
