import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { capacityTrigger, COMPONENT_TYPES, NodeCapacityFacts, PlannedVm, ProxmoxNode } from "../topology";
import { childOf } from "./childOptions";
import { rerunOnUpdate } from "./commandLifecycle";
import { scriptText } from "./scriptFile";
import { sshConnection } from "./sshConnection";

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
        const planned = args.planned.map((vm) => `${vm.vmId}:${vm.memoryGiB}`).join(",");
        const cmdArgs = [
            `--node ${args.facts.node}`,
            `--physical-gib ${args.facts.physicalGiB}`,
            `--committed-gib ${args.facts.committedGiB}`,
            `--reserve-gib ${args.facts.hostReserveGiB}`,
            `--planned ${planned}`,
        ].join(" ");
        this.check = new command.remote.Command(
            `${name}-check`,
            {
                connection: sshConnection(args.node.address, args.sshUser, args.sshPrivateKey),
                create: `bash -s -- ${cmdArgs}`,
                // A check: an update re-runs it; new figures replace it (triggers).
                ...rerunOnUpdate(`bash -s -- ${cmdArgs}`),
                stdin: scriptText("proxmox/capacity-check.sh"),
                triggers: [capacityTrigger(args.facts)],
                logging: command.types.enums.remote.Logging.StdoutAndStderr,
            },
            childOf(this, opts),
        );
        this.registerOutputs({ result: this.check.stdout });
    }
}
