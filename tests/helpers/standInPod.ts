/**
 * STAND-IN kubelet for one pod of a Job (no kubelet or container runtime can run here): the pod
 * spec's init containers, then its containers, run in order on this machine, each as the process
 * its `command` and `args` name, stopping at the first that fails, as a pod does.
 *
 * What a kubelet would provide is mapped, and nothing else is changed:
 *   - volumes become paths: a hostPath is the node's file or directory the test names for that
 *     path, an NFS volume the directory the test names for server:path, an emptyDir a fresh
 *     directory (gone with the pod), a configMap a directory of its data's files;
 *   - an argument that starts with a mountPath (or has it after `=`) gets its volume's path;
 *   - `$(VAR)` is the container's env (the downward API's spec.nodeName is the node's name);
 *   - a hostNetwork pod reaches the node's own addresses: each the test maps (the node's etcd at
 *     https://127.0.0.1:2379, say) is replaced by where that service really listens;
 *   - `binaries` says what runs for a command whose image binary is not on this machine, and
 *     `images` what stands for the entrypoint of an image whose container names no command.
 */
import { spawn } from "child_process";
import { writeFileSync } from "fs";
import * as path from "path";
import type { DaemonGroup } from "./daemons";

type Json = Record<string, any>;

export interface StandInNode {
    readonly name: string;
    /** hostPath path -> the test's file or directory behind it. */
    readonly hostPaths?: Readonly<Record<string, string>>;
    /** "server:path" of an NFS volume -> the test's directory behind it. */
    readonly nfs?: Readonly<Record<string, string>>;
    /** ConfigMap name -> its data. */
    readonly configMaps?: Readonly<Record<string, Readonly<Record<string, string>>>>;
    /** For a hostNetwork pod: an address as the pod names it -> where it really is. */
    readonly network?: Readonly<Record<string, string>>;
    /** A command name -> the argv prefix and environment that stand for it here. */
    readonly binaries?: Readonly<Record<string, { readonly argv: readonly string[]; readonly env?: Readonly<Record<string, string>> }>>;
    /** An image -> the argv that stands for its entrypoint (for a container with only `args`). */
    readonly images?: Readonly<Record<string, readonly string[]>>;
}

export interface ContainerRun {
    readonly container: string;
    /** What ran, after the mapping. */
    readonly argv: readonly string[];
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** Each volume's path; `podOwned` collects the directories that live only as long as the pod. */
function volumePaths(spec: Json, node: StandInNode, group: DaemonGroup, podOwned: string[]): Map<string, string> {
    const paths = new Map<string, string>();
    for (const v of (spec.volumes ?? []) as Json[]) {
        let where: string | undefined;
        if (v.hostPath) where = node.hostPaths?.[v.hostPath.path];
        else if (v.nfs) where = node.nfs?.[`${v.nfs.server}:${v.nfs.path}`];
        else if (v.emptyDir) podOwned.push((where = group.directory(`hacp-pod-${v.name}-`)));
        else if (v.configMap) {
            const data = node.configMaps?.[v.configMap.name];
            if (data) {
                podOwned.push((where = group.directory(`hacp-pod-${v.name}-`)));
                for (const [file, text] of Object.entries(data)) writeFileSync(path.join(where, file), text, { mode: v.configMap.defaultMode ?? 0o644 });
            }
        }
        if (!where) throw new Error(`stand-in pod: volume ${v.name} (${JSON.stringify(v)}) has nothing behind it on node ${node.name}`);
        paths.set(v.name, where);
    }
    return paths;
}

function run(argv: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", (err) => {
            clearTimeout(timer);
            reject(err);
        });
        child.on("close", (status) => {
            clearTimeout(timer);
            resolve({ status, stdout, stderr });
        });
    });
}

/**
 * Runs the pod's containers in order; resolves with each one's run (the last is the one that
 * failed, if one did). Asynchronous: the test's own servers (a slow link) keep serving meanwhile.
 * Its directories are `group`'s; each container is bounded by `timeoutMs`.
 */
export async function runStandInPod(spec: Json, node: StandInNode, group: DaemonGroup, timeoutMs = 300_000): Promise<ContainerRun[]> {
    const podOwned: string[] = [];
    try {
        return await runContainers(spec, node, volumePaths(spec, node, group, podOwned), timeoutMs);
    } finally {
        for (const dir of podOwned) group.removeDirectory(dir);
    }
}

async function runContainers(spec: Json, node: StandInNode, paths: Map<string, string>, timeoutMs: number): Promise<ContainerRun[]> {
    const runs: ContainerRun[] = [];
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])] as Json[]) {
        const env: Record<string, string> = {};
        for (const e of (c.env ?? []) as Json[]) {
            const field = e.valueFrom?.fieldRef?.fieldPath;
            if (field !== undefined && field !== "spec.nodeName") throw new Error(`stand-in pod: ${c.name}'s env ${e.name} reads ${field}`);
            env[e.name] = field === "spec.nodeName" ? node.name : String(e.value ?? "");
        }
        const mounts = ((c.volumeMounts ?? []) as Json[]).map((m) => [m.mountPath as string, paths.get(m.name)!] as const);
        const mapped = (arg: string) => {
            let out = arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, name: string) => env[name] ?? "");
            for (const [mountPath, where] of mounts) out = out.replace(new RegExp(`(^|=)${escapeRegExp(mountPath)}(?=/|$)`), `$1${where}`);
            if (spec.hostNetwork) for (const [address, real] of Object.entries(node.network ?? {})) out = out.split(address).join(real);
            return out;
        };
        const args = ((c.args ?? []) as unknown[]).map((a) => mapped(String(a)));
        let argv: string[];
        let standInEnv: Readonly<Record<string, string>> = {};
        if (c.command?.length) {
            const [command, ...rest] = (c.command as unknown[]).map((a) => mapped(String(a)));
            const standIn = node.binaries?.[command];
            argv = [...(standIn?.argv ?? [command]), ...rest, ...args];
            standInEnv = standIn?.env ?? {};
        } else {
            const entrypoint = node.images?.[c.image];
            if (!entrypoint) throw new Error(`stand-in pod: container ${c.name} runs the entrypoint of ${c.image}, which nothing stands for here`);
            argv = [...entrypoint, ...args];
        }
        const result = await run(argv, { ...process.env, ...env, ...standInEnv }, timeoutMs);
        runs.push({ container: c.name, argv, ...result });
        if (result.status !== 0) break;
    }
    return runs;
}
