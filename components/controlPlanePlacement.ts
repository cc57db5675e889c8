import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, MasterSpec, nodeFacts, placementFacts, ProxmoxNode } from "@ha-control-plane/topology";

export interface ControlPlanePlacementArgs {
    /** Every Proxmox node of the config, with its memory figures. */
    readonly nodes: readonly ProxmoxNode[];
    /** The master the cluster already has: where it runs and its memory. */
    readonly existingMaster: Pick<MasterSpec, "name" | "node" | "memoryGiB">;
}

/**
 * Where the control plane runs, as facts for the control-plane-spread policies: every Proxmox
 * node with its capacity figures, and the node of the existing master (no VM of the stack
 * describes it). It creates nothing; a changed figure changes only its outputs.
 */
export class ControlPlanePlacement extends pulumi.ComponentResource {
    constructor(name: string, args: ControlPlanePlacementArgs, opts?: pulumi.ComponentResourceOptions) {
        const { nodes, existingMaster } = args;
        super(
            COMPONENT_TYPES.controlPlanePlacement,
            name,
            { proxmoxNodes: nodes.map((n) => n.name), existingMaster: `${existingMaster.name} on ${existingMaster.node}` },
            opts,
        );
        this.registerOutputs({
            facts: placementFacts({
                nodes: nodes.map(nodeFacts),
                existingMaster: { name: existingMaster.name, node: existingMaster.node, memoryGiB: existingMaster.memoryGiB },
            }),
        });
    }
}
