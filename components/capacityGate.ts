import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { capacityTrigger, COMPONENT_TYPES, NodeCapacityFacts, PlannedVm, ProxmoxNode } from "../topology";
import { childOf } from "./childOptions";
import { rerunOnUpdate } from "./commandLifecycle";
import { scriptText } from "./scriptFile";
import type { ShippedCommand } from "./shipped";
import { sshConnection } from "./sshConnection";

/** The capacity check on a Proxmox node (see scripts/proxmox/capacity-check.sh). */
export function capacityCheckCommand(facts: NodeCapacityFacts, planned: readonly (PlannedVm & { readonly vmId: number })[]): ShippedCommand {
    const cmdArgs = [
        `--node ${facts.node}`,
        `--physical-gib ${facts.physicalGiB}`,
        `--committed-gib ${facts.committedGiB}`,
        `--reserve-gib ${facts.hostReserveGiB}`,
        `--planned ${planned.map((vm) => `${vm.vmId}:${vm.memoryGiB}`).join(",")}`,
    ].join(" ");
    return { create: `bash -s -- ${cmdArgs}`, stdin: scriptText("proxmox/capacity-check.sh") };
}

export interface CapacityGateArgs {
    readonly node: ProxmoxNode;
    readonly facts: NodeCapacityFacts;
    /** The VMs this stack creates on the node, with their VMIDs. */
    readonly planned: readonly (PlannedVm & { readonly vmId: number })[];
    readonly sshUser: string;
    readonly sshPrivateKey: pulumi.Output<string>;
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
        super(COMPONENT_TYPES.capacityGate, name, {}, opts);
        const step = capacityCheckCommand(args.facts, args.planned);
        this.check = new command.remote.Command(
            `${name}-check`,
            {
                connection: sshConnection(args.node.address, args.sshUser, args.sshPrivateKey),
                // A check: an update re-runs it; new figures replace it (triggers).
                ...rerunOnUpdate(step),
                triggers: [capacityTrigger(args.facts)],
                logging: command.types.enums.remote.Logging.StdoutAndStderr,
            },
            childOf(this, opts),
        );
        this.registerOutputs({ result: this.check.stdout });
    }
}
