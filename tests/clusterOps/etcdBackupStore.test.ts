import { strict as assert } from "assert";
import { readdirSync, readFileSync, writeFileSync } from "fs";
import { FakeCluster, nodesFixture } from "./helpers/fakeCluster";

/**
 * scripts/cluster/etcd-backup-store.sh, the last step of phase 4.5's backup CronJob, on a real
 * temporary directory.
 */
describe("etcd-backup-store.sh: store and keep the newest N", function () {
    this.timeout(30_000);
    let cluster: FakeCluster;
    afterEach(() => cluster.cleanup());

    it("stores under a timestamped name, prunes only its own older snapshots", () => {
        cluster = new FakeCluster({ nodes: nodesFixture("all-ready") });
        const dest = cluster.file("backup/.keep", "");
        const dir = dest.replace(/\/\.keep$/, "");
        for (const stamp of ["20260101T000000Z", "20260102T000000Z", "20260103T000000Z"]) writeFileSync(`${dir}/etcd-snapshot-${stamp}-k8s-master.db`, "old");
        writeFileSync(`${dir}/notes.txt`, "not ours");
        const snapshot = cluster.file("work/snapshot.db", "etcd snapshot bytes");
        const run = cluster.run("cluster/etcd-backup-store.sh", ["--snapshot", snapshot, "--dest", dir, "--keep", "2", "--node", "k8s-master-2"]);
        assert.equal(run.status, 0, run.stderr);
        const files = readdirSync(dir).sort();
        const stored = files.find((f) => /^etcd-snapshot-\d{8}T\d{6}Z-k8s-master-2\.db$/.test(f))!;
        assert.ok(stored, files.join(","));
        assert.equal(readFileSync(`${dir}/${stored}`, "utf8"), "etcd snapshot bytes");
        assert.deepEqual(files, [".keep", "etcd-snapshot-20260103T000000Z-k8s-master.db", stored, "notes.txt"].sort());
        assert.match(run.stdout, /retention 2: removed etcd-snapshot-20260101T000000Z-k8s-master\.db/);
    });

    it("refuses an empty snapshot or a missing destination", () => {
        cluster = new FakeCluster({ nodes: nodesFixture("all-ready") });
        const empty = cluster.file("work/empty.db", "");
        assert.equal(cluster.run("cluster/etcd-backup-store.sh", ["--snapshot", empty, "--dest", cluster.dir, "--keep", "3"]).status, 1);
        const snapshot = cluster.file("work/snapshot.db", "x");
        const run = cluster.run("cluster/etcd-backup-store.sh", ["--snapshot", snapshot, "--dest", `${cluster.dir}/not-mounted`, "--keep", "3"]);
        assert.equal(run.status, 1);
        assert.match(run.stderr, /is not a writable directory \(is the volume mounted\?\)/);
        assert.equal(cluster.run("cluster/etcd-backup-store.sh", ["--snapshot", snapshot, "--dest", cluster.dir, "--keep", "0"]).status, 2);
    });
});
