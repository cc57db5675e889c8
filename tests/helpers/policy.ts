/**
 * Spec helpers in the pulumi-policy-aws way: build resources as the policy sees them, run one
 * policy, collect its violations.
 */
import { Policies } from "@pulumi/policy";
import { runPolicies, Violation } from "../../tools/policyRunner";
import { RecordedResource, RecordedValue } from "../../tools/recorder";

let counter = 0;

export function resource(type: string, name: string, inputs: Record<string, RecordedValue>, extra: Partial<RecordedResource> = {}): RecordedResource {
    counter += 1;
    return {
        urn: `urn:pulumi:spec::ha-control-plane::${type}::${name}-${counter}`,
        type,
        name,
        custom: true,
        dependencies: [],
        propertyDependencies: {},
        inputs,
        protect: false,
        ignoreChanges: [],
        deleteBeforeReplace: false,
        additionalSecretOutputs: [],
        ...extra,
    };
}

export async function violationsOf(policy: Policies[number], resources: readonly RecordedResource[]): Promise<Violation[]> {
    return runPolicies([policy], resources);
}
