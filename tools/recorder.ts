/**
 * Runs the program in-process under the SDK's mock monitor and records every registration with
 * what plain `setMocks` hides: parent, dependencies, property dependencies and which inputs are
 * secret. Shared by the offline plan and the program tests. Secret values are never recorded.
 */
import * as pulumi from "@pulumi/pulumi";
import {
    enableAliasSpecs,
    installMockMonitor,
    MockMonitor,
    MonitorCallback,
    RegisterResourceOutputsRequest,
    RegisterResourceRequest,
    replaceMockUrnScheme,
    runInStack,
    setProgramConfig,
    specialResourceSig,
    specialSecretSig,
    specialSigKey,
    unknownValue,
    waitForRegistrations,
    WireAlias,
    withFreshRuntimeState,
} from "./sdkInternals";
import { stubOutputs } from "./stubs";

/** Stands in for a secret input in a recording; prints as [secret]. */
export class SecretValue {
    toJSON(): string {
        return "[secret]";
    }
    toString(): string {
        return "[secret]";
    }
}
export const SECRET = new SecretValue();
export const UNKNOWN = "[unknown]";

export type RecordedValue = null | boolean | number | string | SecretValue | RecordedValue[] | { [key: string]: RecordedValue };

export interface RecordedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    readonly parent?: string;
    /** URNs this resource waits for: explicit dependsOn (components expanded) and inputs. */
    readonly dependencies: readonly string[];
    readonly propertyDependencies: Readonly<Record<string, readonly string[]>>;
    readonly inputs: Readonly<Record<string, RecordedValue>>;
    /**
     * A component's registered outputs (registerOutputs). The engine hands these, not the
     * inputs, to stack policies as a component's properties; custom resources have none here.
     */
    readonly outputs?: Readonly<Record<string, RecordedValue>>;
    readonly provider?: string;
    readonly protect: boolean;
    readonly ignoreChanges: readonly string[];
    readonly deleteBeforeReplace: boolean;
    readonly additionalSecretOutputs: readonly string[];
    /** The URNs this resource was known by before (its aliases, resolved as the engine does). */
    readonly aliases: readonly string[];
}

export interface Recording {
    readonly resources: readonly RecordedResource[];
    readonly outputs: Record<string, unknown>;
}

/**
 * Turns the wire form of a property into a plain value, secrets replaced by SECRET (or, for tests
 * that must read a secret input's non-secret parts such as an SSH connection's host, revealed).
 */
export function decodeWire(value: unknown, revealSecrets = false): RecordedValue {
    if (value === null || value === undefined) return null;
    if (Array.isArray(value)) return value.map((v) => decodeWire(v, revealSecrets));
    if (typeof value === "object") {
        const obj = value as Record<string, unknown>;
        const sig = obj[specialSigKey];
        if (sig === specialSecretSig) return revealSecrets ? decodeWire(obj.value, true) : SECRET;
        if (sig === specialResourceSig) return String(obj.urn ?? "");
        if (sig !== undefined) return `[${String(sig)}]`;
        const out: Record<string, RecordedValue> = {};
        for (const [k, v] of Object.entries(obj)) out[k] = decodeWire(v, revealSecrets);
        return out;
    }
    if (value === unknownValue) return UNKNOWN;
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
    return String(value);
}

export class RecordingMonitor extends MockMonitor {
    readonly recorded: RecordedResource[] = [];
    /** Tests only: record secret inputs in clear. The plan never sets it. */
    revealSecrets = false;
    readonly registeredOutputs = new Map<string, Record<string, RecordedValue>>();

    /**
     * The URN the engine gives: the parent's whole qualified type chain before the type, and no
     * chain for a child of the root stack. The SDK's mock keeps only the parent's last type and
     * prefixes the stack's, so its URNs differ from the ones `pulumi stack --show-urns` prints and
     * `destroy --target` takes (found by the engine suite, tests/engine/labPreview.engine.ts).
     */
    static engineUrn(parent: string, type: string, name: string): string {
        const parentType = parent ? parent.split("::")[2] : "";
        const qualified = parentType && parentType !== "pulumi:pulumi:Stack" ? `${parentType}$${type}` : type;
        return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${qualified}::${name}`;
    }

    /**
     * The URN an alias names, as the engine resolves it: a spec's empty fields are the resource's
     * own name, type, stack and project, and its parent is the resource's unless it says
     * "no parent" or names another.
     */
    static aliasUrn(alias: WireAlias, type: string, name: string, parent: string): string {
        const spec = alias.getSpec();
        if (!spec) return alias.getUrn();
        const aliasParent = spec.getNoparent() ? "" : spec.getParenturn() || parent;
        const stack = spec.getStack() || pulumi.getStack();
        const project = spec.getProject() || pulumi.getProject();
        const own = RecordingMonitor.engineUrn(aliasParent, spec.getType() || type, spec.getName() || name);
        return `urn:pulumi:${stack}::${project}::${own.split("::").slice(2).join("::")}`;
    }

    constructor(mocks: pulumi.runtime.Mocks) {
        super(mocks);
        replaceMockUrnScheme(this, RecordingMonitor.engineUrn);
    }

    override registerResourceOutputs(req: RegisterResourceOutputsRequest, callback: MonitorCallback): void {
        this.registeredOutputs.set(req.getUrn(), decodeWire(req.getOutputs()?.toJavaScript() ?? {}) as Record<string, RecordedValue>);
        super.registerResourceOutputs(req, callback);
    }

    override async registerResource(req: RegisterResourceRequest, callback: MonitorCallback): Promise<void> {
        const propertyDependencies: Record<string, string[]> = {};
        req.getPropertydependenciesMap().forEach((deps, key) => {
            propertyDependencies[key] = deps.getUrnsList();
        });
        const inputs = decodeWire(req.getObject()?.toJavaScript() ?? {}, this.revealSecrets) as Record<string, RecordedValue>;
        const type = req.getType();
        const name = req.getName();
        const parent = req.getParent() || undefined;
        const recorded: RecordedResource = {
            urn: "",
            type,
            name,
            custom: req.getCustom(),
            ...(parent ? { parent } : {}),
            dependencies: [...new Set(req.getDependenciesList())],
            propertyDependencies,
            inputs,
            ...(req.getProvider() ? { provider: req.getProvider().split("::").slice(0, -1).join("::") || req.getProvider() } : {}),
            protect: req.getProtect(),
            ignoreChanges: req.getIgnorechangesList(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            aliases: [...req.getAliasesList().map((a) => RecordingMonitor.aliasUrn(a, type, name, parent ?? "")), ...req.getAliasurnsList()],
        };
        const index = this.recorded.push(recorded) - 1;
        await super.registerResource(req, (err: unknown, response: unknown) => {
            if (!err && response && typeof (response as { getUrn?: unknown }).getUrn === "function") {
                this.recorded[index] = { ...recorded, urn: (response as { getUrn(): string }).getUrn() };
            }
            callback(err, response);
        });
    }
}

/** Mock provider behaviour: echo inputs as state, plus realistic stand-ins for computed values. */
const mocks: pulumi.runtime.Mocks = {
    newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
        const { id, extra } = stubOutputs(args.type, args.name, args.inputs as Record<string, unknown>);
        return { id, state: { ...args.inputs, ...extra } };
    },
    call(args) {
        return args.inputs;
    },
};

export interface RunOptions {
    readonly project: string;
    readonly stack: string;
    /** Full config keys ("project:key") to string values, as Pulumi passes them. */
    readonly config: Record<string, string>;
    readonly secretKeys: readonly string[];
    readonly program: () => unknown;
    /** Tests only: secret inputs recorded in clear (see RecordingMonitor.revealSecrets). */
    readonly revealSecrets?: boolean;
}

/**
 * Runs `program` as a preview under the recording monitor and returns every registration.
 * Throws what the program throws (a ConfigError for bad input, before any registration).
 */
export function recordProgram(options: RunOptions): Promise<Recording> {
    // A fresh runtime store per run, so several programs run in one process (one per target
    // phase in the tests and the benchmark).
    return withFreshRuntimeState(async () => {
        const monitor = new RecordingMonitor(mocks);
        monitor.revealSecrets = options.revealSecrets ?? false;
        installMockMonitor(monitor, options.project, options.stack, true);
        // As the engine does (and setMocks): aliases travel as specs the monitor resolves.
        enableAliasSpecs();
        setProgramConfig(options.config, options.secretKeys);
        let failure: unknown;
        const outputs = await runInStack(async () => {
            try {
                return await Promise.resolve(options.program());
            } catch (err) {
                failure = err;
                return undefined;
            }
        });
        await waitForRegistrations();
        if (failure) throw failure;
        const resolved = await new Promise<Record<string, unknown>>((resolve) => {
            pulumi.output(outputs ?? {}).apply((value) => resolve(value as Record<string, unknown>));
        });
        const resources = monitor.recorded
            .filter((r) => r.urn !== "")
            .map((r) => {
                const registered = r.custom ? undefined : monitor.registeredOutputs.get(r.urn);
                return registered ? { ...r, outputs: registered } : r;
            });
        return { resources, outputs: resolved };
    });
}
