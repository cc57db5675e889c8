/**
 * scripts/kubeadm/join-material.sh (phases 2 and 3, on the existing master: uploads the
 * certificates, mints the bootstrap token, prints the CA hash), with STUB kubeadm and kubectl
 * (tests/kubeadm/helpers/nodeHost.ts); openssl is real.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { createHash, createPublicKey } from "crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { withSecretEnv } from "../../components/kubeadm/bundle";
import { joinMaterialCommand } from "../../components/kubeadm/controlPlaneJoin";
import { parseJoinMaterial } from "../../topology";
import { runShipped } from "../helpers/shipped";
import { KEY, nodeHost, resolve, TOKEN } from "./helpers/nodeHost";
import { runScript } from "./helpers/stubs";

describe("join-material.sh (on the existing master)", function () {
    this.timeout(60_000);
    const host = nodeHost();
    const { env, commands } = host;
    let expectedHash: string;
    before(() => {
        spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(host.root, "ca.key"), "-out", path.join(host.root, "ca.crt"), "-subj", "/CN=kubernetes", "-days", "30"], { stdio: "ignore" });
        const spki = createPublicKey(readFileSync(path.join(host.root, "ca.crt"))).export({ type: "spki", format: "der" });
        expectedHash = `sha256:${createHash("sha256").update(spki).digest("hex")}`;
    });
    const rules = () => [
        { bin: "kubeadm", args: "^init phase upload-certs --upload-certs --certificate-key [0-9a-f]{64}$", stdout: `[upload-certs] Using certificate key:\n${KEY}\n` },
        { bin: "kubeadm", args: "^token create ", run: `touch "$STUB_DIR/token"; echo "$3"` },
        { bin: "kubeadm", args: "^token delete ", run: `rm -f "$STUB_DIR/token"; echo "bootstrap token deleted"` },
        { bin: "kubectl", args: "get secret bootstrap-token-abc123 -o name", run: `test -e "$STUB_DIR/token" && echo secret/bootstrap-token-abc123` },
        { bin: "kubectl", args: "get secret bootstrap-token-abc123 -o jsonpath=\\{\\.data\\.expiration\\}", stdout: Buffer.from("2030-01-01T00:30:00Z").toString("base64") },
    ];

    it("uploads the certificates, creates the token, prints the CA hash as JSON, and never prints a secret", async () => {
        writeFileSync(path.join(host.k8s, "pki", "ca.crt"), readFileSync(path.join(host.root, "ca.crt")));
        rmSync(path.join(host.stubs.dir, "token"), { force: true });
        host.stubs.setRules(rules());
        // As the program ships it: the secrets exported in front of the bundle, on stdin.
        const built = joinMaterialCommand({ sshUser: "ubuntu", ttl: "30m", node: "k8s-master-2" });
        const step = { ...built, stdin: await resolve(withSecretEnv({ KUBEADM_TOKEN: TOKEN, KUBEADM_CERTIFICATE_KEY: KEY }, built.stdin)) };
        const r = runShipped(step, env());
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(parseJoinMaterial(r.stdout), { caCertHash: expectedHash, tokenExpires: "2030-01-01T00:30:00Z", tokenId: "abc123" });
        for (const secret of [TOKEN, KEY, "0123456789abcdef"]) assert.ok(!(r.stdout + r.stderr).includes(secret), "no secret in the output");
        assert.deepEqual(commands("kubeadm"), [
            `init phase upload-certs --upload-certs --certificate-key ${KEY}`,
            `token create ${TOKEN} --ttl 30m --description ha-control-plane join of k8s-master-2`,
        ]);

        // Again (a replace of the material): the token is recreated, so its TTL starts afresh.
        host.stubs.clearCalls();
        const again = runShipped(step, env());
        assert.equal(again.status, 0, again.stderr);
        assert.deepEqual(commands("kubeadm").map((c) => c.split(" ").slice(0, 2).join(" ")), ["init phase", "token delete", "token create"]);

        const revoke = runShipped(step, env(), { action: "delete" });
        assert.equal(revoke.status, 0, revoke.stderr);
        assert.ok(!existsSync(path.join(host.stubs.dir, "token")));
    });

    it("shows a failing kubeadm's output with the secrets blanked out", () => {
        writeFileSync(path.join(host.k8s, "pki", "ca.crt"), readFileSync(path.join(host.root, "ca.crt")));
        host.stubs.setRules([{ bin: "kubeadm", args: "^init phase upload-certs", stdout: `error uploading with key ${KEY}\n`, exit: 1 }]);
        const r = runScript("kubeadm/join-material.sh", ["create", "--ttl", "30m"], env({ KUBEADM_TOKEN: TOKEN, KUBEADM_CERTIFICATE_KEY: KEY }));
        assert.equal(r.status, 1);
        assert.match(r.stderr, /error uploading with key \[certificate-key\]/);
        assert.ok(!r.stderr.includes(KEY));
    });

    it("refuses malformed secrets without echoing them", () => {
        const r = runScript("kubeadm/join-material.sh", ["create", "--ttl", "30m"], env({ KUBEADM_TOKEN: "Not-A-Token", KUBEADM_CERTIFICATE_KEY: KEY }));
        assert.equal(r.status, 2);
        assert.ok(!r.stderr.includes("Not-A-Token"));
    });
});
