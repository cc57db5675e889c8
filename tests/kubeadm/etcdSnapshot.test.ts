/**
 * Phase 0's etcd snapshot at a real size, on a real etcd (Debian's 3.4, one member on loopback):
 * 24 MiB of keys, read back through a loopback proxy that passes at most 1 MiB/s towards the
 * client, as a busy lab link would, so the snapshot takes about 24 s whatever this machine's
 * speed, more than etcdctl's 15 s command timeout. The preflight runs as the program ships it
 * (preflightCommand: the bundle on stdin to `sudo -n bash -s`); kubectl, ping, ip and curl are
 * stand-ins (no apiserver or lab network here). The snapshot is then restored and read.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { randomBytes } from "crypto";
import { readdirSync } from "fs";
import * as net from "net";
import * as path from "path";
import { preflightCommand } from "../../components/kubeadm/retrofit";
import { DAEMON_HOOK_TIMEOUT_MS, DaemonGroup } from "../helpers/daemons";
import { runShippedAsync } from "../helpers/shipped";
import { EtcdCluster } from "./helpers/etcdCluster";
import { Stubs } from "./helpers/stubs";

const KEYS = 96;
const VALUE_BYTES = 256 * 1024; // 96 x 256 KiB = 24 MiB
const RATE_BYTES_PER_SECOND = 1024 * 1024;

interface Proxy {
    readonly port: number;
    /** Closes the listener and every connection still open. */
    close(): Promise<void>;
}

/** A TCP proxy to TARGET whose answers flow at most RATE bytes per second (requests pass freely). */
function throttledProxy(target: { host: string; port: number }, rate: number): Promise<Proxy> {
    const open = new Set<net.Socket>();
    const server = net.createServer((client) => {
        const upstream = net.connect(target);
        open.add(client).add(upstream);
        const started = Date.now();
        let sent = 0;
        upstream.on("data", (chunk: Buffer) => {
            sent += chunk.length;
            client.write(chunk);
            const due = (sent / rate) * 1000 - (Date.now() - started);
            if (due > 0) {
                upstream.pause();
                setTimeout(() => upstream.resume(), due);
            }
        });
        client.pipe(upstream);
        const close = () => {
            client.destroy();
            upstream.destroy();
            open.delete(client);
            open.delete(upstream);
        };
        client.on("error", close);
        upstream.on("error", close);
        client.on("close", close);
        upstream.on("close", close);
    });
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        // The kernel picks the port while binding it: no other process can take it first.
        server.listen(0, "127.0.0.1", () =>
            resolve({
                port: (server.address() as net.AddressInfo).port,
                close: () =>
                    new Promise((closed) => {
                        for (const socket of open) socket.destroy();
                        server.close(() => closed());
                    }),
            }),
        );
    });
}

/** Puts through etcd's gRPC gateway, a few at a time: one etcdctl process per key would take longer than the test. */
async function fill(clientUrl: string): Promise<void> {
    const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");
    const put = async (i: number) => {
        const res = await fetch(`${clientUrl}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: b64(`/registry/big/key-${i}`), value: b64(randomBytes(VALUE_BYTES)) }) });
        assert.equal(res.status, 200, await res.text());
    };
    for (let i = 0; i < KEYS; i += 8) await Promise.all(Array.from({ length: Math.min(8, KEYS - i) }, (_, j) => put(i + j)));
}

describe("phase 0's etcd snapshot of a 24 MiB keyspace over a 1 MiB/s link (real etcd; preflight as shipped)", function () {
    this.timeout(180_000);
    const daemons = new DaemonGroup();
    let etcd: EtcdCluster | undefined;
    let proxy: Proxy | undefined;
    let stubs: Stubs | undefined;
    let dir: string;

    before(async function () {
        this.timeout(DAEMON_HOOK_TIMEOUT_MS);
        dir = daemons.directory("hacp-snapshot-");
        etcd = await EtcdCluster.start(["k8s-master"], daemons);
        await fill(etcd.members[0].clientUrl);
        const url = new URL(etcd.members[0].clientUrl);
        proxy = await throttledProxy({ host: url.hostname, port: Number(url.port) }, RATE_BYTES_PER_SECOND);
        stubs = new Stubs(["kubectl", "ping", "ip", "curl"]);
        stubs.setRules([
            { bin: "kubectl", args: "\\.status\\.conditions", stdout: "k8s-master True\n" },
            { bin: "kubectl", args: "\\.status\\.addresses", stdout: "k8s-master 192.0.2.100\n" },
            { bin: "kubectl", args: "get pods -A", stdout: "" },
            { bin: "ping", exit: 1 },
            { bin: "ip", stdout: "" },
            { bin: "curl", exit: 7 },
        ]);
    });
    after(async function () {
        this.timeout(DAEMON_HOOK_TIMEOUT_MS);
        await proxy?.close();
        stubs?.destroy();
        await daemons.stopAll();
    });

    it("the snapshot gets its own bound (minutes), is complete, and restores into an etcd that serves every key", async () => {
        const snapshots = path.join(dir, "snapshots");
        const step = preflightCommand({
            sshUser: "ubuntu",
            // Documentation addresses (TEST-NET-1): the stand-ins answer, nothing is sent.
            vip: "192.0.2.99",
            apiserverPort: 6443,
            newMasterIps: ["192.0.2.110"],
            snapshotDir: snapshots,
            snapshotMaxAgeHours: 24,
            takeSnapshot: true,
            snapshotTimeoutMinutes: 2,
        });
        const through = `http://127.0.0.1:${proxy!.port}`;
        const run = await runShippedAsync(step, stubs!.env({ ...etcd!.env(), ETCD_ENDPOINT: through }), { timeoutMs: 150_000 });
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stderr, /taking an etcd snapshot into .* \(bounded by 2 min\)/);
        assert.equal(run.stdout.trim(), "preflight: ready for phase 0");
        const [file] = readdirSync(snapshots);
        const status = spawnSync("etcdctl", ["snapshot", "status", path.join(snapshots, file), "-w", "json"], { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } });
        assert.equal(status.status, 0, status.stderr);
        const facts = JSON.parse(status.stdout) as { totalKey: number; totalSize: number };
        assert.ok(facts.totalKey >= KEYS, `every key is in the snapshot (${facts.totalKey})`);
        assert.ok(facts.totalSize >= KEYS * VALUE_BYTES, `the whole keyspace (${facts.totalSize} bytes)`);

        // Restorable: a new member from the snapshot serves every key, with its value.
        const restored = await EtcdCluster.start(["restored"], daemons, { fromSnapshot: path.join(snapshots, file) });
        const keys = restored.etcdctl(["get", "/registry/big/", "--prefix", "--keys-only"]);
        assert.equal(keys.status, 0, keys.stderr);
        assert.equal(keys.stdout.split("\n").filter(Boolean).length, KEYS, "every key readable from the restored snapshot");
        const sample = `/registry/big/key-${KEYS - 1}`;
        const value = (cluster: EtcdCluster) => (JSON.parse(cluster.etcdctl(["get", sample, "-w", "json"]).stdout) as { kvs: { value: string }[] }).kvs[0].value;
        assert.equal(Buffer.from(value(restored), "base64").length, VALUE_BYTES);
        assert.equal(value(restored), value(etcd!), `${sample}'s value restored`);
    });
});
