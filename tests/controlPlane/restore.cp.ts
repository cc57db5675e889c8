/**
 * The seed plan's worst case for real: the control plane restored on one master from the newest
 * snapshot phase 4.5's backup stored, then the other masters rejoined, on a 3-master control plane
 * of real etcd 3.6 and kube-apiserver 1.34 (tests/helpers/controlPlane).
 *   - The backup: the etcd-backup CronJob's pod as components/clusterOps/etcdMaintenance.ts builds
 *     it (backupPodSpec: etcdctl snapshot save, etcdutl snapshot status, etcd-backup-store.sh from
 *     its ConfigMap), run on k8s-master-2 into the shared backup directory.
 *   - The restore: scripts/etcd/restore-control-plane.sh and scripts/kubeadm/reset-node.sh run by
 *     the command lines of docs/runbook-restore-etcd.md, in its order, from a copy of scripts/ on
 *     each master (its `scp -r scripts`), the lab's addresses mapped to the test's masters of the
 *     same name; `sudo` is dropped (the test runs as root).
 * STAND-INS: the kubelet (static pods; the backup Job's pod run on a master), the Node objects,
 * and `kubeadm join --control-plane` (tests/helpers/controlPlane/standInJoin.ts).
 */
import { strict as assert } from "assert";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { backupPodSpec } from "../../components/clusterOps/etcdMaintenance";
import { SCRIPTS_DIR, scriptText } from "../../components/scriptFile";
import { PROJECT_DIR } from "../../tools/planModel";
import { labConfig } from "../helpers/program";
import { ControlPlane, Master } from "../helpers/controlPlane/controlPlane";
import type { RunResult } from "../helpers/controlPlane/processes";
import { flagValue } from "../helpers/controlPlane/standInKubelet";
import { standInControlPlaneJoin } from "../helpers/controlPlane/standInJoin";
import { runPodOnMaster } from "../helpers/controlPlane/standIns";
import { testTopology } from "./helpers/topology";

type Json = Record<string, any>;

const topology = testTopology("7");
const maintenance = topology.clusterOps.etcdMaintenance;
const backupPath = (maintenance.backup.volume as { path: string }).path;
const NS = "restore-check";
const RUNBOOK = "docs/runbook-restore-etcd.md";

/** One `ssh USER@IP sudo bash /tmp/hacp-scripts/SCRIPT ARGS` line of the runbook, on the test's master of that name. */
interface RunbookCall {
    readonly master: string;
    readonly script: string;
    readonly args: string[];
}

/** The runbook's script calls in order, its lab addresses replaced by the test masters' (by name). */
function runbookCalls(): RunbookCall[] {
    const labMasters = (labConfig().raw.masters as { name: string; ip: string }[]).map((m) => [m.ip, m.name] as const);
    const testIp = new Map(topology.masters.map((m) => [m.name, m.ip]));
    const nameOf = (ip: string) => labMasters.find(([labIp]) => labIp === ip)?.[1];
    const toTest = (text: string) =>
        text.replace(/\b10\.0\.20\.\d+\b/g, (ip) => {
            const name = nameOf(ip);
            if (!name) throw new Error(`${RUNBOOK} names ${ip}, which is no master of the lab`);
            return testIp.get(name)!;
        });
    const text = readFileSync(path.join(PROJECT_DIR, RUNBOOK), "utf8").replace(/\\\n\s*/g, " ");
    const calls: RunbookCall[] = [];
    for (const line of text.split("\n")) {
        const m = /^\s*ssh [a-z]+@([0-9.]+) sudo bash \/tmp\/hacp-scripts\/(\S+)((?: \S+)*)\s*$/.exec(line);
        if (!m) continue;
        const master = nameOf(m[1]);
        if (!master) throw new Error(`${RUNBOOK}: ${m[1]} is no master of the lab`);
        calls.push({ master, script: m[2], args: toTest(m[3]).trim().split(/\s+/) });
    }
    return calls;
}

describe("restore from phase 4.5's newest snapshot for real: the runbook's commands with restore-control-plane.sh on real etcd 3.6 and kube-apiserver 1.34, three masters (STAND-INS: kubelet, Node objects, kubeadm join)", function () {
    this.timeout(1_800_000);
    let cp: ControlPlane | undefined;
    const calls = runbookCalls();
    const call = (master: string, action: string, extra: (a: string[]) => string[] = (a) => a): RunbookCall => {
        const c = calls.find((x) => x.master === master && x.args[0] === action);
        assert.ok(c, `${RUNBOOK} runs ${action} on ${master}`);
        return { ...c, args: extra([...c.args]) };
    };
    const master = (name: string): Master => cp!.masters.find((m) => m.name === name)!;
    const scriptsCopy = (m: Master) => path.join(m.host.dir, "hacp-scripts");
    const run = (c: RunbookCall, env: NodeJS.ProcessEnv = {}): Promise<RunResult> =>
        cp!.onMaster(master(c.master), ["bash", path.join(scriptsCopy(master(c.master)), c.script), ...c.args], { env: { HACP_POLL_SECONDS: "1", ...env }, timeoutMs: 600_000 });
    const restoreCall = () => call("k8s-master", "restore");

    /** ConfigMap name -> its data.written, as `server` (default: the VIP-less first master) serves them. */
    async function served(server?: Master): Promise<Map<string, string>> {
        const args = [...(server ? ["--server", `https://${server.ip}:6443`] : []), "-n", NS, "get", "configmaps", "-o", "json"];
        const list = JSON.parse(await cp!.kubectlOk(args)) as Json;
        return new Map((list.items as Json[]).filter((c) => c.data?.written).map((c) => [c.metadata.name as string, c.data.written as string]));
    }
    const clusterId = async (m: Master) => /"ClusterID" : (\d+)/.exec((await cp!.etcdctl(m, ["endpoint", "status", "-w", "fields"])).stdout)?.[1];
    const members = async (m: Master) => (await cp!.etcdctl(m, ["member", "list"])).stdout.trim().split("\n").map((l) => l.split(", ").slice(1, 4).join(" ")).sort();
    /** Every file under a directory with its size and mtime: "never touched" is this staying equal. */
    const tree = (dir: string): string[] =>
        readdirSync(dir, { recursive: true, withFileTypes: true })
            .filter((e) => e.isFile())
            .map((e) => {
                const f = path.join(e.parentPath, e.name);
                const s = statSync(f);
                return `${path.relative(dir, f)} ${s.size} ${s.mtimeMs}`;
            })
            .sort();
    const restoredDirs = (m: Master) => readdirSync(path.join(m.host.dir, "overlay", "var", "lib", "upper")).filter((d) => d.startsWith("etcd-restore-")).sort();

    let snapshotName = "";
    let oldClusterId: string | undefined;
    const writtenBefore = new Map<string, string>();
    const writtenAfter = new Map<string, string>();
    const oldDataDirs = new Map<string, string[]>();

    before(async () => {
        cp = await ControlPlane.start({ masters: 3, sharedPaths: [backupPath] });
        for (const m of cp.masters) cpSync(SCRIPTS_DIR, scriptsCopy(m), { recursive: true });
        oldClusterId = await clusterId(cp.first);
    });
    after(async () => {
        await cp?.teardown();
    });

    it("the runbook's order: stop on every master, restore on k8s-master, then forget and reset each other master", () => {
        assert.deepEqual(
            calls.map((c) => `${c.master} ${path.basename(c.script)} ${c.args[0]}${c.args[0] === "forget" ? ` ${c.args[2]}` : ""}`),
            [
                "k8s-master restore-control-plane.sh stop",
                "k8s-master-2 restore-control-plane.sh stop",
                "k8s-master-3 restore-control-plane.sh stop",
                "k8s-master restore-control-plane.sh restore",
                "k8s-master restore-control-plane.sh forget k8s-master-2",
                "k8s-master-2 reset-node.sh --node-name",
                "k8s-master restore-control-plane.sh forget k8s-master-3",
                "k8s-master-3 reset-node.sh --node-name",
            ],
        );
        assert.deepEqual(restoreCall().args, ["restore", "--backup-dir", backupPath, "--other-masters", `${master("k8s-master-2").ip},${master("k8s-master-3").ip}`]);
    });

    it("phase 4.5's backup pod (as EtcdMaintenance builds it) stores a snapshot holding what was written before it; more is written after", async () => {
        const c = cp!;
        await c.kubectlOk(["create", "namespace", NS]);
        const put = (name: string, value: string) => c.kubectlOk(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: NS }, data: { written: value } }) });
        for (let i = 0; i < 12; i++) writtenBefore.set(`before-${i}`, "before the backup");
        writtenBefore.set("changed-after", "v1");
        writtenBefore.set("deleted-after", "still here at the backup");
        for (const [name, value] of writtenBefore) await put(name, value);

        const spec = backupPodSpec(maintenance, "etcd-backup-scripts") as Json;
        // The ConfigMap scriptsConfigMap ships the store script in: its file name, its text.
        const runs = await runPodOnMaster(c, master("k8s-master-2"), spec, { "etcd-backup-scripts": { "etcd-backup-store.sh": scriptText("cluster/etcd-backup-store.sh") } });
        assert.deepEqual(runs.map((r) => [r.container, r.result.code]), [["snapshot", 0], ["verify", 0], ["store", 0]], runs.map((r) => r.result.stderr).join("\n"));
        const stored = readdirSync(c.sharedDir(backupPath));
        assert.equal(stored.length, 1, stored.join(" "));
        assert.match(stored[0], /^etcd-snapshot-\d{8}T\d{6}Z-k8s-master-2\.db$/);
        snapshotName = stored[0];

        for (let i = 0; i < 5; i++) writtenAfter.set(`after-${i}`, "after the backup");
        for (const [name, value] of writtenAfter) await put(name, value);
        await put("changed-after", "v2");
        await c.kubectlOk(["-n", NS, "delete", "configmap", "deleted-after"]);
        const now = await served();
        assert.equal(now.get("changed-after"), "v2");
        assert.ok(!now.has("deleted-after") && now.has("after-4"));
    });

    it("refuses while etcd still runs on the old data directory (exit 5): nothing restored, etcd untouched", async () => {
        const c = cp!;
        const etcdBefore = c.first.kubelet.running("etcd")!;
        const r = await run(restoreCall());
        assert.equal(r.code, 5, r.stderr);
        assert.match(r.stderr, /REFUSED: etcd's manifest is still in \/etc\/kubernetes\/manifests \(data directory \/var\/lib\/etcd\): run `restore-control-plane\.sh stop` on every master first/);
        assert.deepEqual(restoredDirs(c.first), []);
        assert.equal(c.first.kubelet.running("etcd")!.pid, etcdBefore.pid);
        assert.equal(await c.readyz(c.first), "ok");
    });

    it("stop takes etcd and kube-apiserver down on k8s-master and k8s-master-2 (a second stop finds them held); restore refuses while k8s-master-3 still answers (exit 6)", async () => {
        const c = cp!;
        for (const name of ["k8s-master", "k8s-master-2"]) {
            const r = await run(call(name, "stop"));
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, new RegExp(`^stop: etcd and kube-apiserver stopped on ${name}; manifests held in /etc/kubernetes/tmp/ha-control-plane/restore/held$`, "m"));
            assert.equal(master(name).kubelet.running("etcd"), undefined);
            assert.equal(master(name).kubelet.running("kube-apiserver"), undefined);
        }
        const again = await run(call("k8s-master", "stop"));
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stderr, /etcd: manifest already held/);
        const ip3 = master("k8s-master-3").ip;
        const r = await run(restoreCall());
        assert.equal(r.code, 6, r.stderr);
        assert.match(r.stderr, new RegExp(`REFUSED: another master still serves the old cluster \\(${ip3.replace(/\./g, "\\.")}:2379 ${ip3.replace(/\./g, "\\.")}:6443 answers\\)`));
        assert.deepEqual(restoredDirs(c.first), []);
        for (const m of c.masters.slice(0, 2)) oldDataDirs.set(m.name, tree(m.host.etcdDataDir));
    });

    it("with every master stopped: refuses a backup directory without snapshots (3) and a newest snapshot that fails its integrity check (4), truncated or with a wrong sha256; the bad file is not deleted", async () => {
        const c = cp!;
        const r3 = await run(call("k8s-master-3", "stop"));
        assert.equal(r3.code, 0, r3.stderr);
        oldDataDirs.set("k8s-master-3", tree(master("k8s-master-3").host.etcdDataDir));

        const empty = path.join(c.dir, "empty-backups");
        mkdirSync(empty);
        const none = await run(call("k8s-master", "restore", (a) => [...a.slice(0, 2), empty, ...a.slice(3)]));
        assert.equal(none.code, 3, none.stderr);
        assert.match(none.stderr, new RegExp(`REFUSED: no etcd-snapshot-\\*\\.db in ${empty}: nothing to restore from`));

        const shared = c.sharedDir(backupPath);
        const good = readFileSync(path.join(shared, snapshotName));
        const bad = "etcd-snapshot-29990101T000000Z-k8s-master.db";
        try {
            writeFileSync(path.join(shared, bad), good);
            truncateSync(path.join(shared, bad), Math.floor(good.length / 2));
            const truncated = await run(restoreCall());
            assert.equal(truncated.code, 4, truncated.stderr);
            assert.match(truncated.stderr, new RegExp(`REFUSED: ${backupPath}/${bad} fails its integrity check`));

            const flipped = Buffer.from(good);
            flipped[flipped.length - 3] ^= 0xff; // inside the sha256 etcdctl appends
            writeFileSync(path.join(shared, bad), flipped);
            const wrongHash = await run(restoreCall());
            assert.equal(wrongHash.code, 4, wrongHash.stderr);
            assert.match(wrongHash.stderr, /fails its integrity check: its sha256 does not match the one etcdctl appended when it saved it/);
            assert.ok(existsSync(path.join(shared, bad)), "a backup is never deleted by the restore");
            assert.deepEqual(restoredDirs(c.first), [], "the half-written restore directory is removed");
        } finally {
            rmSync(path.join(shared, bad), { force: true });
        }
    });

    it("half-failed: a restore killed inside etcdutl left its .partial directory, and the apiserver does not come back (the STAND-IN kubelet holds it): exit 1, etcd restored and serving from a fresh directory, the old one untouched", async () => {
        const c = cp!;
        const stamp = snapshotName.replace(/^etcd-snapshot-/, "").replace(/\.db$/, "");
        const partial = path.join(c.first.host.dir, "overlay", "var", "lib", "upper", `etcd-restore-${stamp}.partial`);
        mkdirSync(path.join(partial, "member"), { recursive: true });
        writeFileSync(path.join(partial, "member", "half-written"), "x");
        c.first.kubelet.hold("kube-apiserver");
        try {
            const r = await run({ ...restoreCall(), args: [...restoreCall().args, "--timeout", "20"] });
            assert.equal(r.code, 1, r.stderr);
            assert.match(r.stderr, new RegExp(`ERROR: kube-apiserver is not ready within 20s on the restored etcd \\(/var/lib/etcd-restore-${stamp}, which stays in use\\)`));
            assert.match(r.stderr, new RegExp(`restoring ${backupPath}/${snapshotName} into /var/lib/etcd-restore-${stamp} as a new cluster \\(token ha-control-plane-restore-\\d{8}T\\d{6}Z, member k8s-master=https://${c.first.ip.replace(/\./g, "\\.")}:2380 alone\\)`));
            assert.deepEqual(restoredDirs(c.first), [`etcd-restore-${stamp}`], "the stale .partial is gone, the restore complete");
            assert.equal(flagValue(c.manifestArgv(c.first, "etcd"), "data-dir"), `/var/lib/etcd-restore-${stamp}`);
            assert.ok(c.first.kubelet.running("etcd"), "etcd runs from the restored directory");
            assert.equal(c.first.kubelet.running("kube-apiserver"), undefined);
            assert.deepEqual(await members(c.first), [`started k8s-master https://${c.first.ip}:2380`]);
            assert.notEqual(await clusterId(c.first), oldClusterId, "a new cluster");
            assert.deepEqual(tree(c.first.host.etcdDataDir), oldDataDirs.get("k8s-master"), "the old data directory is not touched");
        } finally {
            c.first.kubelet.release("kube-apiserver");
        }
    });

    it("the same command again finishes it: the apiserver on the restored etcd serves every object written before the backup, as it was then, and none written after; new writes come after the bumped revision", async () => {
        const c = cp!;
        const etcdPid = c.first.kubelet.running("etcd")!.pid;
        const r = await run(restoreCall());
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /etcd already runs from the restored \/var\/lib\/etcd-restore-.* \(snapshot .*\): finishing what is left/);
        assert.doesNotMatch(r.stderr, /restoring .* into/, "the snapshot is not restored twice");
        assert.equal(c.first.kubelet.running("etcd")!.pid, etcdPid);
        assert.match(r.stdout, new RegExp(`^restore: the control plane runs on k8s-master from ${backupPath}/${snapshotName}, etcd data in /var/lib/etcd-restore-\\S+ \\(the old /var/lib/etcd is kept\\)`, "m"));
        assert.equal(await c.readyz(c.first), "ok");

        assert.deepEqual(await served(), writtenBefore, "every object of the backup, with its value then; none written after");
        const probe = JSON.parse(await c.kubectlOk(["-n", NS, "create", "configmap", "after-restore", "-o", "json"])) as Json;
        assert.ok(Number(probe.metadata.resourceVersion) > 1_000_000_000, `resourceVersion ${probe.metadata.resourceVersion}: past the bump, so no client's watch resumes from a lost revision`);
        const cc = parse((await c.kubectlJson(["-n", "kube-system", "get", "configmap", "kubeadm-config"])).data.ClusterConfiguration) as Json;
        assert.equal(cc.etcd.local.dataDir, flagValue(c.manifestArgv(c.first, "etcd"), "data-dir"), "kubeadm-config names the restored directory");
        assert.match(r.stderr, /upload-config\] Storing the configuration used in ConfigMap "kubeadm-config"/);
    });

    it("a third run changes nothing: same etcd and apiserver processes, same kubeadm-config object", async () => {
        const c = cp!;
        const pids = [c.first.kubelet.running("etcd")!.pid, c.first.kubelet.running("kube-apiserver")!.pid];
        const version = (await c.kubectlJson(["-n", "kube-system", "get", "configmap", "kubeadm-config"])).metadata.resourceVersion;
        const r = await run(restoreCall());
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /kubeadm-config already names \/var\/lib\/etcd-restore-\S+ as etcd's data directory/);
        assert.deepEqual([c.first.kubelet.running("etcd")!.pid, c.first.kubelet.running("kube-apiserver")!.pid], pids);
        assert.equal((await c.kubectlJson(["-n", "kube-system", "get", "configmap", "kubeadm-config"])).metadata.resourceVersion, version);
    });

    for (const name of ["k8s-master-2", "k8s-master-3"]) {
        it(`${name} rejoins: forget (its Node deleted, no stale member), reset-node.sh (real kubeadm reset; its old data directory stays), STAND-IN join; forget again leaves it alone`, async () => {
            const c = cp!;
            const m = master(name);
            const forgetCall = calls.find((x) => x.master === "k8s-master" && x.args[0] === "forget" && x.args[2] === name)!;
            const forget = await run(forgetCall);
            assert.equal(forget.code, 0, forget.stderr);
            assert.match(forget.stderr, /nothing to remove from etcd/);
            assert.match(forget.stdout, new RegExp(`^forget: ${name} is neither an etcd member nor a Node of the restored cluster`, "m"));
            assert.match((await c.kubectl(["get", "node", name])).stderr, /NotFound/);

            const reset = calls.find((x) => x.master === name && x.script === "kubeadm/reset-node.sh")!;
            const r = await run(reset);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, new RegExp(`reset-node: ${name} reset`));
            assert.ok(!existsSync(path.join(m.host.kubernetesDir, "pki", "ca.crt")), "kubeadm reset removed its pki");
            assert.deepEqual(tree(m.host.etcdDataDir), oldDataDirs.get(name), "its old data directory is not touched");

            await standInControlPlaneJoin(c, m, c.first);
            assert.equal(flagValue(c.manifestArgv(m, "etcd"), "data-dir"), flagValue(c.manifestArgv(c.first, "etcd"), "data-dir"), "it joins with the data directory kubeadm-config names");
            const again = await run(forgetCall);
            assert.equal(again.code, 0, again.stderr);
            assert.match(again.stdout, new RegExp(`forget: ${name} already rejoined the restored cluster \\(a healthy etcd member\\): nothing to forget`));
            assert.ok((await c.kubectl(["get", "node", name])).code === 0, "its Node stays");
        });
    }

    it("afterwards: one cluster of three started members, not the old one; every apiserver serves the restored objects", async () => {
        const c = cp!;
        assert.deepEqual(await members(c.first), c.masters.map((m) => `started ${m.name} https://${m.ip}:2380`).sort());
        const ids = await Promise.all(c.masters.map((m) => clusterId(m)));
        assert.equal(new Set(ids).size, 1, ids.join(" "));
        assert.notEqual(ids[0], oldClusterId);
        for (const m of c.masters) {
            assert.equal(await c.readyz(m), "ok", m.name);
            const objects = await served(m);
            objects.delete("after-restore");
            assert.deepEqual(objects, writtenBefore, m.name);
        }
        for (const [name] of writtenAfter) assert.ok(!(await served()).has(name));
    });
});
