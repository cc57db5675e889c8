import { strict as assert } from "assert";
import { existsSync } from "fs";
import { controlPlaneGateFigures, loadTopology } from "@ha-control-plane/topology";
import { readProjectFile } from "../../components/projectFiles";
import { labConfig } from "../helpers/program";
import { FakeCluster, nodesFixture } from "./helpers/fakeCluster";

/**
 * scripts/cluster/kured-sentinel-gate.sh (phase 5) against a stub kubectl/etcdctl serving
 * realistic `kubectl get nodes -o json` fixtures (no apiserver or kubeadm etcd can run here),
 * with the topology's figures as the program passes them. quorum-gate.sh, which it runs, has its
 * own file (quorumGate.test.ts).
 */
const lab = loadTopology(labConfig("7").raw, { project: "ha-control-plane", stack: "lab", readProjectFile });
const LAB = controlPlaneGateFigures(lab.masters);

describe("kured-sentinel-gate.sh: the sentinel exists only while a reboot is needed and allowed", function () {
    this.timeout(60_000);
    let cluster: FakeCluster;
    afterEach(() => cluster?.cleanup());

    function once(node: string) {
        return cluster.run("cluster/kured-sentinel-gate.sh", [
            "--node", node, "--members", String(LAB.members), "--quorum", String(LAB.quorum), "--once",
            "--reboot-required", cluster.file("reboot-required"), "--sentinel", cluster.file("gated-reboot-required"),
        ]);
    }

    it("sets the sentinel when the OS wants a reboot and the gate allows it, clears it otherwise", () => {
        cluster = new FakeCluster({ nodes: nodesFixture("all-ready") });
        let run = once("k8s-master");
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /no reboot required/);
        assert.ok(!existsSync(cluster.file("gated-reboot-required")));

        cluster.file("reboot-required", "");
        run = once("k8s-master");
        assert.match(run.stdout, /reboot required and allowed: sentinel set/);
        assert.ok(existsSync(cluster.file("gated-reboot-required")));

        cluster.setState({ nodes: nodesFixture("master-notready") });
        run = once("k8s-master");
        assert.match(run.stdout, /reboot required but held: BLOCKED: only 1 control-plane node/);
        assert.ok(!existsSync(cluster.file("gated-reboot-required")), "a held reboot removes a sentinel set earlier");
    });
});
