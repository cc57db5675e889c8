/**
 * scripts/kubeadm/node-ready.sh (phases 2 and 3, on the new master: cloud-init done, kubeadm,
 * kubelet and containerd at the cluster's versions, no swap), as ControlPlaneJoin ships it, with
 * STUB cloud-init, kubeadm, kubelet, containerd, systemctl and swapon (tests/kubeadm/helpers/nodeHost.ts).
 */
import { strict as assert } from "assert";
import { nodeReadyCommand } from "../../components/kubeadm/controlPlaneJoin";
import { runShipped, withEditedLine } from "../helpers/shipped";
import { nodeHost } from "./helpers/nodeHost";

describe("node-ready.sh (phase 2/3, on the new master), as ControlPlaneJoin ships it", function () {
    this.timeout(60_000);
    const host = nodeHost();
    const { env } = host;
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
        host.stubs.setRules(good());
        const r = run();
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout.trim(), "node-ready: cloud-init done, kubeadm v1.34.8, kubelet v1.34.8, containerd 2.2.1");
    });
    it("passes with a warning when cloud-init finished with recoverable errors (its exit 2)", () => {
        host.stubs.setRules(good({ cloudInit: { exit: 2 } }));
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
            host.stubs.setRules(good(over));
            const r = run();
            assert.equal(r.status, 1, `${message}: ${r.stderr}`);
            assert.match(r.stderr, new RegExp(`^node-ready: ERROR: ${message.source}`, "m"));
        }
    });
    it("refuses what it is given wrong with exit 2 before looking at the node", () => {
        host.stubs.setRules(good());
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
        assert.deepEqual(host.stubs.calls(), [], "nothing run on the node");
    });
});
