/**
 * scripts/kubeadm/control-plane-member.sh, shipped as ControlPlaneJoin ships its etcd-membership
 * step (the bundle on stdin): the pre-join check on create and the guarded rollback (quorum
 * guard, drain, member removal, node deletion) on delete, against a REAL etcd (Debian's etcd 3.4,
 * started here on free loopback ports, killed and removed afterwards). kubectl (the drain and the
 * node deletion) cannot reach an apiserver here: it is a recording stub.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { etcdClusters, MASTERS, membership, STALE_PEER, staleKeys as keys, staleLearnerCluster, withoutClientFlags } from "./helpers/etcdSuite";
import { runShipped } from "../helpers/shipped";
import { LACKS_PYTHON3, masterWithoutPython3, Stubs } from "./helpers/stubs";

const clusters = etcdClusters({ healthy: MASTERS, degraded: MASTERS, rollback: MASTERS });

describe("control-plane-member.sh as ControlPlaneJoin ships it, against a real etcd (loopback; kubectl is a stub)", function () {
    this.timeout(60_000);
    clusters.hooks();
    let stubs: Stubs;
    before(async () => {
        stubs = new Stubs(["kubectl"]);
        // As in the quorum guard's suite: k8s-master-2 of this cluster is down.
        await clusters.get("degraded").stop("k8s-master-2");
    });
    after(() => stubs?.destroy());

    it("the rollback refuses before draining when the quorum guard says no", async () => {
        const c = clusters.get("degraded"); // k8s-master-2 is stopped (see above)
        stubs.setRules([{ bin: "kubectl", args: ".", stdout: "" }]);
        const run = runShipped(membership("k8s-master-3", c.members[2].peerUrl), stubs.env(c.env()), { action: "delete" });
        assert.equal(run.status, 1);
        assert.match(run.stderr, /REFUSED/);
        assert.match(run.stderr, /nothing was changed/);
        assert.deepEqual(stubs.calls("kubectl"), [], "no drain, no node deletion");
        assert.equal(c.ids().size, 3);
    });

    it("pre-join: passes on a healthy cluster (and for an already healthy member), refuses a degraded one", () => {
        const ok = runShipped(membership("k8s-master-4", "http://127.0.0.1:1"), stubs.env(clusters.get("healthy").env()));
        assert.equal(ok.status, 0, ok.stderr);
        const member = runShipped(membership("k8s-master-3", clusters.get("healthy").members[2].peerUrl), stubs.env(clusters.get("healthy").env()));
        assert.equal(member.status, 0, member.stderr);
        assert.match(member.stderr, /already is a healthy etcd member/);
        const degraded = runShipped(membership("k8s-master-4", "http://127.0.0.1:1"), stubs.env(clusters.get("degraded").env()));
        assert.equal(degraded.status, 1);
        assert.match(degraded.stderr, /etcd members not healthy: k8s-master-2/);
    });

    it("the full rollback, shipped as the program ships it (bundle on stdin): guard, drain, remove, delete node", () => {
        const c = clusters.get("rollback");
        stubs.setRules([
            { bin: "kubectl", args: "get node k8s-master-3 -o name", stdout: "node/k8s-master-3\n" },
            { bin: "kubectl", args: "drain k8s-master-3", stdout: "node/k8s-master-3 drained\n" },
            { bin: "kubectl", args: "delete node k8s-master-3", stdout: "node \"k8s-master-3\" deleted\n" },
        ]);
        const run = runShipped(membership("k8s-master-3", c.members[2].peerUrl, { drain: 60, remove: 30 }), stubs.env(c.env()), { action: "delete" });
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual([...c.ids().keys()].sort(), ["k8s-master", "k8s-master-2"]);
        const kubectl = stubs.calls("kubectl").map((k) => withoutClientFlags(k.argv));
        assert.deepEqual(kubectl, [
            "get node k8s-master-3 -o name",
            "drain k8s-master-3 --ignore-daemonsets --delete-emptydir-data --timeout=60s",
            "get node k8s-master-3 -o name",
            "delete node k8s-master-3 --ignore-not-found --timeout=60s",
        ]);
    });

    describe("on a master without python3 (PATH: links to every other command of this machine)", () => {
        let bare: Stubs;
        let root: string;
        let withoutPython: string;
        let pythonOnly: string;
        before(() => {
            // kubectl only, without the python3 link Stubs usually adds.
            bare = new Stubs(["kubectl"], { python3: false });
            root = mkdtempSync(path.join(tmpdir(), "hacp-no-python3-"));
            ({ without: withoutPython, pythonOnly } = masterWithoutPython3(root));
        });
        after(() => {
            bare?.destroy();
            if (root) rmSync(root, { recursive: true, force: true });
        });
        const masterEnv = (python3: boolean) => bare.env({ ...clusters.get("healthy").env(), PATH: [bare.dir, ...(python3 ? [pythonOnly] : []), withoutPython].join(":") });

        it("the pre-join check refuses (exit 1) naming python3 (the preflight's message), not as an etcd that does not answer; with python3, it reads the real etcd's members", () => {
            const lookup = spawnSync("sh", ["-c", "command -v python3"], { env: masterEnv(false), encoding: "utf8" });
            assert.ok(lookup.status !== 0 && lookup.stdout === "", `no python3 on that PATH: ${lookup.stdout}`);
            const step = membership("k8s-master-2", "https://192.0.2.110:2380", { drain: 60, remove: 60 });
            const refused = runShipped(step, masterEnv(false));
            assert.equal(refused.status, 1, refused.stderr);
            assert.match(refused.stderr, new RegExp(`^control-plane-member: ERROR: ${LACKS_PYTHON3.source}$`, "m"));
            assert.doesNotMatch(refused.stderr, /is etcd running/);

            const checked = runShipped(step, masterEnv(true));
            assert.equal(checked.status, 0, checked.stderr);
            assert.match(checked.stdout, /^pre-join: (.*; )?k8s-master healthy voter started /m);
        });
    });

    describe("a join that failed after `member add --learner` (real etcd: the learner is added, never started)", () => {
        const staleCluster = staleLearnerCluster();

        it("pre-join of the failed master names the stale learner and the way out; other joins are refused until it is gone", () => {
            const c = staleCluster();
            const again = runShipped(membership("k8s-master-3", STALE_PEER), stubs.env(c.env()));
            assert.equal(again.status, 1);
            assert.match(again.stderr, /etcd holds a stale member for k8s-master-3 \(id [0-9a-f]+, unstarted learner, unhealthy\): a previous join failed half-way/);
            assert.match(again.stderr, /remove-member\.sh --peer-url http:\/\/127\.0\.0\.1:9/);
            const other = runShipped(membership("k8s-master-4", "http://127.0.0.1:10"), stubs.env(c.env()));
            assert.equal(other.status, 1);
            assert.match(other.stderr, /etcd members not healthy: unstarted-[0-9a-f]+ \(added but never started learner, peer http:\/\/127\.0\.0\.1:9: left by a failed join; remove it with remove-member\.sh --peer-url http:\/\/127\.0\.0\.1:9\)/);
        });

        it("the shipped rollback (etcd-membership's delete) removes it, with no node registered to drain", () => {
            // The learner of the failed join is still there: nothing above removed it.
            const c = staleCluster();
            stubs.setRules([{ bin: "kubectl", args: "get node k8s-master-3 -o name", stderr: 'Error from server (NotFound): nodes "k8s-master-3" not found\n', exit: 1 }]);
            const run = runShipped(membership("k8s-master-3", STALE_PEER, { drain: 60, remove: 30 }), stubs.env(c.env()), { action: "delete" });
            assert.equal(run.status, 0, run.stderr);
            assert.match(run.stderr, /node k8s-master-3 is not registered: nothing to drain/);
            assert.match(run.stdout, /removed: k8s-master-3 is out of etcd and the cluster/);
            assert.deepEqual([...c.ids().keys()].sort(), ["k8s-master", "k8s-master-2"]);
            assert.equal(keys(c), 20);
            const rerun = runShipped(membership("k8s-master-3", STALE_PEER, { drain: 60, remove: 30 }), stubs.env(c.env()), { action: "delete" });
            assert.equal(rerun.status, 0, "a re-run of the rollback converges: nothing left to remove");
            assert.match(rerun.stderr, /not an etcd member/);
        });

        it("a rollback stopped at each step that can fail (drain, node deletion) converges on a re-run, every key kept", () => {
            const c = staleCluster();
            const rollback = membership("k8s-master-2", c.members[1].peerUrl, { drain: 60, remove: 30 });
            const node = { bin: "kubectl", args: "get node k8s-master-2 -o name", stdout: "node/k8s-master-2\n" };
            // 1. The drain fails (a PodDisruptionBudget): nothing in etcd changes.
            stubs.setRules([node, { bin: "kubectl", args: "drain k8s-master-2", stderr: "error: cannot evict pod as it would violate the pod's disruption budget\n", exit: 1 }]);
            const drain = runShipped(rollback, stubs.env(c.env()), { action: "delete" });
            assert.equal(drain.status, 1);
            assert.match(drain.stderr, /kubectl drain k8s-master-2 failed \(a PodDisruptionBudget\?\); etcd is untouched\. To abort: kubectl uncordon k8s-master-2/);
            assert.deepEqual([...c.ids().keys()].sort(), ["k8s-master", "k8s-master-2"]);
            // 2. Drained and removed from etcd, then the node deletion fails.
            stubs.setRules([node, { bin: "kubectl", args: "drain k8s-master-2", stdout: "node/k8s-master-2 drained\n" }, { bin: "kubectl", args: "delete node k8s-master-2", stderr: "error: timed out\n", exit: 1 }]);
            const deletion = runShipped(rollback, stubs.env(c.env()), { action: "delete" });
            assert.equal(deletion.status, 1);
            assert.match(deletion.stderr, /ERROR: kubectl delete node k8s-master-2 failed/);
            assert.deepEqual([...c.ids().keys()], ["k8s-master"], "the member is out of etcd");
            assert.equal(keys(c), 20, "every key readable through the remaining member");
            // 3. The re-run finds no member to remove and finishes the node deletion.
            stubs.setRules([node, { bin: "kubectl", args: "drain k8s-master-2", stdout: "node/k8s-master-2 drained\n" }, { bin: "kubectl", args: "delete node k8s-master-2", stdout: 'node "k8s-master-2" deleted\n' }]);
            const rerun = runShipped(rollback, stubs.env(c.env()), { action: "delete" });
            assert.equal(rerun.status, 0, rerun.stderr);
            assert.match(rerun.stderr, /not an etcd member/);
            assert.match(rerun.stdout, /removed: k8s-master-2 is out of etcd and the cluster/);
            assert.equal(keys(c), 20);
        });
    });
});
