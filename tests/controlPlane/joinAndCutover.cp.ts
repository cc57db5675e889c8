/**
 * Join material (phases 2 and 3) and the ConfigMap cut-overs (phase 1.5's cluster-info, phase
 * 4's kube-proxy) for real, on a 3-master control plane whose apiserver certificates carry the
 * VIP (the state phase 0 and the joins leave), behind a real HAProxy on the VIP with this
 * project's config: the scripts exactly as the components ship them (joinMaterialCommand and
 * configMapCutoverScript: the same command lines and stdin), run as root on the existing master
 * with real kubeadm and kubectl, on the objects kubeadm made. kubeadm-config's move to the VIP
 * is phase 0's (tests/controlPlane/retrofit.cp.ts).
 * STAND-INS: the kubelet (static pods), sudo, and for kube-proxy's rollout the DaemonSet
 * controller (no node runs its pods here).
 */
import { strict as assert } from "assert";
import { createDecipheriv, randomBytes } from "crypto";
import { readFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { configMapCutoverScript } from "../../components/clusterOps/cutover";
import { rootScriptCommand } from "../../components/clusterOps/remote";
import { secretEnvText } from "../../components/kubeadm/bundle";
import { joinMaterialCommand } from "../../components/kubeadm/controlPlaneJoin";
import { withSecretStdin } from "../../components/remoteStep";
import { scriptText } from "../../components/scriptFile";
import { ControlPlane, TEST_VIP } from "../helpers/controlPlane/controlPlane";
import { LanHaproxy, projectHaproxyConfig, serverStatus, startLanHaproxy } from "../helpers/controlPlane/loadBalancer";
import { withDaemonSetController } from "../helpers/controlPlane/standIns";
import { certNotAfter } from "./helpers/certs";
import { testTopology } from "./helpers/topology";

type Json = Record<string, any>;

const topology = testTopology("4");
const VIP_URL = `https://${TEST_VIP}:6443`;

/** A bootstrap token and a certificate key, as @pulumi/random makes them for the stack. */
function freshSecrets(): { token: string; key: string } {
    const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    const pick = (n: number) => Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join("");
    return { token: `${pick(6)}.${pick(16)}`, key: randomBytes(32).toString("hex") };
}

/** kubeadm-certs entries are AES-256-GCM with the certificate key: nonce, then ciphertext and tag. */
function decryptKubeadmCert(data: string, keyHex: string): Buffer {
    const raw = Buffer.from(data, "base64");
    const nonce = raw.subarray(0, 12);
    const tag = raw.subarray(raw.length - 16);
    const decipher = createDecipheriv("aes-256-gcm", Buffer.from(keyHex, "hex"), nonce);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
}

const b64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

describe("join material and ConfigMap cut-overs for real: the shipped scripts with kubeadm 1.34 and kubectl on a 3-master control plane behind HAProxy on the VIP (STAND-INS: kubelet, sudo, DaemonSet controller)", function () {
    this.timeout(1_200_000);
    let cp: ControlPlane | undefined;
    let lb: LanHaproxy | undefined;

    before(async () => {
        cp = await ControlPlane.start({ masters: 3, clusterConfiguration: (cc) => cc.apiServer.certSANs.push(TEST_VIP, "k8s-apiserver.viktorbarzin.lan") });
        lb = await startLanHaproxy(cp, "vip", projectHaproxyConfig(cp));
    });
    after(async () => {
        await cp?.teardown();
    });

    describe("join material (join-material.sh as ControlPlaneJoin ships it)", () => {
        const step = joinMaterialCommand({ sshUser: topology.ssh.user, ttl: topology.kubeadm.joinTokenTtl, node: topology.newMasters[0].name });
        const secrets = freshSecrets();
        const { stdin } = withSecretStdin(step, secretEnvText({ KUBEADM_TOKEN: secrets.token, KUBEADM_CERTIFICATE_KEY: secrets.key }));
        const tokenId = secrets.token.split(".")[0];
        let first: Json;

        const run = (commandLine: string) => cp!.onMaster(cp!.first, ["bash", "-c", commandLine], { input: stdin, timeoutMs: 300_000 });

        it("uploads the certificates under the key, creates the token with the stack's TTL, prints the CA hash kubeadm itself computes, and never the secrets", async () => {
            const c = cp!;
            const started = Date.now();
            const r = await run(step.create);
            assert.equal(r.code, 0, r.stderr);
            for (const secret of [secrets.token.split(".")[1], secrets.key]) assert.ok(!(r.stdout + r.stderr).includes(secret), "a secret was printed");
            first = JSON.parse(r.stdout.trim()) as Json;
            assert.equal(first.tokenId, tokenId);

            // kubeadm's own join command names the hash of the same CA.
            const join = await c.kubeadmOk(c.first, ["token", "create", "--print-join-command", "--ttl", "5m"]);
            const kubeadmHash = /--discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})/.exec(join)![1];
            assert.equal(first.caCertHash, kubeadmHash);
            await c.kubeadmOk(c.first, ["token", "delete", /--token (\S+)/.exec(join)![1].split(".")[0]]);

            // The token as the apiserver holds it: TTL kubeadm.joinTokenTtl (30m), a join token's usages.
            const token = await c.kubectlJson(["-n", "kube-system", "get", "secret", `bootstrap-token-${tokenId}`]);
            const expires = Date.parse(b64(token.data.expiration));
            assert.equal(new Date(expires).toISOString().replace(".000", ""), first.tokenExpires);
            const ttlMinutes = (expires - started) / 60_000;
            assert.ok(ttlMinutes > 29 && ttlMinutes <= 30.5, `TTL ${ttlMinutes.toFixed(1)} min`);
            assert.equal(b64(token.data["usage-bootstrap-authentication"]), "true");
            assert.equal(b64(token.data["usage-bootstrap-signing"]), "true");
            assert.equal(b64(token.data.description), "ha-control-plane join of k8s-master-2");

            // kubeadm-certs: present, owned by kubeadm's 2-hour token, and the key opens it.
            const certs = await c.kubectlJson(["-n", "kube-system", "get", "secret", "kubeadm-certs"]);
            const owner = certs.metadata.ownerReferences[0];
            assert.equal(owner.kind, "Secret");
            const ownerToken = await c.kubectlJson(["-n", "kube-system", "get", "secret", owner.name]);
            const lifeMinutes = (Date.parse(b64(ownerToken.data.expiration)) - started) / 60_000;
            assert.ok(lifeMinutes > 115 && lifeMinutes <= 121, `kubeadm-certs expire in ${lifeMinutes.toFixed(1)} min`);
            const ca = readFileSync(path.join(c.first.host.kubernetesDir, "pki", "ca.crt"));
            assert.deepEqual(decryptKubeadmCert(certs.data["ca.crt"], secrets.key), ca);
            assert.deepEqual(decryptKubeadmCert(certs.data["etcd-ca.crt"], secrets.key), readFileSync(path.join(c.first.host.kubernetesDir, "pki", "etcd", "ca.crt")));
            assert.ok(certNotAfter(ca) > new Date());
        });

        it("a re-run (the stack's --replace of expired material) recreates the token with a fresh TTL", async () => {
            const c = cp!;
            const before = await c.kubectlJson(["-n", "kube-system", "get", "secret", `bootstrap-token-${tokenId}`]);
            await new Promise((r) => setTimeout(r, 1100));
            const r = await run(step.create);
            assert.equal(r.code, 0, r.stderr);
            const after = await c.kubectlJson(["-n", "kube-system", "get", "secret", `bootstrap-token-${tokenId}`]);
            assert.notEqual(after.metadata.uid, before.metadata.uid);
            assert.ok(Date.parse(b64(after.data.expiration)) > Date.parse(b64(before.data.expiration)));
        });

        it("revoke (the delete) removes the token; a second revoke finds it gone", async () => {
            const c = cp!;
            let r = await run(step.delete!);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stderr, new RegExp(`deleted bootstrap token ${tokenId}`));
            const gone = await c.kubectl(["-n", "kube-system", "get", "secret", `bootstrap-token-${tokenId}`]);
            assert.match(gone.stderr, /NotFound/);
            r = await run(step.delete!);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stderr, /is already gone/);
        });
    });

    /** The script on the existing master as ConfigMapCutover runs it: its command line, the script on stdin. */
    function cutover(configMap: string, roll?: string) {
        const spec = configMapCutoverScript(topology, configMap, roll);
        const run = (args: readonly string[]) => cp!.onMaster(cp!.first, ["bash", "-c", rootScriptCommand(topology.ssh.user, args)], { input: scriptText(spec.script), env: { POLL_SECONDS: "1" }, timeoutMs: 300_000 });
        return { create: () => run(spec.args), destroy: () => run(spec.deleteArgs) };
    }

    /** The server a kubeconfig stored in a ConfigMap names. */
    async function serverIn(ns: string, name: string, key: string): Promise<{ server: string; cm: Json }> {
        const cm = await cp!.kubectlJson(["-n", ns, "get", "configmap", name]);
        return { server: (parse(cm.data[key]) as Json).clusters[0].cluster.server, cm };
    }

    describe("cluster-info to the VIP and back (phase 1.5)", () => {
        const step = cutover("kube-public/cluster-info");

        it("kubeadm's cluster-info names the master; the flip waits for the VIP's /readyz and points it there, recording what it replaced", async () => {
            assert.equal((await serverIn("kube-public", "cluster-info", "kubeconfig")).server, "https://198.51.100.11:6443");
            const r = await step.create();
            assert.equal(r.code, 0, r.stderr);
            const { server, cm } = await serverIn("kube-public", "cluster-info", "kubeconfig");
            assert.equal(server, VIP_URL);
            // The record lives where kubeadm upgrade does not touch it (kube-system/ha-control-plane-cutover).
            assert.equal(cm.metadata.annotations?.["ha-control-plane/pre-cutover"], undefined);
            const records = await cp!.kubectlJson(["-n", "kube-system", "get", "configmap", "ha-control-plane-cutover"]);
            assert.equal(records.data["kube-public.cluster-info"], `https://198.51.100.11:6443 ${VIP_URL}`);
            // (Its jws-kubeconfig-<token> signatures come from kube-controller-manager's bootstrap signer, which re-signs on change; none runs here.)
            assert.match(r.stdout, /configmap kube-public\/cluster-info: server https:\/\/198\.51\.100\.11:6443 -> https:\/\/198\.51\.100\.99:6443/);
        });

        it("a second run changes nothing", async () => {
            const before = (await serverIn("kube-public", "cluster-info", "kubeconfig")).cm.metadata.resourceVersion;
            const r = await step.create();
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /already at https:\/\/198\.51\.100\.99:6443/);
            assert.equal((await serverIn("kube-public", "cluster-info", "kubeconfig")).cm.metadata.resourceVersion, before);
        });

        it("restore (the delete) puts exactly the master's URL back and drops the record; again, nothing to do", async () => {
            let r = await step.destroy();
            assert.equal(r.code, 0, r.stderr);
            const { server, cm } = await serverIn("kube-public", "cluster-info", "kubeconfig");
            assert.equal(server, "https://198.51.100.11:6443");
            assert.equal(cm.metadata.annotations?.["ha-control-plane/pre-cutover"], undefined);
            const records = await cp!.kubectlJson(["-n", "kube-system", "get", "configmap", "ha-control-plane-cutover"]);
            assert.equal(records.data?.["kube-public.cluster-info"], undefined);
            r = await step.destroy();
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /no cut-over record, nothing to restore/);
        });

        it("refuses to touch a server it does not know", async () => {
            const c = cp!;
            const { cm } = await serverIn("kube-public", "cluster-info", "kubeconfig");
            const edited = { ...cm, data: { ...cm.data, kubeconfig: cm.data.kubeconfig.replace("https://198.51.100.11:6443", "https://198.51.100.12:6443") } };
            await c.kubectlOk(["replace", "-f", "-"], { input: JSON.stringify(edited) });
            try {
                const r = await step.create();
                assert.equal(r.code, 1);
                assert.match(r.stderr, /names server https:\/\/198\.51\.100\.12:6443, which is none of https:\/\/198\.51\.100\.11:6443 \(nor https:\/\/198\.51\.100\.99:6443\): refusing to touch it/);
            } finally {
                const now = (await serverIn("kube-public", "cluster-info", "kubeconfig")).cm;
                await c.kubectlOk(["replace", "-f", "-"], { input: JSON.stringify({ ...now, data: { ...now.data, kubeconfig: cm.data.kubeconfig } }) });
            }
        });
    });

    describe("kube-proxy to the VIP and back (phase 4), its DaemonSet rolled (STAND-IN DaemonSet controller)", () => {
        const step = cutover("kube-system/kube-proxy", "kube-system/kube-proxy");
        const rollStamp = async () => (await cp!.kubectlJson(["-n", "kube-system", "get", "daemonset", "kube-proxy"])).spec.template.metadata.annotations?.["ha-control-plane/kubeconfig-server"];

        it("points kubeadm's kube-proxy kubeconfig at the VIP and rolls the DaemonSet to pick it up", async () => {
            assert.equal((await serverIn("kube-system", "kube-proxy", "kubeconfig.conf")).server, "https://198.51.100.11:6443");
            const r = await withDaemonSetController(cp!, "kube-system", "kube-proxy", () => step.create());
            assert.equal(r.code, 0, r.stderr);
            assert.equal((await serverIn("kube-system", "kube-proxy", "kubeconfig.conf")).server, VIP_URL);
            assert.equal(await rollStamp(), VIP_URL);
            assert.match(r.stdout, /daemonset kube-system\/kube-proxy: rolling to pick up https:\/\/198\.51\.100\.99:6443/);
        });

        it("a second run changes nothing: same ConfigMap, no new DaemonSet generation", async () => {
            const ds = (await cp!.kubectlJson(["-n", "kube-system", "get", "daemonset", "kube-proxy"])).metadata.generation;
            const cm = (await serverIn("kube-system", "kube-proxy", "kubeconfig.conf")).cm.metadata.resourceVersion;
            const r = await withDaemonSetController(cp!, "kube-system", "kube-proxy", () => step.create());
            assert.equal(r.code, 0, r.stderr);
            assert.equal((await cp!.kubectlJson(["-n", "kube-system", "get", "daemonset", "kube-proxy"])).metadata.generation, ds);
            assert.equal((await serverIn("kube-system", "kube-proxy", "kubeconfig.conf")).cm.metadata.resourceVersion, cm);
        });

        it("restore puts the master's URL back and rolls again", async () => {
            const r = await withDaemonSetController(cp!, "kube-system", "kube-proxy", () => step.destroy());
            assert.equal(r.code, 0, r.stderr);
            assert.equal((await serverIn("kube-system", "kube-proxy", "kubeconfig.conf")).server, "https://198.51.100.11:6443");
            assert.equal(await rollStamp(), "https://198.51.100.11:6443");
        });
    });

    describe("afterwards", () => {
        it("the VIP served throughout: every master UP in HAProxy", async () => {
            const status = await serverStatus(lb!);
            assert.deepEqual([...status.entries()].sort(), cp!.masters.map((m) => [m.name, "UP"]));
        });
    });
});
