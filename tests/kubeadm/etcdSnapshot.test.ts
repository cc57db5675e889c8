/**
 * Phase 0's etcd snapshot at a real size, on a real etcd (Debian's 3.4, one member on loopback):
 * 24 MiB of keys, read back through a loopback proxy that passes at most 1 MiB/s towards the
 * client, as a busy lab link would, so the snapshot takes about 24 s whatever this machine's
 * speed, more than etcdctl's 15 s command timeout. The preflight runs as the program ships it
 * (preflightCommand: the bundle on stdin to `sudo -n bash -s`); kubectl, ping, ip and curl are
 * stand-ins (no apiserver or lab network here). The snapshot is then restored and read.
 */
import { strict as assert } from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import { mkdtempSync, readdirSync, rmSync } from "fs";
import * as net from "net";
import { tmpdir } from "os";
import * as path from "path";
import { preflightCommand } from "../../components/kubeadm/retrofit";
import { runShippedAsync } from "../helpers/shipped";
import { EtcdCluster } from "./helpers/etcdCluster";
import { Stubs } from "./helpers/stubs";

const KEYS = 96;
const VALUE_BYTES = 256 * 1024; // 96 x 256 KiB = 24 MiB
const RATE_BYTES_PER_SECOND = 1024 * 1024;

/** A TCP proxy to TARGET whose answers flow at most RATE bytes per second (requests pass freely). */
function throttledProxy(target: { host: string; port: number }, rate: number): Promise<net.Server> {
    const server = net.createServer((client) => {
        const upstream = net.connect(target);
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
        };
        client.on("error", close);
        upstream.on("error", close);
        client.on("close", close);
        upstream.on("close", close);
    });
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve(server));
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

const freePort = () =>
    new Promise<number>((resolve) => {
        const s = net.createServer().listen(0, "127.0.0.1", () => {
            const { port } = s.address() as net.AddressInfo;
            s.close(() => resolve(port));
        });
    });

describe("phase 0's etcd snapshot of a 24 MiB keyspace over a 1 MiB/s link (real etcd; preflight as shipped)", function () {
    this.timeout(180_000);
    let etcd: EtcdCluster | undefined;
    let proxy: net.Server | undefined;
    let stubs: Stubs | undefined;
    let restored: ChildProcess | undefined;
    let dir: string;

    before(async function () {
        this.timeout(120_000);
        dir = mkdtempSync(path.join(tmpdir(), "hacp-snapshot-"));
        etcd = await EtcdCluster.start(["k8s-master"]);
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
    after(async () => {
        restored?.kill("SIGKILL");
        proxy?.close();
        await etcd?.destroy();
        stubs?.destroy();
        if (dir) rmSync(dir, { recursive: true, force: true });
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
        const through = `http://127.0.0.1:${(proxy!.address() as net.AddressInfo).port}`;
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

        // Restorable: a new member from the snapshot serves the keys.
        const data = path.join(dir, "restored");
        const [clientPort, peerPort] = [await freePort(), await freePort()];
        const peer = `http://127.0.0.1:${peerPort}`;
        const restore = spawnSync("etcdctl", ["snapshot", "restore", path.join(snapshots, file), "--data-dir", data, "--name", "restored", "--initial-cluster", `restored=${peer}`, "--initial-advertise-peer-urls", peer], {
            encoding: "utf8",
            env: { ...process.env, ETCDCTL_API: "3" },
        });
        assert.equal(restore.status, 0, restore.stderr);
        const client = `http://127.0.0.1:${clientPort}`;
        restored = spawn("etcd", ["--name", "restored", "--data-dir", data, "--listen-client-urls", client, "--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", `restored=${peer}`, "--log-level", "error"], { stdio: "ignore" });
        let count = "";
        let last = "";
        for (let i = 0; i < 100 && count === ""; i++) {
            const got = spawnSync("etcdctl", ["--endpoints", client, "--dial-timeout", "1s", "get", "/registry/big/", "--prefix", "--keys-only"], { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } });
            if (got.status === 0) count = String(got.stdout.split("\n").filter(Boolean).length);
            else {
                last = got.stderr;
                await new Promise((r) => setTimeout(r, 200));
            }
        }
        assert.equal(count, String(KEYS), `every key readable from the restored snapshot ${last}`);
    });
});
