/**
 * scripts/kubeadm/preflight.sh (phase 0, on the existing master: a recent etcd snapshot, Ready
 * nodes, free addresses, python3), as Retrofit ships it, with STUB kubectl, ping, ip and curl
 * (tests/kubeadm/helpers/nodeHost.ts) and a real etcd for the snapshot. The snapshot at a real
 * size over a slow link: preflightSnapshot.test.ts.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from "fs";
import * as path from "path";
import { preflightCommand } from "../../components/kubeadm/retrofit";
import { DAEMON_HOOK_TIMEOUT_MS, DaemonGroup } from "../helpers/daemons";
import { runShipped } from "../helpers/shipped";
import { EtcdCluster } from "./helpers/etcdCluster";
import { nodeHost } from "./helpers/nodeHost";
import { LACKS_PYTHON3, masterWithoutPython3, Stubs } from "./helpers/stubs";

describe("preflight.sh (phase 0, on the existing master; real etcd for the snapshot)", function () {
    this.timeout(60_000);
    const host = nodeHost();
    const { env } = host;
    let etcd: EtcdCluster;
    let snapshots: string;
    const etcdDaemons = new DaemonGroup();
    before(async function () {
        this.timeout(DAEMON_HOOK_TIMEOUT_MS);
        etcd = await EtcdCluster.start(["k8s-master"], etcdDaemons);
        snapshots = path.join(host.root, "etcd-snapshots");
    });
    after(async () => {
        await etcdDaemons.stopAll();
        await etcd?.destroy();
    });

    // Retrofit's preflight step as it ships; documentation addresses (TEST-NET-1): the stubs answer, nothing is sent.
    const preflight = (takeSnapshot: boolean) =>
        preflightCommand({
            sshUser: "ubuntu",
            vip: "192.0.2.99",
            apiserverPort: 6443,
            newMasterIps: ["192.0.2.110", "192.0.2.111"],
            snapshotDir: snapshots,
            snapshotMaxAgeHours: 24,
            takeSnapshot,
            snapshotTimeoutMinutes: 2,
        });
    const rules = (o: { notReady?: boolean; busy?: string; vipOurs?: boolean } = {}) => [
        { bin: "kubectl", args: "get nodes -o jsonpath=\\{range \\.items\\[\\*\\]\\}\\{\\.metadata\\.name\\}\\{\" \"\\}\\{\\.status\\.conditions", stdout: `k8s-master True\nk8s-node1 ${o.notReady ? "False" : "True"}\nk8s-master-2 True\n` },
        { bin: "kubectl", args: "get nodes -o jsonpath=\\{range \\.items\\[\\*\\]\\}\\{\\.metadata\\.name\\}\\{\" \"\\}\\{\\.status\\.addresses", stdout: "k8s-master 192.0.2.100\nk8s-master-2 192.0.2.110\n" },
        { bin: "kubectl", args: "get pods -A", stdout: "" },
        { bin: "ping", args: o.busy ? ` ${o.busy.replace(/\./g, "\\.")}$` : "^NEVER$", exit: 0 },
        { bin: "ping", args: "", exit: 1 },
        { bin: "ip", args: "^neigh show ", stdout: "" },
        { bin: "curl", args: "", exit: o.vipOurs ? 0 : 7 },
    ];
    const etcdEnv = () => env(etcd.env());

    it("passes with a fresh snapshot taken from the real etcd, free addresses, and an already joined master", () => {
        rmSync(snapshots, { recursive: true, force: true });
        host.stubs.setRules(rules());
        const r = runShipped(preflight(true), etcdEnv());
        assert.equal(r.status, 0, r.stderr);
        const taken = readdirSync(snapshots);
        assert.equal(taken.length, 1);
        assert.match(taken[0], /^etcd-snapshot-\d{8}T\d{6}Z\.db$/);
        assert.equal(etcd.etcdctl(["snapshot", "status", path.join(snapshots, taken[0])], []).status, 0, "a valid etcd snapshot");
        assert.match(r.stderr, /192\.0\.2\.110 is cluster node k8s-master-2 \(joined earlier\)/);
        assert.match(r.stderr, /192\.0\.2\.111 is free/);
        assert.equal(r.stdout.trim(), "preflight: ready for phase 0");
        // A re-run finds the recent snapshot and takes no other.
        assert.equal(runShipped(preflight(true), etcdEnv()).status, 0);
        assert.equal(readdirSync(snapshots).length, 1);
    });

    describe("on a master without python3 (PATH: links to every other command of this machine)", () => {
        let bare: Stubs;
        let withoutPython: string;
        let pythonOnly: string;
        before(() => {
            // The same stand-ins, without the python3 link Stubs usually adds.
            bare = new Stubs(["kubectl", "ping", "ip", "curl"], { python3: false });
            ({ without: withoutPython, pythonOnly } = masterWithoutPython3(host.root));
        });
        after(() => bare?.destroy());
        const masterEnv = (python3: boolean) => bare.env({ KUBERNETES_DIR: host.k8s, ...etcd.env(), PATH: [bare.dir, ...(python3 ? [pythonOnly] : []), withoutPython].join(":") });

        it("the preflight refuses (exit 1) before anything else, naming python3 and what to install; with python3 added, the same PATH passes", () => {
            const lookup = spawnSync("sh", ["-c", "command -v python3"], { env: masterEnv(false), encoding: "utf8" });
            assert.ok(lookup.status !== 0 && lookup.stdout === "", `no python3 on that PATH: ${lookup.stdout}`);
            mkdirSync(snapshots, { recursive: true });
            writeFileSync(path.join(snapshots, "fresh.db"), "x");
            bare.setRules(rules());
            const refused = runShipped(preflight(false), masterEnv(false));
            assert.equal(refused.status, 1, refused.stderr);
            assert.match(refused.stderr, new RegExp(`^preflight: ERROR: ${LACKS_PYTHON3.source}$`, "m"));
            assert.deepEqual(bare.calls(), [], "refused before asking the cluster anything");

            const ready = runShipped(preflight(false), masterEnv(true));
            assert.equal(ready.status, 0, ready.stderr);
            assert.equal(ready.stdout.trim(), "preflight: ready for phase 0");
        });
    });

    it("refuses an old snapshot (without --take-snapshot), a NotReady node, a busy address; accepts a VIP that is ours", () => {
        mkdirSync(snapshots, { recursive: true });
        for (const f of readdirSync(snapshots)) {
            const old = new Date(Date.now() - 48 * 3600_000);
            utimesSync(path.join(snapshots, f), old, old);
        }
        host.stubs.setRules(rules());
        const stale = runShipped(preflight(false), etcdEnv());
        assert.equal(stale.status, 1);
        assert.match(stale.stderr, /no etcd snapshot younger than 24h/);

        const fresh = path.join(snapshots, "fresh.db");
        writeFileSync(fresh, "x");
        host.stubs.setRules(rules({ notReady: true }));
        const notReady = runShipped(preflight(false), etcdEnv());
        assert.equal(notReady.status, 1);
        assert.match(notReady.stderr, /nodes not Ready: k8s-node1/);

        host.stubs.setRules(rules({ busy: "192.0.2.111" }));
        const busy = runShipped(preflight(false), etcdEnv());
        assert.equal(busy.status, 1);
        assert.match(busy.stderr, /addresses in use by something else: 192\.0\.2\.111 \(a new master's address\)/);

        host.stubs.setRules(rules({ busy: "192.0.2.99", vipOurs: true }));
        const ours = runShipped(preflight(false), etcdEnv());
        assert.equal(ours.status, 0, ours.stderr);
        assert.match(ours.stderr, /192\.0\.2\.99:6443 already serves this cluster's apiserver/);
    });
});
