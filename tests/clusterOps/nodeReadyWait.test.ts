import { strict as assert } from "assert";
import { FakeCluster, Json, nodesFixture } from "./helpers/fakeCluster";

/**
 * scripts/cluster/node-ready-wait.sh, phase 4's wait between two nodes' kubelet flips, against
 * the fake cluster (stub kubectl: no apiserver of kubeadm's can run here).
 */
describe("node-ready-wait.sh: the next node waits for a fresh lease renewal and Ready", function () {
    this.timeout(60_000);
    let cluster: FakeCluster;
    afterEach(() => cluster.cleanup());

    it("returns once the node renewed its lease after the start and is Ready", () => {
        cluster = new FakeCluster({ nodes: nodesFixture("all-ready"), leases: { "k8s-node1": { renewTime: "2026-05-22T09:41:00.000000Z", renewAfterReads: 4 } } });
        const run = cluster.run("cluster/node-ready-wait.sh", ["--node", "k8s-node1", "--timeout", "10"]);
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /node k8s-node1 is Ready and renewing its lease \(last renewal renewed-4\)/);
    });

    it("does not take a Ready condition that is only stale: no renewal, no return", () => {
        cluster = new FakeCluster({ nodes: nodesFixture("all-ready"), leases: { "k8s-node1": { renewTime: "2026-05-22T09:41:00.000000Z" } } });
        const run = cluster.run("cluster/node-ready-wait.sh", ["--node", "k8s-node1", "--timeout", "1"]);
        assert.equal(run.status, 1);
        assert.match(run.stderr, /node k8s-node1 not back within 1s \(Ready=True, lease renewed since start: no\)/);
    });

    it("waits out a NotReady node, bounded", () => {
        const nodes = nodesFixture("all-ready");
        nodes.items.find((n: Json) => n.metadata.name === "k8s-node2").status.conditions.find((c: Json) => c.type === "Ready").status = "False";
        cluster = new FakeCluster({ nodes, leases: { "k8s-node2": { renewTime: "t0", renewAfterReads: 2 } }, transitions: { "k8s-node2": { readyAfterPolls: 5 } } });
        const run = cluster.run("cluster/node-ready-wait.sh", ["--node", "k8s-node2", "--timeout", "10"]);
        assert.equal(run.status, 0, run.stderr);
        const never = new FakeCluster({ nodes, leases: { "k8s-node2": { renewTime: "t0", renewAfterReads: 2 } } });
        try {
            const stuck = never.run("cluster/node-ready-wait.sh", ["--node", "k8s-node2", "--timeout", "1"]);
            assert.equal(stuck.status, 1);
            assert.match(stuck.stderr, /Ready=False/);
        } finally {
            never.cleanup();
        }
    });
});
