import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { parse, parseAllDocuments } from "yaml";
import { shippedScript } from "../../components/clusterOps/remote";
import { runShipped } from "../helpers/shipped";
import { FLAGS_SCRIPT, flagsArgs } from "../../components/clusterOps/flagParity";
import { SCRIPTS_DIR } from "../../components/scriptFile";
import { clusterConfigurationFragment, clusterConfigurationRemoval, DeclaredFlags, declaredFlags, flagExpectations, loadTopology, Topology } from "@ha-control-plane/topology";
import { labConfig } from "../helpers/program";
import { FakeCluster, FIXTURES, nodesFixture } from "./helpers/fakeCluster";
import { readProjectFile } from "../../components/projectFiles";

const PATCHER = path.join(SCRIPTS_DIR, "kubeadm/patch-cluster-config.py");
/** Issue 3's fixtures: ClusterConfiguration as kubeadm stores it, one per API version. */
const KUBEADM_FIXTURES = path.resolve(FIXTURES, "..", "kubeadm");
const fixture = (name: string) => readFileSync(path.join(KUBEADM_FIXTURES, `cluster-configuration-${name}.yaml`), "utf8");
const lab = loadTopology(labConfig("7").raw, { project: "ha-control-plane", stack: "lab", readProjectFile });
const LAB_FLAGS = declaredFlags(lab.clusterOps.controlPlaneFlags);

/** The lab's declared flags with other audit volume names (the ones a cluster already uses). */
function flagsNamed(policyVolumeName: string, logVolumeName: string): DeclaredFlags {
    const raw = labConfig("7").raw as Record<string, any>;
    Object.assign(raw.controlPlaneFlags.audit, { policyVolumeName, logVolumeName });
    return declaredFlags(loadTopology(raw, { project: "ha-control-plane", stack: "lab", readProjectFile }).clusterOps.controlPlaneFlags);
}

function patch(input: string, document: object): { status: number | null; out: string; err: string } {
    const run = spawnSync("python3", [PATCHER, "--patch", JSON.stringify(document)], { input, encoding: "utf8", timeout: 30_000 });
    return { status: run.status, out: run.stdout, err: run.stderr };
}

/** extraArgs as a map, from either API version's form. */
function args(section: Record<string, any> | undefined): Record<string, string> {
    const extra = section?.extraArgs;
    if (Array.isArray(extra)) return Object.fromEntries(extra.map((e: { name: string; value: string }) => [e.name, e.value]));
    return { ...(extra ?? {}) };
}

function without(map: Record<string, string>, keys: readonly string[]): Record<string, string> {
    return Object.fromEntries(Object.entries(map).filter(([k]) => !keys.includes(k)));
}

/**
 * Phase 1.5's ClusterConfiguration change, made by issue 3's patcher
 * (scripts/kubeadm/patch-cluster-config.py, real python3) with the fragment the program sends,
 * on issue 3's ClusterConfiguration fixtures: a lab cluster that already declares OIDC and audit
 * flags and mounts an audit policy and log directory (volumes `audit` and `audit-log`).
 */
describe("phase 1.5 ClusterConfiguration patch (v1beta3 and v1beta4, the shared patcher)", function () {
    this.timeout(60_000);
    for (const version of ["v1beta3", "v1beta4"] as const) {
        it(`${version}: each declared flag and volume once, replacing the old ones in place, the rest intact, idempotent, removable`, () => {
            const flags = flagsNamed("audit", "audit-log");
            const original = fixture(version);
            const before = parse(original);
            const once = patch(original, clusterConfigurationFragment(flags));
            assert.equal(once.status, 0, once.err);
            const doc = parse(once.out);
            assert.equal(doc.apiVersion, `kubeadm.k8s.io/${version}`, "the API version found is kept");
            assert.equal(Array.isArray(doc.apiServer.extraArgs), version === "v1beta4", "v1beta4 name/value lists, v1beta3 a map");
            const api = args(doc.apiServer);
            for (const [k, v] of Object.entries(flags.apiServer)) assert.equal(api[k], v, k);
            if (version === "v1beta4") {
                const names = doc.apiServer.extraArgs.map((e: { name: string }) => e.name);
                assert.equal(names.length, new Set(names).size, "each flag once");
            }
            assert.deepEqual(without(api, Object.keys(flags.apiServer)), without(args(before.apiServer), Object.keys(flags.apiServer)), "other apiserver flags kept");
            assert.deepEqual(doc.apiServer.extraVolumes, flags.apiServerVolumes, "the old audit volumes replaced in place, not doubled");
            assert.deepEqual(args(doc.etcd.local), { ...args(before.etcd.local), ...flags.etcd }, "etcd's own flags kept");
            // Every field the fragment does not touch is as it was.
            const strip = (d: any) => {
                const c = JSON.parse(JSON.stringify(d));
                delete c.apiServer.extraArgs;
                delete c.apiServer.extraVolumes;
                delete c.etcd.local.extraArgs;
                return c;
            };
            assert.deepEqual(strip(doc), strip(before));
            // A second run changes nothing, byte for byte.
            const twice = patch(once.out, clusterConfigurationFragment(flags));
            assert.equal(twice.out, once.out);
            assert.match(twice.err, /unchanged/);
            // The delete's document takes exactly the declared flags and volumes out again.
            const removed = patch(once.out, clusterConfigurationRemoval(flags));
            assert.equal(removed.status, 0, removed.err);
            const back = parse(removed.out);
            assert.deepEqual(args(back.apiServer), without(args(before.apiServer), Object.keys(flags.apiServer)));
            assert.deepEqual(back.apiServer.extraVolumes ?? [], []);
            assert.deepEqual(args(back.etcd.local), without(args(before.etcd.local), Object.keys(flags.etcd)));
        });
    }

    it("on a kubeadm init default configuration: the flags and volumes are added, once", () => {
        const once = patch(fixture("v1beta4-defaults"), clusterConfigurationFragment(LAB_FLAGS));
        assert.equal(once.status, 0, once.err);
        const doc = parse(once.out);
        assert.deepEqual(args(doc.apiServer), LAB_FLAGS.apiServer);
        assert.deepEqual(doc.apiServer.extraVolumes, LAB_FLAGS.apiServerVolumes);
        assert.deepEqual(args(doc.etcd.local), LAB_FLAGS.etcd);
    });
});

/**
 * control-plane-flags.sh, shipped with kubeadm/lib.sh and the patcher as the program ships it,
 * on a fake master: kubectl, kubeadm, crictl and curl are stubs (kubeadm and a live control plane
 * cannot run here); the stub kubeadm builds manifests from the ClusterConfiguration the way
 * kubeadm does (defaults plus extraArgs, sorted; extraVolumes added).
 */
describe("control-plane-flags.sh: regenerate through kubeadm, one component at a time (stub kubeadm/kubectl/crictl/curl)", function () {
    this.timeout(120_000);
    let cluster: FakeCluster;
    let topology: Topology;
    let declared: DeclaredFlags;
    let kdir: string;
    const manifests = () => path.join(kdir, "manifests");

    beforeEach(() => {
        cluster = new FakeCluster({
            nodes: nodesFixture("all-ready"),
            configmaps: { "kube-system/kubeadm-config": { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "kubeadm-config", namespace: "kube-system", resourceVersion: "1" }, data: { ClusterConfiguration: fixture("v1beta4-defaults") } } },
        });
        kdir = path.join(cluster.dir, "etc-kubernetes");
        mkdirSync(manifests(), { recursive: true });
        mkdirSync(path.join(cluster.dir, "base"), { recursive: true });
        for (const f of ["kube-apiserver.yaml", "etcd.yaml"]) {
            copyFileSync(path.join(FIXTURES, "manifests", f), path.join(manifests(), f));
            copyFileSync(path.join(FIXTURES, "manifests", f), path.join(cluster.dir, "base", f));
        }
        cluster.file("containers/kube-apiserver", "kube-apiserver-original\n");
        cluster.file("containers/etcd", "etcd-original\n");
        // The lab's flags, with the audit policy where this test can put it.
        const raw = labConfig("7").raw as Record<string, any>;
        raw.controlPlaneFlags.audit.policyPath = path.join(cluster.dir, "audit", "policy.yaml");
        topology = loadTopology(raw, { project: "ha-control-plane", stack: "lab", readProjectFile });
        declared = declaredFlags(topology.clusterOps.controlPlaneFlags);
        cluster.file("audit/policy.yaml", topology.clusterOps.controlPlaneFlags.audit!.policy);
    });
    afterEach(() => cluster.cleanup());

    /** As FlagParity ships it: remoteScript's command line (sudo -n bash -s -- ARGS, quoted) and the bundle on stdin. */
    function run(args: string[], extraEnv: Record<string, string> = {}) {
        return runShipped(
            shippedScript(topology.ssh.user, { script: FLAGS_SCRIPT, args }),
            cluster.env({ KUBERNETES_DIR: kdir, STUB_MANIFESTS: manifests(), HACP_ALLOW_NON_ROOT: "1", HACP_POLL_SECONDS: "0.05", ...extraEnv }),
        );
    }
    const apply = (...extra: string[]) => run([...flagsArgs("apply", topology, topology.existingMaster, declared), ...extra]);
    const kubeadmPhases = () => cluster.log().filter((l) => l.startsWith("kubeadm init phase") && !l.endsWith("--dry-run")).map((l) => l.replace(/ --config .*/, ""));
    const dryRuns = () => cluster.log().filter((l) => l.startsWith("kubeadm init phase") && l.endsWith("--dry-run")).map((l) => l.replace(/ --config .*/, ""));
    const storedConfig = () => parse(cluster.state().configmaps!["kube-system/kubeadm-config"].data.ClusterConfiguration);

    it("patches kubeadm-config through kubeadm, then regenerates etcd and the apiserver, and ends in parity", () => {
        const result = apply();
        assert.equal(result.status, 0, result.stdout + result.stderr);
        assert.deepEqual(kubeadmPhases(), ["kubeadm init phase upload-config kubeadm", "kubeadm init phase etcd local", "kubeadm init phase control-plane apiserver"]);
        const stored = storedConfig();
        assert.equal(stored.apiVersion, "kubeadm.k8s.io/v1beta4");
        assert.equal(args(stored.apiServer)["oidc-issuer-url"], "https://authentik.viktorbarzin.me/application/o/kubernetes/");
        assert.deepEqual(stored.networking, parse(fixture("v1beta4-defaults")).networking, "other fields kept");
        const apiserver = readFileSync(path.join(manifests(), "kube-apiserver.yaml"), "utf8");
        assert.equal(apiserver.split("--oidc-issuer-url=").length - 1, 1, "the flag once");
        assert.match(apiserver, /--advertise-address=10\.0\.20\.100/);
        assert.match(result.stdout, /in parity with the declared flags/);
        assert.notEqual(readFileSync(cluster.file("containers/kube-apiserver"), "utf8"), "kube-apiserver-original\n");
        // The node's identity went to kubeadm with the cluster's configuration.
        const [init] = parseAllDocuments(readFileSync(cluster.file("last-kubeadm-config.yaml"), "utf8")).map((d) => d.toJSON());
        assert.deepEqual(init.localAPIEndpoint, { advertiseAddress: "10.0.20.100", bindPort: 6443 });
        assert.equal(init.nodeRegistration.name, "k8s-master");
        const kept = readdirSync(path.join(kdir, "tmp", "ha-control-plane"));
        assert.ok(kept.includes("cluster-configuration.before-phase-1.5.yaml"), "the configuration before the first change is kept");
        const backups = kept.filter((f) => f.startsWith("manifests-"));
        assert.equal(backups.length, 1);
        assert.equal(readFileSync(path.join(kdir, "tmp", "ha-control-plane", backups[0], "kube-apiserver.yaml"), "utf8"), readFileSync(path.join(FIXTURES, "manifests", "kube-apiserver.yaml"), "utf8"));
    });

    it("is idempotent: a second run uploads nothing and regenerates nothing", () => {
        assert.equal(apply().status, 0);
        const calls = kubeadmPhases().length;
        const again = apply();
        assert.equal(again.status, 0, again.stderr);
        assert.match(again.stdout, /k8s-master already in parity; nothing regenerated/);
        assert.equal(kubeadmPhases().length, calls);
    });

    it("puts the old manifest back when the regenerated apiserver never gets ready", () => {
        const broken = readFileSync(path.join(FIXTURES, "manifests", "kube-apiserver.yaml"), "utf8").replace("- --allow-privileged=true", "- --allow-privileged=true\n    - --BROKEN=1");
        writeFileSync(path.join(cluster.dir, "base", "kube-apiserver.yaml"), broken);
        const result = apply("--timeout", "1");
        assert.equal(result.status, 1);
        assert.match(result.stderr, /kube-apiserver|apiserver did not come back healthy within 1s; its previous manifest is restored/);
        assert.equal(readFileSync(path.join(manifests(), "kube-apiserver.yaml"), "utf8"), readFileSync(path.join(FIXTURES, "manifests", "kube-apiserver.yaml"), "utf8"));
    });

    it("refuses to regenerate an apiserver whose audit policy is not on the node yet", () => {
        const raw = labConfig("7").raw as Record<string, any>;
        raw.controlPlaneFlags.audit.policyPath = path.join(cluster.dir, "nowhere", "policy.yaml");
        const t = loadTopology(raw, { project: "ha-control-plane", stack: "lab", readProjectFile });
        const result = run(flagsArgs("apply", t, t.existingMaster, declaredFlags(t.clusterOps.controlPlaneFlags)));
        assert.equal(result.status, 1);
        assert.match(result.stderr, /audit policy .*nowhere\/policy\.yaml is not on k8s-master yet/);
        assert.deepEqual(kubeadmPhases(), [], "refused before kubeadm-config is uploaded");
    });

    it("refuses, naming them, when regenerating would drop a hand-added flag or volume, or change an undeclared value; changes nothing", () => {
        const live = readFileSync(path.join(manifests(), "kube-apiserver.yaml"), "utf8");
        const edited = live
            .replace("- --allow-privileged=true", "- --allow-privileged=true\n    - --profiling=false")
            .replace("- --authorization-mode=Node,RBAC", "- --authorization-mode=Node,RBAC,Webhook")
            .replace(/( *)volumeMounts:\n/, "$1volumeMounts:\n$1- mountPath: /etc/kubernetes/webhook.yaml\n$1  name: authz-webhook\n$1  readOnly: true\n")
            .replace(/( *)volumes:\n/, "$1volumes:\n$1- hostPath:\n$1    path: /etc/kubernetes/webhook.yaml\n$1    type: File\n$1  name: authz-webhook\n");
        assert.notEqual(edited, live);
        writeFileSync(path.join(manifests(), "kube-apiserver.yaml"), edited);
        const before = cluster.state().configmaps!["kube-system/kubeadm-config"].data.ClusterConfiguration;
        const result = apply();
        assert.equal(result.status, 1, result.stdout + result.stderr);
        assert.match(result.stderr, /regenerating from kubeadm-config would lose what only the live manifests have/);
        assert.match(result.stderr, /^ {4}apiserver: flag --profiling=false would be dropped$/m);
        assert.match(result.stderr, /^ {4}apiserver: flag --authorization-mode would change from Node,RBAC,Webhook to Node,RBAC$/m);
        assert.match(result.stderr, /^ {4}apiserver: volume authz-webhook \(host \/etc\/kubernetes\/webhook\.yaml, mounted at \/etc\/kubernetes\/webhook\.yaml\) would be dropped$/m);
        assert.match(result.stderr, /Declare each in kubeadm-config \(apiServer\.extraArgs\/extraVolumes, etcd\.local\.extraArgs\) or remove it from the manifest, then run again; nothing was changed/);
        assert.deepEqual(dryRuns(), ["kubeadm init phase etcd local", "kubeadm init phase control-plane apiserver"], "kubeadm's own dry run is the comparison");
        assert.deepEqual(kubeadmPhases(), [], "nothing uploaded, nothing regenerated");
        assert.equal(cluster.state().configmaps!["kube-system/kubeadm-config"].data.ClusterConfiguration, before);
        assert.equal(readFileSync(path.join(manifests(), "kube-apiserver.yaml"), "utf8"), edited);
        // Once the edit is gone from the manifest (or declared in kubeadm-config), the same run goes through.
        writeFileSync(path.join(manifests(), "kube-apiserver.yaml"), live);
        const again = apply();
        assert.equal(again.status, 0, again.stdout + again.stderr);
    });

    it("revert (the delete) takes the flags out of kubeadm-config and off the master", () => {
        assert.equal(apply().status, 0);
        const result = run(flagsArgs("revert", topology, topology.existingMaster, declared));
        assert.equal(result.status, 0, result.stdout + result.stderr);
        assert.match(result.stdout, /k8s-master regenerated without the declared flags/);
        const stored = storedConfig();
        assert.deepEqual(args(stored.apiServer), {});
        assert.deepEqual(stored.apiServer.extraVolumes ?? [], []);
        const apiserver = readFileSync(path.join(manifests(), "kube-apiserver.yaml"), "utf8");
        assert.ok(!apiserver.includes("--oidc-") && !apiserver.includes("audit"), "no flag or mount left");
        const etcd = readFileSync(path.join(manifests(), "etcd.yaml"), "utf8");
        assert.ok(!etcd.includes("--auto-compaction-retention"));
        assert.match(etcd, /--snapshot-count=10000/, "kubeadm's own default stays");
        const restarts = readFileSync(cluster.file("containers/kube-apiserver"), "utf8");
        assert.equal(run(flagsArgs("revert", topology, topology.existingMaster, declared)).status, 0);
        assert.equal(readFileSync(cluster.file("containers/kube-apiserver"), "utf8"), restarts, "a second revert restarts nothing");
    });

    it("check: reports a duplicate (a sed edit on top), a wrong value and a missing mount", () => {
        const check = (manifest: string) => {
            writeFileSync(path.join(manifests(), "kube-apiserver.yaml"), manifest);
            return run(["check", ...flagExpectations(declared)]);
        };
        assert.equal(apply().status, 0);
        const good = readFileSync(path.join(manifests(), "kube-apiserver.yaml"), "utf8");
        let result = check(good.replace("- --oidc-client-id=kubernetes", "- --oidc-client-id=kubernetes\n    - --oidc-client-id=kubernetes"));
        assert.equal(result.status, 1);
        assert.match(result.stdout, /apiserver --oidc-client-id: DUPLICATE \(2 times\)/);
        result = check(good.replace("--audit-log-maxage=7", "--audit-log-maxage=30"));
        assert.match(result.stdout, /apiserver --audit-log-maxage: DIFFERS \(have 30, want 7\)/);
        assert.ok(good.includes("- mountPath: /var/log/kubernetes/audit\n"));
        result = check(good.replace("- mountPath: /var/log/kubernetes/audit\n", "- mountPath: /elsewhere\n"));
        assert.match(result.stdout, /apiserver mount \/var\/log\/kubernetes\/audit: MISSING/);
        assert.equal(check(good).status, 0);
    });

    it("refuses to mount a path twice: an audit volume already there under another name", () => {
        const state = cluster.state();
        state.configmaps!["kube-system/kubeadm-config"].data.ClusterConfiguration = fixture("v1beta4");
        cluster.setState(state);
        const result = apply();
        assert.equal(result.status, 1);
        assert.match(result.stderr, /kubeadm-config would mount \/var\/log\/kubernetes\/audit twice \(extraVolumes audit-log,audit-logs\): set controlPlaneFlags\.audit\.policyVolumeName \/ logVolumeName/);
        assert.match(result.stderr, /WARNING: kubeadm-config also mounts the file \/etc\/kubernetes\/audit-policy\.yaml into the apiserver \(extraVolume audit\)/);
        assert.deepEqual(kubeadmPhases(), [], "nothing uploaded, nothing regenerated");
        assert.equal(cluster.state().configmaps!["kube-system/kubeadm-config"].data.ClusterConfiguration, fixture("v1beta4"));
    });

    it("the lab's expectations name the flags and the mounts", () => {
        assert.ok(existsSync(PATCHER), "issue 3's patcher is there");
        const e = flagExpectations(LAB_FLAGS);
        assert.ok(e.includes("oidc-groups-claim=groups"));
        assert.ok(e.includes("/etc/kubernetes/audit/policy.yaml:ro"));
        assert.ok(e.includes("snapshot-count=10000"));
    });
});
