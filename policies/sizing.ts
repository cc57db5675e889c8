/**
 * control-plane-sizing (advisory): a master's RAM against what a master actually uses. kubeadm's
 * minimum is the config validation's (it refuses the config); this one advises against memory
 * that would sit idle on a host that is short of it, and against less than the working set.
 */
import { StackValidationPolicy } from "@pulumi/policy";
import { DEFAULT_MAX_WORKING_SET_RATIO, SEED_OBSERVED_WORKING_SET_GIB, SizingBasis, sizingAdvice, sizingBasis } from "@ha-control-plane/topology";
import { plannedVms } from "./resources";

export const controlPlaneSizing: StackValidationPolicy = {
    name: "control-plane-sizing",
    description:
        "Advises when a new master's RAM is more than maxRatio times the observed working set of a master (the seed " +
        "measured 4.6 GiB used of 32 GiB), or less than the working set itself.",
    enforcementLevel: "advisory",
    configSchema: {
        properties: {
            observedWorkingSetGiB: {
                type: "number",
                minimum: 0.1,
                default: SEED_OBSERVED_WORKING_SET_GIB,
                description: "Memory a master uses under the cluster's load, measured on the existing master (free -g, used).",
            },
            maxRatio: { type: "number", minimum: 1, default: DEFAULT_MAX_WORKING_SET_RATIO, description: "Advise above this multiple of the working set." },
        },
    },
    validateStack: (args, reportViolation) => {
        const basis = sizingBasis(args.getConfig<Partial<SizingBasis>>());
        for (const vm of plannedVms(args.resources).filter((v) => v.member !== undefined)) {
            const advice = sizingAdvice(vm.name, vm.memoryGiB, basis);
            if (advice) reportViolation(advice, vm.resource.urn);
        }
    },
};
