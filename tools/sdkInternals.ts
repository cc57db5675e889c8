/**
 * Every piece of @pulumi/pulumi past its public entry that this project relies on, in one place:
 * the offline plan's recorder (tools/recorder.ts), its provider stand-ins (tools/stubs.ts) and the
 * in-process language host behind `npm run pulumi` (tools/pulumi.ts). None of it is public API,
 * so an SDK upgrade may change any of it without notice: tests/sdkInternals.test.ts pins each
 * behaviour named here, and tests/architecture/sdkBoundary.test.ts keeps every other file from
 * importing an `@pulumi/pulumi/<subpath>`.
 *
 * Read against @pulumi/pulumi 3.276.0 (REVIEWED_SDK_VERSION); each comment names the SDK file.
 */
import type * as grpc from "@grpc/grpc-js";
import type * as pulumi from "@pulumi/pulumi";
import { setAllConfig } from "@pulumi/pulumi/runtime/config";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import { setMockOptions } from "@pulumi/pulumi/runtime/settings";
import { runInPulumiStack } from "@pulumi/pulumi/runtime/stack";

/** The SDK version these comments were checked against; the pin test fails when it differs. */
export const REVIEWED_SDK_VERSION = "3.276.0";

// --- The wire form of properties (runtime/rpc.js) ---------------------------------------------

/** runtime/rpc.js `specialSigKey`: the key that marks an object as a special value on the wire. */
export const specialSigKey: string = rpc.specialSigKey;
/** runtime/rpc.js `specialSecretSig`: `{[specialSigKey]: specialSecretSig, value}` is a secret. */
export const specialSecretSig: string = rpc.specialSecretSig;
/** runtime/rpc.js `specialResourceSig`: `{[specialSigKey]: specialResourceSig, urn, id?}` is a resource reference. */
export const specialResourceSig: string = rpc.specialResourceSig;
/** runtime/rpc.js `unknownValue`: the string a preview sends for a value not known yet. */
export const unknownValue: string = rpc.unknownValue;

/**
 * A secret in the wire form. A mock's resource state holding it reads back, in the program, as a
 * secret output (runtime/mocks.js serializes the state with runtime/rpc.js serializeProperties,
 * which passes the object through; the resource's deserializeProperties turns it into a secret).
 */
export function secretOnTheWire(value: unknown): Record<string, unknown> {
    return { [specialSigKey]: specialSecretSig, value };
}

// --- The mock resource monitor (runtime/mocks.js) ---------------------------------------------

/**
 * runtime/mocks.js `MockMonitor`: answers the program's resource RPCs from a `Mocks`
 * (pulumi.runtime.Mocks). Subclasses override registerResource / registerResourceOutputs to see
 * each request, and must call super's to get the URN and state back.
 */
export { MockMonitor };

/**
 * The getters of proto/resource_pb.js RegisterResourceRequest that the recorder reads; the SDK
 * types MockMonitor's requests as `any`, so this is the shape we rely on.
 */
export interface RegisterResourceRequest {
    getType(): string;
    getName(): string;
    /** The parent's URN; "" for none. */
    getParent(): string;
    getCustom(): boolean;
    /** A provider reference, `<provider URN>::<provider id>`; "" for the default provider. */
    getProvider(): string;
    getProtect(): boolean;
    getIgnorechangesList(): string[];
    getDeletebeforereplace(): boolean;
    getAdditionalsecretoutputsList(): string[];
    /** Explicit dependsOn, components expanded to their children, and the input dependencies. */
    getDependenciesList(): string[];
    getPropertydependenciesMap(): { forEach(cb: (value: { getUrnsList(): string[] }, key: string) => void): void };
    /** The inputs in the wire form (google.protobuf.Struct). */
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
    /** The aliases as specs (proto/alias_pb.js Alias), sent so when the store supports alias specs (enableAliasSpecs). */
    getAliasesList(): readonly WireAlias[];
    /** Aliases given as full URNs (without alias specs, every alias travels here, resolved by the SDK). */
    getAliasurnsList(): string[];
}

/**
 * An alias as the SDK sends it to a monitor that supports alias specs (proto/alias_pb.js Alias):
 * either a URN or a spec whose empty fields mean "the resource's own" (name, type, stack, project)
 * and whose parent is the resource's unless noParent or parentUrn says otherwise.
 */
export interface WireAlias {
    getUrn(): string;
    getSpec(): { getName(): string; getType(): string; getStack(): string; getProject(): string; getParenturn(): string; getNoparent(): boolean } | undefined;
}

/** The getters of proto/resource_pb.js RegisterResourceOutputsRequest that the recorder reads. */
export interface RegisterResourceOutputsRequest {
    getUrn(): string;
    /** The outputs in the wire form (google.protobuf.Struct). */
    getOutputs(): { toJavaScript(): Record<string, unknown> } | undefined;
}

/** What MockMonitor.registerResource answers through its callback: a RegisterResourceResponse. */
export type MonitorCallback = (err: unknown, response: unknown) => void;

/** The URN a mock monitor gives a resource from its parent's URN ("" for none), type and name. */
export type UrnScheme = (parent: string, type: string, name: string) => string;

/**
 * Makes `monitor` give URNs by `scheme`. runtime/mocks.js MockMonitor computes every URN it
 * answers (registerResource, readResource) with its private method `this.newUrn(parent, type,
 * name)`, so a function in its place on the instance takes over.
 */
export function replaceMockUrnScheme(monitor: MockMonitor, scheme: UrnScheme): void {
    (monitor as unknown as { newUrn: UrnScheme }).newUrn = scheme;
}

// --- One program run (runtime/state.js, runtime/settings.js, runtime/config.js, runtime/stack.js)

interface StateModule {
    withLocalStorage<T>(callback: () => T): T;
    getStore(): { supportsAliasSpecs: boolean };
}
interface SettingsModule {
    waitForRPCs(): Promise<void>;
}
// Neither function is in the SDK's .d.ts files (both are @internal), hence require.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const state = require("@pulumi/pulumi/runtime/state") as StateModule;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings") as SettingsModule;

/**
 * Runs `callback` with a fresh runtime store: its own settings, monitor, config and stack
 * resource (runtime/state.js withLocalStorage, what automation/server.js does per Run). So
 * several programs run one after the other in one process, each seen only by its own monitor.
 */
export function withFreshRuntimeState<T>(callback: () => T): T {
    return state.withLocalStorage(callback);
}

/**
 * Makes the current runtime store send aliases as specs (runtime/state.js store.supportsAliasSpecs,
 * what the SDK sets when the engine says it supports them and runtime/mocks.js setMocks sets), so
 * the monitor resolves them as the engine does instead of the SDK computing URNs.
 */
export function enableAliasSpecs(): void {
    state.getStore().supportsAliasSpecs = true;
}

/**
 * Points the current runtime store at `monitor` for `project`/`stack` (runtime/settings.js
 * setMockOptions), `preview` deciding pulumi.runtime.isDryRun().
 */
export function installMockMonitor(monitor: MockMonitor, project: string, stack: string, preview: boolean): void {
    setMockOptions(monitor, project, stack, preview);
}

/**
 * Sets the program's config in the current runtime store (runtime/config.js setAllConfig): full
 * keys ("project:key") to the strings Pulumi passes, read back by pulumi.Config and
 * pulumi.runtime.allConfig; `secretKeys` name the ones that are secret, as a language host does.
 */
export function setProgramConfig(config: Readonly<Record<string, string>>, secretKeys: readonly string[]): void {
    setAllConfig({ ...config }, [...secretKeys]);
}

/**
 * Runs `init` inside the root pulumi:pulumi:Stack resource and resolves to its outputs
 * (runtime/stack.js runInPulumiStack), as the language host does with the program.
 */
export function runInStack(init: () => Promise<unknown>): Promise<pulumi.Inputs | undefined> {
    return runInPulumiStack(init);
}

/**
 * Resolves once every RPC the current runtime store sent has been answered, including ones sent
 * while waiting (runtime/settings.js waitForRPCs, what disconnect() awaits).
 */
export function waitForRegistrations(): Promise<void> {
    return settings.waitForRPCs();
}

// --- The language runtime the CLI connects to with --client (automation/server.js) -------------

/** A language runtime service, ready for grpc.Server.addService. */
export interface LanguageRuntime {
    /** proto/language_grpc_pb.js LanguageRuntimeService: the pulumirpc.LanguageRuntime service. */
    readonly definition: grpc.ServiceDefinition;
    /** automation/server.js LanguageServer: Run runs `program` in a fresh runtime store. */
    readonly implementation: grpc.UntypedServiceImplementation;
    /** LanguageServer.onPulumiExit: throws on leaked promises unless the CLI ended with an error. */
    onPulumiExit(hadError: boolean): void;
}

interface LanguageServerInstance {
    onPulumiExit(hadError: boolean): void;
}

/**
 * The SDK's own language runtime server for an inline program, what the Automation API serves
 * for LocalWorkspace inline programs: `new LanguageServer(program)` (automation/server.js),
 * whose Run calls `program` inside runInPulumiStack. Loaded on first use only, so the CLI
 * wrapper's other commands never load it.
 */
export function newLanguageRuntime(program: () => unknown): LanguageRuntime {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { LanguageServer } = require("@pulumi/pulumi/automation/server") as { LanguageServer: new (program: () => unknown) => LanguageServerInstance };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { LanguageRuntimeService } = require("@pulumi/pulumi/proto/language_grpc_pb") as { LanguageRuntimeService: grpc.ServiceDefinition };
    const server = new LanguageServer(program);
    return {
        definition: LanguageRuntimeService,
        implementation: server as unknown as grpc.UntypedServiceImplementation,
        onPulumiExit: (hadError) => server.onPulumiExit(hadError),
    };
}

// --- The policy pack's launcher (cmd/run-policy-pack) ------------------------------------------

/**
 * The SDK's policy-pack entry that policies/run-pack (a shell script, so it cannot import this
 * file) resolves from the pack's folder and runs as `node <entry> <engine address> <pack dir>`,
 * as pulumi-language-nodejs does. Named here so the pin test and the boundary test hold it.
 */
export const POLICY_PACK_RUNNER_MODULE = "@pulumi/pulumi/cmd/run-policy-pack";
