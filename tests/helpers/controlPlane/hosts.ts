/**
 * Test hosts made of namespaces this process creates and nothing else: a "lan" network namespace
 * holding a bridge (and whatever serves the VIP), and one host per master with its own network
 * namespace (an address on the bridge, its own loopback, so kubeadm's fixed ports 6443, 2379,
 * 2380 never collide with anything) and its own mount namespace in which /etc and /var/lib are
 * overlays on the machine's, and /etc/kubernetes and /var/lib/etcd are the host's directories
 * under the test's temp dir. kubeadm, the scripts and the daemons run in there with the paths
 * of a real master; nothing is written to the machine's /etc or /var/lib.
 *
 * Each namespace lives as long as its holder process (a child of this process, killed with
 * it); the addresses are in TEST-NET-2 (198.51.100.0/24), reachable only inside the lan.
 */
import { mkdirSync } from "fs";
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

    static async create(group: ProcessGroup, lan: Lan, name: string, ip: string, dir: string): Promise<Host> {
        for (const d of ["etc-kubernetes", "var-lib-etcd", "overlay/etc/upper", "overlay/etc/work", "overlay/var-lib/upper", "overlay/var-lib/work"]) {
            mkdirSync(path.join(dir, d), { recursive: true });
        }
        const setup = [
            "set -e",
            'd=$1',
            'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$d/overlay/etc/upper,workdir=$d/overlay/etc/work" /etc',
            'mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$d/overlay/var-lib/upper,workdir=$d/overlay/var-lib/work" /var/lib',
            "mkdir -p /etc/kubernetes /var/lib/etcd",
            'mount --bind "$d/etc-kubernetes" /etc/kubernetes',
            'mount --bind "$d/var-lib-etcd" /var/lib/etcd',
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
