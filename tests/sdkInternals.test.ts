/**
 * Pins each @pulumi/pulumi behaviour that tools/sdkInternals.ts wraps, against the real SDK, so
 * an upgrade that changes one fails here, naming it, rather than deep inside the plan (an empty
 * recording, a secret printed, one phase's resources in another's plan).
 */
import { strict as assert } from "assert";
import * as grpc from "@grpc/grpc-js";
import * as pulumi from "@pulumi/pulumi";
import { spawnSync } from "child_process";
import { existsSync, readFileSync } from "fs";
import * as path from "path";
import {
    enableAliasSpecs,
    installMockMonitor,
    MockMonitor,
    MonitorCallback,
    newLanguageRuntime,
    POLICY_PACK_RUNNER_MODULE,
    RegisterResourceOutputsRequest,
    RegisterResourceRequest,
    replaceMockUrnScheme,
    REVIEWED_SDK_VERSION,
    runInStack,
    secretOnTheWire,
    setProgramConfig,
    specialResourceSig,
    specialSecretSig,
    specialSigKey,
    unknownValue,
    UrnScheme,
    waitForRegistrations,
    WireAlias,
    withFreshRuntimeState,
} from "../tools/sdkInternals";

const REPO = path.resolve(__dirname, "..");
const PROJECT = "pin";

/** A custom resource of a made-up package: the mock answers for it, no provider plugin needed. */
class Thing extends pulumi.CustomResource {
    declare readonly out: pulumi.Output<string>;
    /** Never in the mock's state, so unknown in a preview. */
    declare readonly missing: pulumi.Output<string>;
    constructor(name: string, props: Record<string, pulumi.Input<unknown>> = {}, opts?: pulumi.CustomResourceOptions) {
        super("pin:index:Thing", name, { out: undefined, missing: undefined, ...props }, opts);
    }
}

/** A component that registers outputs, as the project's components do. */
class Group extends pulumi.ComponentResource {
    constructor(name: string, outputs?: pulumi.Inputs) {
        super("pin:index:Group", name, {}, {});
        if (outputs) this.registerOutputs(outputs);
    }
}

class PinProvider extends pulumi.ProviderResource {
    constructor(name: string) {
        super(PROJECT, name, {});
    }
}

/** Every getter tools/recorder.ts calls on a request (the compiler keeps the list complete). */
const REGISTER_GETTERS = {
    getType: true, getName: true, getParent: true, getCustom: true, getProvider: true, getProtect: true,
    getIgnorechangesList: true, getDeletebeforereplace: true, getAdditionalsecretoutputsList: true,
    getDependenciesList: true, getPropertydependenciesMap: true, getObject: true, getAliasesList: true, getAliasurnsList: true,
} satisfies Record<keyof RegisterResourceRequest, true>;
const OUTPUTS_GETTERS = { getUrn: true, getOutputs: true } satisfies Record<keyof RegisterResourceOutputsRequest, true>;

function assertGetters(req: object, getters: Record<string, true>, what: string): void {
    for (const getter of Object.keys(getters)) {
        assert.equal(typeof (req as Record<string, unknown>)[getter], "function", `${what}.${getter}() is gone from the SDK's request: tools/recorder.ts reads it`);
    }
}

interface Seen {
    readonly type: string;
    readonly name: string;
    readonly parent: string;
    readonly custom: boolean;
    readonly provider: string;
    readonly protect: boolean;
    readonly ignoreChanges: string[];
    readonly deleteBeforeReplace: boolean;
    readonly additionalSecretOutputs: string[];
    readonly dependencies: string[];
    readonly propertyDependencies: Record<string, string[]>;
    readonly inputs: Record<string, unknown>;
    readonly aliases: readonly WireAlias[];
    readonly aliasUrns: string[];
    urn: string;
}

/** Sees each registration the way tools/recorder.ts RecordingMonitor does. */
class WatchingMonitor extends MockMonitor {
    readonly seen: Seen[] = [];
    readonly componentOutputs = new Map<string, Record<string, unknown>>();

    override async registerResource(req: RegisterResourceRequest, callback: MonitorCallback): Promise<void> {
        assertGetters(req, REGISTER_GETTERS, "RegisterResourceRequest");
        const propertyDependencies: Record<string, string[]> = {};
        req.getPropertydependenciesMap().forEach((deps, key) => {
            propertyDependencies[key] = deps.getUrnsList();
        });
        const seen: Seen = {
            type: req.getType(),
            name: req.getName(),
            parent: req.getParent(),
            custom: req.getCustom(),
            provider: req.getProvider(),
            protect: req.getProtect(),
            ignoreChanges: req.getIgnorechangesList(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            dependencies: req.getDependenciesList(),
            propertyDependencies,
            inputs: req.getObject()?.toJavaScript() ?? {},
            aliases: req.getAliasesList(),
            aliasUrns: req.getAliasurnsList(),
            urn: "",
        };
        this.seen.push(seen);
        await super.registerResource(req, (err, response) => {
            const getUrn = (response as { getUrn?: unknown } | undefined)?.getUrn;
            assert.equal(typeof getUrn, "function", `MockMonitor.registerResource answered ${String(err)} without a RegisterResourceResponse.getUrn(): the recorder keeps only resources with a URN`);
            seen.urn = (response as { getUrn(): string }).getUrn();
            callback(err, response);
        });
    }

    override registerResourceOutputs(req: RegisterResourceOutputsRequest, callback: MonitorCallback): void {
        assertGetters(req, OUTPUTS_GETTERS, "RegisterResourceOutputsRequest");
        this.componentOutputs.set(req.getUrn(), req.getOutputs()?.toJavaScript() ?? {});
        super.registerResourceOutputs(req, callback);
    }

    byName(name: string): Seen {
        const found = this.seen.find((s) => s.name === name);
        assert.ok(found, `no registration named ${name} reached the monitor (saw ${this.seen.map((s) => s.name).join(", ")})`);
        return found;
    }
}

/** The mock provider the recorder uses in kind: inputs echoed as state, `out` computed. */
const echoMocks: pulumi.runtime.Mocks = {
    newResource: (args) => ({ id: `${args.name}-id`, state: { ...args.inputs, out: `${args.name}-out` } }),
    call: (args) => args.inputs,
};

interface RunSpec {
    readonly stack?: string;
    readonly config?: Record<string, string>;
    readonly secretKeys?: readonly string[];
    readonly mocks?: pulumi.runtime.Mocks;
    readonly urnScheme?: UrnScheme;
    readonly aliasSpecs?: boolean;
    readonly program: () => unknown;
}

/** One preview run, composed of the wrappers as tools/recorder.ts recordProgram composes them. */
function run(spec: RunSpec): Promise<{ monitor: WatchingMonitor; outputs: pulumi.Inputs | undefined }> {
    return withFreshRuntimeState(async () => {
        const monitor = new WatchingMonitor(spec.mocks ?? echoMocks);
        if (spec.urnScheme) replaceMockUrnScheme(monitor, spec.urnScheme);
        installMockMonitor(monitor, PROJECT, spec.stack ?? "pinned", true);
        if (spec.aliasSpecs) enableAliasSpecs();
        // Without config the run sees whatever its fresh store starts with.
        if (spec.config) setProgramConfig(spec.config, spec.secretKeys ?? []);
        const outputs = await runInStack(async () => spec.program());
        await waitForRegistrations();
        return { monitor, outputs };
    });
}

/**
 * The value an output resolves to, and whether it is secret. Bounded: an output the SDK fails to
 * read back (a wire form it no longer knows) never resolves, and the test says so.
 */
async function settle<T>(output: pulumi.Output<T>, what: string): Promise<{ value: T; secret: boolean }> {
    let timer: NodeJS.Timeout | undefined;
    const never = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} never resolved: the SDK could not read it back`)), 5_000);
    });
    try {
        const value = await Promise.race([new Promise<T>((resolve) => output.apply((v) => resolve(v))), never]);
        return { value, secret: await pulumi.isSecret(output) };
    } finally {
        clearTimeout(timer);
    }
}

describe("SDK internals the offline plan relies on (tools/sdkInternals.ts)", () => {
    it("were reviewed against the installed @pulumi/pulumi", () => {
        const installed = JSON.parse(readFileSync(path.join(path.dirname(require.resolve("@pulumi/pulumi")), "package.json"), "utf8")).version;
        assert.equal(
            installed,
            REVIEWED_SDK_VERSION,
            `@pulumi/pulumi is ${installed}, tools/sdkInternals.ts was read against ${REVIEWED_SDK_VERSION}: re-read each SDK file it names, then bump REVIEWED_SDK_VERSION`,
        );
    });

    it("sends a secret input, a resource reference and a preview's unknown in the wire form the recorder decodes", async () => {
        const { monitor } = await run({
            program: () => {
                const dep = new Thing("dep");
                new Thing("user", { secretInput: pulumi.secret("s3cret"), reference: dep, notYetKnown: dep.missing });
            },
        });
        const dep = monitor.byName("dep");
        const inputs = monitor.byName("user").inputs;
        assert.deepEqual(inputs.secretInput, { [specialSigKey]: specialSecretSig, value: "s3cret" }, "runtime/rpc.js no longer sends a secret as {specialSigKey: specialSecretSig, value}");
        const reference = inputs.reference as Record<string, unknown>;
        assert.equal(reference[specialSigKey], specialResourceSig, "runtime/rpc.js no longer marks a resource reference with specialResourceSig");
        assert.equal(reference.urn, dep.urn, "a resource reference no longer carries the resource's URN in `urn`");
        assert.equal(inputs.notYetKnown, unknownValue, "a preview no longer sends an unknown value as runtime/rpc.js unknownValue");
    });

    it("reads a secret in a mock's state back as a secret output (what tools/stubs.ts returns for provider secrets)", async () => {
        let out: { value: string; secret: boolean } | undefined;
        await run({
            mocks: { newResource: (args) => ({ id: "x", state: { out: secretOnTheWire(`${args.name}-generated`) } }), call: (args) => args.inputs },
            program: async () => {
                out = await settle(new Thing("generator").out, "a mock's secretOnTheWire output");
            },
        });
        assert.deepEqual(out, { value: "generator-generated", secret: true }, "secretOnTheWire in a mock's state no longer reads back as a secret output");
    });

    it("hands a MockMonitor subclass each registration with the fields the recorder reads", async () => {
        const { monitor } = await run({
            program: () => {
                const provider = new PinProvider("explicit");
                const dep = new Thing("dep");
                const group = new Group("group");
                new Thing("inner", {}, { parent: group });
                new Thing(
                    "child",
                    { fromDep: dep.out, plain: "as-is" },
                    {
                        parent: group,
                        dependsOn: [group],
                        provider,
                        protect: true,
                        ignoreChanges: ["plain"],
                        deleteBeforeReplace: true,
                        additionalSecretOutputs: ["out"],
                    },
                );
            },
        });
        const [stack, provider, dep, group, inner, child] = ["pin-pinned", "explicit", "dep", "group", "inner", "child"].map((n) => monitor.byName(n));
        assert.equal(stack.type, "pulumi:pulumi:Stack");
        assert.equal(dep.parent, stack.urn, "a top-level resource's parent is no longer the root stack (RecordingMonitor.engineUrn relies on it)");
        assert.equal(child.parent, group.urn, "getParent() no longer gives the parent's URN");
        assert.equal(child.type, "pin:index:Thing");
        assert.equal(child.custom, true);
        assert.equal(group.custom, false, "a component is no longer registered with custom = false");
        assert.deepEqual(child.inputs, { fromDep: "dep-out", plain: "as-is" }, "getObject() no longer holds the inputs");
        assert.deepEqual(child.propertyDependencies.fromDep, [dep.urn], "getPropertydependenciesMap() no longer names the resource an input came from");
        assert.deepEqual(child.propertyDependencies.plain, [], "a plain input gained property dependencies");
        assert.deepEqual(
            [...child.dependencies].sort(),
            [dep.urn, inner.urn].sort(),
            "getDependenciesList() is no longer the input dependencies plus dependsOn with a component expanded to its children",
        );
        assert.equal(child.provider, `${provider.urn}::explicit-id`, "getProvider() is no longer `<provider URN>::<provider id>` (the recorder drops the id)");
        assert.equal(dep.provider, "", "a resource without a provider option no longer has an empty provider reference");
        assert.equal(child.protect, true);
        assert.equal(dep.protect, false);
        assert.deepEqual(child.ignoreChanges, ["plain"]);
        assert.equal(child.deleteBeforeReplace, true);
        assert.equal(dep.deleteBeforeReplace, false);
        assert.deepEqual(child.additionalSecretOutputs, ["out"]);
        assert.deepEqual(dep.additionalSecretOutputs, []);
    });

    it("gives every URN through the scheme replaceMockUrnScheme puts in place of MockMonitor.newUrn", async () => {
        const asked: string[] = [];
        const scheme: UrnScheme = (parent, type, name) => {
            asked.push(`${parent || "-"} ${type} ${name}`);
            return `urn:pin:${type}:${name}`;
        };
        const { monitor } = await run({
            urnScheme: scheme,
            program: () => {
                const group = new Group("group");
                new Thing("inner", {}, { parent: group });
            },
        });
        assert.deepEqual(
            monitor.seen.map((s) => s.urn),
            ["urn:pin:pulumi:pulumi:Stack:pin-pinned", "urn:pin:pin:index:Group:group", "urn:pin:pin:index:Thing:inner"],
            "MockMonitor no longer computes its URNs with this.newUrn(parent, type, name)",
        );
        assert.deepEqual(asked, [
            "- pulumi:pulumi:Stack pin-pinned",
            "urn:pin:pulumi:pulumi:Stack:pin-pinned pin:index:Group group",
            "urn:pin:pin:index:Group:group pin:index:Thing inner",
        ]);
    });

    it("sends aliases as specs once enableAliasSpecs is on, for the recorder to resolve as the engine does", async () => {
        const program = (): void => {
            const former = new Group("former");
            const now = new Group("now");
            new Thing("moved", {}, { parent: now, aliases: [{ parent: former }, { name: "old-name", parent: former }] });
        };
        const withSpecs = (await run({ aliasSpecs: true, program })).monitor;
        const formerUrn = withSpecs.byName("former").urn;
        const moved = withSpecs.byName("moved");
        assert.deepEqual(moved.aliasUrns, [], "with alias specs on, the SDK still resolved an alias to a URN itself");
        assert.deepEqual(
            moved.aliases.map((a) => {
                const spec = a.getSpec();
                return spec && { name: spec.getName(), type: spec.getType(), stack: spec.getStack(), project: spec.getProject(), parentUrn: spec.getParenturn(), noParent: spec.getNoparent() };
            }),
            [
                { name: "", type: "", stack: "", project: "", parentUrn: formerUrn, noParent: false },
                { name: "old-name", type: "", stack: "", project: "", parentUrn: formerUrn, noParent: false },
            ],
            "getAliasesList() no longer holds one spec per alias, empty fields meaning the resource's own and the parent as a URN",
        );
        // MockMonitor answers supportsFeature("aliasSpecs") with true, so the feature probe turns
        // specs on too; enableAliasSpecs makes the recorder independent of when the probe lands.
        const probed = (await run({ program })).monitor.byName("moved");
        assert.equal(probed.aliases.length, 2, "MockMonitor's feature answer no longer turns alias specs on");
        assert.deepEqual(probed.aliasUrns, []);
    });

    it("hands a component's registerOutputs to registerResourceOutputs under its URN", async () => {
        const { monitor } = await run({
            program: () => {
                new Group("group", { answer: 42, hidden: pulumi.secret("x") });
            },
        });
        const group = monitor.byName("group");
        assert.deepEqual(monitor.componentOutputs.get(group.urn), { answer: 42, hidden: { [specialSigKey]: specialSecretSig, value: "x" } });
    });

    it("makes setProgramConfig's full keys the program's config, requireSecret and requireSecretObject reading them as secret outputs", async () => {
        type Read = { all: Record<string, string>; plain: string; token: { value: unknown; secret: boolean }; object: { value: unknown; secret: boolean } };
        let read: Read | undefined;
        await run({
            config: { "pin:plain": "as-is", "pin:creds": '{"token":"t0k"}' },
            secretKeys: ["pin:creds"],
            program: async () => {
                const config = new pulumi.Config(PROJECT);
                read = {
                    all: pulumi.runtime.allConfig(),
                    plain: config.require("plain"),
                    token: await settle(config.requireSecret("creds"), "config.requireSecret"),
                    object: await settle(config.requireSecretObject<{ token: string }>("creds"), "config.requireSecretObject"),
                };
            },
        });
        assert.deepEqual(read, {
            all: { "pin:plain": "as-is", "pin:creds": '{"token":"t0k"}' },
            plain: "as-is",
            token: { value: '{"token":"t0k"}', secret: true },
            object: { value: { token: "t0k" }, secret: true },
        });
    });

    it("keeps two programs run one after the other apart, each waited for to its last registration", async () => {
        let configSeenBySecond: Record<string, string> | undefined;
        const first = await run({
            stack: "first",
            config: { "pin:who": "first" },
            program: () => {
                const early = new Thing("first-early");
                // Registered only once the mock has answered for `early`, after the program returned.
                early.out.apply((out) => new Thing("first-late", { after: out }));
            },
        });
        const second = await run({
            stack: "second",
            program: () => {
                configSeenBySecond = pulumi.runtime.allConfig();
                new Thing("second-only");
            },
        });
        assert.deepEqual(
            first.monitor.seen.map((s) => s.name),
            ["pin-first", "first-early", "first-late"],
            "waitForRegistrations no longer waits for a registration made after the program returned, or a run sees another's",
        );
        assert.deepEqual(second.monitor.seen.map((s) => s.name), ["pin-second", "second-only"], "a run's monitor saw another run's registrations");
        assert.ok(first.monitor.seen.every((s) => s.urn.startsWith("urn:pulumi:first::pin::")), "the first run's URNs are not under its own stack");
        assert.deepEqual(configSeenBySecond, {}, "withFreshRuntimeState no longer gives each run its own store: the second run saw the first's config");
    });
});

describe("SDK internals the in-process language host and the pack launcher rely on", () => {
    let server: grpc.Server | undefined;
    let client: grpc.Client | undefined;
    after(() => {
        client?.close();
        server?.forceShutdown();
    });

    /** A protobuf length-delimited string field (RunRequest: project = 1, stack = 2). */
    const field = (number: number, text: string): Buffer => {
        const bytes = Buffer.from(text);
        return Buffer.concat([Buffer.from([(number << 3) | 2, bytes.length]), bytes]);
    };

    it("serves the SDK's LanguageServer as pulumirpc.LanguageRuntime, each Run running the program afresh", async () => {
        const runs: string[] = [];
        const runtime = newLanguageRuntime(() => {
            runs.push(`${pulumi.getProject()}/${pulumi.getStack()}`);
            return {};
        });
        for (const [method, rpcPath] of [["run", "Run"], ["getRequiredPlugins", "GetRequiredPlugins"], ["getPluginInfo", "GetPluginInfo"]]) {
            assert.equal(runtime.definition[method]?.path, `/pulumirpc.LanguageRuntime/${rpcPath}`, `proto/language_grpc_pb.js LanguageRuntimeService lost ${rpcPath}`);
            assert.equal(typeof runtime.implementation[method], "function", `automation/server.js LanguageServer no longer implements ${rpcPath}`);
        }
        server = new grpc.Server();
        server.addService(runtime.definition, runtime.implementation);
        const port = await new Promise<number>((resolve, reject) =>
            server!.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
        );
        client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        const call = (method: string, body: Buffer): Promise<Buffer> =>
            new Promise((resolve, reject) =>
                client!.makeUnaryRequest(`/pulumirpc.LanguageRuntime/${method}`, (b: Buffer) => b, (b: Buffer) => b, body, (err, res) => (err ? reject(err) : resolve(res!))),
            );
        await call("GetRequiredPlugins", Buffer.alloc(0));
        await call("Run", Buffer.concat([field(1, PROJECT), field(2, "one")]));
        await call("Run", Buffer.concat([field(1, PROJECT), field(2, "two")]));
        assert.deepEqual(runs, ["pin/one", "pin/two"], "LanguageServer.run no longer runs the program once per Run with the request's project and stack");
        assert.doesNotThrow(() => runtime.onPulumiExit(true), "LanguageServer.onPulumiExit(hadError) is gone");
    });

    it("starts a policy pack the way policies/run-pack calls it: node <entry> <engine address> <pack dir>", () => {
        const entry = require.resolve(POLICY_PACK_RUNNER_MODULE, { paths: [path.join(REPO, "policies")] });
        assert.ok(existsSync(entry));
        const res = spawnSync(process.execPath, [entry], { encoding: "utf8", timeout: 30_000 });
        assert.match(res.stderr, /usage: RUN <engine-address> <program>/, `${POLICY_PACK_RUNNER_MODULE} no longer takes the engine address and the pack's folder`);
        assert.notEqual(res.status, 0);
    });
});
