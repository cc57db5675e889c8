/**
 * Where the tools the engine and control-plane tests run are: the Pulumi CLI and its plugins,
 * kube-apiserver/kubeadm/kubectl and etcd. A user's own `pulumi` on PATH is taken when its version
 * is the pinned one; otherwise the cache that toolchain/build.sh fills, keyed by the pins.
 */
import { execFileSync } from "child_process";
import { existsSync, readFileSync } from "fs";
import { homedir } from "os";
import * as path from "path";

export const repoRoot = path.resolve(__dirname, "..");

interface PluginPin {
    readonly version: string;
    readonly module: string;
    /** The module version the proxy serves, or null with `refused` saying what it answered. */
    readonly moduleVersion: string | null;
    readonly refused?: string;
}

export interface Pins {
    readonly pulumi: { readonly cli: string; readonly languageHost: { readonly module: string; readonly servedVersion: string | null; readonly refused?: string } };
    readonly plugins: Readonly<Record<string, PluginPin>>;
    readonly kubernetes: string;
    readonly etcd: string;
    /** The Node.js toolchain/node.sh fetches when the machine's is older than its major. */
    readonly node: string;
}

export const pins: Pins = JSON.parse(readFileSync(path.join(repoRoot, "toolchain", "pins.json"), "utf8"));

/** Same default as build.sh. */
export function cacheDir(): string {
    return process.env.HA_TOOLCHAIN_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), ".cache"), "ha-control-plane", "toolchain");
}

/** A project-local PULUMI_HOME, so plugins installed for this project never touch ~/.pulumi. */
export function pulumiHome(): string {
    return process.env.PULUMI_HOME ?? path.join(repoRoot, ".pulumi");
}

function built(piece: string, binary: string): string | undefined {
    const dir = path.join(cacheDir(), piece);
    const file = path.join(dir, "bin", binary);
    return existsSync(path.join(dir, ".complete")) && existsSync(file) ? file : undefined;
}

function onPath(binary: string): string | undefined {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        const file = path.join(dir, binary);
        if (dir && existsSync(file)) return file;
    }
    return undefined;
}

function versionOf(pulumi: string): string | undefined {
    try {
        return execFileSync(pulumi, ["version"], { encoding: "utf8", env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } }).trim().replace(/^v/, "");
    } catch {
        return undefined;
    }
}

/** The Pulumi CLI of the pinned version: the user's own on PATH, else the cache's; undefined when neither. */
export function pulumiCli(): string | undefined {
    const own = onPath("pulumi");
    if (own && versionOf(own) === pins.pulumi.cli) return own;
    return built(`pulumi-${pins.pulumi.cli}`, "pulumi");
}

/** The Node.js language host next to the CLI or on PATH (never built here while the proxy refuses it). */
export function languageHost(cli: string): string | undefined {
    const beside = path.join(path.dirname(cli), "pulumi-language-nodejs");
    return existsSync(beside) ? beside : onPath("pulumi-language-nodejs");
}

/** The built binary of each plugin the proxy serves, by plugin name. */
export function builtPlugins(): Record<string, { version: string; binary: string }> {
    const out: Record<string, { version: string; binary: string }> = {};
    for (const [name, pin] of Object.entries(pins.plugins)) {
        const binary = pin.moduleVersion ? built(`plugin-${name}-${pin.version}`, `pulumi-resource-${name}`) : undefined;
        if (binary) out[name] = { version: pin.version, binary };
    }
    return out;
}

/** The plugins the proxy refuses, with its answer: what the engine cannot load here. */
export function refusedPlugins(): Record<string, string> {
    return Object.fromEntries(Object.entries(pins.plugins).filter(([, p]) => !p.moduleVersion).map(([n, p]) => [n, p.refused ?? "not served"]));
}

export interface KubernetesBinaries {
    readonly kubeApiserver: string;
    readonly kubeadm: string;
    readonly kubectl: string;
    readonly etcd: string;
    readonly etcdctl: string;
    readonly etcdutl: string;
}

/** The built Kubernetes and etcd binaries, or undefined until `npm run toolchain` has built them. */
export function kubernetesBinaries(): KubernetesBinaries | undefined {
    const k = `kubernetes-${pins.kubernetes}`;
    const e = `etcd-${pins.etcd}`;
    const found = {
        kubeApiserver: built(k, "kube-apiserver"),
        kubeadm: built(k, "kubeadm"),
        kubectl: built(k, "kubectl"),
        etcd: built(e, "etcd"),
        etcdctl: built(e, "etcdctl"),
        etcdutl: built(e, "etcdutl"),
    };
    return Object.values(found).every(Boolean) ? (found as KubernetesBinaries) : undefined;
}

/**
 * The environment every engine run gets: the project-local PULUMI_HOME, no update check, no
 * plugin download (nothing but the pinned, built plugins may load), a local file backend.
 */
export function engineEnv(overrides: { backendUrl?: string; passphrase?: string } = {}): NodeJS.ProcessEnv {
    const cli = pulumiCli();
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        PULUMI_HOME: pulumiHome(),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
        PULUMI_BACKEND_URL: overrides.backendUrl ?? process.env.PULUMI_BACKEND_URL ?? `file://${path.join(repoRoot, ".pulumi-state")}`,
    };
    if (overrides.passphrase !== undefined) env.PULUMI_CONFIG_PASSPHRASE = overrides.passphrase;
    if (cli) env.PATH = `${path.dirname(cli)}${path.delimiter}${process.env.PATH ?? ""}`;
    return env;
}
