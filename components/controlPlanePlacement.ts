import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, nodeFacts, placementFacts, Topology } from "../topology";

export interface ControlPlanePlacementArgs {
    readonly topology: Topology;
}

/**
 * Where the control plane runs, as facts for the control-plane-spread policies: every Proxmox
 * node with its capacity figures, and the node of the existing master (no VM of the stack
 * describes it). It creates nothing; a changed figure changes only its outputs.
 */
export class ControlPlanePlacement extends pulumi.ComponentResource {
    constructor(name: string, args: ControlPlanePlacementArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.controlPlanePlacement, name, {}, opts);
        const { proxmox, existingMaster } = args.topology;
        this.registerOutputs({
            facts: placementFacts({
                nodes: proxmox.nodes.map(nodeFacts),
                existingMaster: { name: existingMaster.name, node: existingMaster.node, memoryGiB: existingMaster.memoryGiB },
            }),
        });
    }
}
