/**
 * The Kubernetes resources of phases 4.5, 5 and 7 (components/clusterOps EtcdMaintenance,
 * KuredGate, UpgradeChain, built from the stack's config as the program builds them) through
 * the real engine: Pulumi CLI 3.276.0 and the kubernetes provider 4.25.0, built from source,
 * against a real kube-apiserver 1.34 on a 3-member etcd (tests/helpers/controlPlane). Lifecycle
 * as Pulumi's ProgramTest runs it: preview, up, preview and refresh with no change, destroy.
 * Then what those objects are for, on real objects: the kured gate and the upgrade chain's
 * discovery and quorum gate, from the scripts and figures the ConfigMaps hold, with the service
 * accounts' own tokens, counting Node objects the test registers and flips through the API; and
 * the etcd-backup CronJob's pod as the apiserver serves it.
 *
 * No pulumi.com/skipAwait anywhere: the provider awaits nothing on ConfigMaps, RBAC or CronJobs.
 * STAND-INS (declared): the kubelet (static pods; a Job's pod run on a master; the exec into
 * etcd-<node>), kube-controller-manager's garbage collector (foreground deletion), the Node
 * objects' status.
 */
import { strict as assert } from "assert";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { scriptText } from "../../components/scriptFile";
import { controlPlaneGateFigures, readEnvFile } from "@ha-control-plane/topology";
import { ControlPlane } from "../helpers/controlPlane/controlPlane";
import { CONTROL_PLANE_LABEL, registerNodes, runPodOnMaster, serviceAccountKubeconfig, setNodeStatus, withGarbageCollector, writeExecStandIn } from "../helpers/controlPlane/standIns";
import { EngineStack } from "./helpers/engineStack";
import { splitSecrets, testRawConfig, testTopology } from "./helpers/topology";

type Json = Record<string, any>;

const PROGRAM = path.join(__dirname, "engine", "clusterOpsProgram.ts");
const KINDS = ["cronjobs.batch", "configmaps", "roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io", "clusterroles.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io"];
const OURS = "app.kubernetes.io/part-of=ha-control-plane";

const topology = testTopology("7");
const backupPath = (topology.clusterOps.etcdMaintenance.backup.volume as { path: string }).path;

/** The preview's steps as `pulumi preview --json` reports them: "op type name". */
function steps(json: string): string[] {
    const doc = JSON.parse(json) as Json;
    return (doc.steps as Json[]).map((s) => `${s.op} ${String(s.urn.split("::")[2]).split("$").pop()!.split(":").pop()} ${s.urn.split("::").pop()}`).sort();
}

describe("phases 4.5, 5 and 7 through the real engine (Pulumi CLI 3.276, kubernetes provider 4.25) on a real kube-apiserver (STAND-INS: kubelet, garbage collector, Node status)", function () {
    this.timeout(1_800_000);
    let cp: ControlPlane | undefined;
    let stack: EngineStack | undefined;

    before(async () => {
        cp = await ControlPlane.start({ masters: 3, sharedPaths: [backupPath] });
        // What the kured and k8s-upgrade stacks own: their namespaces and service accounts.
        for (const [ns, sa] of [[topology.clusterOps.kured.namespace, topology.clusterOps.kured.serviceAccount], [topology.clusterOps.upgrade.namespace, topology.clusterOps.upgrade.serviceAccount]]) {
            await cp.kubectlOk(["create", "namespace", ns]);
            await cp.kubectlOk(["-n", ns, "create", "serviceaccount", sa]);
        }
        const { plain, secrets } = splitSecrets(testRawConfig("7"));
        secrets["kubernetesAccess.kubeconfig"] = (await cp.externalKubeconfig()).text;
        stack = await EngineStack.create({ project: "ha-control-plane", stack: "control-plane", programFile: PROGRAM, config: plain, secrets });
    });
    after(async () => {
        stack?.cleanup();
        await cp?.teardown();
    });

    describe("lifecycle: preview, up, no change", () => {
        it("preview checks every object with the apiserver: a value only the server refuses fails the preview", async () => {
            // The config checks a schedule's five fields; the apiserver also checks their ranges.
            await stack!.ok(["config", "set", "--path", "etcdMaintenance.backup.schedule", "61 */6 * * *"]);
            try {
                const bad = await stack!.run(["preview"]);
                assert.notEqual(bad.code, 0, bad.stdout);
                assert.match(bad.stdout + bad.stderr, /CronJob\.batch "etcd-backup" is invalid: spec\.schedule: Invalid value: "61 \*\/6 \* \* \*"/);
            } finally {
                await stack!.ok(["config", "set", "--path", "etcdMaintenance.backup.schedule", topology.clusterOps.etcdMaintenance.backup.schedule]);
            }
        });

        it("preview: the provider, the three components and their thirteen objects, to create", async () => {
            const preview = await stack!.ok(["preview", "--json"]);
            assert.deepEqual(steps(preview.stdout), [
                "create Stack ha-control-plane-control-plane",
                "create kubernetes kubernetes",
                "create EtcdMaintenance etcd-maintenance",
                "create CronJob etcd-maintenance-backup",
                "create CronJob etcd-maintenance-defrag",
                "create ConfigMap etcd-maintenance-scripts",
                "create KuredGate kured-gate",
                "create ConfigMap kured-gate-scripts",
                "create Role kured-gate-etcd-health",
                "create RoleBinding kured-gate-etcd-health-binding",
                "create ClusterRole kured-gate-node-reader",
                "create ClusterRoleBinding kured-gate-node-reader-binding",
                "create UpgradeChain upgrade-chain",
                "create ClusterRole upgrade-chain-drain",
                "create ClusterRoleBinding upgrade-chain-drain-binding",
                "create RoleBinding upgrade-chain-etcd-health-binding",
                "create ClusterRoleBinding upgrade-chain-node-reader-binding",
                "create ConfigMap upgrade-chain-scripts",
            ].sort());
        });

        it("up creates them by server-side apply; the apiserver serves what the components declare", async () => {
            const up = await stack!.ok(["up", "--yes", "--skip-preview"]);
            assert.match(up.stdout, /\+ 18 created/);
            const c = cp!;
            const objects = (await c.kubectlJson(["get", KINDS.join(","), "-A", "-l", OURS, "--show-managed-fields"])).items as Json[];
            assert.equal(objects.length, 13, objects.map((o) => `${o.kind}/${o.metadata.name}`).join(" "));
            for (const o of objects) {
                assert.ok((o.metadata.managedFields as Json[]).some((f) => f.operation === "Apply" && /^pulumi-kubernetes/.test(f.manager)), `${o.kind}/${o.metadata.name} applied server-side by the provider`);
            }
            const backup = await c.kubectlJson(["-n", "kube-system", "get", "cronjob", "etcd-backup"]);
            const pod = backup.spec.jobTemplate.spec.template.spec;
            assert.deepEqual(pod.nodeSelector, { [CONTROL_PLANE_LABEL]: "" });
            assert.equal(pod.nodeName, undefined);
            assert.deepEqual(pod.tolerations, [{ key: CONTROL_PLANE_LABEL, operator: "Exists", effect: "NoSchedule" }]);
            assert.equal(backup.spec.schedule, topology.clusterOps.etcdMaintenance.backup.schedule);
            const gate = await c.kubectlJson(["-n", "kured", "get", "configmap", "kured-control-plane-gate"]);
            assert.equal(gate.data["kured-sentinel-gate.sh"], scriptText("cluster/kured-sentinel-gate.sh"));
            const figures = controlPlaneGateFigures(topology.masters);
            assert.deepEqual(readEnvFile(gate.data["gate.env"]), { CONTROL_PLANE_MEMBERS: "3", CONTROL_PLANE_QUORUM: String(figures.quorum), CHECK_INTERVAL_SECONDS: "300" });
            const chain = await c.kubectlJson(["-n", "k8s-upgrade", "get", "configmap", "upgrade-chain"]);
            assert.equal(readEnvFile(chain.data["chain.env"]).FIRST_MASTER, "k8s-master");
        });

        it("a second preview and a refresh find nothing to change", async () => {
            await stack!.ok(["preview", "--expect-no-changes"]);
            await stack!.ok(["refresh", "--yes", "--expect-no-changes"]);
        });
    });

    describe("the gates on real Node objects, run from the ConfigMaps as the apiserver serves them, with each service account's token (STAND-IN exec into etcd-<node>)", () => {
        let dir: string;
        const scripts = (cm: string) => path.join(dir, cm);
        let execBin: string;
        let kuredConfig: string;
        let chainConfig: string;

        before(async () => {
            const c = cp!;
            dir = path.join(c.dir, "gates");
            mkdirSync(dir, { recursive: true });
            for (const [ns, name] of [["kured", "kured-control-plane-gate"], ["k8s-upgrade", "upgrade-chain"]]) {
                const cm = await c.kubectlJson(["-n", ns, "get", "configmap", name]);
                mkdirSync(scripts(name), { recursive: true });
                for (const [file, text] of Object.entries(cm.data as Record<string, string>)) writeFileSync(path.join(scripts(name), file), text, { mode: 0o555 });
            }
            await registerNodes(c, c.masters.map((m) => ({ name: m.name, ip: m.ip, controlPlane: true })), "1.34.4");
            await registerNodes(c, [{ name: "k8s-node1", ip: "198.51.100.51", controlPlane: false }], "1.34.4");
            execBin = writeExecStandIn(path.join(dir, "exec-bin"), c);
            kuredConfig = await serviceAccountKubeconfig(c, "kured", "kured-sentinel-gate", path.join(dir, "kured.conf"));
            chainConfig = await serviceAccountKubeconfig(c, "k8s-upgrade", "k8s-upgrade", path.join(dir, "chain.conf"));
        });

        const env = (kubeconfig: string) => ({ PATH: `${execBin}:${cp!.path}`, KUBECONFIG: kubeconfig, POLL_SECONDS: "1" });

        /** One evaluation of the kured stack's gate DaemonSet on `node`, its figures from gate.env. */
        async function kuredGate(node: string, rebootRequired = true) {
            const figures = readEnvFile(readFileSync(path.join(scripts("kured-control-plane-gate"), "gate.env"), "utf8"));
            const required = path.join(dir, "reboot-required");
            const sentinel = path.join(dir, "gated-reboot-required");
            if (rebootRequired) writeFileSync(required, "");
            else rmSync(required, { force: true });
            const run = await cp!.lan.run(
                ["bash", path.join(scripts("kured-control-plane-gate"), "kured-sentinel-gate.sh"), "--node", node, "--members", figures.CONTROL_PLANE_MEMBERS, "--quorum", figures.CONTROL_PLANE_QUORUM,
                    "--interval", figures.CHECK_INTERVAL_SECONDS, "--once", "--reboot-required", required, "--sentinel", sentinel],
                { env: { ...process.env, ...env(kuredConfig) }, timeoutMs: 120_000 },
            );
            assert.equal(run.code, 0, run.stderr);
            return { out: run.stdout, sentinel: existsSync(sentinel) };
        }

        it("kured: a master may reboot while the other two are Ready, none cordoned, etcd 3/3 healthy", async () => {
            const g = await kuredGate("k8s-master");
            assert.ok(g.sentinel, g.out);
            assert.match(g.out, /reboot required and allowed: sentinel set\. ALLOWED: k8s-master may go down: 2 other control-plane node\(s\) Ready \(quorum 2 of 3\), none cordoned, etcd 3\/3 healthy/);
        });

        it("kured: held while another master is NotReady, then while one is cordoned; the sentinel goes", async () => {
            const c = cp!;
            await setNodeStatus(c, "k8s-master-2", { ready: "False" });
            let g = await kuredGate("k8s-master");
            assert.ok(!g.sentinel);
            assert.match(g.out, /reboot required but held: BLOCKED: only 1 control-plane node\(s\) besides k8s-master are Ready; 2 must stay up for etcd quorum \(of 3\)/);
            await setNodeStatus(c, "k8s-master-2", { ready: "True" });
            await c.kubectlOk(["cordon", "k8s-master-3"]);
            g = await kuredGate("k8s-master");
            assert.ok(!g.sentinel);
            assert.match(g.out, /BLOCKED: control-plane node\(s\) k8s-master-3 cordoned: another master is going down/);
            await c.kubectlOk(["uncordon", "k8s-master-3"]);
            // A worker needs 2 Ready masters, not 2 besides itself.
            g = await kuredGate("k8s-node1");
            assert.ok(g.sentinel, g.out);
        });

        it("kured: held while an etcd member is down (asked of the real etcd through etcd-<node>), allowed again once it is back", async () => {
            const c = cp!;
            const m3 = c.masters[2];
            m3.kubelet.hold("etcd");
            try {
                await m3.kubelet.stopPod("etcd");
                const g = await kuredGate("k8s-master");
                assert.ok(!g.sentinel);
                assert.match(g.out, /BLOCKED: 1 of 3 etcd member\(s\) unhealthy/);
            } finally {
                m3.kubelet.release("etcd");
            }
            await m3.kubelet.waitRunning("etcd");
            await c.waitReady(m3);
            const again = await kuredGate("k8s-master");
            assert.ok(again.sentinel, again.out);
        });

        it("kured: no reboot required, no sentinel", async () => {
            const g = await kuredGate("k8s-master", false);
            assert.ok(!g.sentinel);
            assert.match(g.out, /no reboot required/);
        });

        /** The chain's master phase as its Job runs it, figures from chain.env; --dry-run (no SSH to nodes here). */
        function chain(version: string) {
            const e = readEnvFile(readFileSync(path.join(scripts("upgrade-chain"), "chain.env"), "utf8"));
            return cp!.lan.run(
                ["bash", path.join(scripts("upgrade-chain"), "upgrade-chain.sh"), "--version", version, "--members", e.CONTROL_PLANE_MEMBERS, "--quorum", e.CONTROL_PLANE_QUORUM,
                    "--first", e.FIRST_MASTER, "--ssh-user", e.SSH_USER, "--drain-timeout", e.DRAIN_TIMEOUT_SECONDS, "--ready-timeout", e.READY_TIMEOUT_SECONDS, "--dry-run"],
                { env: { ...process.env, ...env(chainConfig) }, timeoutMs: 300_000 },
            );
        }

        it("upgrade chain: finds the masters by label, first the original, each behind the quorum gate; skips one already upgraded", async () => {
            await setNodeStatus(cp!, "k8s-master-2", { ready: "True", kubeletVersion: "1.34.5" });
            const run = await chain("1.34.5");
            assert.equal(run.code, 0, run.stdout + run.stderr);
            assert.match(run.stdout, /masters in order: k8s-master k8s-master-2 k8s-master-3 -> v1\.34\.5/);
            assert.match(run.stdout, /k8s-master: ALLOWED: k8s-master may go down: 2 other control-plane node\(s\) Ready/);
            assert.match(run.stdout, /k8s-master-2: already at v1\.34\.5, skipped/);
            assert.match(run.stdout, /k8s-master-3: dry run, would drain, run kubeadm upgrade node, uncordon and wait/);
            assert.match(run.stdout, /dry run done/);
            await setNodeStatus(cp!, "k8s-master-2", { ready: "True", kubeletVersion: "1.34.4" });
        });

        it("upgrade chain: stops before the first master while another is NotReady", async () => {
            await setNodeStatus(cp!, "k8s-master-3", { ready: "False" });
            try {
                const run = await chain("1.34.5");
                assert.equal(run.code, 1, run.stdout + run.stderr);
                assert.match(run.stderr, /STOPPED: k8s-master may not go down now: BLOCKED: only 1 control-plane node\(s\) besides k8s-master are Ready/);
                assert.doesNotMatch(run.stdout, /dry run, would drain/);
            } finally {
                await setNodeStatus(cp!, "k8s-master-3", { ready: "True" });
            }
        });
    });

    describe("phase 4.5's backup", () => {
        it("the etcd-backup CronJob's pod, as the apiserver serves it, stores a verified snapshot in the backup volume (STAND-IN kubelet runs its containers on k8s-master-2)", async () => {
            const c = cp!;
            const cron = await c.kubectlJson(["-n", "kube-system", "get", "cronjob", "etcd-backup"]);
            const scriptsCm = await c.kubectlJson(["-n", "kube-system", "get", "configmap", "etcd-backup-scripts"]);
            const runs = await runPodOnMaster(c, c.masters[1], cron.spec.jobTemplate.spec.template.spec, { "etcd-backup-scripts": scriptsCm.data });
            assert.deepEqual(runs.map((r) => [r.container, r.result.code]), [["snapshot", 0], ["verify", 0], ["store", 0]], runs.map((r) => r.result.stderr).join("\n"));
            const stored = readdirSync(c.sharedDir(backupPath));
            assert.equal(stored.length, 1, stored.join(" "));
            assert.match(stored[0], /^etcd-snapshot-\d{8}T\d{6}Z-k8s-master-2\.db$/);
            const status = await c.onMaster(c.first, [c.bin.etcdutl, "snapshot", "status", path.join(backupPath, stored[0]), "-w", "json"]);
            assert.equal(status.code, 0, status.stderr);
            assert.ok((JSON.parse(status.stdout) as Json).totalKey > 100, status.stdout);
        });
    });

    describe("destroy", () => {
        it("destroy removes every object (STAND-IN garbage collector for the foreground deletions)", async () => {
            const c = cp!;
            const destroy = await withGarbageCollector(c, KINDS, () => stack!.ok(["destroy", "--yes"]));
            assert.match(destroy.stdout, /- 18 deleted/);
            assert.deepEqual((await c.kubectlJson(["get", KINDS.join(","), "-A", "-l", OURS])).items, []);
        });
    });
});
