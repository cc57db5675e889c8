import { StackValidationPolicy } from "@pulumi/policy";
import { checkFinalControlPlane, faultTolerance, isFragileTransition, quorumOf } from "@ha-control-plane/topology";
import { plannedVms } from "./resources";

function masters(resources: Parameters<StackValidationPolicy["validateStack"]>[0]["resources"]) {
    return plannedVms(resources)
        .filter((vm) => vm.member !== undefined)
        .sort((a, b) => a.member!.member - b.member!.member);
}

/**
 * The planned control plane must keep quorum through one failure: an odd number of etcd members,
 * at least three. Read from the new masters' VMs, which carry their member position and the
 * planned size.
 */
export const etcdQuorum: StackValidationPolicy = {
    name: "etcd-quorum",
    description:
        "The planned control plane has an odd number of etcd members, at least 3, so losing one " +
        "master keeps quorum (floor(n/2)+1); every new master knows its position in that plan.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const planned = masters(args.resources);
        if (planned.length === 0) return;
        const sizes = [...new Set(planned.map((vm) => vm.member!.of))];
        if (sizes.length > 1) {
            reportViolation(`new masters disagree on the planned control-plane size (${sizes.join(" vs ")}): one topology, one size`);
            return;
        }
        const size = sizes[0];
        const verdict = checkFinalControlPlane(size);
        if (!verdict.ok) reportViolation(`planned control plane of ${size} members: ${verdict.rule}`, planned[0].resource.urn);
        const positions = planned.map((vm) => vm.member!.member);
        const duplicate = positions.find((p, i) => positions.indexOf(p) !== i);
        if (duplicate !== undefined) reportViolation(`two new masters claim etcd member position ${duplicate}; masters join one at a time`);
        const over = planned.find((vm) => vm.member!.member > size);
        if (over) reportViolation(`${over.name} would be member ${over.member!.member} of a ${size}-member plan`, over.resource.urn);
    },
};

/**
 * Advisory: masters join one at a time, so the cluster passes through member counts that
 * tolerate no failure (2 members: quorum 2). Expected, but worth knowing before the window.
 */
export const etcdQuorumTransition: StackValidationPolicy = {
    name: "etcd-quorum-transition",
    description:
        "Warns about the transitional steps of the join sequence (2 members between phases 2 and 3) " +
        "where losing any master stops etcd until it returns.",
    enforcementLevel: "advisory",
    validateStack: (args, reportViolation) => {
        for (const vm of masters(args.resources)) {
            const { member, of } = vm.member!;
            if (member < of && isFragileTransition(member)) {
                reportViolation(
                    `after ${vm.name} joins, etcd has ${member} members: quorum ${quorumOf(member)}, fault tolerance ` +
                        `${faultTolerance(member)}. It tolerates no failure until member ${member + 1} joins; do not reboot ` +
                        `or upgrade a master in between.`,
                    vm.resource.urn,
                );
            }
        }
    },
};
