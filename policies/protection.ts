/**
 * original-master-protected: the cluster's existing master is never a resource of this stack,
 * and nothing the stack runs can replace, delete or reset it. Its VMID and name are in no
 * resource the stack owns, so they come from the policy config (derived from masters[0]).
 */
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { COMPONENT_TYPES, readJoinFacts, readNodeArgs, readProtectArgs, readVmidArgs } from "@ha-control-plane/topology";
import { COMMAND_TYPES, componentFacts, known, knownString, ownerOf, unitsOf } from "./resources";

export interface ExistingMasterConfig {
    readonly vmId?: number;
    readonly name?: string;
}

const COMMAND_LINES = ["create", "update", "delete"] as const;

export const originalMasterProtected: StackValidationPolicy = {
    name: "original-master-protected",
    description:
        "No resource of the stack can replace or delete the existing master: no Proxmox resource owns its VMID, no " +
        "command acts on that VMID (except phase 0's snapshot of it), and every rollback that removes an etcd member " +
        "protects it and never targets it.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            vmId: { type: "integer", minimum: 100, description: "The existing master's Proxmox VMID (masters[0].vmId)." },
            name: { type: "string", description: "The existing master's node name (masters[0].name)." },
        },
        required: ["vmId", "name"],
    },
    validateStack: (args, reportViolation) => {
        const { vmId, name } = args.getConfig<ExistingMasterConfig>();
        if (vmId === undefined || name === undefined) {
            reportViolation("cannot protect the existing master: the policy config gives no vmId and name (pass --policy-pack-config policies/<stack>.json; npm run plan derives them from masters[0])");
            return;
        }
        for (const r of args.resources) {
            if (r.type.startsWith("proxmoxve:") && known(() => r.props.vmId) === vmId) {
                reportViolation(
                    `${r.name} (${r.type}) has VMID ${vmId}, the existing master ${name}'s: the stack would own that VM, and a replace or ` +
                        `a destroy would delete the cluster's only original control plane`,
                    r.urn,
                );
            }
            if (!COMMAND_TYPES.includes(r.type)) continue;
            // Phase 0 snapshots the master's VM before changing it; its delete removes only that snapshot.
            if (ownerOf(r, COMPONENT_TYPES.retrofit)) continue;
            for (const field of COMMAND_LINES) {
                const line = knownString(() => r.props[field]);
                if (line && readVmidArgs(line).includes(vmId)) {
                    reportViolation(`${r.name}'s ${field} command acts on VMID ${vmId}, the existing master ${name}: this stack must never touch that VM outside phase 0's snapshot`, r.urn);
                }
            }
        }
        const byUrn = new Map(args.resources.map((r) => [r.urn, r]));
        for (const { component, steps } of unitsOf(args.resources, COMPONENT_TYPES.controlPlaneJoin)) {
            for (const step of steps.filter((s) => COMMAND_TYPES.includes(s.type))) {
                const del = knownString(() => step.props.delete);
                if (del && readNodeArgs(del).includes(name)) {
                    reportViolation(`${step.name}'s delete (the rollback of ${component.name}) targets node ${name}, the existing master: a destroy would reset or remove it`, step.urn);
                }
            }
            const facts = readJoinFacts(componentFacts(component));
            const membership: PolicyResource | undefined = facts && byUrn.get(facts.membership);
            const removal = membership && knownString(() => membership.props.delete);
            if (membership && removal !== undefined && !readProtectArgs(removal).includes(name)) {
                reportViolation(
                    `${membership.name}'s delete removes an etcd member without protecting ${name} (--protect ${name}): the quorum guard would let a rollback take the original master out of etcd`,
                    membership.urn,
                );
            }
        }
    },
};
