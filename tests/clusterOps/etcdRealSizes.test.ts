/**
 * Phase 4.5's etcd maintenance at a real size, on a real etcd (Debian's 3.4, one member, clients
 * over TLS with kubeadm's healthcheck-client pair): 96 MiB of keys that must survive, and 224 MiB
 * more that are deleted and compacted away, as the apiserver's compaction leaves them. The
 * CronJobs' pods run as the component builds them (defragPodSpec, backupPodSpec) under a
 * STAND-IN kubelet (tests/helpers/standInPod.ts: volumes mapped to the test's files, the node's
 * etcd at 127.0.0.1:2379 mapped to the test's member). Two stand-ins more, for what cannot run
 * here: the etcd-defrag image's binary (tests/fixtures/etcdDefragStandIn.sh: its flags and steps,
 * the real `etcdctl defrag` doing the work) and, etcd 3.4 having no etcdutl, its `etcdctl
 * snapshot status` for etcdutl's. Afterwards every key is read back (count, and values by hash).
 */
import { strict as assert } from "assert";
import { createHash, randomBytes } from "crypto";
import { existsSync, readdirSync } from "fs";
import * as path from "path";
import { backupPodSpec, defragPodSpec } from "../../components/clusterOps/etcdMaintenance";
import { scriptText } from "../../components/scriptFile";
import { DAEMON_HOOK_TIMEOUT_MS, DaemonGroup } from "../helpers/daemons";
import { slowLink, SlowLink } from "../helpers/slowLink";
import { ContainerRun, runStandInPod, StandInNode } from "../helpers/standInPod";
import { EtcdCluster } from "../kubeadm/helpers/etcdCluster";
import { labTopology } from "../helpers/lab";

type Json = Record<string, any>;

const MIB = 1024 * 1024;
const VALUE_BYTES = 256 * 1024;
const LIVE_KEYS = 384; // 96 MiB that must survive
const CHURN_KEYS = 896; // 224 MiB deleted: more free pages than the lab's defrag rule's 200 MiB
const liveKey = (i: number) => `/registry/big/live-${String(i).padStart(4, "0")}`;
const churnKey = (i: number) => `/registry/big/churn-${String(i).padStart(4, "0")}`;
/** etcdctl's own default bound on a request (and etcd/lib.sh's): what the snapshot must outlast. */
const ETCDCTL_DEFAULT_COMMAND_SECONDS = 15;
/** The slow link makes the backup's snapshot take at least this long, whatever this machine's speed. */
const SNAPSHOT_SECONDS = 18;
const DEFRAG_STAND_IN = path.resolve(__dirname, "../fixtures/etcdDefragStandIn.sh");
/** Where kubeadm puts the etcd CA and the healthcheck-client pair the jobs mount. */
const NODE_PKI = "/etc/kubernetes/pki/etcd";
/** The node's own member, as a hostNetwork pod reaches it. */
const NODE_ETCD = "https://127.0.0.1:2379";

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const flagValue = (argv: readonly string[], flag: string) => argv.find((a) => a.startsWith(`--${flag}=`))?.slice(flag.length + 3);

describe("etcd maintenance at a real size: 96 MiB kept, 224 MiB deleted (real etcd 3.4 over TLS; the CronJobs' pods under a stand-in kubelet)", function () {
    this.timeout(240_000);
    const maintenance = labTopology().clusterOps.etcdMaintenance;
    const defragSpec = JSON.parse(JSON.stringify(defragPodSpec(maintenance))) as Json;
    const scriptsConfigMap = "etcd-backup-scripts";
    const backupSpec = JSON.parse(JSON.stringify(backupPodSpec(maintenance, scriptsConfigMap))) as Json;
    const daemons = new DaemonGroup();
    const liveHashes: string[] = [];
    let etcd: EtcdCluster;
    let backupDir: string;
    let link: SlowLink | undefined;

    /** The master the jobs land on: its etcd PKI, its backup mount, its etcd at `etcdAt`. */
    const node = (etcdAt: string): StandInNode => ({
        name: "k8s-master-2",
        hostPaths: {
            [`${NODE_PKI}/ca.crt`]: etcd.pki!.ca,
            [`${NODE_PKI}/healthcheck-client.crt`]: etcd.pki!.cert,
            [`${NODE_PKI}/healthcheck-client.key`]: etcd.pki!.key,
            [(maintenance.backup.volume as { path: string }).path]: backupDir,
        },
        // The ConfigMap EtcdMaintenance creates (tests/clusterOps/manifests.test.ts checks its data).
        configMaps: { [scriptsConfigMap]: { "etcd-backup-store.sh": scriptText("cluster/etcd-backup-store.sh") } },
        network: { [NODE_ETCD]: etcdAt },
        images: { [maintenance.defragImage]: [DEFRAG_STAND_IN] },
        // etcd 3.4's etcdctl holds what 3.5 moved to etcdutl (snapshot status and restore).
        binaries: { etcdutl: { argv: ["etcdctl"], env: { ETCDCTL_API: "3" } } },
    });

    const status = (): { dbSize: number; dbSizeInUse: number; revision: number } => {
        const run = etcd.etcdctl(["endpoint", "status", "-w", "json"]);
        assert.equal(run.status, 0, run.stderr);
        const s = (JSON.parse(run.stdout) as Json[])[0].Status;
        return { dbSize: s.dbSize, dbSizeInUse: s.dbSizeInUse, revision: s.header.revision };
    };
    /** Every live key is there, no churn key is, and a spread of values reads back byte for byte. */
    const assertEveryKeyReadable = (cluster: EtcdCluster, when: string) => {
        const keys = cluster.etcdctl(["get", "/registry/big/", "--prefix", "--keys-only"], undefined, 60);
        assert.equal(keys.status, 0, keys.stderr);
        const listed = keys.stdout.split("\n").filter(Boolean);
        assert.deepEqual(listed, Array.from({ length: LIVE_KEYS }, (_, i) => liveKey(i)), `${when}: exactly the live keys`);
        for (let i = 0; i < LIVE_KEYS; i += 29) {
            const got = cluster.etcdctl(["get", liveKey(i), "-w", "json"]);
            assert.equal(got.status, 0, got.stderr);
            const value = Buffer.from((JSON.parse(got.stdout) as Json).kvs[0].value, "base64");
            assert.equal(sha256(value), liveHashes[i], `${when}: ${liveKey(i)}'s value`);
        }
    };
    const containers = (runs: readonly ContainerRun[]) => runs.map((r) => [r.container, r.status]);
    const output = (runs: readonly ContainerRun[]) => runs.map((r) => `--- ${r.container}: ${r.argv.join(" ")}\n${r.stdout}${r.stderr}`).join("\n");

    before(async function () {
        this.timeout(DAEMON_HOOK_TIMEOUT_MS + 180_000);
        backupDir = daemons.directory("hacp-etcd-backup-");
        etcd = await EtcdCluster.start(["k8s-master-2"], daemons, { tls: true });
        await etcd.putMany(LIVE_KEYS + CHURN_KEYS, (i) => {
            const value = randomBytes(VALUE_BYTES);
            if (i < LIVE_KEYS) liveHashes[i] = sha256(value);
            return { key: i < LIVE_KEYS ? liveKey(i) : churnKey(i - LIVE_KEYS), value };
        });
    });
    after(async function () {
        this.timeout(DAEMON_HOOK_TIMEOUT_MS);
        await link?.close();
        await daemons.stopAll();
    });

    it("defrag (the job's arguments, etcd-defrag STAND-IN): its rule leaves a full database alone, and once 224 MiB are deleted and compacted it reclaims them, every kept key readable", async () => {
        const job = defragSpec.containers[0].args as string[];
        const runDefrag = () => runStandInPod(defragSpec, node(etcd.members[0].clientUrl), daemons);

        // Before the deletions: little free space, the rule says no.
        const full = status();
        const skipped = await runDefrag();
        assert.deepEqual(containers(skipped), [["defrag", 0]], output(skipped));
        assert.match(skipped[0].stdout, /Evaluation result is false, so skipping endpoint: https:\/\/127\.0\.0\.1:\d+/);
        assert.ok(status().dbSize >= full.dbSize, "nothing defragmented");

        // What the apiserver's compaction leaves behind: the churn deleted, its history compacted away.
        const deleted = etcd.etcdctl(["del", "/registry/big/churn-", "--prefix"], undefined, 60);
        assert.equal(deleted.stdout.trim(), String(CHURN_KEYS), deleted.stderr);
        const compacted = etcd.etcdctl(["compaction", "--physical", String(status().revision)], undefined, 120);
        assert.equal(compacted.status, 0, compacted.stderr);
        const before = status();
        assert.ok(before.dbSize - before.dbSizeInUse > 200 * MIB, `the rule's 200 MiB of free pages are there: ${JSON.stringify(before)}`);

        const defragmented = await runDefrag();
        assert.deepEqual(containers(defragmented), [["defrag", 0]], output(defragmented));
        // The job's own arguments ran, its endpoint the member's: the bound is the job's --command-timeout.
        const onNode: Record<string, string> = { [NODE_ETCD]: etcd.members[0].clientUrl, [`${NODE_PKI}/ca.crt`]: etcd.pki!.ca, [`${NODE_PKI}/healthcheck-client.crt`]: etcd.pki!.cert, [`${NODE_PKI}/healthcheck-client.key`]: etcd.pki!.key };
        assert.deepEqual(defragmented[0].argv.slice(1), job.map((a) => Object.entries(onNode).reduce((arg, [from, to]) => arg.split(from).join(to), a)));
        assert.equal(flagValue(defragmented[0].argv, "command-timeout"), "120s");
        assert.match(defragmented[0].stdout, /Defragmenting endpoint: https:\/\/127\.0\.0\.1:\d+[\s\S]*Finished defragmenting etcd member[\s\S]*The defragmentation is successful\./);
        const after = status();
        assert.ok(after.dbSize < before.dbSize - 200 * MIB, `the space is reclaimed: ${before.dbSize} -> ${after.dbSize} bytes`);
        assert.ok(after.dbSize >= LIVE_KEYS * VALUE_BYTES, `the live data is still there: ${after.dbSize} bytes`);
        assertEveryKeyReadable(etcd, "after the defrag");
    });

    it(`backup (the job's containers): the snapshot, through a link that makes it last ${SNAPSHOT_SECONDS} s, runs under the job's own minutes-scale bound; verified, stored, and the stored file restores into an etcd that serves every kept key`, async () => {
        const snapshotJob = backupSpec.initContainers.find((c: Json) => c.name === "snapshot").command as string[];
        const bound = flagValue(snapshotJob, "command-timeout") ?? "";
        assert.match(bound, /^\d+s$/, "the snapshot names its own bound");
        assert.ok(Number.parseInt(bound, 10) >= 60 && Number.parseInt(bound, 10) > SNAPSHOT_SECONDS, `a minutes-scale bound: ${bound}`);
        assert.ok(SNAPSHOT_SECONDS > ETCDCTL_DEFAULT_COMMAND_SECONDS);

        const url = new URL(etcd.members[0].clientUrl);
        link = await slowLink({ host: url.hostname, port: Number(url.port) }, status().dbSize / SNAPSHOT_SECONDS);
        const runs = await runStandInPod(backupSpec, node(`https://127.0.0.1:${link.port}`), daemons);
        await link.close();
        link = undefined;
        assert.deepEqual(containers(runs), [["snapshot", 0], ["verify", 0], ["store", 0]], output(runs));
        assert.equal(flagValue(runs[0].argv, "command-timeout"), bound, "the bound that ran is the job's");

        // etcdutl's (here etcdctl 3.4's) table: hash, revision, total keys, total size.
        const row = runs[1].stdout.split("\n").find((l) => /^\|\s*[0-9a-f]+\s*\|/.test(l));
        assert.ok(row, runs[1].stdout);
        const [, , totalKeys, totalSize] = row.split("|").map((c) => c.trim()).filter(Boolean);
        assert.ok(Number(totalKeys) >= LIVE_KEYS, `every kept key in the snapshot: ${row}`);
        assert.match(totalSize, /MB$/, row);

        const stored = readdirSync(backupDir);
        assert.equal(stored.length, 1, stored.join(" "));
        assert.match(stored[0], /^etcd-snapshot-\d{8}T\d{6}Z-k8s-master-2\.db$/);
        assert.match(runs[2].stdout, new RegExp(`etcd-backup-store: stored ${backupDir.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}/${stored[0]} \\(\\d+ bytes\\)`));
        assert.equal(existsSync(runs[0].argv.at(-1)!), false, "the pod's emptyDir went with it: only the stored copy remains");

        const restored = await EtcdCluster.start(["restored"], daemons, { fromSnapshot: path.join(backupDir, stored[0]) });
        assertEveryKeyReadable(restored, "restored from the stored backup");
    });
});
