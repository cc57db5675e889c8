/**
 * Phase 1.5 for real: scripts/cluster/control-plane-flags.sh exactly as components/clusterOps/
 * flagParity.ts ships it (the manifest's bundle of FLAGS_SCRIPT on stdin, flagsArgs on the
 * `sudo -n bash -s --` line remoteScript builds), as root on a master whose kube-apiserver, etcd, kubeadm and kubectl are
 * the real ones: kubeadm-config patched and uploaded with `kubeadm init phase upload-config`, the
 * manifests regenerated with `kubeadm init phase etcd local` / `control-plane apiserver`, the
 * refusal when the live manifest carries what kubeadm-config does not declare (kubeadm's own
 * --dry-run output is the comparison), the delete (revert), and real `kubeadm upgrade node phase
 * control-plane --dry-run` writing the manifest that runs (so an upgrade keeps the flags).
 * The lab's flags, with two edits: no OIDC (the apiserver would reach for the lab's issuer
 * outside the test network) and the audit log under /var/lib (the test hosts overlay /etc and
 * /var/lib, not the machine's /var/log). The audit policy file is put where the stack's
 * AuditPolicyFile copy leaves it.
 * STAND-INS: the kubelet (it restarts a static pod whose manifest changed; for the upgrade, the
 * Node and mirror pod it would register) and sudo.
 */
import { strict as assert } from "assert";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { flagsArgs, FLAGS_SCRIPT } from "../../components/clusterOps/flagParity";
import { shippedScript } from "../../components/clusterOps/remote";
import { declaredFlags, Topology } from "@ha-control-plane/topology";
import { ControlPlane, waitFor } from "../helpers/controlPlane/controlPlane";
import { pins } from "../../toolchain";
import { registerNodes } from "../helpers/controlPlane/standIns";
import { testTopology } from "./helpers/topology";

type Json = Record<string, any>;

const AUDIT_LOG_DIR = "/var/lib/kubernetes-audit";

function flagsTopology(delaySeconds = 5): Topology {
    return testTopology("1.5", (raw) => {
        delete raw.controlPlaneFlags.oidc;
        raw.controlPlaneFlags.audit.logDir = AUDIT_LOG_DIR;
        raw.controlPlaneFlags.apiserverShutdown.delaySeconds = delaySeconds;
    });
}

/** The FlagParity command for the existing master: its create and delete lines, the bundle on stdin. */
function flagParityStep(t: Topology) {
    const declared = declaredFlags(t.clusterOps.controlPlaneFlags);
    const master = t.existingMaster;
    return shippedScript(t.ssh.user, { script: FLAGS_SCRIPT, args: flagsArgs("apply", t, master, declared), deleteArgs: flagsArgs("revert", t, master, declared) });
}

/** The command line of a running process, or of the first descendant whose argv[0] ends in `binary` (setpriv and nsenter exec, but look anyway). */
function processArgv(pid: number, binary: string): string[] {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    if (path.basename(argv[0] ?? "") === binary) return argv;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
        for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(/\s+/).filter(Boolean)) {
            const found = processArgv(Number(child), binary);
            if (found.length) return found;
        }
    }
    return [];
}

/** extraArgs of a v1beta4 component as a map. */
const extraArgs = (section: Json | undefined): Record<string, string> => Object.fromEntries(((section?.extraArgs ?? []) as { name: string; value: string }[]).map((a) => [a.name, a.value]));

describe("phase 1.5 for real: control-plane-flags.sh as FlagParity ships it, with real kubeadm 1.34 and a real kube-apiserver (STAND-INS: kubelet restarts the static pods from their manifests, sudo)", function () {
    this.timeout(1_200_000);
    let cp: ControlPlane | undefined;
    const lab = flagsTopology();
    const step = flagParityStep(lab);
    const manifestFile = () => path.join(cp!.first.host.kubernetesDir, "manifests", "kube-apiserver.yaml");
    const runStep = (s: { stdin: string }, line: string) => cp!.onMaster(cp!.first, ["bash", "-c", line], { input: s.stdin, env: { HACP_POLL_SECONDS: "1" }, timeoutMs: 600_000 });
    const kubeadmConfig = async () => {
        const cm = await cp!.kubectlJson(["-n", "kube-system", "get", "configmap", "kubeadm-config"]);
        return { cc: parse(cm.data.ClusterConfiguration) as Json, resourceVersion: cm.metadata.resourceVersion as string };
    };
    const running = (pod: "kube-apiserver" | "etcd") => {
        const p = cp!.first.kubelet.running(pod);
        assert.ok(p, `${pod} runs`);
        return { ...p, argv: processArgv(p.pid, pod) };
    };
    /** The STAND-IN kubelet has replaced the apiserver process `pid` after a manifest change, and the new one is ready. */
    async function restartedFrom(pid: number): Promise<void> {
        await waitFor("the kubelet to restart kube-apiserver from its changed manifest", 120_000, async () => {
            const p = cp!.first.kubelet.running("kube-apiserver");
            return p && p.pid !== pid ? true : undefined;
        });
        await cp!.waitReady(cp!.first);
    }
    /** What real kubeadm writes for a component from kubeadm-config as it is now (its --dry-run). */
    async function kubeadmDryRunManifest(component: "apiserver" | "etcd" = "apiserver"): Promise<string> {
        const c = cp!;
        const { cc } = await kubeadmConfig();
        const dir = path.join(c.first.host.dir, `dry-run-${Date.now()}`);
        mkdirSync(dir);
        const init = { apiVersion: cc.apiVersion, kind: "InitConfiguration", localAPIEndpoint: { advertiseAddress: c.first.ip, bindPort: 6443 }, nodeRegistration: { name: c.first.name } };
        const config = path.join(dir, "kubeadm.yaml");
        writeFileSync(config, `${JSON.stringify(init)}\n---\n${JSON.stringify(cc)}\n`);
        const phase = component === "apiserver" ? ["control-plane", "apiserver"] : ["etcd", "local"];
        await c.kubeadmOk(c.first, ["init", "phase", ...phase, "--config", config, "--dry-run"], { env: { KUBEADM_INIT_DRYRUN_DIR: dir } });
        return readFileSync(path.join(dir, component === "apiserver" ? "kube-apiserver.yaml" : "etcd.yaml"), "utf8");
    }

    before(async () => {
        cp = await ControlPlane.start({ masters: 1 });
        // Where AuditPolicyFile's copy and install leave the policy (its own test is the stack's).
        const audit = lab.clusterOps.controlPlaneFlags.audit!;
        const policy = path.join(cp.first.host.kubernetesDir, path.relative("/etc/kubernetes", audit.policyPath));
        mkdirSync(path.dirname(policy), { recursive: true });
        writeFileSync(policy, audit.policy);
    });
    after(async () => {
        await cp?.teardown();
    });

    it("apply: kubeadm-config gets the flags through kubeadm, kubeadm regenerates etcd and the apiserver, both restart from their manifests, /readyz ok, and the running processes carry the flags", async () => {
        const c = cp!;
        const original = (await kubeadmConfig()).cc;
        const before = { apiserver: running("kube-apiserver"), etcd: running("etcd") };
        assert.ok(!before.apiserver.argv.some((a) => a.startsWith("--shutdown-delay-duration")), "not there before");
        const r = await runStep(step, step.create);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stderr, /upload-config\] Storing the configuration used in ConfigMap "kubeadm-config"/, "kubeadm itself stored it");
        assert.match(r.stdout, /kubeadm-config patched and uploaded through kubeadm/);
        assert.match(r.stdout, /etcd: healthy/);
        assert.match(r.stdout, /apiserver: healthy/);
        assert.match(r.stdout, /in parity with the declared flags/);

        const { cc } = await kubeadmConfig();
        const declared = declaredFlags(lab.clusterOps.controlPlaneFlags);
        assert.deepEqual(extraArgs(cc.apiServer), { ...extraArgs(original.apiServer), ...declared.apiServer }, "the declared flags added, authorization-mode kept");
        assert.equal(extraArgs(cc.apiServer)["shutdown-delay-duration"], "5s");
        assert.equal(extraArgs(cc.apiServer)["shutdown-send-retry-after"], "true");
        // (kubeadm leaves out readOnly: false when it stores a volume.)
        assert.deepEqual(cc.apiServer.extraVolumes, declared.apiServerVolumes.map(({ readOnly, ...v }) => (readOnly ? { ...v, readOnly } : v)));
        assert.deepEqual(extraArgs(cc.etcd.local), { ...extraArgs(original.etcd.local), ...declared.etcd });
        assert.deepEqual(cc.networking, original.networking, "other fields kept");

        assert.equal(readFileSync(manifestFile(), "utf8"), await kubeadmDryRunManifest(), "the live apiserver manifest is exactly what kubeadm writes from kubeadm-config");
        assert.equal(readFileSync(path.join(c.first.host.kubernetesDir, "manifests", "etcd.yaml"), "utf8"), await kubeadmDryRunManifest("etcd"), "and the etcd manifest (kubeadm upgrade writes etcd's with the same function)");

        const now = { apiserver: running("kube-apiserver"), etcd: running("etcd") };
        assert.equal(now.apiserver.restarts, before.apiserver.restarts + 1, "the apiserver restarted once");
        assert.equal(now.etcd.restarts, before.etcd.restarts + 1, "etcd restarted once");
        for (const flag of ["--shutdown-delay-duration=5s", "--shutdown-send-retry-after=true", `--audit-policy-file=${lab.clusterOps.controlPlaneFlags.audit!.policyPath}`, `--audit-log-path=${AUDIT_LOG_DIR}/audit.log`]) {
            assert.ok(now.apiserver.argv.includes(flag), `the running kube-apiserver has ${flag}: ${now.apiserver.argv.join(" ")}`);
        }
        for (const flag of ["--auto-compaction-retention=8h", "--snapshot-count=10000"]) assert.ok(now.etcd.argv.includes(flag), `the running etcd has ${flag}`);
        assert.equal(await c.readyz(c.first), "ok");
        // The real apiserver reads the policy and writes its audit log where the flags say.
        const auditLog = path.join(c.first.host.dir, "overlay", "var", "lib", "upper", path.relative("/var/lib", AUDIT_LOG_DIR), "audit.log");
        assert.ok(readFileSync(auditLog, "utf8").includes('"kind":"Event"'), "audit events written");
    });

    it("a second run changes nothing: same kubeadm-config object, same manifest, no restart", async () => {
        const { resourceVersion } = await kubeadmConfig();
        const manifest = readFileSync(manifestFile(), "utf8");
        const pids = [running("kube-apiserver").pid, running("etcd").pid];
        const r = await runStep(step, step.create);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /k8s-master already in parity; nothing regenerated/);
        assert.equal((await kubeadmConfig()).resourceVersion, resourceVersion);
        assert.equal(readFileSync(manifestFile(), "utf8"), manifest);
        assert.deepEqual([running("kube-apiserver").pid, running("etcd").pid], pids);
    });

    it("kubeadm upgrade keeps them: real `kubeadm upgrade node phase control-plane --dry-run` writes the apiserver manifest that runs (STAND-INS: the Node and the apiserver's mirror pod a kubelet would have registered)", async () => {
        const c = cp!;
        await registerNodes(c, [{ name: c.first.name, ip: c.first.ip, controlPlane: true }], pins.kubernetes);
        // What kubeadm init's kubelet-start leaves on the Node, and the mirror pod upgrade reads the node's API endpoint from.
        await c.kubectlOk(["annotate", "--overwrite", "node", c.first.name, "kubeadm.alpha.kubernetes.io/cri-socket=unix:///var/run/containerd/containerd.sock"]);
        const mirror = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: `kube-apiserver-${c.first.name}`, namespace: "kube-system", labels: { component: "kube-apiserver", tier: "control-plane" }, annotations: { "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": `${c.first.ip}:6443`, "kubernetes.io/config.mirror": "stand-in", "kubernetes.io/config.source": "file" } },
            spec: { nodeName: c.first.name, containers: [{ name: "kube-apiserver", image: `registry.k8s.io/kube-apiserver:v${pins.kubernetes}` }] },
        };
        await c.kubectlOk(["apply", "-f", "-"], { input: JSON.stringify(mirror) });
        const out = await c.kubeadmOk(c.first, ["upgrade", "node", "phase", "control-plane", "--dry-run"]);
        const lines = out.split("\n");
        const start = lines.findIndex((l) => l.includes('Would write file "/etc/kubernetes/manifests/kube-apiserver.yaml" with content:'));
        assert.ok(start >= 0, out);
        // The file's text follows its header line, up to kubeadm's next bracketed message.
        const end = lines.findIndex((l, i) => i > start && /^\[[a-z/-]+\] /.test(l));
        const upgraded = lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
        assert.equal(upgraded.trim(), readFileSync(manifestFile(), "utf8").trim(), "kubeadm upgrade would write the manifest that runs: the flags stay");
        assert.match(upgraded, /--shutdown-delay-duration=5s/);
    });

    it("refuses, naming each, when the live manifest carries a flag and a volume kubeadm-config does not declare (kubeadm's --dry-run is the comparison); changes nothing", async () => {
        const clean = readFileSync(manifestFile(), "utf8");
        const edited = clean
            .replace("- --allow-privileged=true", "- --allow-privileged=true\n    - --profiling=false")
            .replace(/( *)volumeMounts:\n/, "$1volumeMounts:\n$1- mountPath: /etc/hand-added/ca.crt\n$1  name: hand-added\n$1  readOnly: true\n")
            .replace(/( *)volumes:\n/, "$1volumes:\n$1- hostPath:\n$1    path: /etc/kubernetes/pki/ca.crt\n$1    type: File\n$1  name: hand-added\n");
        assert.ok(edited.includes("--profiling=false") && edited.includes("name: hand-added"), "kubeadm's manifest has the lines the edit hooks on");
        const beforeEdit = running("kube-apiserver");
        writeFileSync(manifestFile(), edited); // an earlier hand or Terraform edit
        await restartedFrom(beforeEdit.pid);
        const apiserver = running("kube-apiserver");
        assert.notEqual(apiserver.pid, beforeEdit.pid);
        assert.ok(apiserver.argv.includes("--profiling=false"), "the hand-edited apiserver runs");

        // A changed declared flag makes the run regenerate; the hand edit would be lost with it.
        const changed = flagParityStep(flagsTopology(6));
        const { resourceVersion } = await kubeadmConfig();
        const r = await runStep(changed, changed.create);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stderr, /regenerating from kubeadm-config would lose what only the live manifests have \(a hand or Terraform edit\?\):/);
        assert.match(r.stderr, /^ {4}apiserver: flag --profiling=false would be dropped$/m);
        assert.match(r.stderr, /^ {4}apiserver: volume hand-added \(host \/etc\/kubernetes\/pki\/ca\.crt, mounted at \/etc\/hand-added\/ca\.crt\) would be dropped$/m);
        assert.doesNotMatch(r.stderr, /shutdown-delay-duration would/, "a declared flag changes on purpose");
        assert.doesNotMatch(r.stderr, /^ {4}etcd:/m, "kubeadm's etcd manifest loses nothing");
        assert.match(r.stderr, /nothing was changed/);
        assert.equal((await kubeadmConfig()).resourceVersion, resourceVersion, "kubeadm-config untouched");
        assert.equal(readFileSync(manifestFile(), "utf8"), edited, "manifest untouched");
        assert.equal(running("kube-apiserver").pid, apiserver.pid, "no restart");

        // Once the edit is gone from the manifest, the same run goes through.
        writeFileSync(manifestFile(), clean);
        await restartedFrom(apiserver.pid);
        const again = await runStep(changed, changed.create);
        assert.equal(again.code, 0, again.stdout + again.stderr);
        assert.ok(running("kube-apiserver").argv.includes("--shutdown-delay-duration=6s"));
        assert.equal(extraArgs((await kubeadmConfig()).cc.apiServer)["shutdown-delay-duration"], "6s");
    });

    it("revert (the delete) takes the flags out of kubeadm-config and off the running apiserver and etcd", async () => {
        const c = cp!;
        const changed = flagParityStep(flagsTopology(6));
        const r = await runStep(changed, changed.delete!);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /k8s-master regenerated without the declared flags/);
        const { cc } = await kubeadmConfig();
        for (const name of Object.keys(declaredFlags(lab.clusterOps.controlPlaneFlags).apiServer)) assert.equal(extraArgs(cc.apiServer)[name], undefined, name);
        assert.deepEqual(cc.apiServer.extraVolumes ?? [], []);
        const argv = running("kube-apiserver").argv;
        assert.ok(!argv.some((a) => /^--(shutdown-delay-duration|shutdown-send-retry-after|audit-policy-file)=/.test(a)), argv.join(" "));
        assert.ok(!running("etcd").argv.includes("--auto-compaction-retention=8h"));
        assert.equal(await c.readyz(c.first), "ok");
    });
});
