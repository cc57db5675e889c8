/**
 * Spec helpers in the pulumi-policy-aws way: build resources as the policy sees them, run one
 * policy, collect its violations.
 */
import { readFileSync } from "fs";
import * as path from "path";
import { Policies } from "@pulumi/policy";
import { PolicyConfig, runPolicies, Violation } from "../../tools/policyRunner";
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
        aliases: [],
        ...extra,
    };
}

/** A component of this project, with what it registered as outputs (its properties for a policy). */
export function component(type: string, name: string, outputs: Record<string, RecordedValue> = {}, extra: Partial<RecordedResource> = {}): RecordedResource {
    return resource(type, name, {}, { custom: false, outputs, ...extra });
}

/** A value built by the pure layer (facts, triggers), as the recording holds it. */
export const recorded = (value: unknown): RecordedValue => JSON.parse(JSON.stringify(value)) as RecordedValue;

export async function violationsOf(policy: Policies[number], resources: readonly RecordedResource[], config?: PolicyConfig): Promise<Violation[]> {
    return runPolicies([policy], resources, config);
}

/** policies/lab.json, as pulumi preview --policy-pack-config policies/lab.json reads it. */
export function labPolicyConfig(): PolicyConfig {
    return JSON.parse(readFileSync(path.resolve(__dirname, "../../policies/lab.json"), "utf8")) as PolicyConfig;
}

/** A recording with some dependency edges taken out (as if the program had not declared them). */
export function withoutEdges(resources: readonly RecordedResource[], from: (r: RecordedResource) => boolean, to: (urn: string) => boolean): RecordedResource[] {
    return resources.map((r) =>
        from(r)
            ? {
                  ...r,
                  dependencies: r.dependencies.filter((u) => !to(u)),
                  propertyDependencies: Object.fromEntries(Object.entries(r.propertyDependencies).map(([k, us]) => [k, us.filter((u) => !to(u))])),
              }
            : r,
    );
}
