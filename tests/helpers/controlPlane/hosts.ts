/**
 * Test hosts made of namespaces this process creates and nothing else: a "lan" network namespace
 * holding a bridge (and whatever serves the VIP), and one host per master with its own network
 * namespace (an address on the bridge, its own loopback, so kubeadm's fixed ports 6443, 2379,
 * 2380 never collide with anything) and its own mount namespace in which /etc, /var/lib and
 * /srv are overlays on the machine's, and /etc/kubernetes and /var/lib/etcd are the host's directories
 * under the test's temp dir. kubeadm, the scripts and the daemons run in there with the paths
 * of a real master; nothing is written to the machine's /etc or /var/lib.
 *
 * Each namespace lives as long as its holder process (a child of this process, killed with
 * it); the addresses are in TEST-NET-2 (198.51.100.0/24), reachable only inside the lan.
 */
import { existsSync, mkdirSync } from "fs";
import * as path from "path";
import { Daemon, ProcessGroup, run, RunOptions, RunResult, runOk, waitFor } from "./processes";

/** The test network: addresses only the lan namespace routes. */
export const TEST_SUBNET = { prefix: "198.51.100", bits: 24 } as const;
export const hostAddress = (octet: number): string => `${TEST_SUBNET.prefix}.${octet}`;

/** Waits until the holder printed "ready" (its namespaces are set up). */
async function holderReady(daemon: Daemon): Promise<void> {
    await waitFor(`namespace holder ${daemon.name}`, 15_000, async () => {
        if (!daemon.running) throw new Error(`exited ${JSON.stringify(daemon.exitStatus)}: ${daemon.logTail()}`);
        return daemon.logTail().includes("ready") ? true : undefined;
    }, 50);
}

/** A process's namespaces to enter: network only (the lan) or network and mounts (a master). */
abstract class Namespaced {
    protected constructor(readonly name: string, readonly holder: Daemon, private readonly mounts: boolean) {}

    /** argv prefixed to run inside these namespaces. */
    enter(argv: readonly string[]): string[] {
        return ["nsenter", "-t", String(this.holder.pid), "-n", ...(this.mounts ? ["-m"] : []), "--", ...argv];
    }

    run(argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
        return run(this.enter(argv), opts);
    }

    runOk(argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
        return runOk(this.enter(argv), opts);
    }
}

/** The shared segment: a bridge; the test's clients (kubectl, HAProxy) run here. */
export class Lan extends Namespaced {
    private constructor(holder: Daemon, readonly dir: string) {
        super("lan", holder, false);
    }

    static async create(group: ProcessGroup, dir: string): Promise<Lan> {
        mkdirSync(dir, { recursive: true });
        const setup = [
            "set -e",
            "ip link set lo up",
            "ip link add br0 type bridge",
            `ip addr add ${hostAddress(1)}/${TEST_SUBNET.bits} dev br0`,
            "ip link set br0 up",
            "echo ready",
            // Holds the namespace until this process closes its stdin or dies.
            "exec cat >/dev/null",
        ].join("\n");
        const holder = group.spawn("lan", ["unshare", "--net", "bash", "-c", setup], { logFile: path.join(dir, "holder.log"), stdinPipe: true });
        await holderReady(holder);
        return new Lan(holder, dir);
    }

    /** Adds an address on the bridge (the VIP a load balancer here binds). */
    async addAddress(ip: string): Promise<void> {
        await this.runOk(["ip", "addr", "add", `${ip}/32`, "dev", "br0"]);
    }
}

/** Directories overlaid in each host's mount namespace (its writes there stay in the test's dir). */
const OVERLAID = ["/etc", "/var/lib", "/srv"] as const;

export interface SharedMount {
    /** Where it appears on the host, e.g. /srv/nfs/etcd-backup. */
    readonly path: string;
    /** The directory of the test's that backs it. */
    readonly source: string;
}

/** A master: its own network and mount namespaces, wired to the lan. */
export class Host extends Namespaced {
    /** The host's /etc/kubernetes, seen from outside. */
    readonly kubernetesDir: string;
    readonly etcdDataDir: string;

    private constructor(name: string, readonly ip: string, holder: Daemon, readonly dir: string) {
        super(name, holder, true);
        this.kubernetesDir = path.join(dir, "etc-kubernetes");
        this.etcdDataDir = path.join(dir, "var-lib-etcd");
    }

    /**
     * `shared` mounts a directory of the test's at the same path on every host that gets it (an
     * NFS export mounted on each master); the path must be under /etc, /var/lib or /srv.
     */
    static async create(group: ProcessGroup, lan: Lan, name: string, ip: string, dir: string, shared: readonly SharedMount[] = []): Promise<Host> {
        const overlays = OVERLAID.filter((o) => o === "/etc" || o === "/var/lib" || existsSync(o));
        for (const d of ["etc-kubernetes", "var-lib-etcd", ...overlays.flatMap((o) => [`overlay${o}/upper`, `overlay${o}/work`])]) {
            mkdirSync(path.join(dir, d), { recursive: true });
        }
        for (const m of shared) {
            if (!overlays.some((o) => m.path.startsWith(`${o}/`))) throw new Error(`shared mount ${m.path} must be under ${overlays.join(", ")}`);
            if (!/^[A-Za-z0-9/._-]+$/.test(m.path + m.source)) throw new Error(`shared mount ${m.path}: plain path characters only`);
        }
        const setup = [
            "set -e",
            'd=$1',
            ...overlays.map((o) => `mount -t overlay overlay -o "lowerdir=${o},upperdir=$d/overlay${o}/upper,workdir=$d/overlay${o}/work" ${o}`),
            "mkdir -p /etc/kubernetes /var/lib/etcd",
            'mount --bind "$d/etc-kubernetes" /etc/kubernetes',
            'mount --bind "$d/var-lib-etcd" /var/lib/etcd',
            ...shared.flatMap((m) => [`mkdir -p ${m.path}`, `mount --bind ${m.source} ${m.path}`]),
            "ip link set lo up",
            "echo ready",
            "exec cat >/dev/null",
        ].join("\n");
        const holder = group.spawn(name, ["unshare", "--net", "--mount", "--propagation", "private", "bash", "-c", setup, "holder", dir], {
            logFile: path.join(dir, "holder.log"),
            stdinPipe: true,
        });
        await holderReady(holder);
        // A veth pair: one end on the lan's bridge, the other this host's eth0.
        const port = `v-${name}`.slice(0, 15);
        await lan.runOk(["ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", String(holder.pid)]);
        await lan.runOk(["ip", "link", "set", port, "master", "br0", "up"]);
        const host = new Host(name, ip, holder, dir);
        await host.runOk(["ip", "addr", "add", `${ip}/${TEST_SUBNET.bits}`, "dev", "eth0"]);
        await host.runOk(["ip", "link", "set", "eth0", "up"]);
        await host.runOk(["ip", "route", "add", "default", "via", hostAddress(1)]);
        return host;
    }
}
