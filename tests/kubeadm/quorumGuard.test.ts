/**
 * The quorum guard and member removal against a REAL etcd cluster (Debian's etcd 3.4, started
 * here on free loopback ports, killed and removed afterwards), and the guard's rule cross-checked
 * against decideMemberRemoval in topology/quorum.ts on many cases. kubectl (for the drain and the
 * node deletion of the full rollback) cannot reach an apiserver here: it is a recording stub.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { bundleScript } from "../../components/kubeadm/bundle";
import { SCRIPTS_DIR } from "../../components/scriptFile";
import { decideMemberRemoval, MemberHealth } from "../../topology";
import { DAEMON_HOOK_TIMEOUT_MS, DaemonGroup } from "../helpers/daemons";
import { EtcdCluster } from "./helpers/etcdCluster";
import { runOnStdin, runScript, Stubs } from "./helpers/stubs";

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
        const cases: { members: MemberHealth[]; removing: string; protectedMembers: string[] }[] = [];
        for (let i = 0; i < 1000; i++) {
            const n = rand(8);
            const members = Array.from({ length: n }, (_, j) => ({ name: `m${j}`, healthy: rand(3) > 0, learner: rand(6) === 0 }));
            const removing = rand(5) === 0 ? "absent" : `m${rand(Math.max(n, 1))}`;
            const protectedMembers = rand(3) === 0 ? [`m${rand(Math.max(n, 1))}`] : [];
            cases.push({ members, removing, protectedMembers });
        }
        // One bash process runs every case through etcd_decide_removal (scripts/etcd/lib.sh).
        const driver = [
            `source ${JSON.stringify(path.join(SCRIPTS_DIR, "etcd/lib.sh"))}`,
            ...cases.map((c) => {
                const lines = c.members.map((m) => `${m.name} ${m.healthy ? "healthy" : "unhealthy"} ${m.learner ? "learner" : "voter"}`).join("\\n");
                return `printf '${lines}${lines ? "\\n" : ""}' | etcd_decide_removal ${c.removing} '${c.protectedMembers.join(",")}' || true`;
            }),
        ].join("\n");
        // On stdin: the driver is larger than one command-line argument may be.
        const run = spawnSync("bash", ["-s"], { input: driver, encoding: "utf8", timeout: 25_000 });
        assert.equal(run.status, 0, run.stderr);
        const verdicts = run.stdout.trim().split("\n");
        assert.equal(verdicts.length, cases.length);
        let allowed = 0;
        cases.forEach((c, i) => {
            const ts = decideMemberRemoval(c.members, c.removing, { protectedMembers: c.protectedMembers });
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
        const run = runScript("kubeadm/control-plane-member.sh", ["remove", "--node", "k8s-master-3", "--peer-url", c.members[2].peerUrl, "--protect", "k8s-master"], stubs.env(c.env()));
        assert.equal(run.status, 1);
        assert.match(run.stderr, /REFUSED/);
        assert.match(run.stderr, /nothing was changed/);
        assert.deepEqual(stubs.calls("kubectl"), [], "no drain, no node deletion");
        assert.equal(c.ids().size, 3);
    });

    it("pre-join: passes on a healthy cluster (and for an already healthy member), refuses a degraded one", () => {
        const ok = runScript("kubeadm/control-plane-member.sh", ["pre-join", "--node", "k8s-master-4", "--peer-url", "http://127.0.0.1:1"], stubs.env(clusters.gate.env()));
        assert.equal(ok.status, 0, ok.stderr);
        const member = runScript("kubeadm/control-plane-member.sh", ["pre-join", "--node", "k8s-master-3", "--peer-url", clusters.gate.members[2].peerUrl], stubs.env(clusters.gate.env()));
        assert.equal(member.status, 0, member.stderr);
        assert.match(member.stderr, /already is a healthy etcd member/);
        const degraded = runScript("kubeadm/control-plane-member.sh", ["pre-join", "--node", "k8s-master-4", "--peer-url", "http://127.0.0.1:1"], stubs.env(clusters.degraded.env()));
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
            const run = runScript("kubeadm/control-plane-gate.sh", ["--node", "k8s-master-3", "--members", MASTERS.join(","), "--timeout", "20"], stubs.env(clusters.gate.env()));
            assert.equal(run.status, 0, run.stderr);
            assert.match(run.stdout, /gate: k8s-master-3 is a healthy control-plane member; etcd: .*k8s-master-3 healthy voter/);
        });

        it("fails the up when the control-plane taint is missing", () => {
            stubs.setRules(kubectlHealthy("k8s-master-3", "node.kubernetes.io/not-ready=NoExecute\n"));
            const run = runScript("kubeadm/control-plane-gate.sh", ["--node", "k8s-master-3", "--members", MASTERS.join(","), "--timeout", "1"], stubs.env(clusters.gate.env()));
            assert.equal(run.status, 1);
            assert.match(run.stderr, /gate failed for k8s-master-3: taint node-role.kubernetes.io\/control-plane=NoSchedule/);
        });

        it("fails when etcd does not have the expected member count (a stray member)", () => {
            stubs.setRules(kubectlHealthy("k8s-master-2"));
            // Expecting 2 members after master-2's join while 3 are there, none of them planned later.
            const run = runScript("kubeadm/control-plane-gate.sh", ["--node", "k8s-master-2", "--members", "k8s-master,k8s-master-2", "--timeout", "1"], stubs.env(clusters.gate.env()));
            assert.equal(run.status, 1);
            assert.match(run.stderr, /unexpected etcd member k8s-master-3/);
            // The same gate re-run after master-3 joined, as planned: passes.
            const later = runScript("kubeadm/control-plane-gate.sh", ["--node", "k8s-master-2", "--members", "k8s-master,k8s-master-2", "--later", "k8s-master-3", "--timeout", "5"], stubs.env(clusters.gate.env()));
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
        const script = bundleScript({ libs: ["kubeadm/lib.sh", "etcd/lib.sh"], main: "kubeadm/control-plane-member.sh" });
        const args = ["remove", "--node", "k8s-master-3", "--peer-url", c.members[2].peerUrl, "--protect", "k8s-master", "--drain-timeout", "60", "--timeout", "30"];
        const run = runOnStdin(script, args, stubs.env(c.env()));
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
});
