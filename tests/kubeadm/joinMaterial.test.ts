/**
 * scripts/kubeadm/join-material.sh (phases 2 and 3, on the existing master: uploads the
 * certificates, mints the bootstrap token, prints the CA hash), as ControlPlaneJoin ships it (the
 * secrets exported in front of the bundle on stdin), with STUB kubeadm and kubectl
 * (tests/kubeadm/helpers/nodeHost.ts); openssl is real.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { createHash, createPublicKey } from "crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { secretEnvText } from "../../components/kubeadm/bundle";
import { joinMaterialCommand } from "../../components/kubeadm/controlPlaneJoin";
import { withSecretStdin } from "../../components/remoteStep";
import { parseJoinMaterial } from "@ha-control-plane/topology";
import type { ShippedCommand } from "../../components/shipped";
import { runShipped, withEditedLine } from "../helpers/shipped";
import { KEY, nodeHost, TOKEN } from "./helpers/nodeHost";
import type { StubRule } from "./helpers/stubs";

describe("join-material.sh as ControlPlaneJoin ships it (on the existing master; stub kubeadm and kubectl)", function () {
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
        const step = withSecretStdin(built, secretEnvText({ KUBEADM_TOKEN: TOKEN, KUBEADM_CERTIFICATE_KEY: KEY }));
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

    /** The step as ControlPlaneJoin builds it for k8s-master-2, with `secrets` exported after its #! line, as RemoteStep ships its secretStdin. */
    const shipped = (over: Partial<Parameters<typeof joinMaterialCommand>[0]> = {}, secrets: Record<string, string> = { KUBEADM_TOKEN: TOKEN, KUBEADM_CERTIFICATE_KEY: KEY }): ShippedCommand => {
        const built = joinMaterialCommand({ sshUser: "ubuntu", ttl: "30m", node: "k8s-master-2", ...over });
        return withSecretStdin(built, secretEnvText(secrets));
    };
    const noSecretIn = (r: { stdout: string; stderr: string }) => {
        for (const secret of [TOKEN, KEY, "0123456789abcdef"]) assert.ok(!(r.stdout + r.stderr).includes(secret), "no secret in the output");
    };

    it("shows a failing kubeadm's output with the secrets blanked out, and says which step failed (exit 1)", async () => {
        writeFileSync(path.join(host.k8s, "pki", "ca.crt"), readFileSync(path.join(host.root, "ca.crt")));
        const step = shipped();
        const cases: [StubRule[], RegExp][] = [
            [[{ bin: "kubeadm", args: "^init phase upload-certs", stdout: `error uploading with key ${KEY}\n`, exit: 1 }], /error uploading with key \[certificate-key\]\njoin-material: ERROR: kubeadm init phase upload-certs failed$/m],
            [[rules()[0], rules()[3], { bin: "kubeadm", args: "^token create ", stderr: `token ${TOKEN} rejected: invalid TTL\n`, exit: 1 }], /token \[token\] rejected: invalid TTL\njoin-material: ERROR: kubeadm token create failed$/m],
            [[rules()[0], { bin: "kubectl", args: "get secret bootstrap-token-abc123 -o name", stdout: "secret/bootstrap-token-abc123\n" }, { bin: "kubeadm", args: "^token delete ", stderr: "timed out waiting for the condition\n", exit: 1 }], /join-material: ERROR: could not delete the previous bootstrap token abc123$/m],
        ];
        for (const [answers, message] of cases) {
            rmSync(path.join(host.stubs.dir, "token"), { force: true });
            host.stubs.setRules(answers);
            const r = runShipped(step, env());
            assert.equal(r.status, 1, `${message}: ${r.stderr}`);
            assert.match(r.stderr, message);
            assert.equal(r.stdout, "", "no material printed");
            noSecretIn(r);
        }
    });

    it("fails (exit 1), printing no material, when the token is not there after kubeadm created it, or the cluster CA cannot be read (then before anything changes)", async () => {
        const step = shipped();
        rmSync(path.join(host.stubs.dir, "token"), { force: true });
        host.stubs.setRules([rules()[0], rules()[1], rules()[3], { bin: "kubectl", args: "get secret bootstrap-token-abc123 -o jsonpath", stderr: 'Error from server (NotFound): secrets "bootstrap-token-abc123" not found\n', exit: 1 }]);
        writeFileSync(path.join(host.k8s, "pki", "ca.crt"), readFileSync(path.join(host.root, "ca.crt")));
        const lost = runShipped(step, env());
        assert.equal(lost.status, 1, lost.stderr);
        assert.match(lost.stderr, /^join-material: ERROR: bootstrap token abc123 not found after kubeadm token create$/m);
        assert.equal(lost.stdout, "");

        rmSync(path.join(host.stubs.dir, "token"), { force: true });
        rmSync(path.join(host.k8s, "pki", "ca.crt"));
        host.stubs.setRules(rules());
        host.stubs.clearCalls();
        const noCa = runShipped(step, env());
        assert.equal(noCa.status, 1, noCa.stderr);
        assert.match(noCa.stderr, /^join-material: ERROR: cannot read the cluster CA .*\/pki\/ca\.crt$/m);
        assert.equal(noCa.stdout, "");
        assert.deepEqual(commands("kubeadm"), [], "refused before uploading the certificates or minting a token");
        noSecretIn(noCa);
    });

    it("revoke (the delete) of a token that is already gone: nothing to delete (exit 0)", async () => {
        rmSync(path.join(host.stubs.dir, "token"), { force: true });
        host.stubs.setRules(rules());
        const r = runShipped(shipped(), env(), { action: "delete" });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /^join-material: bootstrap token abc123 is already gone$/m);
        assert.deepEqual(commands("kubeadm"), []);
    });

    it("refuses what it is given wrong with exit 2 before anything runs, echoing no secret: values the component passes on, secrets, and lines it never builds", async () => {
        host.stubs.setRules(rules());
        host.stubs.clearCalls();
        const cases: [ShippedCommand, "create" | "delete", RegExp][] = [
            [shipped({ ttl: "1d" }), "create", /--ttl must be a duration such as 30m/],
            [shipped({}, { KUBEADM_TOKEN: "Not-A-Token.0123456789abcdef", KUBEADM_CERTIFICATE_KEY: KEY }), "create", /KUBEADM_TOKEN must be \[a-z0-9\]\{6\}\.\[a-z0-9\]\{16\}/],
            [shipped({}, { KUBEADM_TOKEN: "Not-A-Token.0123456789abcdef", KUBEADM_CERTIFICATE_KEY: KEY }), "delete", /KUBEADM_TOKEN must be \[a-z0-9\]\{6\}\.\[a-z0-9\]\{16\}/],
            [shipped({}, { KUBEADM_TOKEN: TOKEN, KUBEADM_CERTIFICATE_KEY: KEY.slice(2) }), "create", /KUBEADM_CERTIFICATE_KEY must be 64 hex digits/],
            [shipped({}, { KUBEADM_CERTIFICATE_KEY: KEY }), "create", /KUBEADM_TOKEN must be \[a-z0-9\]\{6\}\.\[a-z0-9\]\{16\}/],
            [withEditedLine(shipped(), (l) => l.replace(/ create .*$/, "")), "create", /create or revoke\?/],
            [withEditedLine(shipped(), (l) => l.replace(" create ", " mint ")), "create", /unknown command 'mint' \(create or revoke\)/],
            [withEditedLine(shipped(), (l) => l.replace("--ttl 30m", "--ttl")), "create", /--ttl needs a value/],
            [withEditedLine(shipped(), (l) => l.replace("--description", "--note")), "create", /unknown argument '--note'/],
            [withEditedLine(shipped(), (l) => `${l} --force`, "delete"), "delete", /unknown argument '--force'/],
        ];
        for (const [step, action, message] of cases) {
            const r = runShipped(step, env(), { action });
            assert.equal(r.status, 2, `${message}: ${r.stderr}`);
            assert.match(r.stderr, new RegExp(`^join-material: (${message.source}) \\(see the usage at the top of the script\\)$`, "m"));
            noSecretIn(r);
            assert.ok(!r.stderr.includes("Not-A-Token"), "a malformed token is not echoed either");
        }
        assert.deepEqual(host.stubs.calls(), [], "refused before anything runs");
    });
});
