/**
 * A fake cluster for the cluster scripts: stand-ins for kubectl, etcdctl, ssh, curl, systemctl,
 * crictl and kubeadm (tests/clusterOps/stubs), first on PATH in a temporary directory, serving a
 * state file built from realistic `kubectl get nodes -o json` fixtures. kubectl against a live
 * apiserver, kubeadm and the nodes themselves cannot run here, which is why they are stubs; the
 * scripts under test are the real files from scripts/cluster, run with bash.
 */
import { spawnSync, SpawnSyncReturns } from "child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { SCRIPTS_DIR } from "../../../components/scriptFile";

export const FIXTURES = path.resolve(__dirname, "..", "..", "fixtures", "clusterOps");
const STUBS = path.resolve(__dirname, "..", "stubs");
const YAML_MODULE = require.resolve("yaml");

export type Json = Record<string, any>;

export interface ClusterState {
    nodes: Json;
    leases?: Record<string, { renewTime: string; renewAfterReads?: number }>;
    configmaps?: Record<string, Json>;
    daemonsets?: Record<string, Json>;
    etcdUnhealthy?: string[];
    etcdLearners?: string[];
    /** Peer URLs of members added but never started (a join that failed after `member add`). */
    etcdUnstarted?: string[];
    upgradeReadyAfterPolls?: number;
    neverReady?: string[];
    drainFails?: string[];
    transitions?: Record<string, { readyAfterPolls: number; never?: boolean }>;
}

export function nodesFixture(name: "all-ready" | "master-notready" | "master-cordoned" | "even-count"): Json {
    return JSON.parse(readFileSync(path.join(FIXTURES, `nodes-${name}.json`), "utf8"));
}

export const readyOf = (node: Json): string => (node.status.conditions.find((c: Json) => c.type === "Ready") ?? {}).status ?? "Unknown";
export const isMaster = (node: Json): boolean => "node-role.kubernetes.io/control-plane" in (node.metadata.labels ?? {});

function copyExecutables(from: string, to: string): void {
    mkdirSync(to, { recursive: true });
    for (const f of readdirSync(from)) {
        copyFileSync(path.join(from, f), path.join(to, f));
        chmodSync(path.join(to, f), 0o755);
    }
}

export class FakeCluster {
    readonly dir: string;

    constructor(state: ClusterState) {
        this.dir = mkdtempSync(path.join(tmpdir(), "hacp-cluster-"));
        copyExecutables(path.join(STUBS, "bin"), path.join(this.dir, "bin"));
        copyExecutables(path.join(STUBS, "node-bin"), path.join(this.dir, "node-bin"));
        writeFileSync(path.join(this.dir, "log"), "");
        this.setState(state);
    }

    setState(state: ClusterState): void {
        writeFileSync(path.join(this.dir, "state.json"), JSON.stringify(state, null, 1));
    }

    state(): ClusterState {
        return JSON.parse(readFileSync(path.join(this.dir, "state.json"), "utf8"));
    }

    log(): string[] {
        return readFileSync(path.join(this.dir, "log"), "utf8").split("\n").filter(Boolean);
    }

    file(name: string, content?: string): string {
        const p = path.join(this.dir, name);
        if (content !== undefined) {
            mkdirSync(path.dirname(p), { recursive: true });
            writeFileSync(p, content);
        }
        return p;
    }

    env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
        return {
            ...process.env,
            PATH: `${path.join(this.dir, "bin")}:${process.env.PATH}`,
            STUB_DIR: this.dir,
            STUB_YAML_MODULE: YAML_MODULE,
            POLL_SECONDS: "0.05",
            KUBECONFIG: path.join(this.dir, "admin.conf"),
            ...extra,
        };
    }

    /** Runs scripts/<script> with bash, bounded, against this cluster. */
    run(script: string, args: readonly string[], options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
        return spawnSync("bash", [path.join(SCRIPTS_DIR, script), ...args], {
            encoding: "utf8",
            env: this.env(options.env),
            input: options.input ?? "",
            timeout: options.timeoutMs ?? 30_000,
        });
    }

    cleanup(): void {
        rmSync(this.dir, { recursive: true, force: true });
    }
}
