/**
 * The per-node scripts of phases 0, 2 and 3 and of the rollback, with STUB kubeadm, kubectl,
 * qm, cloud-init, kubelet, containerd, systemctl, ping, ip, curl and iptables on PATH: kubeadm,
 * a live apiserver, Proxmox and a fresh VM cannot exist here, and nothing may touch this
 * machine's network or firewall. Each stub records its arguments; openssl, python3 and (for the
 * preflight's snapshot) etcd are real.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { createHash, createPublicKey } from "crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { withSecretEnv } from "../../components/kubeadm/bundle";
import { etcdMembershipCommand, joinCommand, joinMaterialCommand, nodeReadyCommand, nodeResetCommand } from "../../components/kubeadm/controlPlaneJoin";
import { preflightCommand, proxmoxSnapshotCommand } from "../../components/kubeadm/retrofit";
import { runShipped, withEditedLine } from "../helpers/shipped";
import { scriptText } from "../../components/scriptFile";
import type { ShippedCommand } from "../../components/shipped";
import { parseJoinMaterial } from "../../topology";
import { DAEMON_HOOK_TIMEOUT_MS, DaemonGroup } from "../helpers/daemons";
import { EtcdCluster } from "./helpers/etcdCluster";
import { pathWithout, PYTHON3, runScript, StubRule, Stubs } from "./helpers/stubs";

const TOKEN = "abc123.0123456789abcdef";
const KEY = "0f".repeat(32);
const resolve = <T>(o: pulumi.Output<T>) => new Promise<T>((r) => o.apply((v) => { r(v); return v; }));

describe("kubeadm node scripts with stub binaries (kubeadm, kubectl, qm, ... cannot run here)", function () {
    this.timeout(60_000);
    let stubs: Stubs;
    let root: string;
    let k8s: string;
    const env = (extra: Record<string, string> = {}) => stubs.env({ KUBERNETES_DIR: k8s, ...extra });
    const argvOf = (bin: string) => stubs.calls(bin).map((c) => c.argv);
    const commands = (bin: string) => stubs.calls(bin).map((c) => c.argv.filter((a) => !a.startsWith("--kubeconfig") && !a.startsWith("--request-timeout") && !a.endsWith("admin.conf")).join(" "));

    before(() => {
        stubs = new Stubs(["kubeadm", "kubectl", "qm", "cloud-init", "kubelet", "containerd", "systemctl", "swapon", "ping", "ip", "curl", "iptables", "ip6tables", "ipvsadm"]);
        root = mkdtempSync(path.join(tmpdir(), "hacp-node-"));
        k8s = path.join(root, "etc-kubernetes");
    });
    after(() => {
        if (root) rmSync(root, { recursive: true, force: true });
        stubs?.destroy();
    });
    beforeEach(() => {
        rmSync(k8s, { recursive: true, force: true });
        mkdirSync(path.join(k8s, "pki"), { recursive: true });
    });

    describe("node-ready.sh (phase 2/3, on the new master), as ControlPlaneJoin ships it", () => {
        type Over = Partial<Record<"kubeadm" | "kubelet" | "containerd" | "cloudInit" | "containerdActive" | "swap", { stdout?: string; stderr?: string; exit?: number; run?: string }>>;
        const good = (over: Over = {}) => [
            { bin: "cloud-init", args: "^status --wait$", ...(over.cloudInit ?? { stdout: "status: done\n" }) },
            { bin: "cloud-init", args: "^status --long$", stdout: "status: error\nerrors: apt failed\n" },
            { bin: "kubeadm", args: "^version -o short$", ...(over.kubeadm ?? { stdout: "v1.34.8\n" }) },
            { bin: "kubelet", args: "^--version$", ...(over.kubelet ?? { stdout: "Kubernetes v1.34.8\n" }) },
            { bin: "containerd", args: "^--version$", ...(over.containerd ?? { stdout: "containerd github.com/containerd/containerd/v2 2.2.1 \n" }) },
            { bin: "systemctl", args: "^is-active --quiet containerd$", ...(over.containerdActive ?? {}) },
            { bin: "swapon", args: "", ...(over.swap ?? { stdout: "" }) },
        ];
        const step = (over: Partial<Parameters<typeof nodeReadyCommand>[0]> = {}) =>
            nodeReadyCommand({ sshUser: "ubuntu", kubernetesVersion: "1.34.8", minContainerd: "2.2", cloudInitTimeoutSeconds: 1, ...over });
        const run = (shipped = step()) => runShipped(shipped, env());

        it("passes when cloud-init is done and the versions match", () => {
            stubs.setRules(good());
            const r = run();
            assert.equal(r.status, 0, r.stderr);
            assert.equal(r.stdout.trim(), "node-ready: cloud-init done, kubeadm v1.34.8, kubelet v1.34.8, containerd 2.2.1");
        });
        it("passes with a warning when cloud-init finished with recoverable errors (its exit 2)", () => {
            stubs.setRules(good({ cloudInit: { exit: 2 } }));
            const r = run();
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stderr, /node-ready: WARNING: cloud-init finished with recoverable errors: cloud-init status --long/);
        });
        it("refuses (exit 1) every way a node is not ready, saying what to do", () => {
            const cases: [Over, RegExp][] = [
                [{ cloudInit: { exit: 1 } }, /cloud-init failed \(exit 1\): status: error errors: apt failed/],
                [{ cloudInit: { run: "sleep 3" } }, /cloud-init still running after 1s \(see \/var\/log\/cloud-init-output\.log\)/],
                [{ kubeadm: { stderr: "bash: kubeadm: command not found\n", exit: 127 } }, /kubeadm is not installed \(the node-prepare step of cloud-init failed\?\)/],
                [{ kubeadm: { stdout: "v1.33.2\n" } }, /kubeadm is v1\.33\.2, the cluster runs v1\.34\.8: install kubeadm=1\.34\.8-\*/],
                [{ kubelet: { stdout: "Kubernetes v1.34.7\n" } }, /kubelet is v1\.34\.7, the cluster runs v1\.34\.8: install kubelet=1\.34\.8-\*/],
                [{ kubelet: { exit: 127 } }, /kubelet is missing, the cluster runs v1\.34\.8/],
                [{ containerd: { exit: 127 } }, /containerd is not installed/],
                [{ containerd: { stdout: "containerd containerd.io v2.1.4 abc\n" } }, /containerd is 2\.1\.4, at least 2\.2 is required/],
                [{ containerdActive: { exit: 3 } }, /containerd is not running: systemctl status containerd/],
                [{ swap: { stdout: "/swap.img file 4G 0B -2\n" } }, /swap is on; kubelet refuses to start with swap \(swapoff -a, and \/etc\/fstab\)/],
            ];
            for (const [over, message] of cases) {
                stubs.setRules(good(over));
                const r = run();
                assert.equal(r.status, 1, `${message}: ${r.stderr}`);
                assert.match(r.stderr, new RegExp(`^node-ready: ERROR: ${message.source}`, "m"));
            }
        });
        it("refuses what it is given wrong with exit 2 before looking at the node", () => {
            stubs.setRules(good());
            const cases: [ReturnType<typeof step>, RegExp][] = [
                [step({ kubernetesVersion: "v1.34.8" }), /--kubernetes-version must be X\.Y\.Z/],
                [step({ minContainerd: "2" }), /--min-containerd must be X\.Y or X\.Y\.Z/],
                [step({ cloudInitTimeoutSeconds: 1.5 }), /--cloud-init-timeout must be whole seconds/],
                [step({ kubernetesVersion: "" }), /--kubernetes-version needs a value/],
                [withEditedLine(step(), (l) => l.replace("--min-containerd", "--containerd")), /unknown argument '--containerd'/],
            ];
            for (const [shipped, message] of cases) {
                const r = run(shipped);
                assert.equal(r.status, 2, `${message}: ${r.stderr}`);
                assert.match(r.stderr, new RegExp(`^node-ready: ${message.source} \\(see the usage at the top of the script\\)$`, "m"));
            }
            assert.deepEqual(stubs.calls(), [], "nothing run on the node");
        });
    });

    describe("join-material.sh (on the existing master)", () => {
        let expectedHash: string;
        before(() => {
            spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(root, "ca.key"), "-out", path.join(root, "ca.crt"), "-subj", "/CN=kubernetes", "-days", "30"], { stdio: "ignore" });
            const spki = createPublicKey(readFileSync(path.join(root, "ca.crt"))).export({ type: "spki", format: "der" });
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
            writeFileSync(path.join(k8s, "pki", "ca.crt"), readFileSync(path.join(root, "ca.crt")));
            rmSync(path.join(stubs.dir, "token"), { force: true });
            stubs.setRules(rules());
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
            stubs.clearCalls();
            const again = runShipped(step, env());
            assert.equal(again.status, 0, again.stderr);
            assert.deepEqual(commands("kubeadm").map((c) => c.split(" ").slice(0, 2).join(" ")), ["init phase", "token delete", "token create"]);

            const revoke = runShipped(step, env(), { action: "delete" });
            assert.equal(revoke.status, 0, revoke.stderr);
            assert.ok(!existsSync(path.join(stubs.dir, "token")));
        });

        it("shows a failing kubeadm's output with the secrets blanked out", () => {
            writeFileSync(path.join(k8s, "pki", "ca.crt"), readFileSync(path.join(root, "ca.crt")));
            stubs.setRules([{ bin: "kubeadm", args: "^init phase upload-certs", stdout: `error uploading with key ${KEY}\n`, exit: 1 }]);
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

    describe("join-control-plane.sh (on the new master), as ControlPlaneJoin ships it (the material and secrets in front of stdin)", () => {
        const MATERIAL = JSON.stringify({ caCertHash: `sha256:${"ab".repeat(32)}`, tokenExpires: "2099-01-01T00:00:00Z", tokenId: "abc123" });
        const TAINT = "node-role.kubernetes.io/control-plane:NoSchedule";
        const joinRule = {
            bin: "kubeadm",
            args: "^join ",
            run: `mkdir -p "$KUBERNETES_DIR/manifests"; for f in etcd kube-apiserver kube-controller-manager kube-scheduler; do echo "kind: Pod" >"$KUBERNETES_DIR/manifests/$f.yaml"; done; touch "$KUBERNETES_DIR/kubelet.conf" "$KUBERNETES_DIR/admin.conf"; echo "[discovery] token $5 accepted"; echo "This node has joined the cluster and a new control plane instance was created"`,
        };
        const secretEnv = (over: Record<string, string> = {}) => ({ KUBEADM_TOKEN: TOKEN, KUBEADM_CERTIFICATE_KEY: KEY, JOIN_MATERIAL: MATERIAL, JOIN_MATERIAL_REFRESH: "pulumi up --replace 'urn:...:k8s-master-2-join-material'", ...over });
        /** The join step as ControlPlaneJoin builds it for k8s-master-2, with `secrets` exported in front of the script. */
        const step = async (over: Partial<Parameters<typeof joinCommand>[0]> = {}, secrets = secretEnv()) => {
            const built = joinCommand({ sshUser: "ubuntu", endpoint: "10.0.20.99:6443", advertiseAddress: "10.0.20.110", node: "k8s-master-2", taint: "", timeoutSeconds: 30, ...over });
            return { ...built, stdin: await resolve(withSecretEnv(secrets, built.stdin)) };
        };
        const noSecretIn = (r: { stdout: string; stderr: string }) => {
            for (const secret of [TOKEN, KEY, "0123456789abcdef"]) assert.ok(!(r.stdout + r.stderr).includes(secret), "no secret in the output");
        };

        it("runs kubeadm join through the VIP with the expected flags, prints no secret, and does nothing on a re-run", async () => {
            stubs.setRules([joinRule]);
            const shipped = await step();
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

            stubs.clearCalls();
            const again = runShipped(shipped, env());
            assert.equal(again.status, 0, again.stderr);
            assert.deepEqual(argvOf("kubeadm"), [], "already a member: kubeadm is not called");
            assert.match(again.stderr, /already is a control-plane member/);
            assert.equal(again.stdout.trim(), "join: k8s-master-2 is a control-plane member");
        });

        it("puts the control-plane taint the plan names on the node right after the join", async () => {
            stubs.setRules([joinRule, { bin: "kubectl", args: `taint node k8s-master-2 ${TAINT} --overwrite$` }]);
            const r = runShipped(await step({ taint: TAINT }), env());
            assert.equal(r.status, 0, r.stderr);
            assert.deepEqual(commands("kubectl"), [`taint node k8s-master-2 ${TAINT} --overwrite`]);
            assert.match(r.stderr, /k8s-master-2 carries the taint node-role\.kubernetes\.io\/control-plane:NoSchedule/);
        });

        it("refuses what it is given wrong with exit 2 before anything runs, echoing no secret", async () => {
            stubs.setRules([joinRule]);
            const cases: [Promise<ReturnType<typeof joinCommand>>, RegExp][] = [
                [step({ endpoint: "10.0.20.99" }), /--endpoint must be HOST:PORT/],
                [step({ advertiseAddress: "10.0.20.310" }), /--advertise-address must be an IPv4 address/],
                [step({ node: "" }), /--node-name needs a value/],
                [step({ timeoutSeconds: 90.5 }), /--timeout must be whole seconds/],
                [step({ taint: "node-role.kubernetes.io/control-plane=NoSchedule" }), /--taint must be KEY:EFFECT \(NoSchedule, PreferNoSchedule or NoExecute\), not 'node-role\.kubernetes\.io\/control-plane=NoSchedule'/],
                [step({}, secretEnv({ KUBEADM_TOKEN: "Not-A-Token.0123456789abcdef" })), /KUBEADM_TOKEN must be \[a-z0-9\]\{6\}\.\[a-z0-9\]\{16\}/],
                [step({}, secretEnv({ KUBEADM_CERTIFICATE_KEY: KEY.slice(2) })), /KUBEADM_CERTIFICATE_KEY must be 64 hex digits/],
                [step({}, secretEnv({ JOIN_MATERIAL: "{}" })), /JOIN_MATERIAL must be join-material\.sh's JSON line/],
                [step({}, secretEnv({ JOIN_MATERIAL: MATERIAL.replace("2099-01-01T00:00:00Z", "next tuesday noon") })), /tokenExpires next tuesday noon is not a time/],
                [step().then((s) => withEditedLine(s, (l) => l.replace("--node-name k8s-master-2 ", ""))), /--node-name is required/],
                [step().then((s) => withEditedLine(s, (l) => l.replace("--timeout", "--deadline"))), /unknown argument '--deadline'/],
            ];
            for (const [shipped, message] of cases) {
                const r = runShipped(await shipped, env());
                assert.equal(r.status, 2, `${message}: ${r.stderr}`);
                assert.match(r.stderr, new RegExp(`^join-control-plane: ${message.source} \\(see the usage at the top of the script\\)$`, "m"));
                noSecretIn(r);
                assert.ok(!r.stderr.includes("Not-A-Token"), "a malformed token is not echoed either");
            }
            assert.deepEqual(stubs.calls(), [], "refused before anything runs");
        });

        it("refuses (exit 1) a node with half a join on it, material for another token, and expired material (naming the command that refreshes it)", async () => {
            stubs.setRules([joinRule]);
            writeFileSync(path.join(k8s, "kubelet.conf"), "");
            const partial = runShipped(await step(), env());
            assert.equal(partial.status, 1);
            assert.match(partial.stderr, /join-control-plane: ERROR: this node holds part of an earlier kubeadm run .*kubelet\.conf.*pulumi destroy --target <urn of k8s-master-2> --target-dependents/);
            rmSync(path.join(k8s, "kubelet.conf"));

            const other = runShipped(await step({}, secretEnv({ JOIN_MATERIAL: MATERIAL.replace("abc123", "zzz999") })), env());
            assert.equal(other.status, 1);
            assert.match(other.stderr, /join-control-plane: ERROR: JOIN_MATERIAL was made for bootstrap token zzz999, not this one/);

            const expired = runShipped(await step({}, secretEnv({ JOIN_MATERIAL: MATERIAL.replace("2099", "2001") })), env());
            assert.equal(expired.status, 1);
            assert.match(expired.stderr, /join material expired at 2001-01-01T00:00:00Z \(bootstrap token abc123; kubeadm\.joinTokenTtl\)\. Mint fresh material: pulumi up --replace 'urn:\.\.\.:k8s-master-2-join-material', then pulumi up again/);
            assert.deepEqual(argvOf("kubeadm"), []);
        });

        it("fails (exit 1) with the way back when kubeadm join fails, hangs past --timeout, or leaves no manifests; and when the taint cannot be put on", async () => {
            stubs.setRules([{ bin: "kubeadm", args: "^join ", stdout: `error execution phase preflight: token ${TOKEN} rejected\n`, exit: 1 }]);
            const failed = runShipped(await step(), env());
            assert.equal(failed.status, 1);
            assert.match(failed.stderr, /token \[token\] rejected/);
            assert.match(failed.stderr, /join-control-plane: ERROR: kubeadm join failed \(exit 1\)\. Roll the master back \(pulumi destroy --target <urn of k8s-master-2> --target-dependents\), fix the cause, then pulumi up again/);
            noSecretIn(failed);

            stubs.setRules([{ bin: "kubeadm", args: "^join ", run: "sleep 3" }]);
            const hung = runShipped(await step({ timeoutSeconds: 1 }), env());
            assert.equal(hung.status, 1);
            assert.match(hung.stderr, /join-control-plane: ERROR: kubeadm join did not finish within 1s/);

            stubs.setRules([{ bin: "kubeadm", args: "^join ", stdout: "This node has joined the cluster\n" }]);
            const empty = runShipped(await step(), env());
            assert.equal(empty.status, 1);
            assert.match(empty.stderr, /join-control-plane: ERROR: kubeadm join returned but the control-plane manifests are missing under .*\/manifests/);

            rmSync(k8s, { recursive: true, force: true });
            mkdirSync(path.join(k8s, "pki"), { recursive: true });
            stubs.setRules([joinRule, { bin: "kubectl", args: "taint node ", stderr: "Error from server (Forbidden)\n", exit: 1 }]);
            const untainted = runShipped(await step({ taint: TAINT }), env());
            assert.equal(untainted.status, 1);
            assert.match(untainted.stderr, /join-control-plane: ERROR: joined, but could not put the taint node-role\.kubernetes\.io\/control-plane:NoSchedule on k8s-master-2; put it there by hand \(kubectl taint node k8s-master-2 node-role\.kubernetes\.io\/control-plane:NoSchedule\), the gate checks it/);
        });
    });

    describe("reset-node.sh (rollback, on the node)", () => {
        it("kubeadm reset without touching etcd membership, CNI and iptables clean-up; a re-run only cleans again", () => {
            const cni = path.join(root, "cni-net.d");
            const cniState = path.join(root, "cni-state");
            for (const d of [cni, cniState]) mkdirSync(d, { recursive: true });
            writeFileSync(path.join(cni, "10-calico.conflist"), "{}");
            mkdirSync(path.join(cniState, "networks"), { recursive: true });
            mkdirSync(path.join(k8s, "manifests"), { recursive: true });
            writeFileSync(path.join(k8s, "kubelet.conf"), "");
            stubs.setRules([
                { bin: "kubeadm", args: "^reset ", run: `rm -rf "$KUBERNETES_DIR"/kubelet.conf "$KUBERNETES_DIR"/manifests "$KUBERNETES_DIR"/pki` },
                { bin: "ip", args: "^link show cni0$", stdout: "5: cni0: <BROADCAST>\n" },
                { bin: "ip", args: "^link show ", exit: 1 },
                { bin: "ip", args: "^link delete cni0$" },
                { bin: "iptables", args: "" },
                { bin: "ip6tables", args: "" },
                { bin: "ipvsadm", args: "^--clear$" },
            ]);
            const e = env({ CNI_CONF_DIR: cni, CNI_STATE_DIR: cniState });
            const r = runScript("kubeadm/reset-node.sh", ["--node-name", "k8s-master-3"], e);
            assert.equal(r.status, 0, r.stderr);
            assert.deepEqual(commands("kubeadm"), ["reset -f --skip-phases=remove-etcd-member"]);
            assert.deepEqual(readdirSync(cni), []);
            assert.deepEqual(readdirSync(cniState), []);
            assert.ok(commands("ip").includes("link delete cni0"));
            const ipt = commands("iptables");
            assert.deepEqual(ipt.slice(0, 3), ["-P INPUT ACCEPT", "-P FORWARD ACCEPT", "-P OUTPUT ACCEPT"], "policies opened before the flush");
            for (const table of ["filter", "nat", "mangle", "raw"]) assert.ok(ipt.includes(`-t ${table} -F`) && ipt.includes(`-t ${table} -X`), table);
            assert.equal(commands("ip6tables").length, ipt.length);

            stubs.clearCalls();
            const again = runScript("kubeadm/reset-node.sh", ["--node-name", "k8s-master-3"], e);
            assert.equal(again.status, 0, again.stderr);
            assert.deepEqual(commands("kubeadm"), []);
            assert.match(again.stderr, /already reset/);
        });
    });

    describe("reset-node-via-agent.sh (rollback, on the Proxmox node)", () => {
        const received = () => path.join(stubs.dir, "guest-stdin");
        const qm = (status: string, agent: number, guestExit = 0) => [
            status === "missing" ? { bin: "qm", args: "^status 206$", stderr: "Configuration file 'nodes/pve/qemu-server/206.conf' does not exist\n", exit: 2 } : { bin: "qm", args: "^status 206$", stdout: `status: ${status}\n` },
            { bin: "qm", args: "^agent 206 ping$", exit: agent },
            { bin: "qm", args: "^guest exec 206 ", run: `cat >"$STUB_DIR/guest-stdin"; printf '{ "exitcode" : ${guestExit}, "exited" : 1, "out-data" : "reset-node: k8s-master-3 reset\\\\n" }\\n'` },
        ];

        it("pipes reset-node.sh into the VM through the guest agent (as bundled by the program)", () => {
            stubs.setRules(qm("running", 0));
            // The rollback's last step: the delete of ControlPlaneJoin's node-reset, on the Proxmox node.
            const r = runShipped(nodeResetCommand({ pveSshUser: "root", vmId: 206, node: "k8s-master-3", timeoutSeconds: 300 }), env(), { action: "delete" });
            assert.equal(r.status, 0, r.stderr);
            assert.deepEqual(commands("qm"), ["status 206", "agent 206 ping", "guest exec 206 --timeout 300 --pass-stdin 1 -- bash -s -- --node-name k8s-master-3"]);
            assert.equal(readFileSync(received(), "utf8"), `${scriptText("kubeadm/reset-node.sh")}`);
            assert.match(r.stderr, /k8s-master-3 reset through the guest agent/);
        });

        it("tolerates a missing VM, a stopped VM, a silent agent and a failed reset (exit 0, with a warning)", () => {
            const cases: [ReturnType<typeof qm>, RegExp][] = [
                [qm("missing", 0), /VM 206 does not exist: nothing to reset/],
                [qm("stopped", 0), /VM 206 is not running/],
                [qm("running", 1), /WARNING: the guest agent of VM 206 does not answer: k8s-master-3 is unreachable/],
                [qm("running", 0, 1), /WARNING: the reset on k8s-master-3 did not complete \(1\)/],
            ];
            for (const [rules, message] of cases) {
                stubs.setRules(rules);
                const r = runScript("kubeadm/reset-node-via-agent.sh", ["--vmid", "206", "--node-name", "k8s-master-3"], env());
                assert.equal(r.status, 0, r.stderr);
                assert.match(r.stderr, message);
            }
            stubs.setRules(qm("running", 0));
            const check = runScript("kubeadm/reset-node-via-agent.sh", ["--check", "--vmid", "206", "--node-name", "k8s-master-3"], env());
            assert.equal(check.status, 0);
            assert.ok(!commands("qm").some((c) => c.startsWith("guest exec")), "--check never resets");
        });
    });

    describe("proxmox-snapshot.sh (phase 0, on the Proxmox node), as Retrofit ships it (stand-in qm)", () => {
        const rules: StubRule[] = [
            { bin: "qm", args: "^status 200$", stdout: "status: running\n" },
            { bin: "qm", args: "^listsnapshot 200$", run: `test -e "$STUB_DIR/snap" && echo '\`-> pre-ha-retrofit   2026-11-21 03:00:00     before the HA retrofit'; echo '    \`-> current                                You are here!'` },
            { bin: "qm", args: "^snapshot 200 pre-ha-retrofit ", run: `touch "$STUB_DIR/snap"` },
            { bin: "qm", args: "^delsnapshot 200 pre-ha-retrofit$", run: `rm -f "$STUB_DIR/snap"` },
        ];
        const step = (over: Partial<Parameters<typeof proxmoxSnapshotCommand>[0]> = {}) =>
            proxmoxSnapshotCommand({ pveSshUser: "root", vmId: 200, name: "pre-ha-retrofit", description: "before the HA retrofit", keep: true, ...over });
        const create = (shipped: ShippedCommand = step()) => runShipped(shipped, env());
        const remove = (shipped: ShippedCommand = step()) => runShipped(shipped, env(), { action: "delete" });
        beforeEach(() => rmSync(path.join(stubs.dir, "snap"), { force: true }));

        it("takes the snapshot once, keeps it on delete by default, deletes it when asked", () => {
            stubs.setRules(rules);
            const taken = create();
            assert.equal(taken.status, 0, taken.stderr);
            assert.ok(commands("qm").includes("snapshot 200 pre-ha-retrofit --description before the HA retrofit"));
            assert.equal(taken.stdout.trim(), "snapshot pre-ha-retrofit of VM 200");
            stubs.clearCalls();
            const again = create();
            assert.equal(again.status, 0, again.stderr);
            assert.match(again.stderr, /VM 200 already has snapshot pre-ha-retrofit; keeping it/);
            assert.ok(!commands("qm").some((c) => c.startsWith("snapshot ")), "a re-run keeps the first snapshot");
            const keep = remove();
            assert.equal(keep.status, 0);
            assert.match(keep.stderr, /keeping snapshot pre-ha-retrofit of VM 200 \(roll back with: qm rollback 200 pre-ha-retrofit/);
            assert.ok(existsSync(path.join(stubs.dir, "snap")));
            const deleted = remove(step({ keep: false }));
            assert.equal(deleted.status, 0, deleted.stderr);
            assert.match(deleted.stderr, /deleted snapshot pre-ha-retrofit of VM 200/);
            assert.ok(!existsSync(path.join(stubs.dir, "snap")));
            const gone = remove(step({ keep: false }));
            assert.equal(gone.status, 0, gone.stderr);
            assert.match(gone.stderr, /VM 200 has no snapshot pre-ha-retrofit: nothing to delete/);
        });

        it("fails (exit 1) on a VM that is not on the node, a qm that cannot list or take or delete snapshots, and a snapshot qm does not list after taking it", () => {
            const cases: [StubRule[], "create" | "delete", RegExp][] = [
                [[{ bin: "qm", args: "^status 200$", stderr: "Configuration file 'nodes/pve/qemu-server/200.conf' does not exist\n", exit: 2 }], "create", /VM 200 does not exist on this node/],
                [[rules[0], { bin: "qm", args: "^listsnapshot 200$", stderr: "got timeout\n", exit: 255 }], "create", /qm listsnapshot 200 failed/],
                [[rules[0], rules[1], { bin: "qm", args: "^snapshot 200 ", stderr: "snapshot feature is not available\n", exit: 255 }], "create", /qm snapshot 200 pre-ha-retrofit failed \(does the VM's storage support snapshots\?\)/],
                [[rules[0], rules[1], { bin: "qm", args: "^snapshot 200 " }], "create", /snapshot pre-ha-retrofit of VM 200 is not listed after qm snapshot/],
                [[rules[0], { bin: "qm", args: "^listsnapshot 200$", stdout: "`-> pre-ha-retrofit  2026-11-21 03:00:00  x\n" }, { bin: "qm", args: "^delsnapshot ", stderr: "VM is locked (snapshot)\n", exit: 255 }], "delete", /qm delsnapshot 200 pre-ha-retrofit failed/],
            ];
            for (const [answers, action, message] of cases) {
                stubs.setRules(answers);
                const r = action === "create" ? create() : remove(step({ keep: false }));
                assert.equal(r.status, 1, `${message}: ${r.stderr}`);
                assert.match(r.stderr, new RegExp(`^proxmox-snapshot: ERROR: ${message.source}$`, "m"));
            }
        });

        it("refuses what it is given wrong with exit 2 before asking qm", () => {
            stubs.setRules(rules);
            stubs.clearCalls();
            const cases: [ShippedCommand, "create" | "delete", RegExp][] = [
                [step({ vmId: -200 }), "create", /--vmid must be a VMID/],
                [step({ name: "pre.ha-retrofit" }), "delete", /--name must be a Proxmox snapshot name/],
                [step({ name: "9-lives" }), "create", /--name must be a Proxmox snapshot name/],
                [withEditedLine(step(), (l) => l.replace(/ create .*$/, "")), "create", /create or delete\?/],
                [withEditedLine(step(), (l) => l.replace(" create ", " take ")), "create", /unknown command 'take' \(create or delete\)/],
                [withEditedLine(step(), (l) => l.replace("--keep", "--keep-it"), "delete"), "delete", /unknown argument '--keep-it'/],
                [withEditedLine(step(), (l) => l.replace("--name pre-ha-retrofit --keep", "--keep --name"), "delete"), "delete", /--name needs a value/],
            ];
            for (const [shipped, action, message] of cases) {
                const r = action === "create" ? create(shipped) : remove(shipped);
                assert.equal(r.status, 2, `${message}: ${r.stderr}`);
                assert.match(r.stderr, new RegExp(`^proxmox-snapshot: ${message.source} \\(see the usage at the top of the script\\)$`, "m"));
            }
            assert.deepEqual(stubs.calls(), [], "qm is never asked");
        });
    });

    describe("preflight.sh (phase 0, on the existing master; real etcd for the snapshot)", () => {
        let etcd: EtcdCluster;
        let snapshots: string;
        const etcdDaemons = new DaemonGroup();
        before(async function () {
            this.timeout(DAEMON_HOOK_TIMEOUT_MS);
            etcd = await EtcdCluster.start(["k8s-master"], etcdDaemons);
            snapshots = path.join(root, "etcd-snapshots");
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
            stubs.setRules(rules());
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
                withoutPython = pathWithout(path.join(root, "path-without-python3"), (name) => name.startsWith("python3"));
                pythonOnly = path.join(root, "python3-only");
                mkdirSync(pythonOnly, { recursive: true });
                symlinkSync(PYTHON3, path.join(pythonOnly, "python3"));
            });
            after(() => bare?.destroy());
            const masterEnv = (python3: boolean) => bare.env({ KUBERNETES_DIR: k8s, ...etcd.env(), PATH: [bare.dir, ...(python3 ? [pythonOnly] : []), withoutPython].join(":") });
            const lacksPython3 = /python3 is not installed on this master; the etcd steps \(pre-join check, quorum guard, member removal, join gate\) read etcd's member list with it\. Install it: apt-get install python3/;

            it("the preflight refuses (exit 1) before anything else, naming python3 and what to install; with python3 added, the same PATH passes", () => {
                const lookup = spawnSync("sh", ["-c", "command -v python3"], { env: masterEnv(false), encoding: "utf8" });
                assert.ok(lookup.status !== 0 && lookup.stdout === "", `no python3 on that PATH: ${lookup.stdout}`);
                mkdirSync(snapshots, { recursive: true });
                writeFileSync(path.join(snapshots, "fresh.db"), "x");
                bare.setRules(rules());
                const refused = runShipped(preflight(false), masterEnv(false));
                assert.equal(refused.status, 1, refused.stderr);
                assert.match(refused.stderr, new RegExp(`^preflight: ERROR: ${lacksPython3.source}$`, "m"));
                assert.deepEqual(bare.calls(), [], "refused before asking the cluster anything");

                const ready = runShipped(preflight(false), masterEnv(true));
                assert.equal(ready.status, 0, ready.stderr);
                assert.equal(ready.stdout.trim(), "preflight: ready for phase 0");
            });

            it("the pre-join check refuses (exit 1) with the same message, not as an etcd that does not answer; with python3, it reads the real etcd's members", () => {
                const step = etcdMembershipCommand({ sshUser: "ubuntu", node: "k8s-master-2", peerUrl: "https://192.0.2.110:2380", protect: "k8s-master", drainTimeoutSeconds: 60, timeoutSeconds: 60 });
                const refused = runShipped(step, masterEnv(false));
                assert.equal(refused.status, 1, refused.stderr);
                assert.match(refused.stderr, new RegExp(`^control-plane-member: ERROR: ${lacksPython3.source}$`, "m"));
                assert.doesNotMatch(refused.stderr, /is etcd running/);

                const checked = runShipped(step, masterEnv(true));
                assert.equal(checked.status, 0, checked.stderr);
                assert.match(checked.stdout, /^pre-join: k8s-master /m);
            });
        });

        it("refuses an old snapshot (without --take-snapshot), a NotReady node, a busy address; accepts a VIP that is ours", () => {
            mkdirSync(snapshots, { recursive: true });
            for (const f of readdirSync(snapshots)) {
                const old = new Date(Date.now() - 48 * 3600_000);
                utimesSync(path.join(snapshots, f), old, old);
            }
            stubs.setRules(rules());
            const stale = runShipped(preflight(false), etcdEnv());
            assert.equal(stale.status, 1);
            assert.match(stale.stderr, /no etcd snapshot younger than 24h/);

            const fresh = path.join(snapshots, "fresh.db");
            writeFileSync(fresh, "x");
            stubs.setRules(rules({ notReady: true }));
            const notReady = runShipped(preflight(false), etcdEnv());
            assert.equal(notReady.status, 1);
            assert.match(notReady.stderr, /nodes not Ready: k8s-node1/);

            stubs.setRules(rules({ busy: "192.0.2.111" }));
            const busy = runShipped(preflight(false), etcdEnv());
            assert.equal(busy.status, 1);
            assert.match(busy.stderr, /addresses in use by something else: 192\.0\.2\.111 \(a new master's address\)/);

            stubs.setRules(rules({ busy: "192.0.2.99", vipOurs: true }));
            const ours = runShipped(preflight(false), etcdEnv());
            assert.equal(ours.status, 0, ours.stderr);
            assert.match(ours.stderr, /192\.0\.2\.99:6443 already serves this cluster's apiserver/);
        });
    });
});
