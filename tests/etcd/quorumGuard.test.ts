/**
 * scripts/etcd/quorum-guard.sh (the check an operator runs before removing an etcd member, and
 * the one remove-member.sh and control-plane-member.sh's rollback run first) against a REAL etcd
 * (Debian's etcd 3.4, started here on free loopback ports, killed and removed afterwards), and
 * the guard's rule (etcd_decide_removal in scripts/etcd/lib.sh) cross-checked against
 * decideMemberRemoval in topology/quorum.ts on many cases.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { SCRIPTS_DIR } from "../../components/scriptFile";
import { decideMemberRemoval, MemberHealth } from "@ha-control-plane/topology";
import { etcdClusters, MASTERS, scriptEnv as env, STALE_PEER, staleLearnerCluster } from "../kubeadm/helpers/etcdSuite";
import { runScript, Stubs } from "../kubeadm/helpers/stubs";

const clusters = etcdClusters({ healthy: MASTERS, degraded: MASTERS, single: ["k8s-master"] });

describe("quorum-guard.sh: the script's rule is decideMemberRemoval's (no etcd needed)", () => {
    // Not awaited here: the clusters boot while these tests run.
    before(() => clusters.early());

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

describe("quorum-guard.sh against a real etcd (loopback)", function () {
    this.timeout(60_000);
    clusters.hooks();

    it("healthy cluster: removing a member is allowed and says why", () => {
        const guard = runScript("etcd/quorum-guard.sh", ["--member", "k8s-master-3", "--protect", "k8s-master"], env(clusters.get("healthy")));
        assert.equal(guard.status, 0, guard.stderr);
        assert.match(guard.stderr, /removing k8s-master-3 is safe \(remaining=2 quorum=2\)/);
    });

    it("one member stopped: removing another is refused (exit 1), naming the unhealthy one, and changes nothing", async () => {
        const c = clusters.get("degraded");
        await c.stop("k8s-master-2");
        const before = c.ids();
        const guard = runScript("etcd/quorum-guard.sh", ["--member", "k8s-master-3", "--protect", "k8s-master"], env(c));
        assert.equal(guard.status, 1);
        assert.match(guard.stderr, /REFUSED: removing k8s-master-3 would leave 1 healthy of 2 voting members, below quorum 2/);
        assert.match(guard.stderr, /Unhealthy: k8s-master-2 \(id [0-9a-f]+, started, client http:\/\/127\.0\.0\.1:\d+/);
        assert.deepEqual(c.ids(), before, "the member list is untouched");
    });

    it("single-member cluster: the last member is refused", () => {
        const c = clusters.get("single");
        const last = runScript("etcd/quorum-guard.sh", ["--member", "k8s-master"], env(c));
        assert.equal(last.status, 1);
        assert.match(last.stderr, /k8s-master is the last etcd voting member/);
        assert.deepEqual([...c.ids().keys()], ["k8s-master"]);
    });

    it("without etcdctl on the host, runs the etcdctl of the etcd container (crictl is a stub that runs the real etcdctl)", () => {
        const c = clusters.get("healthy");
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

    describe("a join that failed after `member add --learner` (real etcd: the learner is added, never started)", () => {
        // Started on its own, once the shared clusters are up, so it does not add to their boot.
        const staleCluster = staleLearnerCluster();

        it("etcdctl's text form has empty name and client columns there (what the old parser collapsed)", () => {
            const simple = staleCluster().etcdctl(["member", "list", "-w", "simple"]).stdout;
            assert.match(simple, new RegExp(`^[0-9a-f]+, unstarted, , ${STALE_PEER}, , true$`, "m"));
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
    });
});
