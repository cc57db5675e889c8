/**
 * STAND-IN for the kubelet (no kubelet or container runtime can run here): it runs the static
 * pods of one host from the manifests kubeadm wrote to its /etc/kubernetes/manifests, each as
 * the process the manifest's first container names (its `command` and `args`, with the binary
 * taken from the toolchain), inside the host's namespaces. Like a kubelet it starts a pod whose
 * manifest appears, restarts its process when it exits (after a short back-off), and when the
 * manifest changes stops the old process (SIGTERM, SIGKILL after the pod's grace period) before
 * starting the new one. Nothing else: no probes, no mirror pods, no images.
 *
 * What the scripts ask of a node's container runtime goes through stand-in `crictl` and
 * `systemctl` executables (writeStandInTools): `crictl ps --name RE --state running -q` lists
 * the running pods' container ids, `crictl stop [--timeout S] ID` sends SIGTERM to the process
 * (SIGKILL after S), `systemctl restart kubelet` is recorded (this stand-in never stops).
 */
import { createHash } from "crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import type { Host } from "./hosts";
import { Daemon, ProcessGroup, sleep, waitFor } from "./processes";

type Json = Record<string, any>;

/** The command of a static pod's first container: what its process runs. */
export function manifestCommand(manifest: string): { name: string; argv: string[]; graceSeconds: number } {
    const pod = parse(manifest) as Json;
    const container = pod?.spec?.containers?.[0];
    const argv = [...(container?.command ?? []), ...(container?.args ?? [])].map(String);
    if (!pod?.metadata?.name || argv.length === 0) throw new Error("not a static pod manifest with a command");
    return { name: String(pod.metadata.name), argv, graceSeconds: Number(pod.spec.terminationGracePeriodSeconds ?? 30) };
}

/** One argument's value from a command line, e.g. flagValue(argv, "secure-port"). */
export function flagValue(argv: readonly string[], flag: string): string | undefined {
    const prefix = `--${flag}=`;
    return argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

interface PodState {
    manifestFile: string;
    hash: string;
    process?: Daemon;
    containerId?: string;
    generation: number;
    restarts: number;
    stopping: boolean;
    nextStart: number;
}

export interface StandInKubeletOptions {
    /** Binary for each command name a manifest may run (etcd, kube-apiserver). */
    readonly binaries: Readonly<Record<string, string>>;
    /** Pause before restarting an exited pod (a kubelet backs off from 10 s; shorter here). */
    readonly restartBackoffMs?: number;
    readonly pollMs?: number;
}

export class StandInKubelet {
    private readonly pods = new Map<string, PodState>();
    private readonly holds = new Map<string, () => boolean>();
    private timer: NodeJS.Timeout | undefined;
    private syncing = false;
    private stopped = false;
    readonly stateDir: string;
    readonly logDir: string;

    constructor(readonly host: Host, private readonly group: ProcessGroup, private readonly options: StandInKubeletOptions) {
        this.stateDir = path.join(host.dir, "stand-in-kubelet");
        this.logDir = path.join(host.dir, "logs");
        mkdirSync(path.join(this.stateDir, "running"), { recursive: true });
        mkdirSync(this.logDir, { recursive: true });
    }

    get manifestsDir(): string {
        return path.join(this.host.kubernetesDir, "manifests");
    }

    start(): void {
        const tick = async () => {
            if (this.stopped) return;
            await this.sync().catch(() => undefined);
            if (!this.stopped) this.timer = setTimeout(tick, this.options.pollMs ?? 250);
        };
        void tick();
    }

    /**
     * While `when` returns true the pod is not started (a kubelet that cannot bring it back: the
     * container crashes, the image is missing). Used to drive a script's restore path.
     */
    hold(pod: string, when: () => boolean = () => true): void {
        this.holds.set(pod, when);
    }

    release(pod: string): void {
        this.holds.delete(pod);
    }

    running(pod: string): { pid: number; containerId: string; restarts: number } | undefined {
        const s = this.pods.get(pod);
        return s?.process?.running && s.containerId ? { pid: s.process.pid, containerId: s.containerId, restarts: s.restarts } : undefined;
    }

    logFile(pod: string): string {
        return path.join(this.logDir, `${pod}.log`);
    }

    /**
     * What a kubelet does when a static pod's manifest changes: SIGTERM to the running process,
     * wait for it to exit (SIGKILL after the grace period), then start the new one at once.
     * Resolves once the new process is started (not when it is ready).
     */
    async restart(pod: string, graceMs?: number): Promise<void> {
        const s = this.pods.get(pod);
        if (!s) throw new Error(`no static pod ${pod} on ${this.host.name}`);
        s.stopping = true;
        try {
            await this.stopProcess(s, graceMs);
            s.nextStart = 0;
            this.startPod(pod, s);
        } finally {
            s.stopping = false;
        }
    }

    /** Stops a pod's process (it starts again unless held: a kubelet restarts what exits). */
    async stopPod(pod: string, graceMs = 10_000): Promise<void> {
        const s = this.pods.get(pod);
        if (!s) throw new Error(`no static pod ${pod} on ${this.host.name}`);
        s.stopping = true;
        try {
            await this.stopProcess(s, graceMs);
        } finally {
            s.stopping = false;
        }
    }

    async waitRunning(pod: string, timeoutMs = 60_000): Promise<void> {
        await waitFor(`static pod ${pod} on ${this.host.name}`, timeoutMs, async () => (this.running(pod) ? true : undefined));
    }

    private async sync(): Promise<void> {
        if (this.syncing) return;
        this.syncing = true;
        try {
            const files = existsSync(this.manifestsDir) ? readdirSync(this.manifestsDir).filter((f) => /\.(ya?ml|json)$/.test(f)) : [];
            const seen = new Set<string>();
            for (const file of files) {
                const text = readFileSync(path.join(this.manifestsDir, file), "utf8");
                let name: string;
                try {
                    name = manifestCommand(text).name;
                } catch {
                    continue;
                }
                if (!(manifestCommand(text).argv[0] in this.options.binaries)) continue;
                seen.add(name);
                const hash = createHash("sha256").update(text).digest("hex");
                let s = this.pods.get(name);
                if (!s) {
                    s = { manifestFile: file, hash, generation: 0, restarts: 0, stopping: false, nextStart: 0 };
                    this.pods.set(name, s);
                }
                if (s.stopping) continue;
                if (s.hash !== hash) {
                    // The manifest changed: the old pod goes, the new one starts.
                    s.hash = hash;
                    s.manifestFile = file;
                    s.stopping = true;
                    await this.stopProcess(s);
                    s.stopping = false;
                    s.nextStart = 0;
                }
                if (!s.process?.running && Date.now() >= s.nextStart) this.startPod(name, s);
            }
            for (const [name, s] of this.pods) {
                if (!seen.has(name) && s.process?.running) {
                    s.stopping = true;
                    await this.stopProcess(s);
                    s.stopping = false;
                }
            }
        } finally {
            this.syncing = false;
        }
    }

    private startPod(name: string, s: PodState): void {
        if (this.stopped || s.process?.running) return;
        const hold = this.holds.get(name);
        if (hold?.()) return;
        const text = readFileSync(path.join(this.manifestsDir, s.manifestFile), "utf8");
        const { argv } = manifestCommand(text);
        const binary = this.options.binaries[argv[0]];
        s.generation += 1;
        if (s.generation > 1) s.restarts += 1;
        const containerId = createHash("sha256").update(`${this.host.name}/${name}/${s.generation}/${Date.now()}`).digest("hex");
        const log = this.logFile(name);
        writeFileSync(log, `--- ${new Date().toISOString()} start ${s.generation}: ${argv.join(" ")}\n`, { flag: "a" });
        const daemon = this.group.spawn(`${this.host.name}/${name}`, this.host.enter([binary, ...argv.slice(1)]), { logFile: log });
        s.process = daemon;
        s.containerId = containerId;
        const runningFile = path.join(this.stateDir, "running", name);
        writeFileSync(runningFile, `${containerId} ${daemon.pid}\n`);
        void daemon.exited.then(() => {
            if (s.process === daemon) {
                rmSync(runningFile, { force: true });
                s.nextStart = Date.now() + (this.options.restartBackoffMs ?? 1000);
            }
        });
    }

    private async stopProcess(s: PodState, graceMs?: number): Promise<void> {
        const daemon = s.process;
        if (!daemon?.running) return;
        const text = existsSync(path.join(this.manifestsDir, s.manifestFile)) ? readFileSync(path.join(this.manifestsDir, s.manifestFile), "utf8") : "";
        const grace = graceMs ?? (text ? manifestCommand(text).graceSeconds * 1000 : 30_000);
        await daemon.stop(grace);
    }

    /** Stops polling and every pod (apiservers before etcd, as a node shutdown would). */
    async stop(graceMs = 15_000): Promise<void> {
        this.stopped = true;
        if (this.timer) clearTimeout(this.timer);
        while (this.syncing) await sleep(20);
        const order = [...this.pods.entries()].sort(([a], [b]) => Number(a.startsWith("etcd")) - Number(b.startsWith("etcd")));
        for (const [, s] of order) await s.process?.stop(graceMs);
    }
}

/**
 * The stand-in crictl, systemctl and sudo, in `dir`, working on the kubelets' state directories
 * (STAND_IN_KUBELET_DIR); scripts find them first on PATH.
 */
export function writeStandInTools(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const crictl = String.raw`#!/usr/bin/env bash
# STAND-IN crictl (tests/helpers/controlPlane/standInKubelet.ts): the static pods the stand-in
# kubelet runs, by container id.
set -euo pipefail
state=${"$"}{STAND_IN_KUBELET_DIR:?STAND_IN_KUBELET_DIR is not set}
echo "crictl $*" >>"$state/calls.log"
case ${"$"}{1:-} in
    ps)
        shift
        name='.*' quiet=false
        while [[ $# -gt 0 ]]; do
            case $1 in
                --name) name=$2; shift 2 ;;
                --state) [[ $2 == running ]] || { echo "stand-in crictl: only --state running" >&2; exit 99; }; shift 2 ;;
                -q) quiet=true; shift ;;
                *) echo "stand-in crictl: unsupported ps argument $1" >&2; exit 99 ;;
            esac
        done
        $quiet || { echo "stand-in crictl: only ps -q" >&2; exit 99; }
        for f in "$state"/running/*; do
            [[ -f $f ]] || continue
            pod=$(basename "$f")
            [[ $pod =~ $name ]] || continue
            read -r id pid <"$f"
            kill -0 "$pid" 2>/dev/null && echo "$id"
        done
        ;;
    stop)
        shift
        timeout=10
        if [[ ${"$"}{1:-} == --timeout ]]; then timeout=$2; shift 2; fi
        id=${"$"}{1:?container id}
        for f in "$state"/running/*; do
            [[ -f $f ]] || continue
            read -r cid pid <"$f"
            [[ $cid == "$id"* ]] || continue
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 $((timeout * 10))); do kill -0 "$pid" 2>/dev/null || { echo "$id"; exit 0; }; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
            echo "$id"
            exit 0
        done
        echo "stand-in crictl: no container $id" >&2
        exit 1
        ;;
    *) echo "stand-in crictl: unsupported command $*" >&2; exit 99 ;;
esac
`;
    const systemctl = String.raw`#!/usr/bin/env bash
# STAND-IN systemctl (tests/helpers/controlPlane/standInKubelet.ts): records the call; the
# stand-in kubelet keeps running.
set -euo pipefail
state=${"$"}{STAND_IN_KUBELET_DIR:?STAND_IN_KUBELET_DIR is not set}
echo "systemctl $*" >>"$state/calls.log"
case "$*" in
    "restart kubelet") exit 0 ;;
    *) echo "stand-in systemctl: unsupported $*" >&2; exit 99 ;;
esac
`;
    // The program's commands start with `sudo -n` for a non-root SSH user; the tests run as root.
    const sudo = String.raw`#!/usr/bin/env bash
# STAND-IN sudo (tests/helpers/controlPlane/standInKubelet.ts): already root; -n is required, as
# the program never lets sudo ask for a password.
[[ ${"$"}{1:-} == -n ]] || { echo "stand-in sudo: the program always passes -n" >&2; exit 99; }
shift
exec "$@"
`;
    for (const [name, text] of [["crictl", crictl], ["systemctl", systemctl], ["sudo", sudo]] as const) {
        writeFileSync(path.join(dir, name), text);
        chmodSync(path.join(dir, name), 0o755);
    }
}
