/**
 * scripts/etcd/remove-member.sh (an operator's removal of an etcd member, by name or peer URL)
 * against a REAL etcd (Debian's etcd 3.4, started here on free loopback ports, killed and removed
 * afterwards): the quorum guard's refusals, the removal itself with every key kept, a leader
 * moved first, and the learner a failed join leaves behind.
 */
import { strict as assert } from "assert";
import { etcdClusters, MASTERS, membership, scriptEnv as env, STALE_PEER, staleKeys as keys, staleLearnerCluster } from "../kubeadm/helpers/etcdSuite";
import { runShipped } from "../helpers/shipped";
import { runScript, Stubs } from "../kubeadm/helpers/stubs";

const clusters = etcdClusters({ healthy: MASTERS, degraded: MASTERS, leader: MASTERS, single: ["k8s-master"] });

describe("remove-member.sh against a real etcd (loopback)", function () {
    this.timeout(60_000);
    clusters.hooks();
    let stubs: Stubs;
    before(() => (stubs = new Stubs(["kubectl"])));
    after(() => stubs?.destroy());

    it("one member stopped: removing another is refused, names the unhealthy one, and changes nothing", async () => {
        const c = clusters.get("degraded");
        await c.stop("k8s-master-2");
        const before = c.ids();
        const run = runScript("etcd/remove-member.sh", ["--member", "k8s-master-3", "--protect", "k8s-master"], env(c));
        assert.equal(run.status, 1, run.stderr);
        assert.match(run.stderr, /REFUSED: removing k8s-master-3 would leave 1 healthy of 2 voting members, below quorum 2/);
        assert.match(run.stderr, /Unhealthy: k8s-master-2 \(id [0-9a-f]+, started, client http:\/\/127\.0\.0\.1:\d+/);
        assert.match(run.stderr, /Bring those members back first/);
        assert.deepEqual(c.ids(), before, "the member list is untouched");
        assert.equal(c.etcdctl(["endpoint", "health"], [c.members[0], c.members[2]]).status, 0, "the two running members are still healthy");
    });

    it("single-member cluster: the protected original master is refused", () => {
        const c = clusters.get("single");
        const protectedMaster = runScript("etcd/remove-member.sh", ["--member", "k8s-master", "--protect", "k8s-master"], env(c));
        assert.equal(protectedMaster.status, 1);
        assert.match(protectedMaster.stderr, /original master; this stack never removes it/);
        assert.deepEqual([...c.ids().keys()], ["k8s-master"]);
    });

    // etcd refuses member changes during a cluster's first seconds (strict reconfiguration check): the script retries.
    it("healthy cluster: removal allowed; the other two stay healthy and every key written before is readable", () => {
        const c = clusters.get("healthy");
        for (let i = 0; i < 50; i++) assert.equal(c.etcdctl(["put", `/registry/test/key-${i}`, `value-${i}`]).status, 0);
        const peer = c.members[2].peerUrl;
        const run = runScript("etcd/remove-member.sh", ["--peer-url", peer, "--protect", "k8s-master", "--timeout", "30"], env(c));
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual([...c.ids().keys()].sort(), ["k8s-master", "k8s-master-2"], run.stderr);
        const rest = c.members.slice(0, 2);
        assert.equal(c.etcdctl(["endpoint", "health"], rest).status, 0, "the remaining two are healthy");
        for (const member of rest) {
            const got = c.etcdctl(["get", "/registry/test/", "--prefix", "--keys-only"], [member]).stdout.trim().split("\n").filter(Boolean);
            assert.equal(got.length, 50, `all 50 keys readable through ${member.name}`);
        }
        assert.equal(c.etcdctl(["get", "/registry/test/key-49", "--print-value-only"], rest).stdout.trim(), "value-49");

        const again = runScript("etcd/remove-member.sh", ["--member", "k8s-master-3", "--protect", "k8s-master"], env(c));
        assert.equal(again.status, 0, "a re-run finds nothing to remove");
        assert.match(again.stderr, /not an etcd member/);
    });

    it("removing the leader moves leadership to a healthy voter first", async () => {
        const c = clusters.get("leader");
        const ids = c.ids();
        assert.equal(c.etcdctl(["move-leader", ids.get("k8s-master-3")!]).status, 0);
        assert.equal(c.leaderName(), "k8s-master-3");
        const run = runScript("etcd/remove-member.sh", ["--member", "k8s-master-3", "--protect", "k8s-master", "--timeout", "30"], env(c));
        assert.equal(run.status, 0, run.stderr);
        const moved = run.stderr.indexOf("k8s-master-3 leads etcd: moving leadership");
        const removed = run.stderr.indexOf("removing etcd member k8s-master-3");
        assert.ok(moved >= 0 && removed > moved, `leadership moved before the removal:\n${run.stderr}`);
        const rest = c.members.slice(0, 2);
        await c.waitHealthy(rest, 10_000);
        assert.ok(["k8s-master", "k8s-master-2"].includes(c.leaderName(rest) ?? ""), "a remaining member leads");
        assert.deepEqual([...c.ids().keys()].sort(), ["k8s-master", "k8s-master-2"]);
    });

    describe("a join that failed after `member add --learner` (real etcd: the learner is added, never started)", () => {
        const staleCluster = staleLearnerCluster();

        it("remove-member.sh --peer-url removes it, every key stays readable, and the next pre-join passes", () => {
            const c = staleCluster();
            const run = runScript("etcd/remove-member.sh", ["--peer-url", STALE_PEER, "--protect", "k8s-master", "--timeout", "30"], env(c));
            assert.equal(run.status, 0, run.stderr);
            assert.match(run.stderr, /removing etcd member unstarted-[0-9a-f]+ \(id [0-9a-f]+\)/);
            assert.doesNotMatch(c.etcdctl(["member", "list", "-w", "simple"]).stdout, /unstarted/);
            assert.equal(keys(c), 20);
            const join = runShipped(membership("k8s-master-3", STALE_PEER), stubs.env(c.env()));
            assert.equal(join.status, 0, join.stderr);
            assert.match(join.stdout, /^pre-join: /);
            assert.deepEqual(join.stdout.slice("pre-join: ".length).trim().split("; ").map((m) => m.split(" ").slice(0, 4).join(" ")).sort(), [
                "k8s-master healthy voter started",
                "k8s-master-2 healthy voter started",
            ]);
        });
    });
});
