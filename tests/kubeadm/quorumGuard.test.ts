/**
 * The quorum guard and member removal against a REAL etcd cluster (Debian's etcd 3.4, started
 * here on free loopback ports, killed and removed afterwards), and the guard's rule cross-checked
 * against decideMemberRemoval in topology/quorum.ts on many cases. kubectl (for the drain and the
 * node deletion of the full rollback) cannot reach an apiserver here: it is a recording stub.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { etcdMembershipCommand, joinGateCommand } from "../../components/kubeadm/controlPlaneJoin";
import { SCRIPTS_DIR } from "../../components/scriptFile";
import { decideMemberRemoval, MemberHealth } from "../../topology";
import { DAEMON_HOOK_TIMEOUT_MS, DaemonGroup } from "../helpers/daemons";
import { runShipped } from "../helpers/shipped";
import { EtcdCluster } from "./helpers/etcdCluster";
import { runScript, Stubs } from "./helpers/stubs";

const MASTERS = ["k8s-master", "k8s-master-2", "k8s-master-3"];

const etcdAvailable = () => ["etcd", "etcdctl"].every((bin) => spawnSync("which", [bin]).status === 0);

type Clusters = Record<"healthy" | "degraded" | "leader" | "single" | "rollback" | "gate", EtcdCluster>;
let clustersStarting: Promise<Clusters> | undefined;
/** Every etcd of this file: stopped by the suite that uses them, or at the end of the run if it never ran. */
const etcdDaemons = new DaemonGroup();
after(() => etcdDaemons.stopAll());
/**
 * Started early and together: etcd refuses a reconfiguration during its first seconds (strict
 * reconfig check), so the clusters boot while the pure cross-check runs (the scripts also retry).
 */
function startClusters(): Promise<Clusters> {
    clustersStarting ??= (async () => {
        const settled = await Promise.allSettled([
            EtcdCluster.start(MASTERS, etcdDaemons),
            EtcdCluster.start(MASTERS, etcdDaemons),
            EtcdCluster.start(MASTERS, etcdDaemons),
            EtcdCluster.start(["k8s-master"], etcdDaemons),
            EtcdCluster.start(MASTERS, etcdDaemons),
            EtcdCluster.start(MASTERS, etcdDaemons),
        ]);
        const failed = settled.find((s) => s.status === "rejected");
        if (failed) {
            await Promise.all(settled.map((s) => (s.status === "fulfilled" ? s.value.destroy() : undefined)));
            throw (failed as PromiseRejectedResult).reason;
        }
        const [healthy, degraded, leader, single, rollback, gate] = settled.map((s) => (s as PromiseFulfilledResult<EtcdCluster>).value);
        return { healthy, degraded, leader, single, rollback, gate };
    })();
    return clustersStarting;
}

describe("etcd quorum guard: the script's rule is decideMemberRemoval's (no etcd needed)", () => {
    before(function () {
        if (!etcdAvailable()) return;
        // Not awaited here: the clusters boot while these tests run.
        startClusters().catch(() => undefined);
    });

    it("agrees on 1000 random memberships, including learners and protected members", function () {
        this.timeout(30_000);
        // A deterministic generator (mulberry32), so a failure reproduces.
        let seed = 12345;
        const rand = (n: number) => {
            seed = (seed + 0x6d2b79f5) | 0;
            let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
            t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
            return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n | 0;
        };
        const cases: { members: MemberHealth[]; removing: string; peer: string; protectedMembers: string[] }[] = [];
        for (let i = 0; i < 1000; i++) {
            const n = rand(8);
            // Some members were added but never started (a failed join): no name, never healthy
            // (even when a caller says so), found only by peer URL.
            const members = Array.from({ length: n }, (_, j) => {
                const started = rand(6) > 0;
                const peerUrls = [`http://127.0.0.1:${2380 + j}`, ...(rand(4) === 0 ? [`http://[::1]:${2380 + j}`] : [])];
                return { name: started ? `m${j}` : `unstarted-${(0x8e9e + j).toString(16)}`, healthy: rand(3) > 0, learner: rand(6) === 0, started, peerUrls };
            });
            const byPeer = rand(4) === 0;
            const pick = rand(Math.max(n, 1));
            const removing = byPeer ? "" : rand(5) === 0 ? "absent" : `m${pick}`;
            const peer = byPeer ? (rand(5) === 0 ? "http://127.0.0.1:1" : `http://127.0.0.1:${2380 + pick}`) : "";
            const protectedMembers = rand(3) === 0 ? [`m${rand(Math.max(n, 1))}`] : [];
            cases.push({ members, removing, peer, protectedMembers });
        }
        // One bash process runs every case through etcd_decide_removal (scripts/etcd/lib.sh).
        const driver = [
            `source ${JSON.stringify(path.join(SCRIPTS_DIR, "etcd/lib.sh"))}`,
            ...cases.map((c) => {
                const lines = c.members
                    .map((m) => `${m.name} ${m.healthy ? "healthy" : "unhealthy"} ${m.learner ? "learner" : "voter"} ${m.started ? "started" : "unstarted"} ${m.peerUrls!.join(",")}`)
                    .join("\\n");
                return `printf '${lines}${lines ? "\\n" : ""}' | etcd_decide_removal '${c.removing}' '${c.protectedMembers.join(",")}' '${c.peer}' || true`;
            }),
        ].join("\n");
        // On stdin: the driver is larger than one command-line argument may be.
        const run = spawnSync("bash", ["-s"], { input: driver, encoding: "utf8", timeout: 25_000 });
        assert.equal(run.status, 0, run.stderr);
        const verdicts = run.stdout.trim().split("\n");
        assert.equal(verdicts.length, cases.length);
        let allowed = 0;
        cases.forEach((c, i) => {
            const ts = decideMemberRemoval(c.members, { name: c.removing || undefined, peerUrl: c.peer || undefined }, { protectedMembers: c.protectedMembers });
            const sh = verdicts[i];
            const label = `case ${i}: ${JSON.stringify(c)} -> script "${sh}"`;
            if (ts.allowed) {
                allowed++;
                assert.equal(sh, `allowed remaining=${ts.remaining} quorum=${ts.quorum}`, label);
            } else {
                assert.match(sh, new RegExp(`^refused rule=${ts.rule} unhealthy=${ts.unhealthy.join(",")}( |$)`), label);
            }
        });
        assert.ok(allowed > 100 && allowed < 900, `both verdicts well represented (${allowed} allowed)`);
    });

    it("quorum-guard.sh --decide answers what-if questions from stdin", () => {
        const run = runScript("etcd/quorum-guard.sh", ["--decide", "c", "--protect", "a"], process.env, "a healthy\nb unhealthy\nc healthy\n");
        assert.equal(run.status, 1);
        assert.match(run.stdout, /^refused rule=below-quorum unhealthy=b /);
        const ok = runScript("etcd/quorum-guard.sh", ["--decide", "b", "--protect", "a"], process.env, "a healthy\nb unhealthy\nc healthy\n");
        assert.equal(ok.status, 0);
        assert.equal(ok.stdout.trim(), "allowed remaining=2 quorum=2");
    });
});

describe("etcd quorum guard and member removal against a real 3-member etcd (loopback)", function () {
    this.timeout(60_000);
    let clusters: Clusters;
    let stubs: Stubs;

    before(async function () {
        this.timeout(DAEMON_HOOK_TIMEOUT_MS);
        if (!etcdAvailable()) {
            throw new Error("etcd and etcdctl are required (Debian packages etcd-server and etcd-client)");
        }
        clusters = await startClusters();
        stubs = new Stubs(["kubectl"]);
    });
    after(async () => {
        // Also what a `before` that timed out is still starting.
        await etcdDaemons.stopAll();
        await clustersStarting?.then((all) => Promise.all(Object.values(all).map((c) => c.destroy())), () => undefined);
        stubs?.destroy();
    });

    const env = (c: EtcdCluster) => ({ ...process.env, ...c.env(), HACP_ALLOW_NON_ROOT: "1" });
    /** The etcd-membership step of ControlPlaneJoin for NODE, as the program builds it (pre-join on create, the rollback on delete). */
    const membership = (node: string, peerUrl: string, timeouts = { drain: 600, remove: 300 }) =>
        etcdMembershipCommand({ sshUser: "ubuntu", node, peerUrl, protect: "k8s-master", drainTimeoutSeconds: timeouts.drain, timeoutSeconds: timeouts.remove });
    const gate = (node: string, members: string[], later: string[], timeoutSeconds: number) => joinGateCommand({ sshUser: "ubuntu", node, members, later, timeoutSeconds });


    it("one member stopped: removing another is refused, names the unhealthy one, and changes nothing", async () => {
        const c = clusters.degraded;
        await c.stop("k8s-master-2");
        const before = c.ids();
        const run = runScript("etcd/remove-member.sh", ["--member", "k8s-master-3", "--protect", "k8s-master"], env(c));
        assert.equal(run.status, 1, run.stderr);
        assert.match(run.stderr, /REFUSED: removing k8s-master-3 would leave 1 healthy of 2 voting members, below quorum 2/);
        assert.match(run.stderr, /Unhealthy: k8s-master-2 \(id [0-9a-f]+, started, client http:\/\/127\.0\.0\.1:\d+/);
        assert.match(run.stderr, /Bring those members back first/);
        assert.deepEqual(c.ids(), before, "the member list is untouched");
        assert.equal(c.etcdctl(["endpoint", "health"], [c.members[0], c.members[2]]).status, 0, "the two running members are still healthy");
        const guard = runScript("etcd/quorum-guard.sh", ["--member", "k8s-master-3", "--protect", "k8s-master"], env(c));
        assert.equal(guard.status, 1);
    });

    it("single-member cluster: the last member is refused, and so is the protected original master", () => {
        const c = clusters.single;
        const last = runScript("etcd/quorum-guard.sh", ["--member", "k8s-master"], env(c));
        assert.equal(last.status, 1);
        assert.match(last.stderr, /k8s-master is the last etcd voting member/);
        const protectedMaster = runScript("etcd/remove-member.sh", ["--member", "k8s-master", "--protect", "k8s-master"], env(c));
        assert.equal(protectedMaster.status, 1);
        assert.match(protectedMaster.stderr, /original master; this stack never removes it/);
        assert.deepEqual([...c.ids().keys()], ["k8s-master"]);
    });



    it("the rollback refuses before draining when the quorum guard says no", async () => {
        const c = clusters.degraded; // k8s-master-2 is stopped (see above)
        stubs.setRules([{ bin: "kubectl", args: ".", stdout: "" }]);
        const run = runShipped(membership("k8s-master-3", c.members[2].peerUrl), stubs.env(c.env()), { action: "delete" });
        assert.equal(run.status, 1);
        assert.match(run.stderr, /REFUSED/);
        assert.match(run.stderr, /nothing was changed/);
        assert.deepEqual(stubs.calls("kubectl"), [], "no drain, no node deletion");
        assert.equal(c.ids().size, 3);
    });

    it("pre-join: passes on a healthy cluster (and for an already healthy member), refuses a degraded one", () => {
        const ok = runShipped(membership("k8s-master-4", "http://127.0.0.1:1"), stubs.env(clusters.gate.env()));
        assert.equal(ok.status, 0, ok.stderr);
        const member = runShipped(membership("k8s-master-3", clusters.gate.members[2].peerUrl), stubs.env(clusters.gate.env()));
        assert.equal(member.status, 0, member.stderr);
        assert.match(member.stderr, /already is a healthy etcd member/);
        const degraded = runShipped(membership("k8s-master-4", "http://127.0.0.1:1"), stubs.env(clusters.degraded.env()));
        assert.equal(degraded.status, 1);
        assert.match(degraded.stderr, /etcd members not healthy: k8s-master-2/);
    });

    it("without etcdctl on the host, runs the etcdctl of the etcd container (crictl is a stub that runs the real etcdctl)", () => {
        const c = clusters.gate;
        const cri = new Stubs(["crictl"]);
        try {
            cri.setRules([
                { bin: "crictl", args: "^ps --name \\^etcd\\$ --state running -q$", stdout: "3f9a1c\n" },
                { bin: "crictl", args: "^exec 3f9a1c etcdctl ", run: 'shift 3; exec env -u ETCDCTL_ENDPOINTS ETCDCTL_API=3 etcdctl "$@"' },
            ]);
            const run = runScript("etcd/quorum-guard.sh", ["--member", "k8s-master-3", "--protect", "k8s-master"], cri.env({ ...c.env(), ETCDCTL_BIN: "etcdctl-not-on-this-host" }));
            assert.equal(run.status, 0, run.stderr);
            assert.match(run.stderr, /removing k8s-master-3 is safe/);
            const execs = cri.calls("crictl").filter((k) => k.argv[0] === "exec");
            assert.ok(execs.length >= 4, "member list and a health probe per member, inside the container");
            assert.deepEqual(execs[0].argv.slice(0, 5), ["exec", "3f9a1c", "etcdctl", "--endpoints", c.members[0].clientUrl]);
        } finally {
            cri.destroy();
        }
    });

    describe("the post-join gate (real etcd; kubectl is a stub answering for the node and its pods)", () => {
        const TAINT = "node-role.kubernetes.io/control-plane=NoSchedule\n";
        const kubectlHealthy = (node: string, taints = TAINT) => [
            { bin: "kubectl", args: `get node ${node} -o jsonpath=\\{\\.status`, stdout: "True" },
            { bin: "kubectl", args: `get pod (etcd|kube-apiserver|kube-controller-manager|kube-scheduler)-${node} `, stdout: "Running True" },
            { bin: "kubectl", args: `get node ${node} -o jsonpath=\\{range \\.spec\\.taints`, stdout: taints },
        ];

        it("passes when the node, its static pods, the 3 etcd members and the taint are all there", () => {
            stubs.setRules(kubectlHealthy("k8s-master-3"));
            const run = runShipped(gate("k8s-master-3", MASTERS, [], 20), stubs.env(clusters.gate.env()));
            assert.equal(run.status, 0, run.stderr);
            assert.match(run.stdout, /gate: k8s-master-3 is a healthy control-plane member; etcd: .*k8s-master-3 healthy voter/);
        });

        it("fails the up when the control-plane taint is missing", () => {
            stubs.setRules(kubectlHealthy("k8s-master-3", "node.kubernetes.io/not-ready=NoExecute\n"));
            const run = runShipped(gate("k8s-master-3", MASTERS, [], 1), stubs.env(clusters.gate.env()));
            assert.equal(run.status, 1);
            assert.match(run.stderr, /gate failed for k8s-master-3: taint node-role.kubernetes.io\/control-plane=NoSchedule/);
        });

        it("fails when etcd does not have the expected member count (a stray member)", () => {
            stubs.setRules(kubectlHealthy("k8s-master-2"));
            // Expecting 2 members after master-2's join while 3 are there, none of them planned later.
            const run = runShipped(gate("k8s-master-2", MASTERS.slice(0, 2), [], 1), stubs.env(clusters.gate.env()));
            assert.equal(run.status, 1);
            assert.match(run.stderr, /unexpected etcd member k8s-master-3/);
            // The same gate re-run after master-3 joined, as planned: passes.
            const later = runShipped(gate("k8s-master-2", MASTERS.slice(0, 2), ["k8s-master-3"], 5), stubs.env(clusters.gate.env()));
            assert.equal(later.status, 0, later.stderr);
        });
    });

    // The removals last: by then the clusters are old enough for etcd's strict reconfiguration
    // check (it refuses member changes during a cluster's first seconds; the script retries).
    it("healthy cluster: removal allowed; the other two stay healthy and every key written before is readable", () => {
        const c = clusters.healthy;
        for (let i = 0; i < 50; i++) assert.equal(c.etcdctl(["put", `/registry/test/key-${i}`, `value-${i}`]).status, 0);
        const guard = runScript("etcd/quorum-guard.sh", ["--member", "k8s-master-3", "--protect", "k8s-master"], env(c));
        assert.equal(guard.status, 0, guard.stderr);
        assert.match(guard.stderr, /removing k8s-master-3 is safe \(remaining=2 quorum=2\)/);

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
        const c = clusters.leader;
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
    it("the full rollback, shipped as the program ships it (bundle on stdin): guard, drain, remove, delete node", () => {
        const c = clusters.rollback;
        stubs.setRules([
            { bin: "kubectl", args: "get node k8s-master-3 -o name", stdout: "node/k8s-master-3\n" },
            { bin: "kubectl", args: "drain k8s-master-3", stdout: "node/k8s-master-3 drained\n" },
            { bin: "kubectl", args: "delete node k8s-master-3", stdout: "node \"k8s-master-3\" deleted\n" },
        ]);
        const run = runShipped(membership("k8s-master-3", c.members[2].peerUrl, { drain: 60, remove: 30 }), stubs.env(c.env()), { action: "delete" });
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual([...c.ids().keys()].sort(), ["k8s-master", "k8s-master-2"]);
        const kubectl = stubs.calls("kubectl").map((k) => k.argv.filter((a) => !a.startsWith("--kubeconfig") && !a.startsWith("--request-timeout") && !a.endsWith("admin.conf")).join(" "));
        assert.deepEqual(kubectl, [
            "get node k8s-master-3 -o name",
            "drain k8s-master-3 --ignore-daemonsets --delete-emptydir-data --timeout=60s",
            "get node k8s-master-3 -o name",
            "delete node k8s-master-3 --ignore-not-found --timeout=60s",
        ]);
    });

    describe("a join that failed after `member add --learner` (real etcd: the learner is added, never started)", () => {
        const STALE_PEER = "http://127.0.0.1:9";
        /** kubeadm's join adds the member as a learner first; here its etcd never starts. */
        const addStaleLearner = async (c: EtcdCluster, peer: string) => {
            // etcd refuses reconfiguration during a cluster's first seconds: retried, bounded.
            for (let tries = 0; ; tries++) {
                const add = c.etcdctl(["member", "add", "k8s-master-3", "--learner", "--peer-urls", peer]);
                if (add.status === 0) return;
                if (tries >= 40) assert.fail(`member add --learner kept failing: ${add.stderr}`);
                await new Promise((r) => setTimeout(r, 500));
            }
        };
        const keys = (c: EtcdCluster) => c.etcdctl(["get", "/registry/stale/", "--prefix", "--keys-only"]).stdout.trim().split("\n").filter(Boolean).length;

        // master-2 joined; master-3's join is the one that fails half-way. Started on its own, once
        // the shared clusters are up, so it does not add to their boot.
        let stale: EtcdCluster | undefined;
        const staleDaemons = new DaemonGroup();
        before(async function () {
            this.timeout(DAEMON_HOOK_TIMEOUT_MS);
            stale = await EtcdCluster.start(MASTERS.slice(0, 2), staleDaemons);
            for (let i = 0; i < 20; i++) assert.equal(stale.etcdctl(["put", `/registry/stale/key-${i}`, `value-${i}`]).status, 0);
            await addStaleLearner(stale, STALE_PEER);
        });
        after(() => staleDaemons.stopAll());
        const staleCluster = () => stale!;

        it("etcdctl's text form has empty name and client columns there (what the old parser collapsed)", () => {
            const simple = staleCluster().etcdctl(["member", "list", "-w", "simple"]).stdout;
            assert.match(simple, new RegExp(`^[0-9a-f]+, unstarted, , ${STALE_PEER}, , true$`, "m"));
        });

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

        it("the guard finds it by peer URL and does not count it as a voter", () => {
            const c = staleCluster();
            const guard = runScript("etcd/quorum-guard.sh", ["--member", "k8s-master-3", "--peer-url", STALE_PEER, "--protect", "k8s-master"], env(c));
            assert.equal(guard.status, 0, guard.stderr);
            assert.match(guard.stderr, /etcd members: .*unstarted-[0-9a-f]+ unhealthy learner unstarted http:\/\/127\.0\.0\.1:9/);
            assert.match(guard.stderr, /quorum guard: removing unstarted-[0-9a-f]+ is safe \(remaining=2 quorum=2\)/);
            // Rolling master-2 back stays allowed: the stale learner is no unhealthy voter.
            const other = runScript("etcd/quorum-guard.sh", ["--member", "k8s-master-2", "--protect", "k8s-master"], env(c));
            assert.equal(other.status, 0, other.stderr);
            assert.match(other.stderr, /removing k8s-master-2 is safe \(remaining=1 quorum=1\)/);
        });

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

        it("the shipped rollback (etcd-membership's delete) removes it too, with no node registered to drain", async () => {
            const c = staleCluster();
            await addStaleLearner(c, STALE_PEER);
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
