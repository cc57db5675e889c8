/**
 * A real Kubernetes control plane without a kubelet, for tests and benches:
 *   - hosts: one network + mount namespace per master on a private bridge (hosts.ts);
 *   - certificates and kubeconfigs from real `kubeadm init phase certs all` and `kubeconfig all`
 *     on each master, from a kubeadm config with the master's name and address; the cluster-wide
 *     CAs and service-account key are copied from the first master to the others, as
 *     `kubeadm join --control-plane` would download them from kubeadm-certs;
 *   - a 3-member etcd (the toolchain's, the version kubeadm pins) run from the manifests
 *     `kubeadm init phase etcd local` writes, with TLS as kubeadm configures it; the members
 *     are bootstrapped together (--initial-cluster naming all of them), where kubeadm join
 *     would add them one at a time;
 *   - kube-apiservers run from the manifests `kubeadm init phase control-plane apiserver`
 *     writes (every flag kubeadm sets: service-account keys, service CIDR, etcd TLS, ...);
 *   - kubeadm's own objects from kubeadm: `init phase upload-config kubeadm` and `kubelet`,
 *     `bootstrap-token` (cluster-info, RBAC), `addon kube-proxy`.
 * STAND-INS, declared: the kubelet (standInKubelet.ts runs the static pods' processes from
 * their manifests and restarts them; crictl and systemctl talk to it), and for clients outside
 * the lan a TCP forwarder (forward()). No kube-controller-manager or scheduler runs (their
 * manifests are not written): nothing here needs them.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as net from "net";
import { tmpdir } from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { kubernetesBinaries, KubernetesBinaries, pins } from "../../../toolchain";
import { Host, hostAddress, Lan } from "./hosts";
import { Daemon, ProcessGroup, run, RunOptions, RunResult, runOk, sleep, waitFor } from "./processes";
import { manifestCommand, StandInKubelet, writeStandInTools } from "./standInKubelet";

type Json = Record<string, any>;

/** The lab's master names; addresses on the test network instead of the lab's. */
export const MASTER_NAMES = ["k8s-master", "k8s-master-2", "k8s-master-3"] as const;
export const masterAddress = (index: number): string => hostAddress(11 + index);
/** Where a load balancer in the lan serves the apiservers (the tests' VIP). */
export const TEST_VIP = hostAddress(99);
export const APISERVER_PORT = 6443;

/** The binaries, or a clear instruction when the toolchain is not built. */
export function requireKubernetesBinaries(): KubernetesBinaries {
    const found = kubernetesBinaries();
    if (!found) throw new Error(`kube-apiserver ${pins.kubernetes} and etcd ${pins.etcd} are not built: run \`npm run toolchain\` first`);
    return found;
}

/**
 * The cluster's ClusterConfiguration before phase 0, shaped like the lab's (certSANs with the
 * master's DNS name, authorization-mode, the metrics listener, the pod subnet); the lab's OIDC
 * issuer and audit log are left out (the apiserver would reach for an outside issuer).
 */
export function initialClusterConfiguration(): Json {
    return {
        apiVersion: "kubeadm.k8s.io/v1beta4",
        kind: "ClusterConfiguration",
        kubernetesVersion: `v${pins.kubernetes}`,
        clusterName: "kubernetes",
        certificatesDir: "/etc/kubernetes/pki",
        imageRepository: "registry.k8s.io",
        apiServer: {
            certSANs: ["k8s-master.viktorbarzin.lan"],
            extraArgs: [{ name: "authorization-mode", value: "Node,RBAC" }],
        },
        controllerManager: { extraArgs: [{ name: "bind-address", value: "0.0.0.0" }] },
        scheduler: { extraArgs: [{ name: "bind-address", value: "0.0.0.0" }] },
        etcd: { local: { dataDir: "/var/lib/etcd", extraArgs: [{ name: "listen-metrics-urls", value: "http://0.0.0.0:2381" }] } },
        networking: { dnsDomain: "cluster.local", podSubnet: "10.10.0.0/16", serviceSubnet: "10.96.0.0/12" },
    };
}

export interface ControlPlaneOptions {
    /** Masters (1 to 3); default 3. */
    readonly masters?: number;
    /** Edits the ClusterConfiguration before kubeadm sees it (e.g. apiserver flags). */
    readonly clusterConfiguration?: (cc: Json) => void;
    /**
     * Directories every master mounts at the same path, backed by one directory of the test's
     * (an NFS export such as the etcd backups' /srv/nfs/etcd-backup); cp.sharedDir(path) finds it.
     */
    readonly sharedPaths?: readonly string[];
    /** Kept for a look after a failure (HACP_KEEP_CONTROL_PLANE=1 does the same). */
    readonly keepDir?: boolean;
}

export interface Master {
    readonly name: string;
    readonly ip: string;
    readonly host: Host;
    readonly kubelet: StandInKubelet;
    /** The kubeadm config this master's phases ran with (InitConfiguration + ClusterConfiguration). */
    readonly kubeadmConfig: string;
}

export class ControlPlane {
    readonly group = new ProcessGroup();
    readonly masters: Master[] = [];
    lan!: Lan;
    readonly bin: KubernetesBinaries;
    /** The stand-in crictl and systemctl. */
    readonly standInBin: string;
    private forwarders: net.Server[] = [];

    private constructor(readonly dir: string, private readonly options: ControlPlaneOptions) {
        this.bin = requireKubernetesBinaries();
        this.standInBin = path.join(dir, "stand-in-bin");
    }

    /**
     * Builds the hosts and brings the control plane up; on any failure tears down what was
     * started before rethrowing, so a failed before hook leaves nothing behind.
     */
    static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
        const cp = new ControlPlane(mkdtempSync(path.join(tmpdir(), "hacp-cp-")), options);
        try {
            await cp.bootstrap();
            return cp;
        } catch (err) {
            await cp.teardown();
            throw err;
        }
    }

    get first(): Master {
        return this.masters[0];
    }

    /** The test's directory behind a shared mount (what the "NFS server" holds). */
    sharedDir(hostPath: string): string {
        const dir = path.join(this.dir, "shared", hostPath.replace(/[^A-Za-z0-9]+/g, "_"));
        mkdirSync(dir, { recursive: true });
        return dir;
    }

    /** PATH for commands on a master: the stand-ins first, then the toolchain, then the system's. */
    get path(): string {
        return [this.standInBin, path.dirname(this.bin.kubeadm), path.dirname(this.bin.etcd), process.env.PATH ?? "/usr/bin:/bin"].join(":");
    }

    /** The environment of a root shell on a master. */
    env(master: Master, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
        return { ...process.env, PATH: this.path, STAND_IN_KUBELET_DIR: master.kubelet.stateDir, HOME: master.host.dir, ...extra };
    }

    /** Runs argv as root on a master (in its namespaces, with its /etc/kubernetes). */
    onMaster(master: Master, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
        return master.host.run(argv, { ...opts, env: this.env(master, opts.env) });
    }

    /**
     * A script the way the program ships it: its text on stdin to `bash -s -- ARGS` (what
     * `command.remote.Command` with `create: "bash -s -- ..."` and `stdin` runs over SSH).
     */
    shipped(master: Master, script: string, args: readonly string[], opts: Omit<RunOptions, "input"> = {}): Promise<RunResult> {
        return this.onMaster(master, ["bash", "-s", "--", ...args], { timeoutMs: 300_000, ...opts, input: script });
    }

    /** Real kubectl with the first master's admin.conf, from the lan. */
    kubectl(args: readonly string[], opts: RunOptions & { kubeconfig?: string } = {}): Promise<RunResult> {
        const kubeconfig = opts.kubeconfig ?? path.join(this.first.host.kubernetesDir, "admin.conf");
        return this.lan.run([this.bin.kubectl, "--kubeconfig", kubeconfig, "--request-timeout=30s", ...args], { timeoutMs: 60_000, ...opts });
    }

    async kubectlOk(args: readonly string[], opts: RunOptions & { kubeconfig?: string } = {}): Promise<string> {
        const r = await this.kubectl(args, opts);
        if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
        return r.stdout;
    }

    async kubectlJson(args: readonly string[]): Promise<Json> {
        return JSON.parse(await this.kubectlOk([...args, "-o", "json"])) as Json;
    }

    /** /readyz of one master's apiserver (its own address), "ok" when ready. */
    async readyz(master: Master): Promise<string> {
        const r = await this.kubectl(["--server", `https://${master.ip}:${APISERVER_PORT}`, "get", "--raw=/readyz"], { timeoutMs: 20_000 });
        return r.code === 0 ? r.stdout.trim() : `error: ${r.stderr.trim()}`;
    }

    /** The certificate a master's apiserver serves right now (PEM), read with openssl from the lan. */
    async servedCertificate(master: Master): Promise<string> {
        const r = await this.lan.runOk(["bash", "-c", `openssl s_client -connect ${master.ip}:${APISERVER_PORT} -servername kubernetes </dev/null 2>/dev/null | openssl x509`], { timeoutMs: 20_000 });
        return r.stdout;
    }

    async waitReady(master: Master, timeoutMs = 180_000): Promise<void> {
        await waitFor(`/readyz of ${master.name}'s kube-apiserver`, timeoutMs, async () => ((await this.readyz(master)) === "ok" ? true : undefined), 500).catch((err: Error) => {
            throw new Error(`${err.message}\n--- ${master.name} kube-apiserver log:\n${readTail(master.kubelet.logFile("kube-apiserver"))}`);
        });
    }

    /** The kubeadm config file of a master, as kubeadm reads it (a path valid inside its namespaces). */
    private writeKubeadmConfig(index: number, cc: Json): string {
        const name = MASTER_NAMES[index];
        const init = {
            apiVersion: cc.apiVersion,
            kind: "InitConfiguration",
            localAPIEndpoint: { advertiseAddress: masterAddress(index), bindPort: APISERVER_PORT },
            nodeRegistration: { name, criSocket: "unix:///var/run/containerd/containerd.sock" },
        };
        const file = path.join(this.dir, name, "kubeadm-config.yaml");
        writeFileSync(file, `${stringify(init)}---\n${stringify(cc)}`);
        return file;
    }

    private async bootstrap(): Promise<void> {
        const count = this.options.masters ?? 3;
        if (count < 1 || count > MASTER_NAMES.length) throw new Error(`masters must be 1 to ${MASTER_NAMES.length}`);
        writeStandInTools(this.standInBin);
        this.lan = await Lan.create(this.group, path.join(this.dir, "lan"));
        const cc = initialClusterConfiguration();
        this.options.clusterConfiguration?.(cc);

        for (let i = 0; i < count; i++) {
            const name = MASTER_NAMES[i];
            const shared = (this.options.sharedPaths ?? []).map((p) => ({ path: p, source: this.sharedDir(p) }));
            const host = await Host.create(this.group, this.lan, name, masterAddress(i), path.join(this.dir, name), shared);
            const kubelet = new StandInKubelet(host, this.group, { binaries: { etcd: this.bin.etcd, "kube-apiserver": this.bin.kubeApiserver } });
            const master: Master = { name, ip: masterAddress(i), host, kubelet, kubeadmConfig: this.writeKubeadmConfig(i, cc) };
            this.masters.push(master);
            if (i > 0) this.copySharedCertificates(this.first, master);
            for (const phase of [["certs", "all"], ["kubeconfig", "all"], ["etcd", "local"], ["control-plane", "apiserver"]]) {
                await this.kubeadmOk(master, ["init", "phase", ...phase, "--config", master.kubeadmConfig]);
            }
        }
        // All members in every member's --initial-cluster (kubeadm join would add them one by one).
        const initialCluster = this.masters.map((m) => `${m.name}=https://${m.ip}:2380`).join(",");
        for (const m of this.masters) {
            const file = path.join(m.host.kubernetesDir, "manifests", "etcd.yaml");
            const text = readFileSync(file, "utf8").replace(/--initial-cluster=\S+/, `--initial-cluster=${initialCluster}`);
            writeFileSync(file, text);
        }
        for (const m of this.masters) m.kubelet.start();
        for (const m of this.masters) await this.waitReady(m);
        for (const phase of [["upload-config", "kubeadm"], ["upload-config", "kubelet"], ["bootstrap-token"], ["addon", "kube-proxy"]]) {
            await this.kubeadmOk(this.first, ["init", "phase", ...phase, "--config", this.first.kubeadmConfig]);
        }
    }

    /** What `kubeadm join --control-plane` fetches from kubeadm-certs: the CAs and the SA key pair. */
    private copySharedCertificates(from: Master, to: Master): void {
        for (const f of ["ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key", "etcd/ca.crt", "etcd/ca.key"]) {
            const target = path.join(to.host.kubernetesDir, "pki", f);
            mkdirSync(path.dirname(target), { recursive: true });
            copyFileSync(path.join(from.host.kubernetesDir, "pki", f), target);
        }
    }

    kubeadm(master: Master, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
        return this.onMaster(master, [this.bin.kubeadm, ...args], { timeoutMs: 180_000, ...opts });
    }

    async kubeadmOk(master: Master, args: readonly string[], opts: RunOptions = {}): Promise<string> {
        const r = await this.kubeadm(master, args, opts);
        if (r.code !== 0) throw new Error(`kubeadm ${args.join(" ")} on ${master.name} exited ${r.code}:\n${r.stderr}${r.stdout}`);
        return r.stdout + r.stderr;
    }

    /** The command line of a master's static pod, parsed from the manifest kubeadm wrote. */
    manifestArgv(master: Master, pod: "kube-apiserver" | "etcd"): string[] {
        return manifestCommand(readFileSync(path.join(master.host.kubernetesDir, "manifests", `${pod}.yaml`), "utf8")).argv;
    }

    /** etcdctl on a master against its local member, with kubeadm's healthcheck client pair. */
    etcdctl(master: Master, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
        const pki = "/etc/kubernetes/pki/etcd";
        return this.onMaster(master, [this.bin.etcdctl, "--endpoints=https://127.0.0.1:2379", `--cacert=${pki}/ca.crt`, `--cert=${pki}/healthcheck-client.crt`, `--key=${pki}/healthcheck-client.key`, "--dial-timeout=5s", "--command-timeout=20s", ...args], { timeoutMs: 60_000, ...opts });
    }

    /**
     * A kubeconfig for clients outside the lan (the Pulumi provider): the first master's
     * admin.conf pointed at a local forwarder to `target` (default: the first master), with
     * tls-server-name "kubernetes" (a SAN of every apiserver certificate kubeadm issues).
     */
    async externalKubeconfig(target = `${this.first.ip}:${APISERVER_PORT}`): Promise<{ file: string; text: string; port: number }> {
        const port = await this.forward(target);
        const config = parse(readFileSync(path.join(this.first.host.kubernetesDir, "admin.conf"), "utf8")) as Json;
        for (const c of config.clusters) {
            c.cluster.server = `https://127.0.0.1:${port}`;
            c.cluster["tls-server-name"] = "kubernetes";
        }
        const text = stringify(config);
        const file = path.join(this.dir, `external-${port}.conf`);
        writeFileSync(file, text, { mode: 0o600 });
        return { file, text, port };
    }

    /**
     * STAND-IN network path: 127.0.0.1:<port> in this process's namespace, forwarded to
     * `target` inside the lan (socat there, listening on a unix socket; unix sockets cross
     * network namespaces). The port is the kernel's choice, so it is free.
     */
    async forward(target: string): Promise<number> {
        const socket = path.join(this.dir, `fwd-${this.forwarders.length}.sock`);
        this.group.spawn(`forward ${target}`, this.lan.enter(["socat", `UNIX-LISTEN:${socket},fork`, `TCP:${target}`]), { logFile: path.join(this.dir, "lan", "socat.log") });
        await waitFor(`forwarder socket ${socket}`, 10_000, async () => (existsSync(socket) ? true : undefined), 50);
        const server = net.createServer((client) => {
            const upstream = net.connect(socket);
            client.pipe(upstream).pipe(client);
            const close = () => {
                client.destroy();
                upstream.destroy();
            };
            client.on("error", close);
            upstream.on("error", close);
            client.on("close", close);
            upstream.on("close", close);
        });
        await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(0, "127.0.0.1", () => resolve());
        });
        this.forwarders.push(server);
        return (server.address() as net.AddressInfo).port;
    }

    /** A process in the lan (HAProxy, a load client), stopped at teardown. */
    spawnInLan(name: string, argv: readonly string[], logFile: string): Daemon {
        return this.group.spawn(name, this.lan.enter(argv), { logFile });
    }

    /** Stops every process, in order (kubelets' pods, then the rest), and removes the temp dir. */
    async teardown(): Promise<void> {
        for (const server of this.forwarders) server.close();
        await Promise.all(this.masters.map((m) => m.kubelet.stop(10_000)));
        await this.group.stopAll(5_000);
        if (!this.options.keepDir && process.env.HACP_KEEP_CONTROL_PLANE !== "1") {
            // The overlays' work dirs are root-only; rm as root copes. Retry once: a just-exited
            // daemon may still be closing files.
            for (let i = 0; i < 3 && existsSync(this.dir); i++) {
                try {
                    rmSync(this.dir, { recursive: true, force: true });
                } catch {
                    await sleep(200);
                }
            }
        }
    }
}

export function readTail(file: string, chars = 4000): string {
    try {
        return readFileSync(file, "utf8").slice(-chars);
    } catch {
        return "(no log)";
    }
}

export { run, runOk, waitFor, sleep };
