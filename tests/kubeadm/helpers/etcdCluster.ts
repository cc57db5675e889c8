/**
 * A real etcd cluster (Debian's etcd-server, 3.4) for the quorum guard tests: members on loopback
 * ports (retried on fresh ones when a port is taken), data in a temporary directory, plain http
 * (the scripts take ETCD_CACERT=""), short election timeouts so leadership moves quickly. Start
 * waits until every member answers /health, or one exits; `destroy` (or the DaemonGroup given to
 * `start`) stops what it started and removes the directory. A cluster can also start from a
 * snapshot (`fromSnapshot`): each member's data directory is restored from it first, as an
 * operator restores a lost cluster.
 */
import { ChildProcess, execFile, spawnSync } from "child_process";
import { rmSync } from "fs";
import * as http from "http";
import * as path from "path";
import { Daemon, DAEMON_START_DEADLINE_MS, DaemonGroup, waitForAnswer, withFreshPorts } from "../../helpers/daemons";

export interface EtcdMember {
    readonly name: string;
    readonly clientUrl: string;
    readonly peerUrl: string;
    process?: ChildProcess;
}

/** etcdctl 3.4 exits when an ETCDCTL_* variable (even empty) shadows a flag: drop them all. */
function etcdctlEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, ETCDCTL_API: "3" };
    for (const key of Object.keys(env)) if (key.startsWith("ETCDCTL_") && key !== "ETCDCTL_API") delete env[key];
    return env;
}

/** GET <client>/health: true when the member is part of a cluster with a leader (etcd's own check). */
function answersHealthy(member: EtcdMember): Promise<boolean> {
    return new Promise((resolve) => {
        const req = http.get(`${member.clientUrl}/health`, { timeout: 3000 }, (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve(res.statusCode === 200 && /"health":\s*"true"/.test(body)));
            res.on("error", () => resolve(false));
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(false));
    });
}

export interface EtcdStartOptions {
    /** A snapshot file (etcdctl snapshot save) every member's data directory is restored from. */
    readonly fromSnapshot?: string;
}

/** `etcdctl snapshot restore` of `snapshot` into `member`'s data directory, as one of `initialCluster`. */
function restoreSnapshot(snapshot: string, member: EtcdMember, dataDir: string, initialCluster: string, token: string): void {
    const run = spawnSync("etcdctl", [
        "snapshot", "restore", snapshot,
        "--data-dir", dataDir,
        "--name", member.name,
        "--initial-cluster", initialCluster,
        "--initial-cluster-token", token,
        "--initial-advertise-peer-urls", member.peerUrl,
    ], { encoding: "utf8", timeout: 120_000, env: etcdctlEnv() });
    if (run.status !== 0) throw new Error(`etcdctl snapshot restore ${snapshot} for ${member.name} failed (${run.status ?? run.signal}):\n${run.stderr}`);
}

export class EtcdCluster {
    private constructor(
        readonly dir: string,
        readonly members: EtcdMember[],
        private readonly daemons: Map<string, Daemon>,
        private readonly group: DaemonGroup,
    ) {}

    /**
     * Starts one member per name. With `group`, the caller's after hook stops them even while
     * this is still starting; without, `destroy` does.
     */
    static async start(names: readonly string[], group = new DaemonGroup(), options: EtcdStartOptions = {}): Promise<EtcdCluster> {
        return group.starting(EtcdCluster.startIn(names, group, options));
    }

    private static async startIn(names: readonly string[], group: DaemonGroup, options: EtcdStartOptions): Promise<EtcdCluster> {
        const dir = group.directory("hacp-etcd-");
        const token = path.basename(dir);
        try {
            return await withFreshPorts(names.length * 2, async (ports) => {
                const members: EtcdMember[] = names.map((name, i) => ({ name, clientUrl: `http://127.0.0.1:${ports[2 * i]}`, peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}` }));
                const initial = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
                const daemons = new Map<string, Daemon>();
                try {
                    for (const m of members) {
                        rmSync(path.join(dir, m.name), { recursive: true, force: true });
                        // The restored members carry these ports: restored again on a retry.
                        if (options.fromSnapshot) restoreSnapshot(options.fromSnapshot, m, path.join(dir, m.name), initial, token);
                        const daemon = group.start(`etcd ${m.name} (${m.clientUrl})`, "etcd", [
                            "--name", m.name,
                            "--data-dir", path.join(dir, m.name),
                            "--listen-client-urls", m.clientUrl,
                            "--advertise-client-urls", m.clientUrl,
                            "--listen-peer-urls", m.peerUrl,
                            "--initial-advertise-peer-urls", m.peerUrl,
                            "--initial-cluster", initial,
                            "--initial-cluster-state", "new",
                            // Its own cluster id: a member never joins another test's cluster.
                            "--initial-cluster-token", token,
                            "--heartbeat-interval", "50",
                            "--election-timeout", "500",
                            "--log-level", "error",
                        ], { stopSignal: "SIGKILL" });
                        daemons.set(m.name, daemon);
                        m.process = daemon.child;
                    }
                    const all = [...daemons.values()];
                    await waitForAnswer(`etcd members ${names.join(", ")} healthy`, all, async () => (await Promise.all(members.map(answersHealthy))).every(Boolean));
                    return new EtcdCluster(dir, members, daemons, group);
                } catch (err) {
                    await group.stop([...daemons.values()]);
                    throw err;
                }
            });
        } catch (err) {
            group.removeDirectory(dir);
            throw err;
        }
    }

    /** The environment the scripts need to reach this cluster through `member`. */
    env(member: EtcdMember = this.members[0]): Record<string, string> {
        return { ETCD_ENDPOINT: member.clientUrl, ETCD_CACERT: "", ETCD_HEALTH_TIMEOUT: "1s", HACP_POLL_SECONDS: "0.2" };
    }

    etcdctl(args: readonly string[], endpoints: readonly EtcdMember[] = this.running()): { status: number | null; stdout: string; stderr: string } {
        const run = spawnSync("etcdctl", ["--endpoints", endpoints.map((m) => m.clientUrl).join(","), "--dial-timeout", "2s", "--command-timeout", "5s", ...args], {
            encoding: "utf8",
            timeout: 15_000,
            env: etcdctlEnv(),
        });
        return { status: run.status, stdout: run.stdout, stderr: run.stderr };
    }

    running(): EtcdMember[] {
        return this.members.filter((m) => m.process && m.process.exitCode === null && m.process.signalCode === null);
    }

    /** name -> hex id, from the member list (asked of the first running member). */
    ids(): Map<string, string> {
        const out = this.etcdctl(["member", "list", "-w", "simple"], this.running().slice(0, 1)).stdout;
        return new Map(out.trim().split("\n").filter(Boolean).map((line) => {
            const [id, , name] = line.split(", ");
            return [name, id] as [string, string];
        }));
    }

    leaderName(endpoints: readonly EtcdMember[] = this.running()): string | undefined {
        const out = this.etcdctl(["endpoint", "status", "-w", "simple"], endpoints).stdout;
        const ids = this.ids();
        for (const line of out.trim().split("\n")) {
            const cells = line.split(", ");
            if (cells[4] === "true") return [...ids.entries()].find(([, id]) => id === cells[1])?.[0];
        }
        return undefined;
    }

    /** Until every one of `members` answers etcdctl's health check (or one of them exits, or the deadline). */
    async waitHealthy(members: readonly EtcdMember[], timeoutMs = DAEMON_START_DEADLINE_MS): Promise<void> {
        const endpoints = members.map((m) => m.clientUrl).join(",");
        const probe = () =>
            new Promise<boolean>((resolve) => {
                execFile("etcdctl", ["--endpoints", endpoints, "--dial-timeout", "2s", "--command-timeout", "3s", "endpoint", "health"], { env: etcdctlEnv(), timeout: 10_000 }, (err) =>
                    resolve(!err),
                );
            });
        const daemons = members.map((m) => this.daemons.get(m.name)).filter((d): d is Daemon => d !== undefined);
        await waitForAnswer(`etcd members ${members.map((m) => m.name).join(", ")} healthy`, daemons, probe, timeoutMs);
    }

    /** Kills a member (as a crash would) and waits until it is gone. */
    async stop(name: string): Promise<void> {
        const daemon = this.daemons.get(name);
        if (daemon) await this.group.stop([daemon]);
    }

    async destroy(): Promise<void> {
        await this.group.stop([...this.daemons.values()]);
        this.group.removeDirectory(this.dir);
    }
}
