import { strict as assert } from "assert";
import { shippedScript } from "../../components/clusterOps/remote";
import { verifyEtcdScript } from "../../components/clusterOps/verification";
import { runShipped } from "../helpers/shipped";
import { labTopology } from "../helpers/lab";
import { FakeCluster, nodesFixture } from "./helpers/fakeCluster";

/**
 * scripts/cluster/verify-etcd.sh, phase 6's etcd gate, as the program ships it, against the fake
 * cluster (stub kubectl/etcdctl: no etcd of kubeadm's can run here).
 */
describe("verify-etcd.sh: the phase 6 etcd gate", function () {
    this.timeout(60_000);
    let cluster: FakeCluster;
    afterEach(() => cluster.cleanup());
    /** The phase 6 gate as the program ships it (bundle on stdin, sudo -n bash -s), for the lab's masters or MEMBERS. */
    const verify = (members?: string) => {
        const topology = labTopology();
        const spec = verifyEtcdScript(topology);
        return runShipped(shippedScript(topology.ssh.user, members ? { ...spec, args: ["--members", members, "--pod", "etcd-k8s-master"] } : spec), cluster.env());
    };

    it("passes with exactly the planned members, all started voters, all healthy", () => {
        cluster = new FakeCluster({ nodes: nodesFixture("all-ready") });
        const run = verify();
        assert.equal(run.status, 0, run.stdout + run.stderr);
        assert.match(run.stdout, /etcd has 3 started, healthy voting members/);
    });

    it("fails on a missing or extra member, a learner, an unhealthy member", () => {
        cluster = new FakeCluster({ nodes: nodesFixture("even-count"), etcdLearners: ["k8s-master-4"], etcdUnhealthy: ["k8s-master-2"] });
        const run = verify("k8s-master,k8s-master-2,k8s-master-3,k8s-master-5");
        assert.equal(run.status, 1);
        assert.match(run.stdout, /expected member k8s-master-5 is missing/);
        assert.match(run.stdout, /unexpected member k8s-master-4/);
        assert.match(run.stdout, /member k8s-master-4 is still a learner/);
        assert.match(run.stdout, /3 of 4 members healthy/);
    });

    it("fails on a member a failed join added and never started, naming its peer URL and the way out", () => {
        cluster = new FakeCluster({ nodes: nodesFixture("all-ready"), etcdUnstarted: ["https://10.0.20.112:2380"] });
        const run = verify();
        assert.equal(run.status, 1);
        assert.match(run.stdout, /member unstarted-[0-9a-f]+ \(peer https:\/\/10\.0\.20\.112:2380\) was added but never started: a failed join; remove it with remove-member\.sh --peer-url https:\/\/10\.0\.20\.112:2380/);
        assert.match(run.stdout, /unexpected member unstarted-/);
        assert.match(run.stderr, /verify-etcd: FAILED: 3 problem\(s\)/);
    });
});
