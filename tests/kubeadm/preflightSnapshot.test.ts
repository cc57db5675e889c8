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
import * as path from "path";
import { preflightCommand } from "../../components/kubeadm/retrofit";
import { DAEMON_HOOK_TIMEOUT_MS, DaemonGroup } from "../helpers/daemons";
import { runShippedAsync } from "../helpers/shipped";
import { SlowLink, slowLink } from "../helpers/slowLink";
import { EtcdCluster } from "./helpers/etcdCluster";
import { Stubs } from "./helpers/stubs";

const KEYS = 96;
const VALUE_BYTES = 256 * 1024; // 96 x 256 KiB = 24 MiB
const RATE_BYTES_PER_SECOND = 1024 * 1024;

describe("phase 0's etcd snapshot of a 24 MiB keyspace over a 1 MiB/s link (real etcd; preflight as shipped)", function () {
    this.timeout(180_000);
    const daemons = new DaemonGroup();
    let etcd: EtcdCluster | undefined;
    let proxy: SlowLink | undefined;
    let stubs: Stubs | undefined;
    let dir: string;

    before(async function () {
        this.timeout(DAEMON_HOOK_TIMEOUT_MS);
        dir = daemons.directory("hacp-snapshot-");
        etcd = await EtcdCluster.start(["k8s-master"], daemons);
        await etcd.putMany(KEYS, (i) => ({ key: `/registry/big/key-${i}`, value: randomBytes(VALUE_BYTES) }));
        const url = new URL(etcd.members[0].clientUrl);
        proxy = await slowLink({ host: url.hostname, port: Number(url.port) }, RATE_BYTES_PER_SECOND);
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
