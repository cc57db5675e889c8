/**
 * Phase 0 for real: scripts/kubeadm/retrofit.sh exactly as components/kubeadm/retrofit.ts ships
 * it (retrofitApplyStep: the same `create`/`delete` command lines, the same bundle on stdin), run
 * as root on a master whose kube-apiserver, etcd, kubeadm and kubectl are the real ones
 * (tests/helpers/controlPlane). STAND-INS: the kubelet (it restarts the apiserver's static pod
 * from its manifest when the script stops it through the stand-in crictl) and sudo.
 */
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { retrofitApplyStep } from "../../components/kubeadm/retrofit";
import { ControlPlane, TEST_VIP } from "../helpers/controlPlane/controlPlane";
import { certSans } from "./helpers/certs";
import { testTopology } from "./helpers/topology";

type Json = Record<string, any>;

const VIP_SANS = [`IP:${TEST_VIP}`, "DNS:k8s-apiserver.viktorbarzin.lan"];

async function liveClusterConfiguration(cp: ControlPlane): Promise<{ cc: Json; resourceVersion: string; text: string }> {
    const cm = await cp.kubectlJson(["-n", "kube-system", "get", "configmap", "kubeadm-config"]);
    return { cc: parse(cm.data.ClusterConfiguration) as Json, resourceVersion: cm.metadata.resourceVersion, text: cm.data.ClusterConfiguration };
}

function apiserverCert(cp: ControlPlane): Buffer {
    return readFileSync(path.join(cp.first.host.kubernetesDir, "pki", "apiserver.crt"));
}

/** The step's command line on the master, its bundle on stdin (what the engine sends over SSH). */
function runStep(cp: ControlPlane, stdin: string, commandLine: string) {
    return cp.onMaster(cp.first, ["bash", "-c", commandLine], { input: stdin, env: { HACP_POLL_SECONDS: "1" }, timeoutMs: 600_000 });
}

/** What an apply must store: v1beta4 (kubeadm uploads in its own version), the VIP endpoint, the VIP and DNS name among the SANs. */
async function retrofittedConfiguration(cp: ControlPlane, run: { code: number | null; stderr: string }): Promise<Json> {
    assert.equal(run.code, 0, run.stderr);
    const { cc } = await liveClusterConfiguration(cp);
    assert.equal(cc.apiVersion, "kubeadm.k8s.io/v1beta4");
    assert.equal(cc.controlPlaneEndpoint, `${TEST_VIP}:6443`);
    assert.deepEqual(cc.apiServer.certSANs, ["k8s-master.viktorbarzin.lan", TEST_VIP, "k8s-apiserver.viktorbarzin.lan"]);
    return cc;
}

/** What a restore (the step's delete) must leave: the original endpoint, SANs and certificate, served, /readyz ok. */
async function assertRestored(cp: ControlPlane, run: { code: number | null; stderr: string }, originalCert: Buffer): Promise<void> {
    assert.equal(run.code, 0, run.stderr);
    const { cc } = await liveClusterConfiguration(cp);
    assert.equal(cc.controlPlaneEndpoint, undefined);
    assert.deepEqual(cc.apiServer.certSANs, ["k8s-master.viktorbarzin.lan"]);
    assert.deepEqual(apiserverCert(cp), originalCert);
    assert.deepEqual(certSans(await cp.servedCertificate(cp.first)), certSans(originalCert));
    assert.equal(await cp.readyz(cp.first), "ok");
}

function standInCalls(cp: ControlPlane): string[] {
    try {
        return readFileSync(path.join(cp.first.kubelet.stateDir, "calls.log"), "utf8").split("\n").filter(Boolean);
    } catch {
        return [];
    }
}

describe("phase 0 for real, v1beta4: retrofit.sh as the component ships it, on a real kube-apiserver 1.34 (STAND-IN kubelet restarts the static pod; stand-in crictl, systemctl, sudo)", function () {
    this.timeout(900_000);
    let cp: ControlPlane | undefined;
    const topology = testTopology("0");
    const step = retrofitApplyStep(topology);
    let originalCert: Buffer;
    let original: Json;

    before(async () => {
        cp = await ControlPlane.start({ masters: 1 });
        originalCert = apiserverCert(cp);
        original = (await liveClusterConfiguration(cp)).cc;
    });
    after(async () => {
        await cp?.teardown();
    });

    it("uploads the patched ClusterConfiguration through kubeadm, regenerates the certificate (VIP and DNS name in, no SAN lost), restarts the apiserver, /readyz ok", async () => {
        const c = cp!;
        const before = c.first.kubelet.running("kube-apiserver")!;
        const run = await runStep(c, step.stdin, step.create);
        const cc = await retrofittedConfiguration(c, run);
        assert.deepEqual(cc.apiServer.extraArgs, original.apiServer.extraArgs, "other fields kept");
        assert.deepEqual(cc.networking, original.networking);

        const oldSans = certSans(originalCert);
        const newSans = certSans(apiserverCert(c));
        for (const san of oldSans) assert.ok(newSans.includes(san), `old SAN ${san} kept (${newSans.join(" ")})`);
        for (const san of VIP_SANS) assert.ok(newSans.includes(san), `${san} added (${newSans.join(" ")})`);
        assert.deepEqual(certSans(await c.servedCertificate(c.first)), newSans, "the restarted apiserver serves the new certificate");

        const after = c.first.kubelet.running("kube-apiserver")!;
        assert.notEqual(after.pid, before.pid);
        assert.equal(after.restarts, before.restarts + 1, "restarted once");
        assert.ok(standInCalls(c).includes(`crictl stop --timeout 30 ${before.containerId}`), standInCalls(c).join("\n"));
        assert.equal(await c.readyz(c.first), "ok");
        assert.match(run.stdout, new RegExp(`^retrofit: controlPlaneEndpoint=${TEST_VIP.replace(/\./g, "\\.")}:6443 certSANs=${TEST_VIP.replace(/\./g, "\\.")},k8s-apiserver\\.viktorbarzin\\.lan certificate=`, "m"));
        assert.match(run.stderr, /upload-config\] Storing the configuration used in ConfigMap "kubeadm-config"/, "kubeadm itself stored it");
    });

    it("a second run changes nothing: same kubeadm-config object, same certificate, no restart", async () => {
        const c = cp!;
        const { resourceVersion } = await liveClusterConfiguration(c);
        const cert = apiserverCert(c);
        const before = c.first.kubelet.running("kube-apiserver")!;
        const run = await runStep(c, step.stdin, step.create);
        assert.equal(run.code, 0, run.stderr);
        assert.equal((await liveClusterConfiguration(c)).resourceVersion, resourceVersion);
        assert.deepEqual(apiserverCert(c), cert);
        assert.equal(c.first.kubelet.running("kube-apiserver")!.pid, before.pid);
        assert.match(run.stderr, /already has controlPlaneEndpoint/);
        assert.match(run.stderr, /already carries .*: no restart/);
    });

    it("restore (the delete) puts back the original certificate, endpoint and SANs, and the apiserver serves again", async () => {
        const c = cp!;
        const run = await runStep(c, step.stdin, step.delete);
        await assertRestored(c, run, originalCert);
        assert.match(run.stdout, /restored the original controlPlaneEndpoint, certSANs and apiserver certificate/);
    });

    it("the new apiserver does not come back (the stand-in kubelet keeps it down): the script restores the previous certificate and ClusterConfiguration itself and fails", async () => {
        const c = cp!;
        // Shortest readiness wait the config allows, so the test does not sit out the default 300 s.
        const impatient = retrofitApplyStep(testTopology("0", (raw) => (raw.kubeadm = { ...raw.kubeadm, readyzTimeoutSeconds: 30 })));
        const certFile = path.join(c.first.host.kubernetesDir, "pki", "apiserver.crt");
        const hasVip = () => {
            try {
                return certSans(readFileSync(certFile)).includes(VIP_SANS[0]);
            } catch {
                return true; // being rewritten: not the old one
            }
        };
        c.first.kubelet.hold("kube-apiserver", hasVip);
        try {
            const run = await runStep(c, impatient.stdin, impatient.create);
            assert.equal(run.code, 1, run.stdout + run.stderr);
            assert.match(run.stderr, /the apiserver did not become ready with the new certificate: restoring the previous one \(seed 0\.5\)/);
            assert.match(run.stderr, /did not answer \/readyz within 30s after the certificate change; the previous certificate and ClusterConfiguration were restored and the apiserver is ready again/);
        } finally {
            c.first.kubelet.release("kube-apiserver");
        }
        const { cc } = await liveClusterConfiguration(c);
        assert.equal(cc.controlPlaneEndpoint, undefined, "kubeadm-config back to the original");
        assert.deepEqual(cc.apiServer.certSANs, ["k8s-master.viktorbarzin.lan"]);
        assert.deepEqual(apiserverCert(c), originalCert);
        assert.equal(await c.readyz(c.first), "ok");
        assert.deepEqual(certSans(await c.servedCertificate(c.first)), certSans(originalCert));
    });
});

/**
 * kubeadm 1.30's form of the same ClusterConfiguration (extraArgs as maps), as a cluster made by
 * an older kubeadm stores it until something re-uploads it.
 */
function asV1beta3(cc: Json): Json {
    const map = (list: { name: string; value: string }[] | undefined) => Object.fromEntries((list ?? []).map((e) => [e.name, e.value]));
    // Fields v1beta4 added: a strict v1beta3 decoder refuses them.
    const { caCertificateValidityPeriod, certificateValidityPeriod, encryptionAlgorithm, proxy, ...common } = cc;
    return {
        ...common,
        apiVersion: "kubeadm.k8s.io/v1beta3",
        apiServer: { ...cc.apiServer, extraArgs: map(cc.apiServer.extraArgs), timeoutForControlPlane: "4m0s" },
        controllerManager: { extraArgs: map(cc.controllerManager.extraArgs) },
        scheduler: { extraArgs: map(cc.scheduler.extraArgs) },
        etcd: { local: { ...cc.etcd.local, extraArgs: map(cc.etcd.local.extraArgs) } },
        dns: {},
    };
}

describe("phase 0 for real, v1beta3 stored by an older kubeadm: retrofit.sh as shipped, on kubeadm 1.34 (STAND-IN kubelet; stand-in crictl, systemctl, sudo)", function () {
    this.timeout(900_000);
    let cp: ControlPlane | undefined;
    const step = retrofitApplyStep(testTopology("0"));
    let originalCert: Buffer;

    before(async () => {
        cp = await ControlPlane.start({ masters: 1 });
        originalCert = apiserverCert(cp);
        const { cc } = await liveClusterConfiguration(cp);
        const v1beta3 = stringify(asV1beta3(cc), { sortMapEntries: true });
        const cm = await cp.kubectlJson(["-n", "kube-system", "get", "configmap", "kubeadm-config"]);
        cm.data.ClusterConfiguration = v1beta3;
        await cp.kubectlOk(["replace", "-f", "-"], { input: JSON.stringify(cm) });
    });
    after(async () => {
        await cp?.teardown();
    });

    it("reads v1beta3, kubeadm 1.34 accepts the patched v1beta3 document and stores it as v1beta4 with the endpoint and SANs; the certificate gains them", async () => {
        const c = cp!;
        assert.equal((await liveClusterConfiguration(c)).cc.apiVersion, "kubeadm.k8s.io/v1beta3");
        // kubeadm marshals what it uploads in its own API version: the v1beta3 input comes back v1beta4.
        const cc = await retrofittedConfiguration(c, await runStep(c, step.stdin, step.create));
        assert.deepEqual(cc.apiServer.extraArgs, [{ name: "authorization-mode", value: "Node,RBAC" }], "the v1beta3 map became v1beta4's list");
        const newSans = certSans(apiserverCert(c));
        for (const san of [...certSans(originalCert), ...VIP_SANS]) assert.ok(newSans.includes(san), `${san} in ${newSans.join(" ")}`);
        assert.equal(await c.readyz(c.first), "ok");
    });

    it("restore goes back to the original endpoint, SANs and certificate (stored now as v1beta4)", async () => {
        const c = cp!;
        const run = await runStep(c, step.stdin, step.delete);
        await assertRestored(c, run, originalCert);
    });
});
