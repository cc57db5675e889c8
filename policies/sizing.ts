/**
 * control-plane-sizing (advisory): a master's RAM against what a master actually uses. kubeadm's
 * minimum is the config validation's (it refuses the config); this one advises against memory
 * that would sit idle on a host that is short of it, and against less than the working set.
 */
import { StackValidationPolicy } from "@pulumi/policy";
import { DEFAULT_MAX_WORKING_SET_RATIO, SizingBasis, sizingAdvice, sizingBasis } from "@ha-control-plane/topology";
import { plannedVms } from "./resources";

export const controlPlaneSizing: StackValidationPolicy = {
    name: "control-plane-sizing",
    description:
        "Advises when a new master's RAM is more than maxRatio times the observed working set of a master (measured " +
        "on the stack's existing master, given in the policy config), or less than the working set itself.",
    enforcementLevel: "advisory",
    configSchema: {
        properties: {
            observedWorkingSetGiB: {
                type: "number",
                minimum: 0.1,
                description: "Memory a master uses under the cluster's load, measured on the existing master (free -g, used).",
            },
            maxRatio: { type: "number", minimum: 1, default: DEFAULT_MAX_WORKING_SET_RATIO, description: "Advise above this multiple of the working set." },
        },
        // A measurement of one cluster, so the stack's config gives it; the pack holds no stack's figures.
        required: ["observedWorkingSetGiB"],
    },
    validateStack: (args, reportViolation) => {
        const masters = plannedVms(args.resources).filter((v) => v.member !== undefined);
        if (masters.length === 0) return;
        const { observedWorkingSetGiB, ...rest } = args.getConfig<Partial<SizingBasis>>();
        // The CLI refuses a config without it (required); a direct caller gets the same answer, never another cluster's figure.
        if (observedWorkingSetGiB === undefined) {
            reportViolation("cannot advise on the masters' RAM: the policy config gives no observedWorkingSetGiB (pass --policy-pack-config policies/<stack>.json)");
            return;
        }
        const basis = sizingBasis({ ...rest, observedWorkingSetGiB });
        for (const vm of masters) {
            const advice = sizingAdvice(vm.name, vm.memoryGiB, basis);
            if (advice) reportViolation(advice, vm.resource.urn);
        }
    },
};
