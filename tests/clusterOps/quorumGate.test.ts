import { strict as assert } from "assert";
import { controlPlaneGateFigures, loadTopology, quorumOf } from "@ha-control-plane/topology";
import { labConfig } from "../helpers/program";
import { FakeCluster, isMaster, Json, nodesFixture, readyOf } from "./helpers/fakeCluster";
import { readProjectFile } from "../../components/projectFiles";

/**
 * scripts/cluster/quorum-gate.sh (phases 5 and 7; kured-sentinel-gate.sh and upgrade-chain.sh
 * run it) against a stub kubectl/etcdctl serving realistic `kubectl get nodes -o json` fixtures.
 * kubectl and etcdctl are stubs because no apiserver or kubeadm etcd can run here. The figures
 * come from the topology through quorumOf, as the program passes them.
 */
const lab = loadTopology(labConfig("7").raw, { project: "ha-control-plane", stack: "lab", readProjectFile });
const LAB = controlPlaneGateFigures(lab.masters);
const FIXTURES = ["all-ready", "master-notready", "master-cordoned", "even-count"] as const;

function gate(cluster: FakeCluster, node: string, members: number, quorum: number) {
    return cluster.run("cluster/quorum-gate.sh", ["--node", node, "--members", String(members), "--quorum", String(quorum)]);
}

/** The rule, stated from quorumOf: what must hold for `node` to go down. */
function expected(nodes: Json, node: string, members: number): boolean {
    const masters = nodes.items.filter(isMaster);
    const others = masters.filter((m: Json) => m.metadata.name !== node);
    return (
        masters.length === members &&
        others.filter((m: Json) => readyOf(m) === "True").length >= quorumOf(members) &&
        !others.some((m: Json) => m.spec.unschedulable)
    );
}

describe("quorum-gate.sh: reboot only when quorumOf allows (stub kubectl/etcdctl)", function () {
    this.timeout(120_000);
    let cluster: FakeCluster;
    afterEach(() => cluster?.cleanup());

    it("takes the lab's figures from the topology: 3 members, quorum 2", () => {
        assert.deepEqual(LAB, { members: 3, quorum: quorumOf(3), faultTolerance: 1 });
    });

    for (const fixture of FIXTURES) {
        it(`${fixture}: allows and blocks exactly where the quorum rule says, for every master and a worker`, () => {
            const nodes = nodesFixture(fixture);
            cluster = new FakeCluster({ nodes });
            const masters = nodes.items.filter(isMaster).length;
            const names = [...nodes.items.filter(isMaster).map((n: Json) => n.metadata.name), "k8s-node1"];
            for (const members of [...new Set([LAB.members, masters])]) {
                for (const name of names) {
                    const run = gate(cluster, name, members, quorumOf(members));
                    const want = expected(nodes, name, members);
                    assert.equal(run.status, want ? 0 : 1, `${fixture}, ${name}, ${members} members: ${run.stdout}${run.stderr}`);
                    assert.match(run.stdout, want ? /^ALLOWED: /m : /^BLOCKED: /m);
                }
            }
        });
    }

    it("all Ready: any one master may go, as may a worker", () => {
        cluster = new FakeCluster({ nodes: nodesFixture("all-ready") });
        for (const node of ["k8s-master", "k8s-master-2", "k8s-master-3", "k8s-node2"]) {
            const run = gate(cluster, node, LAB.members, LAB.quorum);
            assert.equal(run.status, 0, run.stdout);
        }
        const run = gate(cluster, "k8s-master", LAB.members, LAB.quorum);
        assert.match(run.stdout, /ALLOWED: k8s-master may go down: 2 other control-plane node\(s\) Ready \(quorum 2 of 3\), none cordoned, etcd 3\/3 healthy/);
    });

    it("one master NotReady: the two healthy masters are held, the down master and workers are not", () => {
        cluster = new FakeCluster({ nodes: nodesFixture("master-notready") });
        const held = gate(cluster, "k8s-master", LAB.members, LAB.quorum);
        assert.equal(held.status, 1);
        assert.match(held.stdout, /BLOCKED: only 1 control-plane node\(s\) besides k8s-master are Ready; 2 must stay up for etcd quorum \(of 3\)/);
        assert.equal(gate(cluster, "k8s-master-3", LAB.members, LAB.quorum).status, 1);
        assert.equal(gate(cluster, "k8s-master-2", LAB.members, LAB.quorum).status, 0, "rebooting the master that is already down costs nothing");
        assert.equal(gate(cluster, "k8s-node4", LAB.members, LAB.quorum).status, 0);
    });

    it("one master cordoned: everyone else is held (another master is going down), the cordoned one may go", () => {
        cluster = new FakeCluster({ nodes: nodesFixture("master-cordoned") });
        const held = gate(cluster, "k8s-node1", LAB.members, LAB.quorum);
        assert.equal(held.status, 1);
        assert.match(held.stdout, /BLOCKED: control-plane node\(s\) k8s-master-2 cordoned: another master is going down/);
        assert.equal(gate(cluster, "k8s-master", LAB.members, LAB.quorum).status, 1);
        assert.equal(gate(cluster, "k8s-master-2", LAB.members, LAB.quorum).status, 0);
    });

    it("an even count: 4 masters are held to quorumOf(4) = 3, and blocked outright when the stack expects 3", () => {
        const nodes = nodesFixture("even-count");
        cluster = new FakeCluster({ nodes });
        assert.equal(gate(cluster, "k8s-master-4", 4, quorumOf(4)).status, 0, "3 others Ready >= 3");
        const drift = gate(cluster, "k8s-master-4", LAB.members, LAB.quorum);
        assert.equal(drift.status, 1);
        assert.match(drift.stdout, /BLOCKED: the cluster has 4 control-plane node\(s\), the stack expects 3/);
        // One of the four down: 2 others Ready < 3 for any healthy master, although 3 of 4 are Ready.
        nodes.items.find((n: Json) => n.metadata.name === "k8s-master-3").status.conditions.find((c: Json) => c.type === "Ready").status = "False";
        cluster.setState({ nodes });
        assert.equal(gate(cluster, "k8s-master", 4, quorumOf(4)).status, 1);
        assert.equal(gate(cluster, "k8s-node1", 4, quorumOf(4)).status, 0, "a worker: 3 Ready >= 3");
    });

    it("an unhealthy etcd member blocks every reboot; so does an API it cannot reach", () => {
        cluster = new FakeCluster({ nodes: nodesFixture("all-ready"), etcdUnhealthy: ["k8s-master-3"] });
        const run = gate(cluster, "k8s-node1", LAB.members, LAB.quorum);
        assert.equal(run.status, 1);
        assert.match(run.stdout, /etcd member https:\/\/10\.0\.20\.111:2379: healthy=false \(context deadline exceeded\)/);
        assert.match(run.stdout, /BLOCKED: 1 of 3 etcd member\(s\) unhealthy/);
        assert.ok(cluster.log().some((l) => /etcdctl \(in etcd-k8s-master\) .*endpoint health --cluster -w json/.test(l)), "etcdctl ran inside a master's etcd pod");
        const down = cluster.run("cluster/quorum-gate.sh", ["--node", "k8s-node1", "--members", "3", "--quorum", "2"], { env: { STUB_KUBECTL_DOWN: "1" } });
        assert.equal(down.status, 1);
        assert.match(down.stdout, /BLOCKED: cannot list the control-plane nodes/);
    });

    it("rejects bad arguments with exit 2", () => {
        cluster = new FakeCluster({ nodes: nodesFixture("all-ready") });
        assert.equal(gate(cluster, "k8s-master", 3, 4).status, 2);
        assert.equal(cluster.run("cluster/quorum-gate.sh", ["--node", "x", "--members", "three", "--quorum", "2"]).status, 2);
    });
});
