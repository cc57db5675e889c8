/**
 * A real HAProxy (Debian's) on the test control plane's VIP, in the lan namespace: master-worker
 * mode with its master CLI on a unix socket (reachable from this process), the config rendered
 * by topology/loadBalancer.ts (or any other), stopped at teardown with the rest.
 */
import { mkdirSync, writeFileSync } from "fs";
import * as path from "path";
import { apiserverPool, poolServer, renderHaproxyFragment } from "@ha-control-plane/topology";
import { cli, testGlobal } from "../../fixtures/loadBalancer/haproxyProcess";
import { APISERVER_PORT, ControlPlane, TEST_VIP } from "./controlPlane";
import { Daemon, waitFor } from "./processes";

export interface LanHaproxy {
    readonly daemon: Daemon;
    readonly masterSocket: string;
    readonly backend: string;
    readonly dir: string;
}

/** This project's pool on the VIP for every master, as the plain-HAProxy host gets it; `__DIR__` is the HAProxy's directory. */
export function projectHaproxyConfig(cp: ControlPlane): string {
    const pool = apiserverPool({ vip: TEST_VIP, apiserverPort: APISERVER_PORT }, cp.masters.map((m) => poolServer(m, APISERVER_PORT)));
    return `${testGlobal("__DIR__")}\n${renderHaproxyFragment(pool)}`;
}

export async function serverStatus(lb: LanHaproxy): Promise<Map<string, string>> {
    const text = await cli(lb.masterSocket, "@1 show stat");
    const [header, ...rows] = text.split("\n").filter((l) => l.trim() !== "");
    const cols = header.replace(/^# /, "").split(",");
    const out = new Map<string, string>();
    for (const r of rows.map((l) => l.split(","))) {
        const server = r[cols.indexOf("svname")];
        if (r[cols.indexOf("pxname")] === lb.backend && server !== "BACKEND" && server !== "FRONTEND") out.set(server, r[cols.indexOf("status")]);
    }
    return out;
}

export async function waitUp(lb: LanHaproxy, server: string, timeoutMs = 60_000): Promise<void> {
    await waitFor(`${server} UP in HAProxy`, timeoutMs, async () => ((await serverStatus(lb).catch(() => new Map<string, string>())).get(server) === "UP" ? true : undefined), 100);
}

/**
 * Starts HAProxy with `config` (`__DIR__` replaced by its own directory) on the VIP, which is
 * added to the lan bridge once, and waits until every master is UP in `backend`.
 */
export async function startLanHaproxy(cp: ControlPlane, label: string, config: string, backend = "apiserver_nodes"): Promise<LanHaproxy> {
    if (!vipAdded.has(cp)) {
        await cp.lan.addAddress(TEST_VIP);
        vipAdded.add(cp);
    }
    const dir = path.join(cp.dir, `haproxy-${label}`);
    mkdirSync(dir, { recursive: true });
    const cfg = path.join(dir, "haproxy.cfg");
    writeFileSync(cfg, config.replaceAll("__DIR__", dir));
    const masterSocket = path.join(dir, "master.sock");
    const daemon = cp.spawnInLan(`haproxy ${label}`, ["haproxy", "-W", "-S", masterSocket, "-f", cfg], path.join(dir, "haproxy.log"));
    const lb = { daemon, masterSocket, backend, dir };
    for (const m of cp.masters) await waitUp(lb, m.name);
    return lb;
}

const vipAdded = new WeakSet<ControlPlane>();
