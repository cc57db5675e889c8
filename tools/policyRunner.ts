/**
 * Applies the pack's policy objects to a recorded graph the way the CLI's policy server does:
 * resources linked to their parents and dependencies, a component's properties being its
 * registered outputs (what the engine hands AnalyzeStack), and the policy config reconciled as
 * the CLI does it: schema defaults first, then an `all` enforcement level, then each policy's
 * own entry, validated against the policy's configSchema.
 */
import { EnforcementLevel, Policies, PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { RecordedResource } from "./recorder";

export interface Violation {
    readonly policy: string;
    readonly enforcementLevel: EnforcementLevel;
    readonly message: string;
    readonly urn?: string;
}

/** A policy's entry in a policy config file (`--policy-pack-config`): its level and its properties. */
export type PolicyConfigEntry = { enforcementLevel?: EnforcementLevel } & Record<string, unknown>;
export type PolicyConfig = Record<string, PolicyConfigEntry>;

export class PolicyConfigError extends Error {}

type Policy = Policies[number];

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
        // AnalyzeStack gets each resource's outputs: a component's are what it registered.
        const props = (r.custom ? r.inputs : (r.outputs ?? {})) as Record<string, unknown>;
        const resource: PolicyResource = {
            type: r.type,
            props,
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
            asType: ((cls: unknown) => (typeToken(cls) === r.type ? props : undefined)) as PolicyResource["asType"],
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

const ENFORCEMENT_LEVELS: readonly EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];

function typeOk(value: unknown, type: string): boolean {
    switch (type) {
        case "string": return typeof value === "string";
        case "number": return typeof value === "number" && Number.isFinite(value);
        case "integer": return typeof value === "number" && Number.isInteger(value);
        case "boolean": return typeof value === "boolean";
        case "array": return Array.isArray(value);
        case "object": return value !== null && typeof value === "object" && !Array.isArray(value);
        case "null": return value === null;
        default: return true;
    }
}

/** The part of JSON Schema the pack's schemas use: type, enum, minimum, items' type. */
function schemaErrors(key: string, value: unknown, schema: PolicyConfigJSONSchema): string[] {
    const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
    if (types.length > 0 && !types.some((t) => typeOk(value, t))) return [`${key} must be ${types.join(" or ")}, not ${JSON.stringify(value)}`];
    if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) return [`${key} must be one of ${JSON.stringify(schema.enum)}`];
    if (typeof value === "number" && schema.minimum !== undefined && value < schema.minimum) return [`${key} must be at least ${schema.minimum}`];
    if (Array.isArray(value) && schema.items && typeof schema.items === "object" && !Array.isArray(schema.items)) {
        const items = schema.items;
        return value.flatMap((v, i) => schemaErrors(`${key}[${i}]`, v, items));
    }
    return [];
}

export interface ResolvedPolicyConfig {
    readonly level: EnforcementLevel;
    readonly properties: Record<string, unknown>;
}

/**
 * The config each policy runs with, as the CLI reconciles it: the schema's defaults, then `all`,
 * then the policy's own entry. Throws PolicyConfigError, naming the policy and the key, when a
 * given config does not fit a schema (the CLI refuses to run then, too). The CLI validates even
 * without --policy-pack-config, and the pack has no config of its own, so there it refuses every
 * required key; `undefined` here is a spec calling a policy bare, to see what it says without its facts.
 */
export function resolvePolicyConfig(policies: Policies, config: PolicyConfig | undefined): Map<string, ResolvedPolicyConfig> {
    const errors: string[] = [];
    const resolved = new Map<string, ResolvedPolicyConfig>();
    const all = config?.all?.enforcementLevel;
    for (const policy of policies) {
        const entry: PolicyConfigEntry = config?.[policy.name] ?? {};
        const { enforcementLevel, ...given } = entry;
        const defaults: Record<string, unknown> = {};
        for (const [key, schema] of Object.entries(policy.configSchema?.properties ?? {})) {
            if (schema.default !== undefined) defaults[key] = schema.default;
        }
        const properties = { ...defaults, ...given };
        if (enforcementLevel !== undefined && !ENFORCEMENT_LEVELS.includes(enforcementLevel)) {
            errors.push(`policy ${policy.name}: enforcementLevel must be one of ${ENFORCEMENT_LEVELS.join(", ")}, not ${JSON.stringify(enforcementLevel)}`);
        }
        if (config !== undefined && policy.configSchema) {
            for (const key of policy.configSchema.required ?? []) {
                if (properties[key] === undefined) errors.push(`policy ${policy.name}: ${key} is required`);
            }
            for (const [key, value] of Object.entries(given)) {
                const schema = policy.configSchema.properties[key];
                if (schema) errors.push(...schemaErrors(key, value, schema).map((e) => `policy ${policy.name}: ${e}`));
            }
        }
        resolved.set(policy.name, { level: enforcementLevel ?? all ?? policy.enforcementLevel ?? "advisory", properties });
    }
    if (errors.length > 0) throw new PolicyConfigError(`invalid policy config:\n  ${errors.join("\n  ")}`);
    return resolved;
}

/** Names in a policy config that are no policy of the pack (the CLI ignores them silently). */
export function unknownPolicyNames(policies: Policies, config: PolicyConfig): string[] {
    const names = new Set(policies.map((p) => p.name));
    return Object.keys(config).filter((k) => k !== "all" && !names.has(k));
}

class NotApplicable extends Error {}

async function runOne(policy: Policy, resources: PolicyResource[], settings: ResolvedPolicyConfig, violations: Violation[]): Promise<void> {
    const level: EnforcementLevel = settings.level === "remediate" ? "mandatory" : settings.level;
    const report = (message: string, urn?: string): void => {
        violations.push({ policy: policy.name, enforcementLevel: level, message, ...(urn ? { urn } : {}) });
    };
    const getConfig = <T extends object>(): T => ({ ...settings.properties }) as T;
    const notApplicable = (reason?: string): never => {
        throw new NotApplicable(reason);
    };
    try {
        if (isStackPolicy(policy)) {
            await policy.validateStack({ resources, stackTags: new Map(), getConfig, notApplicable }, report);
        } else if (typeof policy.validateResource === "function" || Array.isArray(policy.validateResource)) {
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
                            getConfig,
                            isType: resource.isType,
                            // The same lookup; the two declarations type its result differently.
                            asType: resource.asType as unknown as ResourceValidationArgs["asType"],
                            notApplicable,
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

export async function runPolicies(policies: Policies, recorded: readonly RecordedResource[], config?: PolicyConfig): Promise<Violation[]> {
    const resources = toPolicyResources(recorded);
    const settings = resolvePolicyConfig(policies, config);
    const violations: Violation[] = [];
    for (const policy of policies) {
        const s = settings.get(policy.name)!;
        if (s.level === "disabled") continue;
        await runOne(policy, resources, s, violations);
    }
    return violations;
}
