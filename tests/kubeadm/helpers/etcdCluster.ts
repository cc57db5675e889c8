/**
 * A real etcd cluster (Debian's etcd-server, 3.4) for the quorum guard tests: members on loopback
 * ports (retried on fresh ones when a port is taken), data in a temporary directory, plain http
 * (the scripts take ETCD_CACERT=""), short election timeouts so leadership moves quickly. Start
 * waits until every member answers /health, or one exits; `destroy` (or the DaemonGroup given to
 * `start`) stops what it started and removes the directory. A cluster can also start from a
 * snapshot (`fromSnapshot`): each member's data directory is restored from it first, as an
 * operator restores a lost cluster. With `tls`, clients must speak TLS with a client certificate,
 * as to kubeadm's stacked etcd: a CA of the test's, a server certificate for 127.0.0.1 and a
 * client pair named like kubeadm's healthcheck-client (peers stay plain http).
 */
import { ChildProcess, execFile, spawnSync } from "child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import { Daemon, DAEMON_START_DEADLINE_MS, DaemonGroup, waitForAnswer, withFreshPorts } from "../../helpers/daemons";

export interface EtcdMember {
    readonly name: string;
    readonly clientUrl: string;
    readonly peerUrl: string;
    process?: ChildProcess;
}

/** A TLS cluster's CA and the client pair its clients present. */
export interface EtcdClientPki {
    readonly ca: string;
    readonly cert: string;
    readonly key: string;
}

interface EtcdPki extends EtcdClientPki {
    readonly serverCert: string;
    readonly serverKey: string;
}

/** etcdctl 3.4 exits when an ETCDCTL_* variable (even empty) shadows a flag: drop them all. */
function etcdctlEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, ETCDCTL_API: "3" };
    for (const key of Object.keys(env)) if (key.startsWith("ETCDCTL_") && key !== "ETCDCTL_API") delete env[key];
    return env;
}

/** A CA, a server pair for 127.0.0.1 and a client pair in DIR, made with openssl (EC keys: quick). */
function createPki(dir: string): EtcdPki {
    mkdirSync(dir, { recursive: true });
    const file = (name: string) => path.join(dir, name);
    const openssl = (args: readonly string[]) => {
        const run = spawnSync("openssl", args, { encoding: "utf8", timeout: 30_000 });
        if (run.status !== 0) throw new Error(`openssl ${args.join(" ")} failed:\n${run.stderr}`);
    };
    const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(["req", "-x509", ...newKey, "-keyout", file("ca.key"), "-out", file("ca.crt"), "-subj", "/CN=etcd-ca", "-days", "2"]);
    const pairs = [
        { name: "server", subject: "/CN=etcd-server", extensions: "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n" },
        { name: "healthcheck-client", subject: "/CN=kube-etcd-healthcheck-client", extensions: "extendedKeyUsage=clientAuth\n" },
    ];
    for (const { name, subject, extensions } of pairs) {
        writeFileSync(file(`${name}.ext`), extensions);
        openssl(["req", "-new", ...newKey, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`), "-subj", subject]);
        openssl(["x509", "-req", "-in", file(`${name}.csr`), "-CA", file("ca.crt"), "-CAkey", file("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", file(`${name}.ext`), "-out", file(`${name}.crt`)]);
    }
    return { ca: file("ca.crt"), cert: file("healthcheck-client.crt"), key: file("healthcheck-client.key"), serverCert: file("server.crt"), serverKey: file("server.key") };
}

/** GET <client>/health: true when the member is part of a cluster with a leader (etcd's own check). */
function answersHealthy(member: EtcdMember, pki: EtcdClientPki | undefined): Promise<boolean> {
    return new Promise((resolve) => {
        const onResponse = (res: http.IncomingMessage) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve(res.statusCode === 200 && /"health":\s*"true"/.test(body)));
            res.on("error", () => resolve(false));
        };
        const url = `${member.clientUrl}/health`;
        const req = pki
            ? https.get(url, { timeout: 3000, ca: readFileSync(pki.ca), cert: readFileSync(pki.cert), key: readFileSync(pki.key) }, onResponse)
            : http.get(url, { timeout: 3000 }, onResponse);
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(false));
    });
}

export interface EtcdStartOptions {
    /** A snapshot file (etcdctl snapshot save) every member's data directory is restored from. */
    readonly fromSnapshot?: string;
    /** Clients over TLS with a client certificate (EtcdCluster.pki), as kubeadm's etcd. */
    readonly tls?: boolean;
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
        /** The CA and client pair of a TLS cluster; undefined for plain http. */
        readonly pki: EtcdClientPki | undefined,
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
            const pki = options.tls ? createPki(path.join(dir, "pki")) : undefined;
            const scheme = pki ? "https" : "http";
            const tlsFlags = pki ? ["--cert-file", pki.serverCert, "--key-file", pki.serverKey, "--client-cert-auth", "--trusted-ca-file", pki.ca] : [];
            return await withFreshPorts(names.length * 2, async (ports) => {
                const members: EtcdMember[] = names.map((name, i) => ({ name, clientUrl: `${scheme}://127.0.0.1:${ports[2 * i]}`, peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}` }));
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
                            ...tlsFlags,
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
                    await waitForAnswer(`etcd members ${names.join(", ")} healthy`, all, async () => (await Promise.all(members.map((m) => answersHealthy(m, pki)))).every(Boolean));
                    return new EtcdCluster(dir, members, daemons, group, pki && { ca: pki.ca, cert: pki.cert, key: pki.key });
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
        const tls: Record<string, string> = this.pki ? { ETCD_CACERT: this.pki.ca, ETCD_CERT: this.pki.cert, ETCD_KEY: this.pki.key } : { ETCD_CACERT: "" };
        return { ETCD_ENDPOINT: member.clientUrl, ...tls, ETCD_HEALTH_TIMEOUT: "1s", HACP_POLL_SECONDS: "0.2" };
    }

    /** etcdctl's flags for this cluster's endpoints `endpoints` (with the client pair over TLS). */
    private flags(endpoints: readonly EtcdMember[]): string[] {
        const tls = this.pki ? ["--cacert", this.pki.ca, "--cert", this.pki.cert, "--key", this.pki.key] : [];
        return ["--endpoints", endpoints.map((m) => m.clientUrl).join(","), ...tls, "--dial-timeout", "2s"];
    }

    /** etcdctl against `endpoints`, its requests bounded by `commandTimeoutSeconds` (the process by 10 s more). */
    etcdctl(args: readonly string[], endpoints: readonly EtcdMember[] = this.running(), commandTimeoutSeconds = 5): { status: number | null; stdout: string; stderr: string } {
        const run = spawnSync("etcdctl", [...this.flags(endpoints), "--command-timeout", `${commandTimeoutSeconds}s`, ...args], {
            encoding: "utf8",
            timeout: (commandTimeoutSeconds + 10) * 1000,
            env: etcdctlEnv(),
        });
        return { status: run.status, stdout: run.stdout, stderr: run.stderr };
    }

    /**
     * Puts `count` keys through etcd's gRPC gateway (POST /v3/kv/put on `member`), `parallel` at a
     * time over kept-alive connections: one etcdctl process per key would take far longer.
     */
    async putMany(count: number, entry: (i: number) => { key: string; value: Buffer }, parallel = 8, member = this.members[0]): Promise<void> {
        const pki = this.pki;
        const keep = { keepAlive: true, maxSockets: parallel };
        const agent = pki ? new https.Agent({ ...keep, ca: readFileSync(pki.ca), cert: readFileSync(pki.cert), key: readFileSync(pki.key) }) : new http.Agent(keep);
        const url = new URL("/v3/kv/put", member.clientUrl);
        const post = (body: string) =>
            new Promise<void>((resolve, reject) => {
                const options = { method: "POST", agent, timeout: 60_000, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } };
                const onResponse = (res: http.IncomingMessage) => {
                    let text = "";
                    res.on("data", (d) => (text += d));
                    res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`put through ${member.clientUrl}: ${res.statusCode} ${text}`))));
                };
                const req = pki ? https.request(url, options, onResponse) : http.request(url, options, onResponse);
                req.on("timeout", () => req.destroy(new Error(`put through ${member.clientUrl}: no answer within 60 s`)));
                req.on("error", reject);
                req.end(body);
            });
        let next = 0;
        const worker = async () => {
            while (next < count) {
                const { key, value } = entry(next++);
                await post(JSON.stringify({ key: Buffer.from(key).toString("base64"), value: value.toString("base64") }));
            }
        };
        try {
            await Promise.all(Array.from({ length: parallel }, worker));
        } finally {
            agent.destroy();
        }
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
        const probe = () =>
            new Promise<boolean>((resolve) => {
                execFile("etcdctl", [...this.flags(members), "--command-timeout", "3s", "endpoint", "health"], { env: etcdctlEnv(), timeout: 10_000 }, (err) => resolve(!err));
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
