/**
 * scripts/kubeadm/control-plane-gate.sh, shipped as ControlPlaneJoin ships its gate step: the
 * post-join check that the new master is a healthy control-plane member, against a REAL etcd
 * (Debian's etcd 3.4, started here on free loopback ports, killed and removed afterwards).
 * kubectl cannot reach an apiserver here: a stub answers for the node and its pods.
 */
import { strict as assert } from "assert";
import { etcdClusters, gate, MASTERS } from "./helpers/etcdSuite";
import { runShipped } from "../helpers/shipped";
import { Stubs } from "./helpers/stubs";

const clusters = etcdClusters({ gate: MASTERS });

describe("control-plane-gate.sh as ControlPlaneJoin ships it (real etcd; kubectl is a stub answering for the node and its pods)", function () {
    this.timeout(60_000);
    clusters.hooks();
    let stubs: Stubs;
    before(() => (stubs = new Stubs(["kubectl"])));
    after(() => stubs?.destroy());

    const TAINT = "node-role.kubernetes.io/control-plane=NoSchedule\n";
    const kubectlHealthy = (node: string, taints = TAINT) => [
        { bin: "kubectl", args: `get node ${node} -o jsonpath=\\{\\.status`, stdout: "True" },
        { bin: "kubectl", args: `get pod (etcd|kube-apiserver|kube-controller-manager|kube-scheduler)-${node} `, stdout: "Running True" },
        { bin: "kubectl", args: `get node ${node} -o jsonpath=\\{range \\.spec\\.taints`, stdout: taints },
    ];

    it("passes when the node, its static pods, the 3 etcd members and the taint are all there", () => {
        stubs.setRules(kubectlHealthy("k8s-master-3"));
        const run = runShipped(gate("k8s-master-3", MASTERS, [], 20), stubs.env(clusters.get("gate").env()));
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /gate: k8s-master-3 is a healthy control-plane member; etcd: .*k8s-master-3 healthy voter/);
    });

    it("fails the up when the control-plane taint is missing", () => {
        stubs.setRules(kubectlHealthy("k8s-master-3", "node.kubernetes.io/not-ready=NoExecute\n"));
        const run = runShipped(gate("k8s-master-3", MASTERS, [], 1), stubs.env(clusters.get("gate").env()));
        assert.equal(run.status, 1);
        assert.match(run.stderr, /gate failed for k8s-master-3: taint node-role.kubernetes.io\/control-plane=NoSchedule/);
    });

    it("fails when etcd does not have the expected member count (a stray member)", () => {
        stubs.setRules(kubectlHealthy("k8s-master-2"));
        // Expecting 2 members after master-2's join while 3 are there, none of them planned later.
        const run = runShipped(gate("k8s-master-2", MASTERS.slice(0, 2), [], 1), stubs.env(clusters.get("gate").env()));
        assert.equal(run.status, 1);
        assert.match(run.stderr, /unexpected etcd member k8s-master-3/);
        // The same gate re-run after master-3 joined, as planned: passes.
        const later = runShipped(gate("k8s-master-2", MASTERS.slice(0, 2), ["k8s-master-3"], 5), stubs.env(clusters.get("gate").env()));
        assert.equal(later.status, 0, later.stderr);
    });
});
