/**
 * Applies the pack's policy objects to a recorded graph the way the CLI's policy server does:
 * resources linked to their parents and dependencies, the enforcement level taken from the
 * policy config when it sets one.
 */
import { EnforcementLevel, Policies, PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { RecordedResource } from "./recorder";

export interface Violation {
    readonly policy: string;
    readonly enforcementLevel: EnforcementLevel;
    readonly message: string;
    readonly urn?: string;
}

export type PolicyConfig = Record<string, { enforcementLevel?: EnforcementLevel } & Record<string, unknown>>;

function isStackPolicy(p: StackValidationPolicy | ResourceValidationPolicy): p is StackValidationPolicy {
    return typeof (p as StackValidationPolicy).validateStack === "function";
}

function typeToken(resourceClass: unknown): string | undefined {
    const token = (resourceClass as { __pulumiType?: unknown }).__pulumiType;
    return typeof token === "string" ? token : undefined;
}

export function toPolicyResources(recorded: readonly RecordedResource[]): PolicyResource[] {
    const byUrn = new Map<string, PolicyResource>();
    const resources = recorded.map((r) => {
        const resource: PolicyResource = {
            type: r.type,
            props: r.inputs as Record<string, unknown>,
            urn: r.urn,
            name: r.name,
            opts: {
                protect: r.protect,
                ignoreChanges: [...r.ignoreChanges],
                deleteBeforeReplace: r.deleteBeforeReplace,
                aliases: [],
                customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
                additionalSecretOutputs: [...r.additionalSecretOutputs],
                ...(r.parent ? { parent: r.parent } : {}),
            },
            dependencies: [],
            propertyDependencies: {},
            isType: (cls) => typeToken(cls) === r.type,
            // The recorded inputs are the resolved view a policy gets from the CLI.
            asType: ((cls: unknown) => (typeToken(cls) === r.type ? r.inputs : undefined)) as PolicyResource["asType"],
        };
        byUrn.set(r.urn, resource);
        return resource;
    });
    recorded.forEach((r, i) => {
        const resource = resources[i];
        if (r.parent && byUrn.has(r.parent)) resource.parent = byUrn.get(r.parent);
        resource.dependencies = r.dependencies.map((u) => byUrn.get(u)).filter((d): d is PolicyResource => !!d);
        for (const [key, urns] of Object.entries(r.propertyDependencies)) {
            resource.propertyDependencies[key] = urns.map((u) => byUrn.get(u)).filter((d): d is PolicyResource => !!d);
        }
    });
    return resources;
}

class NotApplicable extends Error {}

export async function runPolicies(
    policies: Policies,
    recorded: readonly RecordedResource[],
    config: PolicyConfig = {},
): Promise<Violation[]> {
    const resources = toPolicyResources(recorded);
    const violations: Violation[] = [];
    for (const policy of policies) {
        const level: EnforcementLevel = config[policy.name]?.enforcementLevel ?? policy.enforcementLevel ?? "advisory";
        if (level === "disabled") continue;
        const report = (message: string, urn?: string): void => {
            violations.push({ policy: policy.name, enforcementLevel: level, message, ...(urn ? { urn } : {}) });
        };
        const policyConfig = <T extends object>(): T => ({ ...(config[policy.name] ?? {}) }) as T;
        try {
            if (isStackPolicy(policy)) {
                await policy.validateStack(
                    {
                        resources,
                        stackTags: new Map(),
                        getConfig: policyConfig,
                        notApplicable: (reason?: string): never => {
                            throw new NotApplicable(reason);
                        },
                    },
                    report,
                );
            } else if (typeof policy.validateResource === "function") {
                const validators = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
                for (const resource of resources) {
                    for (const validate of validators) {
                        await validate(
                            {
                                type: resource.type,
                                props: resource.props,
                                urn: resource.urn,
                                name: resource.name,
                                opts: resource.opts,
                                stackTags: new Map(),
                                getConfig: policyConfig,
                                isType: resource.isType,
                                asType: resource.asType,
                                notApplicable: (reason?: string): never => {
                                    throw new NotApplicable(reason);
                                },
                            },
                            report,
                        );
                    }
                }
            }
        } catch (err) {
            if (!(err instanceof NotApplicable)) throw err;
        }
    }
    return violations;
}
