import { strict as assert } from "assert";
import { controlPlaneGateFigures, loadTopology, quorumOf } from "@ha-control-plane/topology";
import { labConfig } from "../helpers/program";
import { ClusterState, FakeCluster, Json, nodesFixture } from "./helpers/fakeCluster";
import { readProjectFile } from "../../components/projectFiles";

/**
 * scripts/cluster/upgrade-chain.sh (phase 7) with node-upgrade.sh, against a fake cluster:
 * kubectl, etcdctl and ssh are stubs (no apiserver or nodes here), and on each "node" the stub
 * ssh runs the real node-upgrade.sh with stub kubeadm/apt-get/systemctl, since kubeadm cannot run
 * here. An upgraded node goes NotReady and comes back after a few reads, or never.
 */
const lab = loadTopology(labConfig("7").raw, { project: "ha-control-plane", stack: "lab", readProjectFile });
const LAB = controlPlaneGateFigures(lab.masters);

describe("upgrade-chain.sh: every master, one at a time, behind the quorum gate (stub kubectl/etcdctl/ssh/kubeadm)", function () {
    this.timeout(120_000);
    let cluster: FakeCluster;
    afterEach(() => cluster?.cleanup());

    function start(state: Partial<ClusterState> & { nodes: Json }, versions = "1.34.9-1.1\n1.34.8-1.1\n") {
        cluster = new FakeCluster({ upgradeReadyAfterPolls: 3, ...state });
        cluster.file("apt-versions", versions);
    }
    // An upgraded stub node is Ready again after a few polls: the wait ends then; the bound only
    // stops a node that never comes back (that test passes a short one).
    function chain(extra: string[] = [], members = LAB.members) {
        return cluster.run(
            "cluster/upgrade-chain.sh",
            ["--version", "1.34.9", "--members", String(members), "--quorum", String(quorumOf(members)), "--first", lab.existingMaster.name, "--ssh-user", "wizard", "--ready-timeout", "60", ...extra],
            { timeoutMs: 60_000 },
        );
    }
    const kubeadmCalls = () => cluster.log().filter((l) => l.startsWith("kubeadm ")).map((l) => l.split(" ").slice(1).join(" "));
    const sshCalls = () => cluster.log().filter((l) => l.startsWith("ssh "));

    it("upgrades every master in turn: the first with kubeadm upgrade apply, the others with upgrade node", () => {
        start({ nodes: nodesFixture("all-ready") });
        const run = chain();
        assert.equal(run.status, 0, run.stdout + run.stderr);
        assert.match(run.stdout, /masters in order: k8s-master k8s-master-2 k8s-master-3 -> v1\.34\.9/);
        assert.deepEqual(kubeadmCalls(), [
            "k8s-master upgrade apply -y v1.34.9",
            "k8s-master-2 upgrade node",
            "k8s-master-3 upgrade node",
        ]);
        assert.deepEqual(cluster.log().filter((l) => l.startsWith("VIOLATION")), [], "no master started while another was not Ready");
        for (const ssh of sshCalls()) assert.match(ssh, /\| others (k8s-master[-\d]*:True,?)+$/);
        // Drain, upgrade, uncordon, in that order, per master; packages pinned and held again.
        const steps = cluster.log().flatMap((l) => {
            const m = /^kubectl .*\b(drain|uncordon) (\S+)|^ssh (\S+)/.exec(l);
            return m ? [m[3] ? `upgrade ${m[3]}` : `${m[1]} ${m[2]}`] : [];
        });
        assert.deepEqual(steps, ["k8s-master", "k8s-master-2", "k8s-master-3"].flatMap((n) => [`drain ${n}`, `upgrade ${n}`, `uncordon ${n}`]));
        assert.ok(cluster.log().includes("apt-get k8s-master-2 install -y -q --allow-change-held-packages kubeadm=1.34.9-1.1"));
        assert.ok(cluster.log().includes("apt-mark k8s-master-3 hold kubelet"));
        const state = cluster.state();
        for (const n of state.nodes.items.filter((x: Json) => x.metadata.name.startsWith("k8s-master"))) {
            assert.equal(n.status.nodeInfo.kubeletVersion, "v1.34.9");
            assert.ok(!n.spec.unschedulable, `${n.metadata.name} uncordoned`);
        }
    });

    it("never starts a second master while the first is not Ready: it stops, and the rest are untouched", () => {
        start({ nodes: nodesFixture("all-ready"), neverReady: ["k8s-master"] });
        const run = chain(["--ready-timeout", "2"]);
        assert.equal(run.status, 1);
        assert.match(run.stderr, /STOPPED: k8s-master is not Ready at v1\.34\.9 after 2s; no further master is touched/);
        assert.deepEqual(kubeadmCalls(), ["k8s-master upgrade apply -y v1.34.9"]);
        assert.equal(sshCalls().length, 1);
        assert.ok(!cluster.log().some((l) => /drain k8s-master-2|drain k8s-master-3/.test(l)));
    });

    it("does not start while a master is NotReady or cordoned (the quorum gate before the first)", () => {
        for (const fixture of ["master-notready", "master-cordoned"] as const) {
            start({ nodes: nodesFixture(fixture) });
            const run = chain();
            assert.equal(run.status, 1, fixture);
            assert.match(run.stderr, /STOPPED: k8s-master may not go down now: BLOCKED: /, fixture);
            assert.equal(sshCalls().length, 0, fixture);
            assert.ok(!cluster.log().some((l) => l.startsWith("kubectl drain")), fixture);
            cluster.cleanup();
        }
    });

    it("with an even count walks all four, each behind quorumOf(4)", () => {
        start({ nodes: nodesFixture("even-count") });
        const run = chain([], 4);
        assert.equal(run.status, 0, run.stdout + run.stderr);
        assert.deepEqual(kubeadmCalls(), [
            "k8s-master upgrade apply -y v1.34.9",
            "k8s-master-2 upgrade node",
            "k8s-master-3 upgrade node",
            "k8s-master-4 upgrade node",
        ]);
        assert.deepEqual(cluster.log().filter((l) => l.startsWith("VIOLATION")), []);
    });

    it("resumes where it stopped: upgraded masters are skipped, a second full run does nothing", () => {
        const nodes = nodesFixture("all-ready");
        nodes.items.find((n: Json) => n.metadata.name === "k8s-master").status.nodeInfo.kubeletVersion = "v1.34.9";
        start({ nodes });
        let run = chain();
        assert.equal(run.status, 0, run.stdout + run.stderr);
        assert.match(run.stdout, /k8s-master: already at v1\.34\.9, skipped/);
        assert.deepEqual(kubeadmCalls(), ["k8s-master-2 upgrade node", "k8s-master-3 upgrade node"]);
        run = chain();
        assert.equal(run.status, 0);
        assert.equal(kubeadmCalls().length, 2, "nothing more ran");
    });

    it("a failed kubeadm upgrade stops the chain with the master still cordoned", () => {
        start({ nodes: nodesFixture("all-ready") });
        const run = cluster.run(
            "cluster/upgrade-chain.sh",
            ["--version", "1.34.9", "--members", "3", "--quorum", "2", "--first", "k8s-master", "--ready-timeout", "60"],
            { env: { STUB_KUBEADM_FAIL: "k8s-master-2" } },
        );
        assert.equal(run.status, 1);
        assert.match(run.stderr, /STOPPED: the upgrade failed on k8s-master-2 \(it stays cordoned/);
        assert.ok(!cluster.log().some((l) => l.includes("k8s-master-3 upgrade")));
        assert.equal(cluster.state().nodes.items.find((n: Json) => n.metadata.name === "k8s-master-2").spec.unschedulable, true);
    });

    it("a version the node's apt channel lacks fails on the node with what to do", () => {
        start({ nodes: nodesFixture("all-ready") }, "1.34.8-1.1\n");
        const run = chain();
        assert.equal(run.status, 1);
        assert.match(run.stderr, /kubeadm 1\.34\.9 is not offered by the node's apt sources/);
    });

    it("--dry-run walks the discovery and the gates and changes nothing", () => {
        start({ nodes: nodesFixture("all-ready") });
        const run = chain(["--dry-run"]);
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /k8s-master-3: dry run, would drain, run kubeadm upgrade node/);
        assert.equal(sshCalls().length, 0);
        assert.ok(!cluster.log().some((l) => l.startsWith("kubectl drain")));
    });
});
