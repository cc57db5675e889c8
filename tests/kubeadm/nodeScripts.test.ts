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
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { withSecretEnv } from "../../components/kubeadm/bundle";
import { joinCommand, joinMaterialCommand, nodeResetCommand } from "../../components/kubeadm/controlPlaneJoin";
import { preflightCommand } from "../../components/kubeadm/retrofit";
import { runShipped } from "../helpers/shipped";
import { scriptText } from "../../components/scriptFile";
import { parseJoinMaterial } from "../../topology";
import { DAEMON_HOOK_TIMEOUT_MS, DaemonGroup } from "../helpers/daemons";
import { EtcdCluster } from "./helpers/etcdCluster";
import { runScript, Stubs } from "./helpers/stubs";

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

    describe("node-ready.sh (phase 2/3, on the new master)", () => {
        const good = (over: Partial<Record<"kubeadm" | "kubelet" | "containerd" | "cloudInit", { stdout?: string; exit?: number; run?: string }>> = {}) => [
            { bin: "cloud-init", args: "^status --wait$", ...(over.cloudInit ?? { stdout: "status: done\n" }) },
            { bin: "cloud-init", args: "^status --long$", stdout: "status: error\nerrors: apt failed\n" },
            { bin: "kubeadm", args: "^version -o short$", ...(over.kubeadm ?? { stdout: "v1.34.8\n" }) },
            { bin: "kubelet", args: "^--version$", ...(over.kubelet ?? { stdout: "Kubernetes v1.34.8\n" }) },
            { bin: "containerd", args: "^--version$", ...(over.containerd ?? { stdout: "containerd github.com/containerd/containerd/v2 2.2.1 \n" }) },
            { bin: "systemctl", args: "^is-active --quiet containerd$" },
            { bin: "swapon", args: "", stdout: "" },
        ];
        const run = () => runScript("kubeadm/node-ready.sh", ["--kubernetes-version", "1.34.8", "--min-containerd", "2.2", "--cloud-init-timeout", "1"], env());

        it("passes when cloud-init is done and the versions match", () => {
            stubs.setRules(good());
            const r = run();
            assert.equal(r.status, 0, r.stderr);
            assert.equal(r.stdout.trim(), "node-ready: cloud-init done, kubeadm v1.34.8, kubelet v1.34.8, containerd 2.2.1");
        });
        it("refuses a kubelet of another version, an old containerd, a failed or unfinished cloud-init", () => {
            const cases: [Parameters<typeof good>[0], RegExp][] = [
                [{ kubelet: { stdout: "Kubernetes v1.34.7\n" } }, /kubelet is v1\.34\.7, the cluster runs v1\.34\.8/],
                [{ kubeadm: { stdout: "v1.33.2\n" } }, /kubeadm is v1\.33\.2/],
                [{ containerd: { stdout: "containerd containerd.io v2.1.4 abc\n" } }, /containerd is 2\.1\.4, at least 2\.2 is required/],
                [{ cloudInit: { exit: 1 } }, /cloud-init failed \(exit 1\): status: error errors: apt failed/],
                [{ cloudInit: { run: "sleep 3" } }, /cloud-init still running after 1s/],
            ];
            for (const [over, message] of cases) {
                stubs.setRules(good(over));
                const r = run();
                assert.equal(r.status, 1, `${message}: ${r.stderr}`);
                assert.match(r.stderr, message);
            }
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

    describe("join-control-plane.sh (on the new master)", () => {
        const MATERIAL = JSON.stringify({ caCertHash: `sha256:${"ab".repeat(32)}`, tokenExpires: "2099-01-01T00:00:00Z", tokenId: "abc123" });
        const ARGS = ["--endpoint", "10.0.20.99:6443", "--advertise-address", "10.0.20.110", "--node-name", "k8s-master-2", "--timeout", "30"];
        const joinRule = {
            bin: "kubeadm",
            args: "^join ",
            run: `mkdir -p "$KUBERNETES_DIR/manifests"; for f in etcd kube-apiserver kube-controller-manager kube-scheduler; do echo "kind: Pod" >"$KUBERNETES_DIR/manifests/$f.yaml"; done; touch "$KUBERNETES_DIR/kubelet.conf" "$KUBERNETES_DIR/admin.conf"; echo "[discovery] token $5 accepted"; echo "This node has joined the cluster and a new control plane instance was created"`,
        };
        const secretEnv = (material = MATERIAL) => ({ KUBEADM_TOKEN: TOKEN, KUBEADM_CERTIFICATE_KEY: KEY, JOIN_MATERIAL: material, JOIN_MATERIAL_REFRESH: "pulumi up --replace 'urn:...:k8s-master-2-join-material'" });

        it("runs kubeadm join through the VIP with the expected flags, prints no secret, and does nothing on a re-run", async () => {
            stubs.setRules([joinRule]);
            // As ControlPlaneJoin builds it, without the taint (another test below covers it).
            const built = joinCommand({ sshUser: "ubuntu", endpoint: "10.0.20.99:6443", advertiseAddress: "10.0.20.110", node: "k8s-master-2", taint: "", timeoutSeconds: 30 });
            const step = { ...built, stdin: await resolve(withSecretEnv(secretEnv(), built.stdin)) };
            const r = runShipped(step, env());
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
            for (const secret of [TOKEN, KEY]) assert.ok(!(r.stdout + r.stderr).includes(secret));
            assert.match(r.stdout, /join: k8s-master-2 joined 10\.0\.20\.99:6443 as a control-plane member/);

            stubs.clearCalls();
            const again = runShipped(step, env());
            assert.equal(again.status, 0, again.stderr);
            assert.deepEqual(argvOf("kubeadm"), [], "already a member: kubeadm is not called");
            assert.match(again.stderr, /already is a control-plane member/);
        });

        it("puts each --taint on the node right after the join (the control-plane taint the plan names), and refuses a malformed one", () => {
            stubs.setRules([joinRule, { bin: "kubectl", args: "taint node k8s-master-2 node-role.kubernetes.io/control-plane:NoSchedule --overwrite$" }]);
            const taint = ["--taint", "node-role.kubernetes.io/control-plane:NoSchedule"];
            const r = runScript("kubeadm/join-control-plane.sh", [...ARGS, ...taint], env(secretEnv()));
            assert.equal(r.status, 0, r.stderr);
            assert.deepEqual(commands("kubectl"), ["taint node k8s-master-2 node-role.kubernetes.io/control-plane:NoSchedule --overwrite"]);
            assert.match(r.stderr, /k8s-master-2 carries the taint node-role\.kubernetes\.io\/control-plane:NoSchedule/);
            stubs.clearCalls();
            const bad = runScript("kubeadm/join-control-plane.sh", [...ARGS, "--taint", "node-role.kubernetes.io/control-plane=NoSchedule"], env(secretEnv()));
            assert.equal(bad.status, 2);
            assert.match(bad.stderr, /--taint must be KEY:EFFECT/);
            assert.deepEqual(argvOf("kubeadm"), [], "refused before anything runs");
        });

        it("refuses a node with half a join on it, and expired material (naming the command that refreshes it)", () => {
            stubs.setRules([joinRule]);
            writeFileSync(path.join(k8s, "kubelet.conf"), "");
            const partial = runScript("kubeadm/join-control-plane.sh", ARGS, env(secretEnv()));
            assert.equal(partial.status, 1);
            assert.match(partial.stderr, /part of an earlier kubeadm run .*kubelet\.conf.*pulumi destroy --target <urn of k8s-master-2> --target-dependents/);
            rmSync(path.join(k8s, "kubelet.conf"));
            const expired = runScript("kubeadm/join-control-plane.sh", ARGS, env(secretEnv(MATERIAL.replace("2099", "2001"))));
            assert.equal(expired.status, 1);
            assert.match(expired.stderr, /join material expired at 2001-01-01T00:00:00Z .*pulumi up --replace 'urn:\.\.\.:k8s-master-2-join-material'/);
            assert.deepEqual(argvOf("kubeadm"), []);
        });

        it("fails loudly when kubeadm join fails, with the way back", () => {
            stubs.setRules([{ bin: "kubeadm", args: "^join ", stdout: `error execution phase preflight: token ${TOKEN} rejected\n`, exit: 1 }]);
            const r = runScript("kubeadm/join-control-plane.sh", ARGS, env(secretEnv()));
            assert.equal(r.status, 1);
            assert.match(r.stderr, /token \[token\] rejected/);
            assert.match(r.stderr, /kubeadm join failed \(exit 1\)\. Roll the master back/);
            assert.ok(!r.stderr.includes(TOKEN));
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

    describe("proxmox-snapshot.sh (phase 0, on the Proxmox node)", () => {
        const rules = [
            { bin: "qm", args: "^status 200$", stdout: "status: running\n" },
            { bin: "qm", args: "^listsnapshot 200$", run: `test -e "$STUB_DIR/snap" && echo '\`-> pre-ha-retrofit   2026-11-21 03:00:00     before the HA retrofit'; echo '    \`-> current                                You are here!'` },
            { bin: "qm", args: "^snapshot 200 pre-ha-retrofit ", run: `touch "$STUB_DIR/snap"` },
            { bin: "qm", args: "^delsnapshot 200 pre-ha-retrofit$", run: `rm -f "$STUB_DIR/snap"` },
        ];
        it("takes the snapshot once, keeps it on delete by default, deletes it when asked", () => {
            rmSync(path.join(stubs.dir, "snap"), { force: true });
            stubs.setRules(rules);
            const create = runScript("kubeadm/proxmox-snapshot.sh", ["create", "--vmid", "200", "--name", "pre-ha-retrofit", "--description", "before the HA retrofit"], env());
            assert.equal(create.status, 0, create.stderr);
            assert.ok(commands("qm").includes("snapshot 200 pre-ha-retrofit --description before the HA retrofit"));
            stubs.clearCalls();
            assert.equal(runScript("kubeadm/proxmox-snapshot.sh", ["create", "--vmid", "200", "--name", "pre-ha-retrofit"], env()).status, 0);
            assert.ok(!commands("qm").some((c) => c.startsWith("snapshot ")), "a re-run keeps the first snapshot");
            const keep = runScript("kubeadm/proxmox-snapshot.sh", ["delete", "--vmid", "200", "--name", "pre-ha-retrofit", "--keep"], env());
            assert.equal(keep.status, 0);
            assert.match(keep.stderr, /keeping snapshot pre-ha-retrofit of VM 200 \(roll back with: qm rollback 200 pre-ha-retrofit/);
            assert.ok(existsSync(path.join(stubs.dir, "snap")));
            assert.equal(runScript("kubeadm/proxmox-snapshot.sh", ["delete", "--vmid", "200", "--name", "pre-ha-retrofit"], env()).status, 0);
            assert.ok(!existsSync(path.join(stubs.dir, "snap")));
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
