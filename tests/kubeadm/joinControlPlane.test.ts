/**
 * scripts/kubeadm/join-control-plane.sh (phases 2 and 3, on the new master: kubeadm join
 * --control-plane through the VIP, the taint), as ControlPlaneJoin ships it, with STUB kubeadm
 * and kubectl (tests/kubeadm/helpers/nodeHost.ts).
 */
import { strict as assert } from "assert";
import { mkdirSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { secretEnvText } from "../../components/kubeadm/bundle";
import { joinCommand } from "../../components/kubeadm/controlPlaneJoin";
import { withSecretStdin } from "../../components/remoteStep";
import { runShipped, withEditedLine } from "../helpers/shipped";
import { KEY, nodeHost, TOKEN } from "./helpers/nodeHost";

describe("join-control-plane.sh (on the new master), as ControlPlaneJoin ships it (the material and secrets in front of stdin)", function () {
    this.timeout(60_000);
    const host = nodeHost();
    const { env, argvOf, commands } = host;
    const MATERIAL = JSON.stringify({ caCertHash: `sha256:${"ab".repeat(32)}`, tokenExpires: "2099-01-01T00:00:00Z", tokenId: "abc123" });
    const TAINT = "node-role.kubernetes.io/control-plane:NoSchedule";
    const joinRule = {
        bin: "kubeadm",
        args: "^join ",
        run: `mkdir -p "$KUBERNETES_DIR/manifests"; for f in etcd kube-apiserver kube-controller-manager kube-scheduler; do echo "kind: Pod" >"$KUBERNETES_DIR/manifests/$f.yaml"; done; touch "$KUBERNETES_DIR/kubelet.conf" "$KUBERNETES_DIR/admin.conf"; echo "[discovery] token $5 accepted"; echo "This node has joined the cluster and a new control plane instance was created"`,
    };
    const secretEnv = (over: Record<string, string> = {}) => ({ KUBEADM_TOKEN: TOKEN, KUBEADM_CERTIFICATE_KEY: KEY, JOIN_MATERIAL: MATERIAL, JOIN_MATERIAL_REFRESH: "pulumi up --replace 'urn:...:k8s-master-2-join-material'", ...over });
    /** The join step as ControlPlaneJoin builds it for k8s-master-2, with `secrets` exported after its #! line, as RemoteStep ships its secretStdin. */
    const step = (over: Partial<Parameters<typeof joinCommand>[0]> = {}, secrets = secretEnv()) => {
        const built = joinCommand({ sshUser: "ubuntu", endpoint: "10.0.20.99:6443", advertiseAddress: "10.0.20.110", node: "k8s-master-2", taint: "", timeoutSeconds: 30, ...over });
        return withSecretStdin(built, secretEnvText(secrets));
    };
    const noSecretIn = (r: { stdout: string; stderr: string }) => {
        for (const secret of [TOKEN, KEY, "0123456789abcdef"]) assert.ok(!(r.stdout + r.stderr).includes(secret), "no secret in the output");
    };

    it("runs kubeadm join through the VIP with the expected flags, prints no secret, and does nothing on a re-run", async () => {
        host.stubs.setRules([joinRule]);
        const shipped = step();
        const r = runShipped(shipped, env());
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(argvOf("kubeadm"), [[
            "join", "10.0.20.99:6443", "--control-plane",
            "--token", TOKEN,
            "--discovery-token-ca-cert-hash", `sha256:${"ab".repeat(32)}`,
            "--certificate-key", KEY,
            "--apiserver-advertise-address", "10.0.20.110",
            "--node-name", "k8s-master-2",
        ]]);
        assert.match(r.stderr, /\[discovery\] token \[token\] accepted/);
        noSecretIn(r);
        assert.match(r.stdout, /join: k8s-master-2 joined 10\.0\.20\.99:6443 as a control-plane member/);

        host.stubs.clearCalls();
        const again = runShipped(shipped, env());
        assert.equal(again.status, 0, again.stderr);
        assert.deepEqual(argvOf("kubeadm"), [], "already a member: kubeadm is not called");
        assert.match(again.stderr, /already is a control-plane member/);
        assert.equal(again.stdout.trim(), "join: k8s-master-2 is a control-plane member");
    });

    it("puts the control-plane taint the plan names on the node right after the join", async () => {
        host.stubs.setRules([joinRule, { bin: "kubectl", args: `taint node k8s-master-2 ${TAINT} --overwrite$` }]);
        const r = runShipped(step({ taint: TAINT }), env());
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(commands("kubectl"), [`taint node k8s-master-2 ${TAINT} --overwrite`]);
        assert.match(r.stderr, /k8s-master-2 carries the taint node-role\.kubernetes\.io\/control-plane:NoSchedule/);
    });

    it("refuses what it is given wrong with exit 2 before anything runs, echoing no secret", async () => {
        host.stubs.setRules([joinRule]);
        const cases: [ReturnType<typeof joinCommand>, RegExp][] = [
            [step({ endpoint: "10.0.20.99" }), /--endpoint must be HOST:PORT/],
            [step({ advertiseAddress: "10.0.20.310" }), /--advertise-address must be an IPv4 address/],
            [step({ node: "" }), /--node-name needs a value/],
            [step({ timeoutSeconds: 90.5 }), /--timeout must be whole seconds/],
            [step({ taint: "node-role.kubernetes.io/control-plane=NoSchedule" }), /--taint must be KEY:EFFECT \(NoSchedule, PreferNoSchedule or NoExecute\), not 'node-role\.kubernetes\.io\/control-plane=NoSchedule'/],
            [step({}, secretEnv({ KUBEADM_TOKEN: "Not-A-Token.0123456789abcdef" })), /KUBEADM_TOKEN must be \[a-z0-9\]\{6\}\.\[a-z0-9\]\{16\}/],
            [step({}, secretEnv({ KUBEADM_CERTIFICATE_KEY: KEY.slice(2) })), /KUBEADM_CERTIFICATE_KEY must be 64 hex digits/],
            [step({}, secretEnv({ JOIN_MATERIAL: "{}" })), /JOIN_MATERIAL must be join-material\.sh's JSON line/],
            [step({}, secretEnv({ JOIN_MATERIAL: MATERIAL.replace("2099-01-01T00:00:00Z", "next tuesday noon") })), /tokenExpires next tuesday noon is not a time/],
            [withEditedLine(step(), (l) => l.replace("--node-name k8s-master-2 ", "")), /--node-name is required/],
            [withEditedLine(step(), (l) => l.replace("--timeout", "--deadline")), /unknown argument '--deadline'/],
        ];
        for (const [shipped, message] of cases) {
            const r = runShipped(shipped, env());
            assert.equal(r.status, 2, `${message}: ${r.stderr}`);
            assert.match(r.stderr, new RegExp(`^join-control-plane: ${message.source} \\(see the usage at the top of the script\\)$`, "m"));
            noSecretIn(r);
            assert.ok(!r.stderr.includes("Not-A-Token"), "a malformed token is not echoed either");
        }
        assert.deepEqual(host.stubs.calls(), [], "refused before anything runs");
    });

    it("refuses (exit 1) a node with half a join on it, material for another token, and expired material (naming the command that refreshes it)", async () => {
        host.stubs.setRules([joinRule]);
        writeFileSync(path.join(host.k8s, "kubelet.conf"), "");
        const partial = runShipped(step(), env());
        assert.equal(partial.status, 1);
        assert.match(partial.stderr, /join-control-plane: ERROR: this node holds part of an earlier kubeadm run .*kubelet\.conf.*pulumi destroy --target <urn of k8s-master-2> --target-dependents/);
        rmSync(path.join(host.k8s, "kubelet.conf"));

        const other = runShipped(step({}, secretEnv({ JOIN_MATERIAL: MATERIAL.replace("abc123", "zzz999") })), env());
        assert.equal(other.status, 1);
        assert.match(other.stderr, /join-control-plane: ERROR: JOIN_MATERIAL was made for bootstrap token zzz999, not this one/);

        const expired = runShipped(step({}, secretEnv({ JOIN_MATERIAL: MATERIAL.replace("2099", "2001") })), env());
        assert.equal(expired.status, 1);
        assert.match(expired.stderr, /join material expired at 2001-01-01T00:00:00Z \(bootstrap token abc123; kubeadm\.joinTokenTtl\)\. Mint fresh material: pulumi up --replace 'urn:\.\.\.:k8s-master-2-join-material', then pulumi up again/);
        assert.deepEqual(argvOf("kubeadm"), []);
    });

    it("fails (exit 1) with the way back when kubeadm join fails, hangs past --timeout, or leaves no manifests; and when the taint cannot be put on", async () => {
        host.stubs.setRules([{ bin: "kubeadm", args: "^join ", stdout: `error execution phase preflight: token ${TOKEN} rejected\n`, exit: 1 }]);
        const failed = runShipped(step(), env());
        assert.equal(failed.status, 1);
        assert.match(failed.stderr, /token \[token\] rejected/);
        assert.match(failed.stderr, /join-control-plane: ERROR: kubeadm join failed \(exit 1\)\. Roll the master back \(pulumi destroy --target <urn of k8s-master-2> --target-dependents\), fix the cause, then pulumi up again/);
        noSecretIn(failed);

        host.stubs.setRules([{ bin: "kubeadm", args: "^join ", run: "sleep 3" }]);
        const hung = runShipped(step({ timeoutSeconds: 1 }), env());
        assert.equal(hung.status, 1);
        assert.match(hung.stderr, /join-control-plane: ERROR: kubeadm join did not finish within 1s/);

        host.stubs.setRules([{ bin: "kubeadm", args: "^join ", stdout: "This node has joined the cluster\n" }]);
        const empty = runShipped(step(), env());
        assert.equal(empty.status, 1);
        assert.match(empty.stderr, /join-control-plane: ERROR: kubeadm join returned but the control-plane manifests are missing under .*\/manifests/);

        rmSync(host.k8s, { recursive: true, force: true });
        mkdirSync(path.join(host.k8s, "pki"), { recursive: true });
        host.stubs.setRules([joinRule, { bin: "kubectl", args: "taint node ", stderr: "Error from server (Forbidden)\n", exit: 1 }]);
        const untainted = runShipped(step({ taint: TAINT }), env());
        assert.equal(untainted.status, 1);
        assert.match(untainted.stderr, /join-control-plane: ERROR: joined, but could not put the taint node-role\.kubernetes\.io\/control-plane:NoSchedule on k8s-master-2; put it there by hand \(kubectl taint node k8s-master-2 node-role\.kubernetes\.io\/control-plane:NoSchedule\), the gate checks it/);
    });
});
