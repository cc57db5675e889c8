/**
 * A real etcd cluster (Debian's etcd-server, 3.4) for the quorum guard tests: members on free
 * loopback ports, data in a temporary directory, plain http (the scripts take ETCD_CACERT=""),
 * short election timeouts so leadership moves quickly. Every wait is bounded; `destroy` kills
 * what it started and removes the directory.
 */
import { ChildProcess, execFile, spawn, spawnSync } from "child_process";
import { mkdtempSync, rmSync } from "fs";
import * as net from "net";
import { tmpdir } from "os";
import * as path from "path";

export interface EtcdMember {
    readonly name: string;
    readonly clientUrl: string;
    readonly peerUrl: string;
    process?: ChildProcess;
}

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** etcdctl 3.4 exits when an ETCDCTL_* variable (even empty) shadows a flag: drop them all. */
function etcdctlEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, ETCDCTL_API: "3" };
    for (const key of Object.keys(env)) if (key.startsWith("ETCDCTL_") && key !== "ETCDCTL_API") delete env[key];
    return env;
}

/** Every etcd this process started, and their directories: cleaned up on exit even if a run is interrupted. */
const started = new Set<ChildProcess>();
const directories = new Set<string>();
process.once("exit", () => {
    for (const child of started) if (child.exitCode === null) child.kill("SIGKILL");
    for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

export class EtcdCluster {
    private constructor(
        readonly dir: string,
        readonly members: EtcdMember[],
    ) {}

    static async start(names: readonly string[]): Promise<EtcdCluster> {
        const dir = mkdtempSync(path.join(tmpdir(), "hacp-etcd-"));
        directories.add(dir);
        const members: EtcdMember[] = [];
        for (const name of names) {
            members.push({ name, clientUrl: `http://127.0.0.1:${await freePort()}`, peerUrl: `http://127.0.0.1:${await freePort()}` });
        }
        const cluster = new EtcdCluster(dir, members);
        const initial = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
        for (const m of members) {
            m.process = spawn(
                "etcd",
                [
                    "--name", m.name,
                    "--data-dir", path.join(dir, m.name),
                    "--listen-client-urls", m.clientUrl,
                    "--advertise-client-urls", m.clientUrl,
                    "--listen-peer-urls", m.peerUrl,
                    "--initial-advertise-peer-urls", m.peerUrl,
                    "--initial-cluster", initial,
                    "--initial-cluster-state", "new",
                    "--heartbeat-interval", "50",
                    "--election-timeout", "500",
                    "--log-level", "error",
                ],
                { stdio: "ignore" },
            );
            started.add(m.process);
        }
        await cluster.waitHealthy(members, 20_000);
        return cluster;
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

    /** Asynchronous, with short etcdctl timeouts, so clusters boot side by side. */
    async waitHealthy(members: readonly EtcdMember[], timeoutMs: number): Promise<void> {
        const deadline = Date.now() + timeoutMs;
        const endpoints = members.map((m) => m.clientUrl).join(",");
        const probe = () =>
            new Promise<boolean>((resolve) => {
                execFile("etcdctl", ["--endpoints", endpoints, "--dial-timeout", "1s", "--command-timeout", "1s", "endpoint", "health"], { env: etcdctlEnv(), timeout: 5_000 }, (err) =>
                    resolve(!err),
                );
            });
        while (Date.now() < deadline) {
            if (await probe()) return;
            await sleep(100);
        }
        throw new Error(`etcd members ${members.map((m) => m.name).join(", ")} not healthy within ${timeoutMs} ms`);
    }

    async stop(name: string): Promise<void> {
        const m = this.members.find((x) => x.name === name);
        if (!m?.process || m.process.exitCode !== null) return;
        const exited = new Promise((r) => m.process!.once("exit", r));
        m.process.kill("SIGKILL");
        await Promise.race([exited, sleep(5_000)]);
    }

    async destroy(): Promise<void> {
        for (const m of this.members) await this.stop(m.name);
        rmSync(this.dir, { recursive: true, force: true });
    }
}
