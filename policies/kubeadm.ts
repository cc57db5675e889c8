/**
 * How masters join: never through cloud-init (masters-do-not-join-as-workers), always with the
 * control-plane taint (control-plane-taint).
 */
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { checkJoinTaints, COMPONENT_TYPES, findKubeadmJoin, readJoinFacts, readTaintArgs } from "@ha-control-plane/topology";
import { componentFacts, FILE_TYPE, knownString, plannedVms, unitsOf } from "./resources";

/** The snippets a VM's cloud-init settings point at (user-data, vendor-data), through its property dependencies. */
function userDataFiles(vm: PolicyResource): PolicyResource[] {
    return (vm.propertyDependencies.initialization ?? []).filter((d) => d.type === FILE_TYPE);
}

export const mastersDoNotJoinAsWorkers: StackValidationPolicy = {
    name: "masters-do-not-join-as-workers",
    description:
        "No master's cloud-init user-data runs `kubeadm join`: the program joins masters as control-plane members, one " +
        "at a time, with fresh join material; a join in cloud-init would make the VM a worker (the template's worker " +
        "join command) or an unordered extra member.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        for (const vm of plannedVms(args.resources).filter((v) => v.member !== undefined)) {
            for (const file of userDataFiles(vm.resource)) {
                const data = knownString(() => (file.props.sourceRaw as { data?: unknown } | undefined)?.data);
                if (data === undefined) continue;
                const where = findKubeadmJoin(data);
                if (where) {
                    const fileName = knownString(() => (file.props.sourceRaw as { fileName?: unknown } | undefined)?.fileName) ?? file.name;
                    reportViolation(
                        `master ${vm.name}'s user-data (${fileName}) runs kubeadm join in ${where}: it would join on first boot, outside the ` +
                            `one-at-a-time control-plane join (and as a worker with the template's join command). Remove it; the program joins the master.`,
                        vm.resource.urn,
                    );
                }
            }
        }
    },
};

export const controlPlaneTaint: StackValidationPolicy = {
    name: "control-plane-taint",
    description:
        "Every master joins with the node-role.kubernetes.io/control-plane:NoSchedule taint, so ordinary workloads stay " +
        "off the control plane (etcd and the apiserver keep their memory and CPU).",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const byUrn = new Map(args.resources.map((r) => [r.urn, r]));
        for (const { component } of unitsOf(args.resources, COMPONENT_TYPES.controlPlaneJoin)) {
            const facts = readJoinFacts(componentFacts(component));
            const join = facts && byUrn.get(facts.join);
            if (!facts || !join) {
                reportViolation(`control-plane join ${component.name} does not register its join step (topology/facts.ts joinFacts): its taints cannot be checked`, component.urn);
                continue;
            }
            const create = knownString(() => join.props.create);
            if (create === undefined) continue;
            const problem = checkJoinTaints(readTaintArgs(create));
            if (problem) reportViolation(`${facts.node}'s join: ${problem}`, join.urn);
        }
    },
};
